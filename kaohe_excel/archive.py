"""The period folder (outputs/<period>/): written whole or not at all, sealed, verifiable.

A run writes everything into a staging folder beside the target and renames it into
place at the end, so an interrupted run never leaves half a period. The folder keeps
the inputs byte for byte, the scheme used, the results in a lossless form, and a
manifest with the SHA-256 of every file. One lock file per outputs root keeps two runs
apart; a swap journal lets an interrupted swap be rolled back to the previous state.
"""

from __future__ import annotations

import json
import hashlib
import os
import shutil
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import __version__, gap, notice, progress, publication, publicity, report
from .errors import ArchiveDamaged, ArchiveMismatch, InboxChanged, KaoheError, NoticeTemplateError, OutputsLocked, PeriodNotFound, PeriodSealed
from .memory import release_unused
from .safety import InertWorkbook, csv_unquote

MANIFEST = "manifest.json"
SEAL_FILE = "SEALED.json"
LOCK_NAME = ".kaohe.lock"
STAGING_MARK = ".staging-"
JOURNAL_SUFFIX = ".swap.json"
INPUTS_DIR = "inputs"
FEEDBACK_DIR = "反馈"
SUMMARY_NAME = "汇总表.xlsx"
NOTICE_NAME = "通报.docx"
SCHEME_COPY = "scheme.xlsx"
NOTICE_TEMPLATE_COPY = "通报模板.docx"
RESULTS_PARQUET = {"scores": "scores.parquet", "totals": "totals.parquet", "adjustments": "adjustments.parquet",
                   "values": "values.parquet", "issues": "issues.parquet"}
# A lock or journal whose owner cannot be checked (another host, unreadable content) is
# only presumed dead after this long; a run on the small data of an office takes minutes.
UNREADABLE_LOCK_GRACE_S = 30.0
FOREIGN_JOURNAL_GRACE_S = 600.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- lock


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _human_time(stamp: object) -> str:
    """2025-01-15T09:30:00+08:00 → 2025-01-15 09:30:00 for messages."""
    text = str(stamp or "?")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host is running; errs on the side of "alive"."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _owner_dead(info: dict | None, path: Path, grace_s: float) -> bool:
    """A lock/journal owner is dead if it ran on this host and its pid is gone."""
    if info is None:
        return _age_s(path) > UNREADABLE_LOCK_GRACE_S
    if info.get("host") == socket.gethostname():
        try:
            return not _pid_alive(int(info.get("pid", 0)))
        except (TypeError, ValueError):
            return True
    return _age_s(path) > grace_s


@dataclass
class OutputsLock:
    """The lock held on an outputs root; `token` tells our lock file from a later one."""

    path: Path
    token: str

    def release(self) -> None:
        info = _read_json(self.path)
        if info is not None and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)


def _break_stale(lock_path: Path, stale: dict | None) -> None:
    """Remove a dead owner's lock, serialised so that a fresh lock is never removed by mistake."""
    breaker = lock_path.with_name(lock_path.name + ".break")
    try:
        fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if _age_s(breaker) > 10:
            breaker.unlink(missing_ok=True)
        time.sleep(0.05)
        return
    os.close(fd)
    try:
        if _read_json(lock_path) == stale:
            lock_path.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


def acquire_lock(out_root: Path, attempts: int = 20) -> OutputsLock:
    """Create <out_root>/.kaohe.lock (pid, host, time) or raise OutputsLocked; stale locks are broken."""
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    lock_path = out_root / LOCK_NAME
    token = uuid.uuid4().hex
    info = {"pid": os.getpid(), "host": socket.gethostname(), "created_at": _now(), "token": token}
    for _ in range(attempts):
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_json(lock_path)
            if _owner_dead(holder, lock_path, grace_s=float("inf")):
                _break_stale(lock_path, holder)
                continue
            raise OutputsLocked(_locked_message(out_root, lock_path, holder)) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        return OutputsLock(lock_path, token)
    raise OutputsLocked(_locked_message(out_root, lock_path, _read_json(lock_path)))


def _locked_message(out_root: Path, lock_path: Path, holder: dict | None) -> str:
    if holder is None:
        who = "另一次运行（正在启动）"
    else:
        who = f"另一次运行（主机 {holder.get('host', '?')}，进程号 {holder.get('pid', '?')}，{_human_time(holder.get('created_at'))} 开始）"
    return (f"输出目录「{out_root}」正被{who}使用，为免互相覆盖，本次未写入。请等那次运行结束后再试；"
            f"如确认那次运行已经中断（例如那台电脑已关机），可删除锁文件「{lock_path}」后重试")


@contextmanager
def outputs_lock(out_root: Path) -> Iterator[OutputsLock]:
    """Hold the outputs lock for a block; released on any exit, including Ctrl-C."""
    lock = acquire_lock(out_root)
    try:
        yield lock
    finally:
        lock.release()


# --------------------------------------------------------------------------- crash recovery


def _journal_path(out_root: Path, period: str) -> Path:
    return out_root / f".{period}{JOURNAL_SUFFIX}"


def recover(out_root: Path) -> list[str]:
    """Roll back swaps a dead run left half done (old folder renamed away, new one not yet in place).

    Safe without the lock: only journals of dead owners are touched, and a rename that
    another process already did is skipped. Returns the periods restored.
    """
    out_root = Path(out_root)
    restored = []
    for journal in out_root.glob(f".*{JOURNAL_SUFFIX}"):
        info = _read_json(journal)
        if not _owner_dead(info, journal, FOREIGN_JOURNAL_GRACE_S):
            continue
        if info is not None:
            target = out_root / str(info.get("period", ""))
            backup = info.get("backup")
            if backup and not target.exists() and (out_root / backup).is_dir():
                try:
                    (out_root / backup).rename(target)
                    restored.append(target.name)
                except OSError:
                    pass  # another reader restored it first
        journal.unlink(missing_ok=True)
    return restored


def _cleanup_staging(out_root: Path) -> list[str]:
    """Remove staging folders of killed runs; only called while holding the lock."""
    removed = []
    for folder in out_root.iterdir():
        if folder.is_dir() and folder.name.startswith(".") and STAGING_MARK in folder.name:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _pause_for_tests(stage: str) -> None:
    """Test hook: with KAOHE_TEST_PAUSE_AT=<stage>, signal and wait so a test can kill us here."""
    if os.environ.get("KAOHE_TEST_PAUSE_AT") != stage:
        return
    signal_file = Path(os.environ["KAOHE_TEST_PAUSE_FILE"])
    signal_file.write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + 60
    while signal_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


# --------------------------------------------------------------------------- writing a period


def check_writable(out_root: Path, period: str) -> None:
    """Raise PeriodSealed when <out_root>/<period> is sealed (call early to fail before scoring)."""
    target = Path(out_root) / period
    if is_sealed(target):
        seal = _read_json(target / SEAL_FILE) or {}
        when = f"（{_human_time(seal.get('sealed_at'))} 由 {seal.get('by') or '未署名'} 封存）" if seal.get("sealed_at") else ""
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


# Distribution records `kaohe mail` adds after the period is written: not results, never hashed.
MAIL_RECORDS = ("mail_log.jsonl", ".mail.lock")
MAIL_OUTBOX = "outbox/"


def _manifest_files(folder: Path) -> list[Path]:
    def archived(relative: str) -> bool:
        return relative not in (MANIFEST, SEAL_FILE) and relative not in MAIL_RECORDS and not relative.startswith(MAIL_OUTBOX)

    return sorted(p for p in folder.rglob("*") if p.is_file() and archived(p.relative_to(folder).as_posix()))


def build_manifest(folder: Path, period: str, fingerprint: str, inputs: list[dict]) -> dict:
    files = [{"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}
             for path in _manifest_files(folder)]
    return {
        "period": period,
        "scheme_fingerprint": fingerprint,
        "tool_version": __version__,
        "created_at": _now(),
        "inputs": inputs,
        "files": files,
    }


def _write_json_atomic(path: Path, data: dict) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _backup_name(out_root: Path, period: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = f"{period}.{stamp}", 1
    while (out_root / name).exists():
        n += 1
        name = f"{period}.{stamp}-{n}"
    return name


def _swap_into_place(staging: Path, target: Path) -> str | None:
    """Rename staging to target; an existing target is kept as <period>.<timestamp> (returned)."""
    out_root = target.parent
    if not target.exists():
        staging.rename(target)
        return None
    backup = _backup_name(out_root, target.name)
    journal = _journal_path(out_root, target.name)
    _write_json_atomic(journal, {"period": target.name, "backup": backup, "staging": staging.name,
                                 "pid": os.getpid(), "host": socket.gethostname(), "created_at": _now()})
    target.rename(out_root / backup)
    try:
        _pause_for_tests("swap")
        staging.rename(target)
    except BaseException:
        if not target.exists():
            (out_root / backup).rename(target)
        raise
    finally:
        journal.unlink(missing_ok=True)
    return backup


def _appeal_rows(results) -> pd.DataFrame | None:
    from .appeal_report import appeal_rows  # w-appeal

    appeals = getattr(results, "appeals", None)
    return appeal_rows(appeals, results.scheme) if appeals is not None and len(appeals) else None


def _appeal_changes(results) -> pd.DataFrame | None:
    from .appeal_report import change_rows

    changes = getattr(results, "appeal_changes", None)
    return change_rows(changes) if changes is not None else None


def render_outputs(results, folder: Path, baseline: Path | None, issued_on: date, notice_template: Path | None,
                   workers: int | None = None) -> None:
    """What people read: 汇总表, 通报, 反馈 and the csv files, from scored results (write_period and verify)."""
    scheme = results.scheme
    previous = report.load_previous(baseline) if baseline is not None else None
    meta = scheme.meta
    progress_table = getattr(results, "progress", None)
    report.write_summary(folder / SUMMARY_NAME, meta, scheme.grades, results.scored, results.ranked,
                         results.adjustments, results.validated.values, results.validated.issues_table,
                         results.validated.missing_units, previous=previous, progress=progress_table,
                         crosscheck=getattr(results, "crosscheck", None),
                         county_totals=getattr(results, "county_totals", None),
                         appeals=_appeal_rows(results), appeal_changes=_appeal_changes(results),
                         ratings=getattr(results.validated, "ratings", None), scheme=scheme)
    release_unused()  # the summary's audit tables, before the feedback workers are forked
    _pause_for_tests("outputs")
    win = publication.window(getattr(meta, "publication", None), issued_on)  # w-year: 成文日期 and 公示期
    notice.write_notice(folder / NOTICE_NAME, notice_template, meta, results.ranked, scheme.grades, win.issued_on,
                        extra_context={"quota_lines": publicity.quota_lines(scheme, results.ranked)},
                        progress=progress_table)
    publicity.write_publicity(folder / publicity.PUBLICITY_NAME, meta, results.ranked, win)
    report.write_all_feedback(folder / FEEDBACK_DIR, meta, results.scored, results.ranked, previous=previous,
                              workers=workers, gap=gap.gap_table(results.scored, scheme.tier_tables, scheme),
                              progress=progress_table, crosscheck=getattr(results, "crosscheck", None),
                              adjustments=results.adjustments, appeals=_appeal_rows(results))
    report.write_csvs(folder, meta.period, results.scored, results.ranked)


def write_period(results, inbox: Path, out_root: Path, issued_on: date, template_dir: Path = Path("templates"),
                 progress: Callable[[str, int, int], None] | None = None, workers: int | None = None,
                 compare_to: str | None = None) -> tuple[Path, list[Path]]:
    """Write all outputs of a period atomically under the outputs lock; returns the folder and its files.

    Raises PeriodSealed, OutputsLocked, PeriodNotFound (bad compare_to), InboxChanged.
    """
    scheme = results.scheme
    period = scheme.meta.period
    out_root = Path(out_root)
    issued_on = publication.issued_date(getattr(scheme.meta, "publication", None), issued_on)  # 方案 成文日期 wins
    with outputs_lock(out_root):
        _pause_for_tests("locked")
        recover(out_root)
        _cleanup_staging(out_root)
        check_writable(out_root, period)
        target = out_root / period
        baseline = previous_period(out_root, period, compare_to)
        staging = out_root / f".{period}{STAGING_MARK}{os.getpid()}-{int(time.time() * 1000)}"
        staging.mkdir()
        try:
            _pause_for_tests("staging")
            template = Path(template_dir) / "通报.docx"
            if template.is_file():  # kept so that `verify` can render the notice again, word for word
                shutil.copyfile(template, staging / NOTICE_TEMPLATE_COPY)
            try:
                render_outputs(results, staging, baseline, issued_on,
                               staging / NOTICE_TEMPLATE_COPY if template.is_file() else None, workers)
            except NoticeTemplateError as exc:  # name the office's own template, not its copy in the hidden staging folder
                raise NoticeTemplateError(str(exc).replace(str(staging / NOTICE_TEMPLATE_COPY), str(template))) from None
            from .web.dashboard import DASHBOARD_NAME, write_dashboard  # w-web: the offline 结果看板
            write_dashboard(staging / DASHBOARD_NAME, results, out_root)
            _lossless_results(results, staging)
            inputs = _copy_inputs(results.validated, staging / INPUTS_DIR)
            if scheme.path is not None:
                shutil.copyfile(scheme.path, staging / SCHEME_COPY)
            manifest = build_manifest(staging, period, scheme.fingerprint, inputs)
            manifest["issued_on"] = issued_on.isoformat()
            win = publication.window(getattr(scheme.meta, "publication", None), issued_on)
            manifest["publication"] = {"start": win.start.isoformat(), "end": win.end.isoformat(), "days": win.days}
            if getattr(results, "appeals", None) is not None:  # w-appeal
                from .appeal import manifest_records
                manifest["appeals"] = manifest_records(results.appeals)
            if baseline is not None:
                manifest["compared_to"] = baseline.name
                # what 纵向 columns were built from: verify tells a re-run baseline from an edited output
                manifest["compared_to_sha256"] = {name: sha256_file(baseline / name)
                                                  for name in ("totals.csv", "scores.csv") if (baseline / name).is_file()}
            if getattr(results.validated, "interim", None) is not None:  # w-interim: the source periods used
                from .interim import manifest_entry

                manifest["interim_sources"] = manifest_entry(results.validated.interim)
            _write_json_atomic(staging / MANIFEST, manifest)
            _pause_for_tests("manifest")
            _swap_into_place(staging, target)
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
            seal = _read_json(folder / SEAL_FILE) or {}
            raise PeriodSealed(f"{period} 期已于 {_human_time(seal.get('sealed_at'))} 封存，无需重复封存")
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise ArchiveMismatch(f"{period} 期的归档缺少清单 {MANIFEST}，不能封存；请重新运行该期后再封存")
        missing, changed, extra = _check_files(folder, read_manifest(folder, "封存"))
        if missing or changed or extra:
            listing = "、".join((missing + changed + extra)[:5])
            raise ArchiveMismatch(f"{period} 期的归档文件与清单不一致（{listing}…），不能封存。"
                                  f"请运行 kaohe verify {period} 查看详情，重新运行该期后再封存")
        seal = {"period": period, "sealed_at": _now(), "by": by or "", "host": socket.gethostname(),
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


def _damaged(folder: Path, name: str, detail: str, doing: str) -> ArchiveDamaged:
    return ArchiveDamaged(f"{folder.name} 期归档中的「{name}」已损坏（{detail}），无法{doing}。"
                          f"请从备份恢复「{folder / name}」，或用该期的收件箱重新运行 kaohe run（已封存的须先解除封存）",
                          folder / name)


def _manifest_shape(data: object) -> str | None:
    """What is wrong with a parsed manifest, in Chinese, or None."""
    if not isinstance(data, dict):
        return "内容不是清单格式"
    if not isinstance(data.get("period"), str):
        return "缺少考核周期（period）"
    files = data.get("files")
    if not isinstance(files, list):
        return "缺少文件清单（files）"
    for n, entry in enumerate(files, start=1):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("size"), int) and not isinstance(entry.get("size"), bool)):
            return f"文件清单第 {n} 项缺少路径、大小或校验值，或类型不对"
    if not isinstance(data.get("inputs", []), list):
        return "报送文件清单（inputs）类型不对"
    return None


def read_manifest(folder: Path, doing: str = "读取该期归档") -> dict:
    """The period's manifest; ArchiveDamaged naming the file and period when it is missing or malformed."""
    from .fsguard import os_problem

    folder = Path(folder)
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArchiveDamaged(f"{folder.name} 期归档缺少清单「{MANIFEST}」，无法{doing}。请用该期的收件箱重新运行 kaohe run",
                             path) from None
    except OSError as exc:
        raise os_problem(exc, path, "读取") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _damaged(folder, MANIFEST, "不是 UTF-8 文本", doing) from None
    except ValueError as exc:
        truncated = getattr(exc, "pos", 0) >= len(raw.rstrip()) - 1
        raise _damaged(folder, MANIFEST, "内容不完整，可能被截断" if truncated else
                       f"不是有效的 JSON，第 {getattr(exc, 'lineno', '?')} 行有误", doing) from None
    problem = _manifest_shape(data)
    if problem:
        raise _damaged(folder, MANIFEST, problem, doing)
    return data


def _kind_ok(column: pd.Series, kind: str) -> bool:
    values = column.dropna()
    if kind == "number":
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) or values.empty
    return values.map(lambda v: isinstance(v, str)).all()


def read_results(folder: Path, key: str, doing: str = "读取该期结果") -> pd.DataFrame:
    """An archived parquet table (RESULTS_PARQUET[key]), checked for the columns the tool relies on."""
    from .fsguard import os_problem

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


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    """What `verify_period` found; `ok` only when every file and every result is identical."""

    period: str
    folder: Path
    sealed: bool = False
    files_checked: int = 0
    missing: list[str] = field(default_factory=list)   # in the manifest, not on disk
    changed: list[str] = field(default_factory=list)   # size or SHA-256 differs
    extra: list[str] = field(default_factory=list)     # on disk, not in the manifest
    problems: list[str] = field(default_factory=list)  # Chinese: what stopped or spoiled the check
    rescored: bool = False
    result_diffs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIFF_COLUMNS))
    outputs_checked: bool = False  # 汇总表, 通报, 反馈 and csv rendered again and compared
    output_diffs: list[str] = field(default_factory=list)  # Chinese: file, sheet and cell of each difference

    @property
    def ok(self) -> bool:
        return (self.rescored and self.outputs_checked and not self.missing and not self.changed and not self.extra
                and not self.problems and not len(self.result_diffs) and not self.output_diffs)

    def lines(self) -> list[str]:
        """Chinese lines describing every difference, for the CLI to show."""
        out = [f"文件缺失：{p}" for p in self.missing]
        out += [f"文件被改动：{p}" for p in self.changed]
        out += [f"清单外的文件：{p}" for p in self.extra]
        out += list(self.problems)
        for row in self.result_diffs.itertuples(index=False):
            where = row.unit_code + (f" / {row.indicator_code}" if row.indicator_code else "")
            out.append(f"结果不一致：{where} 的{row.field}，归档为「{row.archived}」，重算为「{row.recomputed}」")
        out += [f"输出文件不一致：{line}" for line in self.output_diffs]
        if self.ok:
            out.append(f"{self.period} 期核验通过：{self.files_checked} 个文件与清单一致，按归档的方案和报送文件重算结果完全相同，"
                       "汇总表、通报、反馈表和 csv 与重新生成的一致")
        return out


DIFF_COLUMNS = ["unit_code", "indicator_code", "field", "archived", "recomputed"]
_TOTAL_FIELDS = {"indicator_total": "指标得分", "bonus": "加分", "deduction": "扣分", "total": "总分",
                 "rank": "排名", "grade": "等次", "vetoed": "否决"}
_SCORE_FIELDS = {"score": "得分", "status": "计分状态"}


def _check_files(folder: Path, manifest: dict) -> tuple[list[str], list[str], list[str]]:
    listed = {entry["path"]: entry for entry in manifest.get("files", []) if isinstance(entry, dict) and "path" in entry}
    on_disk = {p.relative_to(folder).as_posix(): p for p in _manifest_files(folder)}
    missing = sorted(set(listed) - set(on_disk))
    extra = sorted(set(on_disk) - set(listed))
    changed = sorted(path for path in set(listed) & set(on_disk)
                     if on_disk[path].stat().st_size != listed[path].get("size")
                     or sha256_file(on_disk[path]) != listed[path].get("sha256"))
    return missing, changed, extra


def _printed(values: pd.Series, kind: str) -> pd.Series:
    """The value as printed in the outputs, as text, so the comparison is exact and NaN-safe."""
    from .score import round_half_up

    if kind == "score":
        numbers = round_half_up(pd.to_numeric(values, errors="coerce"), 2)
        return pd.Series([f"{v:.2f}" if v == v else "" for v in numbers], index=values.index, dtype=object)
    if kind == "int":
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.Series([str(int(v)) if v == v else "" for v in numbers], index=values.index, dtype=object)
    if kind == "bool":
        return pd.Series(["否" if pd.isna(v) or not bool(v) else "是" for v in values], index=values.index, dtype=object)
    return pd.Series(["" if pd.isna(v) else str(v) for v in values],
                     index=values.index, dtype=object)


def _normalised(frame: pd.DataFrame, keys: list[str], fields: dict[str, str]) -> pd.DataFrame:
    kinds = {"rank": "int", "vetoed": "bool", "grade": "text", "status": "text"}
    out = pd.DataFrame({k: frame[k].astype(object).map(lambda v: "" if pd.isna(v) else str(v)) for k in keys})
    for column in fields:
        source = frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        out[column] = _printed(source, kinds.get(column, "score")).to_numpy()
    return out


def _compare(archived: pd.DataFrame, recomputed: pd.DataFrame, keys: list[str], fields: dict[str, str]) -> pd.DataFrame:
    """Long table of every (key, field) whose printed value differs; a row on one side only counts too."""
    left = _normalised(archived, keys, fields)
    right = _normalised(recomputed, keys, fields)
    merged = left.merge(right, on=keys, how="outer", suffixes=("_a", "_r"), indicator=True)
    parts = []
    for column, label in fields.items():
        a = merged[f"{column}_a"].astype(object).where(merged["_merge"] != "right_only", "（无此行）")
        r = merged[f"{column}_r"].astype(object).where(merged["_merge"] != "left_only", "（无此行）")
        differs = a.ne(r)
        parts.append(pd.DataFrame({**{k: merged.loc[differs, k] for k in keys}, "field": label,
                                   "archived": a[differs], "recomputed": r[differs]}))
    diffs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if "indicator_code" not in keys:
        diffs["indicator_code"] = ""
    return diffs.reindex(columns=DIFF_COLUMNS).sort_values(["unit_code", "indicator_code"], kind="stable").reset_index(drop=True)


def verify_period(out_root: Path, period: str, workers: int | None = 1) -> VerifyReport:
    """Re-hash every file against the manifest and re-score from the archived scheme and inputs.

    Raises PeriodNotFound only when the folder does not exist; everything else is reported.
    """
    from . import pipeline
    from .scheme import load_scheme

    folder = period_folder(Path(out_root), period)
    result = VerifyReport(period, folder, sealed=is_sealed(folder))
    manifest_path = folder / MANIFEST
    try:
        manifest = read_manifest(folder, "核对文件")
    except ArchiveDamaged as exc:
        if not manifest_path.is_file():
            result.missing.append(MANIFEST)
        result.problems.append(str(exc))
        return result
    result.files_checked = len(manifest.get("files", []))
    result.missing, result.changed, result.extra = _check_files(folder, manifest)
    if manifest.get("period") != period:
        result.problems.append(f"清单中的考核周期为 {manifest.get('period')}，与文件夹 {period} 不一致")
    if result.sealed:
        seal = _read_json(folder / SEAL_FILE) or {}
        if seal.get("manifest_sha256") != sha256_file(manifest_path):
            result.problems.append(f"清单 {MANIFEST} 在封存后被改动（与封存记录 {SEAL_FILE} 中的校验值不符）")

    scheme_path = folder / SCHEME_COPY
    if not scheme_path.is_file():
        result.problems.append(f"归档中没有方案文件 {SCHEME_COPY}，无法重算")
        return result
    try:
        scheme = load_scheme(scheme_path)
        if scheme.fingerprint != manifest.get("scheme_fingerprint"):
            result.problems.append("归档的方案内容与清单记录的方案指纹不一致")
        validated = pipeline.read_and_validate(scheme, folder / INPUTS_DIR, workers=workers)
        if isinstance(manifest.get("interim_sources"), dict) or pipeline.interim.has_interim(scheme):
            # w-interim: re-derived from the archived periods the run used, which must be unchanged
            result.problems += pipeline.interim.verify_sources(Path(out_root), manifest.get("interim_sources"))
            recorded = (manifest.get("interim_sources") or {}).get("indicators")
            validated = pipeline.interim.attach(scheme, validated, Path(out_root), recorded if isinstance(recorded, dict) else None)
        last_year = (last_year_values(Path(out_root), period)
                     if progress.is_progress_mode(scheme.meta.period_type) else None)
        rescored = pipeline.score_period(scheme, validated, last_year)
    except KaoheError as exc:
        result.problems.append(f"无法按归档的方案和报送文件重算：{str(exc).splitlines()[0]}")
        return result
    diffs = []
    for key, fields, keys, frame in (("totals", _TOTAL_FIELDS, ["unit_code"], rescored.ranked),
                                     ("scores", _SCORE_FIELDS, ["unit_code", "indicator_code"], rescored.scored)):
        try:
            archived = read_results(folder, key, f"比较{'总分' if key == 'totals' else '指标得分'}")
        except ArchiveDamaged as exc:
            result.problems.append(str(exc))
            continue
        diffs.append(_compare(archived, frame, keys, fields))
    result.result_diffs = pd.concat(diffs, ignore_index=True) if diffs else result.result_diffs
    result.rescored = len(diffs) == 2
    _verify_outputs(result, Path(out_root), manifest, rescored, workers)
    return result


def _verify_outputs(result: VerifyReport, out_root: Path, manifest: dict, rescored, workers: int | None) -> None:
    """Render 汇总表, 通报, 反馈 and the csv files again from the re-scored results and compare them with
    the archived ones: a figure edited in what people read fails even with the manifest rewritten."""
    import tempfile

    from .rederive import compare_outputs

    folder = result.folder
    try:
        issued_on = date.fromisoformat(str(manifest.get("issued_on", "")))
    except ValueError:
        result.problems.append(f"清单 {MANIFEST} 中没有成文日期（issued_on），无法重新生成通报和汇总表加以核对")
        return
    baseline = None
    if manifest.get("compared_to"):
        baseline = out_root / str(manifest["compared_to"])
        if not (baseline / "totals.csv").is_file():
            result.problems.append(f"本期与 {manifest['compared_to']} 期作了纵向比较，但该期归档已不在「{out_root}」中，"
                                   "无法重新生成汇总表和反馈表加以核对")
            return
        recorded = manifest.get("compared_to_sha256")
        if isinstance(recorded, dict) and any(not (baseline / name).is_file() or sha256_file(baseline / name) != digest
                                              for name, digest in recorded.items()):
            result.problems.append(f"本期与 {manifest['compared_to']} 期作了纵向比较，但该期结果在本期运行后已改变（被重新计算或改动），"
                                   "无法按原样重新生成汇总表和反馈表加以核对；如该期确已重算，请重新运行本期")
            return
    template = folder / NOTICE_TEMPLATE_COPY
    with tempfile.TemporaryDirectory(prefix=".kaohe-verify-") as tmp:
        rendered = Path(tmp)
        render_outputs(rescored, rendered, baseline, issued_on, template if template.is_file() else None, workers)
        result.output_diffs = compare_outputs(folder, rendered)
        expected = {p.name for p in (rendered / FEEDBACK_DIR).glob("*") if p.is_file()}
        extra = sorted(p.name for p in (folder / FEEDBACK_DIR).glob("*") if p.is_file() and p.name not in expected)
        result.output_diffs += [f"{FEEDBACK_DIR}/{name}：重算结果中没有此单位的反馈表" for name in extra]
    result.outputs_checked = True


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
    from .score import round_half_up

    by_unit = table.groupby("unit_code", sort=False)
    table["total_change"] = round_half_up(table["total"] - by_unit["total"].shift(1), 2)
    table["rank_change"] = (by_unit["rank"].shift(1) - table["rank"]).astype("Int64")
    return table, damaged


def _sheet_name(text: str, used: set[str]) -> str:
    name = "".join("_" if ch in '[]:*?/\\' else ch for ch in str(text))[:28] or "类别"
    base, n = name, 1
    while name in used:
        n += 1
        name = f"{base}{n}"
    used.add(name)
    return name


def write_history_xlsx(path: Path, table: pd.DataFrame) -> Path:
    """A 明细 sheet (the long table) and one sheet per group: totals by period and a line chart."""
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = InertWorkbook(str(path), {"nan_inf_to_errors": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    head = workbook.add_format({"bold": True, "border": 1, "bg_color": "#D9E1F2", "align": "center", "valign": "vcenter"})
    cell = workbook.add_format({"border": 1})
    score = workbook.add_format({"border": 1, "num_format": "0.00"})
    delta = workbook.add_format({"border": 1, "num_format": "+0.00;-0.00;0.00"})
    rank_delta = workbook.add_format({"border": 1, "num_format": "+0;-0;0"})
    used = {"明细"}

    detail = workbook.add_worksheet("明细")
    headers = [("考核周期", "period", cell, 10), ("单位代码", "unit_code", cell, 10), ("单位名称", "unit_name", cell, 16),
               ("考核类别", "group", cell, 12), ("总分", "total", score, 9), ("排名", "rank", cell, 6),
               ("等次", "grade", cell, 8), ("否决", "vetoed", cell, 6), ("已封存", "sealed", cell, 8),
               ("分数变化", "total_change", delta, 10), ("名次变化", "rank_change", rank_delta, 10)]
    for c, (title, _, _, width) in enumerate(headers):
        detail.write_string(0, c, title, head)
        detail.set_column(c, c, width)
    for r, row in enumerate(table.reindex(columns=[h[1] for h in headers]).itertuples(index=False), start=1):
        for c, ((_, key, fmt, _), value) in enumerate(zip(headers, row)):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                detail.write_blank(r, c, None, fmt)
            elif key in ("vetoed", "sealed"):
                detail.write_string(r, c, "是" if bool(value) else "否", fmt)
            elif key in ("total", "rank", "total_change", "rank_change"):
                detail.write_number(r, c, float(value), fmt)
            else:
                detail.write_string(r, c, str(value), fmt)
    detail.freeze_panes(1, 0)
    detail.autofilter(0, 0, max(len(table), 1), len(headers) - 1)

    periods = sorted(table["period"].unique()) if len(table) else []
    for group, part in table.groupby("group", sort=True):
        names = part.sort_values("period").groupby("unit_code", sort=True)["unit_name"].last()
        wide = part.pivot_table(index="unit_code", columns="period", values="total", aggfunc="first").reindex(index=names.index, columns=periods)
        ws = workbook.add_worksheet(_sheet_name(group, used))
        ws.write_string(0, 0, "单位代码", head)
        ws.write_string(0, 1, "单位名称", head)
        for c, period in enumerate(periods, start=2):
            ws.write_string(0, c, str(period), head)
        for r, (code, values) in enumerate(wide.iterrows(), start=1):
            ws.write_string(r, 0, str(code), cell)
            ws.write_string(r, 1, str(names[code]), cell)
            for c, value in enumerate(values, start=2):
                if value == value:
                    ws.write_number(r, c, float(value), score)
                else:
                    ws.write_blank(r, c, None, score)
        ws.set_column(0, 0, 10)
        ws.set_column(1, 1, 16)
        ws.set_column(2, 1 + len(periods), 10)
        chart = workbook.add_chart({"type": "line"})
        for r in range(1, len(wide) + 1):
            chart.add_series({"name": [ws.name, r, 1], "categories": [ws.name, 0, 2, 0, 1 + len(periods)],
                              "values": [ws.name, r, 2, r, 1 + len(periods)], "marker": {"type": "circle"}})
        chart.set_title({"name": f"{group} 历年总分"})
        chart.set_x_axis({"name": "考核周期"})
        chart.set_y_axis({"name": "总分"})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(len(wide) + 3, 0, chart)
    workbook.close()
    return path
