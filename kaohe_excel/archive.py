"""The period folder (outputs/<period>/): written whole or not at all, sealed, read back.

A run writes everything into a staging folder beside the target and renames it into
place at the end, so an interrupted run never leaves half a period. The folder keeps
the inputs byte for byte, the scheme used, the results in a lossless form, and a
manifest with the SHA-256 of every file. One lock file per outputs root keeps two runs
apart; a swap journal lets an interrupted swap be rolled back to the previous state.

Storage only: which outputs a period has is the caller's choice (write_period takes the writer),
and re-scoring an archive to verify it is a job (pipeline.verify_period).
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import __version__, progress
from .errors import ArchiveDamaged, ArchiveMismatch, InboxChanged, KaoheError, OutputsLocked, PeriodNotFound, PeriodSealed
from .safety import csv_unquote

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
        _pause("swap")
        staging.rename(target)
    except BaseException:
        if not target.exists():
            (out_root / backup).rename(target)
        raise
    finally:
        journal.unlink(missing_ok=True)
    return backup


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
        missing, changed, extra = check_files(folder, read_manifest(folder, "封存"))
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


def check_files(folder: Path, manifest: dict) -> tuple[list[str], list[str], list[str]]:
    """The manifest's files missing on disk, changed (size or SHA-256), and on disk but not listed."""
    listed = {entry["path"]: entry for entry in manifest.get("files", []) if isinstance(entry, dict) and "path" in entry}
    on_disk = {p.relative_to(folder).as_posix(): p for p in _manifest_files(folder)}
    missing = sorted(set(listed) - set(on_disk))
    extra = sorted(set(on_disk) - set(listed))
    changed = sorted(path for path in set(listed) & set(on_disk)
                     if on_disk[path].stat().st_size != listed[path].get("size")
                     or sha256_file(on_disk[path]) != listed[path].get("sha256"))
    return missing, changed, extra


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
