"""The period folder (outputs/<period>/): written whole or not at all, sealed, read back.

A run writes everything into a staging folder beside the target and renames it into
place at the end, so an interrupted run never leaves half a period. The folder keeps
the inputs byte for byte, the scheme used, the results in a lossless form, and a
manifest with the SHA-256 of every file. One lock file per outputs root keeps two runs
apart; a swap journal lets an interrupted swap be rolled back to the previous state.

Storage only: which outputs a period has is the caller's choice (write_period takes the writer),
and re-scoring an archive to verify it is a job (pipeline.verify_period).

The parts: archive_lock (the lock files), archive_swap (staging, swap, crash recovery),
archive_manifest (the manifest and its checks); this module finds periods, writes, seals and
reads them back.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from kaohe_excel.scoring import progress
from kaohe_excel.storage.archive_lock import (
    LOCK_NAME,
    UNREADABLE_LOCK_GRACE_S,
    OutputsLock,
    acquire_lock,
    human_time,
    now_text,
    outputs_lock,
    read_json,
)
from kaohe_excel.storage.archive_manifest import (
    MANIFEST,
    SEAL_FILE,
    build_manifest,
    check_files,
    read_manifest,
    sha256_file,
    _damaged,
)
from kaohe_excel.storage.archive_swap import (
    STAGING_MARK,
    _cleanup_staging,
    _swap_into_place,
    _write_json_atomic,
    recover,
)
from kaohe_excel.base.errors import (
    ArchiveDamaged,
    ArchiveMismatch,
    InboxChanged,
    KaoheError,
    PeriodNotFound,
    PeriodSealed,
)
from kaohe_excel.base.safety import csv_unquote, safe_filename

# what callers and tests import from here
__all__ = [
    "FEEDBACK_DIR", "INPUTS_DIR", "LOCK_NAME", "MANIFEST", "NOTICE_NAME", "NOTICE_TEMPLATE_COPY", "RESULTS_PARQUET",
    "SCHEME_COPY", "SEAL_FILE", "SUMMARY_NAME", "UNREADABLE_LOCK_GRACE_S", "OutputsLock", "acquire_lock",
    "check_files", "outputs_lock", "read_manifest", "recover", "sha256_file",
]

INPUTS_DIR = "inputs"
FEEDBACK_DIR = "反馈"
SUMMARY_NAME = "汇总表.xlsx"
NOTICE_NAME = "通报.docx"
SCHEME_COPY = "scheme.xlsx"
NOTICE_TEMPLATE_COPY = "通报模板.docx"
RESULTS_PARQUET = {"scores": "scores.parquet", "totals": "totals.parquet", "adjustments": "adjustments.parquet",
                   "values": "values.parquet", "issues": "issues.parquet"}


def feedback_name(unit_code: object, unit_name: object) -> str:
    """The one name of a unit's feedback workbook, `<单位代码>_<单位名称>.xlsx` made safe for a file
    name: report writes it under FEEDBACK_DIR, mail attaches it, the web page links it."""
    return safe_filename(f"{_name_part(unit_code)}_{_name_part(unit_name)}") + ".xlsx"


def _name_part(value: object) -> str:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    return str(value)


def feedback_path(unit_code: object, unit_name: object) -> str:
    """The feedback workbook's path inside the period folder, as the manifest lists it."""
    return f"{FEEDBACK_DIR}/{feedback_name(unit_code, unit_name)}"


def is_sealed(folder: Path) -> bool:
    return (folder / SEAL_FILE).is_file()


def _is_period_name(name: str) -> bool:
    # Staging folders, journals and the lock start with "."; re-run backups are <period>.<stamp>.
    return not name.startswith(".") and "." not in name


def period_folders(out_root: Path) -> list[Path]:
    """Archived periods (folders holding a manifest), oldest period id first; re-run backups excluded."""
    out_root = Path(out_root)
    if not out_root.is_dir():
        return []
    recover(out_root)
    found = [p for p in out_root.iterdir() if p.is_dir() and _is_period_name(p.name) and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: p.name)


def period_folder(out_root: Path, period: str) -> Path:
    """The archived folder of one period, or PeriodNotFound naming the periods there are."""
    out_root = Path(out_root)
    if out_root.is_dir():
        recover(out_root)
    folder = out_root / period
    if not _is_period_name(period) or not folder.is_dir():
        known = "、".join(p.name for p in period_folders(out_root)) or "无"
        raise PeriodNotFound(f"输出目录「{out_root}」下没有 {period} 期的归档（已有：{known}）。请检查期别或用 --out 指定输出目录")
    return folder


def find_period(out_root: Path, period: str) -> Path | None:
    """period_folder, or None when there is no such period (the same lookup, with crash recovery)."""
    try:
        return period_folder(out_root, period)
    except PeriodNotFound:
        return None


def _period_position(name: str) -> tuple[str, tuple[int, int]] | None:
    try:
        year, kind, index = progress.parse_period(name)
    except KaoheError:
        return None
    return kind, (year, index)


def _earlier_periods(folders: list[Path], period: str) -> list[Path]:
    """Archived periods before `period`, oldest first. Recognised ids (2024, 2024Q3, 2024-06) only
    compare with their own kind, by date: in a root holding annual and monthly periods, 2024's
    baseline is 2023, not 2023-12, and 2024-06's is 2024-05."""
    current = _period_position(period)
    if current is None:
        return [p for p in folders if p.name < period]
    kind, position = current
    same_kind = [(pos[1], p) for p in folders if (pos := _period_position(p.name)) and pos[0] == kind and pos[1] < position]
    return [p for _, p in sorted(same_kind, key=lambda item: item[0])]


def previous_period(out_root: Path, period: str, compare_to: str | None = None) -> Path | None:
    """The baseline for 纵向 comparison: --compare-to, else the latest sealed period before this one
    (falling back to the latest unsealed one when none is sealed)."""
    if compare_to:
        if compare_to == period:
            raise KaoheError(f"--compare-to 不能是本期（{period}），请指定一个往期")
        folder = period_folder(out_root, compare_to)
        if not (folder / MANIFEST).is_file():
            raise PeriodNotFound(f"{compare_to} 期的归档缺少清单 {MANIFEST}，不能作为比较基期")
        return folder
    earlier = _earlier_periods(period_folders(out_root), period)
    sealed = [p for p in earlier if is_sealed(p)]
    if sealed:
        return sealed[-1]
    return earlier[-1] if earlier else None


def _archived_values(folder: Path) -> pd.DataFrame | None:
    """unit_code, indicator_code, value of an archived period (scores.parquet, else scores.csv)."""
    try:
        frame = pd.read_parquet(folder / RESULTS_PARQUET["scores"], columns=["unit_code", "indicator_code", "value"])
    except Exception:  # an older or damaged archive: the csv people read has the values too
        try:
            csv = pd.read_csv(folder / "scores.csv", encoding="utf-8-sig", dtype=str)
            frame = pd.DataFrame({"unit_code": csv["单位代码"].map(csv_unquote),
                                  "indicator_code": csv["指标代码"].map(csv_unquote),
                                  "value": pd.to_numeric(csv["实际值"], errors="coerce")})
        except Exception:
            return None
    frame = frame.astype({"unit_code": object, "indicator_code": object})
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.dropna(subset=["value"])


def last_year_values(out_root: Path, period: str) -> pd.DataFrame | None:
    """Last year's values at the same period and at year end (progress.LAST_YEAR_COLUMNS), from
    the archived folders (2024-06 → 2023-06 and 2023); None when either is not archived."""
    try:
        same_key, final_key = progress.last_year_keys(period)
    except KaoheError:
        return None
    found: dict[tuple, Path] = {}
    for folder in period_folders(Path(out_root)):
        try:
            key = progress.parse_period(folder.name)
        except KaoheError:
            continue
        if key in (same_key, final_key):
            found[key] = folder
    if same_key not in found or final_key not in found:
        return None
    same, final = _archived_values(found[same_key]), _archived_values(found[final_key])
    if same is None or final is None:
        return None
    merged = same.merge(final, on=["unit_code", "indicator_code"], how="inner", suffixes=("_same", "_final"))
    return merged.rename(columns={"value_same": "same_period", "value_final": "final"})[progress.LAST_YEAR_COLUMNS]


def read_seal(folder: Path) -> dict:
    """The period's SEALED.json record ({} when it is not sealed or the record cannot be read)."""
    return read_json(Path(folder) / SEAL_FILE) or {}


# Called with a stage name (locked, staging, outputs, manifest, swap) as a write reaches it; the
# tests set it to stop a run there and kill it. None in production.
pause_hook: Callable[[str], None] | None = None


def _pause(stage: str) -> None:
    if pause_hook is not None:
        pause_hook(stage)


# --------------------------------------------------------------------------- writing a period


def check_writable(out_root: Path, period: str) -> None:
    """Raise PeriodSealed when <out_root>/<period> is sealed (call early to fail before scoring)."""
    target = Path(out_root) / period
    if is_sealed(target):
        seal = read_json(target / SEAL_FILE) or {}
        when = f"（{human_time(seal.get('sealed_at'))} 由 {seal.get('by') or '未署名'} 封存）" if seal.get("sealed_at") else ""
        raise PeriodSealed(
            f"{period} 期已封存{when}，不能覆盖。如需试算，请用 --out 指定另一个输出目录（例如 --out outputs_试算）；"
            f"如确需替换封存结果，须经考核办负责人同意后手工删除「{target / SEAL_FILE}」解除封存，再重新运行")


def _copy_inputs(validated, target: Path) -> list[dict]:
    """Copy every received file byte for byte; the copy must hash as the file did when read."""
    records = []
    for result in validated.files:
        if getattr(result, "not_copied", ""):  # a link, a hidden file, one too large to read: listed, not copied
            records.append({"name": result.name, "size": result.size, "sha256_at_read": result.sha256 or None,
                            "not_copied": result.not_copied})
            continue
        source = Path(result.path)
        destination = target / result.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        copied = sha256_file(destination)
        if result.sha256 and copied != result.sha256:
            raise InboxChanged(f"收件箱文件「{result.name}」在运行期间被修改（读取后内容已变），本次结果未写入。"
                               "请确认没有人正在编辑收件箱中的文件后重新运行")
        records.append({"name": result.name, "sha256_at_read": result.sha256 or copied})
    return records


def _lossless_results(results, folder: Path) -> None:
    """Parquet keeps dtypes and full precision: the tool re-reads these, people read the csv."""
    frames = {
        "scores": results.scored.drop(columns=[c for c in ("groups",) if c in results.scored.columns]),
        "totals": results.ranked.assign(flags=results.ranked["flags"].map(lambda f: "；".join(f) if isinstance(f, list) else str(f or ""))),
        "adjustments": results.adjustments,
        "values": results.validated.values,
        "issues": results.validated.issues_table,
    }
    for key, frame in frames.items():
        clean = frame.copy()
        for column in clean.columns:
            if clean[column].dtype == object:
                clean[column] = clean[column].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else v)
                if clean[column].map(lambda v: isinstance(v, (list, dict))).any():
                    clean[column] = clean[column].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
        clean.to_parquet(folder / RESULTS_PARQUET[key], index=False)


# Renders what people read into the staging folder, given the 纵向 baseline folder (or None), and
# returns what the manifest should record about it (added after the files and their hashes).
OutputWriter = Callable[[Path, "Path | None"], dict]


def write_period(results, out_root: Path, write_outputs: OutputWriter,
                 compare_to: str | None = None) -> tuple[Path, list[Path]]:
    """Store a scored period atomically under the outputs lock: the outputs `write_outputs` renders,
    the lossless results, the inputs byte for byte, the scheme, the manifest; then swap into place.

    Returns the folder and its files. Raises PeriodSealed, OutputsLocked, PeriodNotFound (bad
    compare_to), InboxChanged.
    """
    scheme = results.scheme
    period = scheme.meta.period
    out_root = Path(out_root)
    with outputs_lock(out_root):
        _pause("locked")
        recover(out_root)
        _cleanup_staging(out_root)
        check_writable(out_root, period)
        target = out_root / period
        baseline = previous_period(out_root, period, compare_to)
        staging = out_root / f".{period}{STAGING_MARK}{os.getpid()}-{int(time.time() * 1000)}"
        staging.mkdir()
        try:
            _pause("staging")
            recorded = write_outputs(staging, baseline) or {}
            _pause("outputs")
            _lossless_results(results, staging)
            inputs = _copy_inputs(results.validated, staging / INPUTS_DIR)
            if scheme.path is not None:
                shutil.copyfile(scheme.path, staging / SCHEME_COPY)
            manifest = build_manifest(staging, period, scheme.fingerprint, inputs)
            manifest.update(recorded)
            _write_json_atomic(staging / MANIFEST, manifest)
            _pause("manifest")
            _swap_into_place(staging, target, _pause)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    files = sorted(p for p in target.rglob("*") if p.is_file())
    return target, files


# --------------------------------------------------------------------------- seal


def seal_period(out_root: Path, period: str, by: str | None = None) -> Path:
    """Mark a period final (封存): writes SEALED.json with the manifest's hash; returns its path.

    Refuses (ArchiveMismatch) when any file no longer matches the manifest, PeriodSealed when
    already sealed, PeriodNotFound when there is no such period.
    """
    out_root = Path(out_root)
    with outputs_lock(out_root):
        folder = period_folder(out_root, period)
        if is_sealed(folder):
            seal = read_json(folder / SEAL_FILE) or {}
            raise PeriodSealed(f"{period} 期已于 {human_time(seal.get('sealed_at'))} 封存，无需重复封存")
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise ArchiveMismatch(f"{period} 期的归档缺少清单 {MANIFEST}，不能封存；请重新运行该期后再封存")
        missing, changed, extra = check_files(folder, read_manifest(folder, "封存"))
        if missing or changed or extra:
            listing = "、".join((missing + changed + extra)[:5])
            raise ArchiveMismatch(f"{period} 期的归档文件与清单不一致（{listing}…），不能封存。"
                                  f"请运行 kaohe verify {period} 查看详情，重新运行该期后再封存")
        seal = {"period": period, "sealed_at": now_text(), "by": by or "", "host": socket.gethostname(),
                "manifest_sha256": sha256_file(manifest_path)}
        _write_json_atomic(folder / SEAL_FILE, seal)
    return folder / SEAL_FILE


# --------------------------------------------------------------------------- reading an archive back


# What the tool reads back from each table, and of which kind; a parquet whose columns are
# missing or of another kind was damaged or replaced and is never read as if it were fine.
RESULT_COLUMNS = {
    "totals": {"unit_code": "text", "unit_name": "text", "group": "text", "total": "number", "rank": "number",
               "grade": "text"},
    "scores": {"unit_code": "text", "indicator_code": "text", "score": "number"},
}


def _kind_ok(column: pd.Series, kind: str) -> bool:
    values = column.dropna()
    if kind == "number":
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) or values.empty
    return values.map(lambda v: isinstance(v, str)).all()


def read_results(folder: Path, key: str, doing: str = "读取该期结果") -> pd.DataFrame:
    """An archived parquet table (RESULTS_PARQUET[key]), checked for the columns the tool relies on."""
    from kaohe_excel.base.fsguard import os_problem

    folder = Path(folder)
    name = RESULTS_PARQUET[key]
    path = folder / name
    if not path.is_file():
        raise ArchiveDamaged(f"{folder.name} 期归档缺少结果文件「{name}」，无法{doing}。请用该期的收件箱重新运行 kaohe run", path)
    try:
        frame = pd.read_parquet(path)
    except (PermissionError, IsADirectoryError) as exc:
        raise os_problem(exc, path, "读取") from exc
    except Exception:  # pyarrow: truncated (no magic bytes), corrupt pages, not a parquet file at all
        raise _damaged(folder, name, "不是完整的 Parquet 文件，可能被截断或改写", doing) from None
    for column, kind in RESULT_COLUMNS.get(key, {}).items():
        if column not in frame.columns:
            raise _damaged(folder, name, f"缺少「{column}」列", doing)
        if not _kind_ok(frame[column], kind):
            raise _damaged(folder, name, f"「{column}」列应为{'数值' if kind == 'number' else '文字'}", doing)
    return frame


# --------------------------------------------------------------------------- history


HISTORY_COLUMNS = ["period", "unit_code", "unit_name", "group", "total", "rank", "grade", "vetoed", "sealed"]


def history_table(out_root: Path, unit: str | None = None) -> pd.DataFrame:
    """Totals, ranks and grades of every archived period, one row per period × unit.

    `unit` matches a unit code or name exactly. Columns: HISTORY_COLUMNS, plus
    total_change / rank_change against the unit's previous archived period (rank_change
    positive = moved up).
    """
    return history(out_root, unit)[0]


def history(out_root: Path, unit: str | None = None) -> tuple[pd.DataFrame, list[ArchiveDamaged]]:
    """history_table's table, and the periods left out because their manifest or totals are damaged."""
    frames = []
    damaged: list[ArchiveDamaged] = []
    for folder in period_folders(Path(out_root)):
        try:
            read_manifest(folder, "列入历年结果")
            totals = read_results(folder, "totals", "列入历年结果")
        except ArchiveDamaged as exc:  # the other periods are still shown; this one is named
            damaged.append(exc)
            continue
        part = totals.reindex(columns=["unit_code", "unit_name", "group", "total", "rank", "grade", "vetoed"])
        frames.append(part.assign(period=folder.name, sealed=is_sealed(folder)))
    if not frames:
        return pd.DataFrame(columns=HISTORY_COLUMNS + ["total_change", "rank_change"]), damaged
    table = pd.concat(frames, ignore_index=True)[HISTORY_COLUMNS]
    if unit:
        table = table[(table["unit_code"] == unit) | (table["unit_name"] == unit)]
    table = table.sort_values(["group", "unit_code", "period"], kind="stable").reset_index(drop=True)
    table["total"] = pd.to_numeric(table["total"], errors="coerce")
    table["rank"] = pd.to_numeric(table["rank"], errors="coerce").astype("Int64")
    from kaohe_excel.scoring.score import round_half_up

    by_unit = table.groupby("unit_code", sort=False)
    table["total_change"] = round_half_up(table["total"] - by_unit["total"].shift(1), 2)
    table["rank_change"] = (by_unit["rank"].shift(1) - table["rank"]).astype("Int64")
    return table, damaged
