"""Lock files: one writer at a time, and a dead writer's lock recognised and broken.

The outputs root's lock (.kaohe.lock, held by every write of a period and by seal) and the mail
lock of a period folder (mail.LOCK_NAME) are both made here: a file created exclusively holding
pid, host, time and a token, released only by the holder whose token it is. The owner checks
(a pid gone on this host; an unreadable or foreign file only after a grace time) also tell
archive_swap which swap journals a dead run left behind.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from kaohe_excel.base.errors import KaoheError, OutputsLocked

LOCK_NAME = ".kaohe.lock"
# A lock or journal whose owner cannot be checked (another host, unreadable content) is
# only presumed dead after this long; a run on the small data of an office takes minutes.
UNREADABLE_LOCK_GRACE_S = 30.0


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def human_time(stamp: object) -> str:
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


def read_json(path: Path) -> dict | None:
    """A small JSON file of the archive (lock, journal, seal, manifest) as a dict; None when it is
    missing, unreadable or not an object."""
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
    """A lock file held (the outputs root's, or any other made by `hold_lock`); `token` tells
    our lock file from a later one."""

    path: Path
    token: str

    def release(self) -> None:
        info = read_json(self.path)
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
        if read_json(lock_path) == stale:
            lock_path.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


def hold_lock(lock_path: Path, busy: Callable[[dict | None], KaoheError], attempts: int = 20) -> OutputsLock:
    """Create `lock_path` exclusively (pid, host, time, token) or raise busy(holder's record);
    a dead owner's lock is broken and the creation tried again."""
    token = uuid.uuid4().hex
    info = {"pid": os.getpid(), "host": socket.gethostname(), "created_at": now_text(), "token": token}
    for _ in range(attempts):
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_json(lock_path)
            if _owner_dead(holder, lock_path, grace_s=float("inf")):
                _break_stale(lock_path, holder)
                continue
            raise busy(holder) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        return OutputsLock(lock_path, token)
    raise busy(read_json(lock_path))


@contextmanager
def lock_file(lock_path: Path, busy: Callable[[dict | None], KaoheError], attempts: int = 20) -> Iterator[OutputsLock]:
    """Hold `lock_path` for a block (see hold_lock); released on any exit, including Ctrl-C."""
    lock = hold_lock(lock_path, busy, attempts)
    try:
        yield lock
    finally:
        lock.release()


def acquire_lock(out_root: Path, attempts: int = 20) -> OutputsLock:
    """Create <out_root>/.kaohe.lock (pid, host, time) or raise OutputsLocked; stale locks are broken."""
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    lock_path = out_root / LOCK_NAME
    return hold_lock(lock_path, lambda holder: OutputsLocked(_locked_message(out_root, lock_path, holder)), attempts)


def _locked_message(out_root: Path, lock_path: Path, holder: dict | None) -> str:
    if holder is None:
        who = "另一次运行（正在启动）"
    else:
        who = f"另一次运行（主机 {holder.get('host', '?')}，进程号 {holder.get('pid', '?')}，{human_time(holder.get('created_at'))} 开始）"
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
