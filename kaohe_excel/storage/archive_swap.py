"""Staging and swap: a period is written into a staging folder beside its target and renamed into
place at the end; an existing folder is kept as <period>.<timestamp>, and a swap journal lets a swap
that a dead run left half done be rolled back (`recover`, called before any lookup)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import Callable

from kaohe_excel.storage.archive_lock import _owner_dead, now_text, read_json

STAGING_MARK = ".staging-"
JOURNAL_SUFFIX = ".swap.json"
FOREIGN_JOURNAL_GRACE_S = 600.0


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
        info = read_json(journal)
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


def _swap_into_place(staging: Path, target: Path, pause: Callable[[str], None] = lambda stage: None) -> str | None:
    """Rename staging to target; an existing target is kept as <period>.<timestamp> (returned).
    `pause("swap")` is called between the two renames (archive.pause_hook for the tests)."""
    out_root = target.parent
    if not target.exists():
        staging.rename(target)
        return None
    backup = _backup_name(out_root, target.name)
    journal = _journal_path(out_root, target.name)
    _write_json_atomic(journal, {"period": target.name, "backup": backup, "staging": staging.name,
                                 "pid": os.getpid(), "host": socket.gethostname(), "created_at": now_text()})
    target.rename(out_root / backup)
    try:
        pause("swap")
        staging.rename(target)
    except BaseException:
        if not target.exists():
            (out_root / backup).rename(target)
        raise
    finally:
        journal.unlink(missing_ok=True)
    return backup
