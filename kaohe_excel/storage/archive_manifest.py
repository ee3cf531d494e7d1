"""The manifest of a period folder (manifest.json): every file's size and SHA-256, checked before a
period is sealed, verified or mailed; and reading it back, a damaged one named (ArchiveDamaged)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kaohe_excel import __version__
from kaohe_excel.storage.archive_lock import now_text
from kaohe_excel.base.errors import ArchiveDamaged

MANIFEST = "manifest.json"
SEAL_FILE = "SEALED.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        "created_at": now_text(),
        "inputs": inputs,
        "files": files,
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
    from kaohe_excel.base.fsguard import os_problem

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
