"""File-system failures as one Chinese line that says what to do.

Every command that writes (template, check, run, seal, mail, history --xlsx) checks its output
folder before doing the work, and any OSError that still happens (disk full half-way, a file
opened in Excel meanwhile) is turned into a FileSystemProblem naming the path. The CLI calls
`problem_from` on whatever escaped, so no OS condition a user can fix ends as "程序内部错误".
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from kaohe_excel.base.errors import DiskFull, FileInUse, FileSystemProblem, OutputNotWritable, PathBlocked, PathTooLong

# Tests flip this to check the Windows wording on Linux.
ON_WINDOWS = os.name == "nt"

# A run writes into outputs/.<period>.staging-<pid>-<ms>/ first; users know only outputs/<period>/.
_STAGING = re.compile(r"\.([^/\\]+?)\.staging-\d+-\d+")
_ERRNO_IN_TEXT = re.compile(r"errno[ =:]*(\d+)", re.IGNORECASE)
# Windows error codes that Python leaves without a POSIX errno in some paths (pyarrow, os.replace).
_WINERRORS = {5: errno.EACCES, 3: errno.ENOENT, 112: errno.ENOSPC, 206: errno.ENAMETOOLONG, 267: errno.ENOTDIR,
              183: errno.EEXIST, 19: errno.EROFS}
_LOCKED_WINERRORS = {32, 33}  # sharing / lock violation: the file is open in another program
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def shown(path: object) -> str:
    """The path as the user knows it (a staging folder shown as the period folder)."""
    return _STAGING.sub(lambda m: m.group(1), os.fspath(path)) if path not in (None, "") else ""


def find_os_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind exc: itself, wrapped as the first argument (xlsxwriter's FileCreateError), or its cause."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        if current.args and isinstance(current.args[0], BaseException):
            todo.append(current.args[0])
        todo += [current.__cause__, current.__context__]
    return None


def _code(exc: OSError) -> int | None:
    if exc.errno:
        return exc.errno
    winerror = getattr(exc, "winerror", None)
    if winerror in _WINERRORS:
        return _WINERRORS[winerror]
    match = _ERRNO_IN_TEXT.search(str(exc))  # pyarrow: "... Detail: [errno 28] No space left on device"
    return int(match.group(1)) if match else None


def _blocker(path: Path) -> Path | None:
    for candidate in [*reversed(path.parents), path]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def os_problem(exc: OSError, path: object = None, action: str = "写入") -> FileSystemProblem:
    """One Chinese line for an OSError met while `action`-ing (写入/读取/创建/删除) `path` (default: the error's own)."""
    where = Path(shown(exc.filename or path or ""))
    text = str(where) if str(where) not in ("", ".") else "（未知位置）"
    code = _code(exc)
    winerror = getattr(exc, "winerror", None)
    if winerror in _LOCKED_WINERRORS or (ON_WINDOWS and isinstance(exc, PermissionError) and where.is_file()):
        if where.is_dir():  # renaming a period folder fails while one of its files is open
            return FileInUse(f"文件夹「{text}」中有文件正被其他程序（如 Excel、WPS 或 Word）打开，无法{action}。"
                             "请先关闭其中的文件再重试", where)
        return FileInUse(f"文件「{text}」正被其他程序（如 Excel、WPS 或 Word）打开，无法{action}。"
                         "请先关闭该文件再重试", where)
    if code == errno.EROFS:
        return OutputNotWritable(f"「{text}」所在的磁盘是只读的（如写保护的U盘或光盘），无法{action}。"
                                 "请用 --out 换一个可写的位置", where)
    if code in (errno.EACCES, errno.EPERM) or isinstance(exc, PermissionError):
        hint = "请检查文件权限" if action == "读取" else "请确认该文件夹不是只读的、本人有写入权限，或用 --out 换一个位置"
        if ON_WINDOWS and action != "读取":
            hint += "；如其中的文件正在 Excel、WPS 或 Word 中打开，请先关闭"
        return OutputNotWritable(f"没有权限{action}「{text}」。{hint}", where)
    if code in _DISK_FULL:
        return DiskFull(f"磁盘空间不足，「{text}」未能写完。请清理该磁盘或用 --out 换一个磁盘后重新运行"
                        "（未写完的文件不会被当作结果）", where)
    if code in (errno.ENOTDIR, errno.EEXIST) or isinstance(exc, (NotADirectoryError, FileExistsError)):
        blocker = _blocker(where) or where
        return PathBlocked(f"「{shown(blocker)}」是一个文件，而这里需要一个文件夹，无法{action}。"
                           "请将该文件改名或移走，或用 --out 换一个位置", blocker)
    if code == errno.EISDIR or isinstance(exc, IsADirectoryError):
        return PathBlocked(f"「{text}」是一个文件夹，不能作为文件{action}。请指定一个文件名（如 历年考核.xlsx）", where)
    if code == errno.ENAMETOOLONG:
        return PathTooLong(f"路径「{text}」太长，系统无法{action}。请用 --out 换一个较短的位置（如 D:\\考核），"
                           "或缩短单位名称", where)
    if code == errno.ENOENT or isinstance(exc, FileNotFoundError):
        return FileSystemProblem(f"找不到「{text}」（或其所在的文件夹已被移走），无法{action}。请检查路径后重试", where)
    name = errno.errorcode.get(code or -1, type(exc).__name__)
    return FileSystemProblem(f"无法{action}「{text}」（系统提示：{name} {exc.strerror or exc}）。"
                             "请检查该磁盘或网络共享是否可用后重试", where)


def problem_from(exc: BaseException, path: object = None, action: str = "写入") -> FileSystemProblem | None:
    """A FileSystemProblem for an exception caused by the file system, else None (a bug)."""
    if isinstance(exc, FileSystemProblem):
        return exc
    found = find_os_error(exc)
    return os_problem(found, path, action) if found is not None else None


@contextmanager
def writing(path: object, action: str = "写入") -> Iterator[None]:
    """Turn an OSError in the block into the Chinese FileSystemProblem (naming the error's file, else path)."""
    try:
        yield
    except FileSystemProblem:
        raise
    except Exception as exc:
        problem = problem_from(exc, path, action)
        if problem is None:
            raise
        raise problem from exc


def check_output_dir(folder: object, what: str = "输出") -> Path:
    """Fail now, before any work, when `folder` cannot be created or written; creates nothing."""
    folder = Path(folder)
    blocker = _blocker(folder)
    if blocker is not None:
        raise PathBlocked(f"{what}位置「{shown(blocker)}」是一个文件，而这里需要一个文件夹。"
                          "请将该文件改名或移走，或用 --out 换一个位置", blocker)
    existing = next((p for p in [folder, *folder.parents] if p.is_dir()), Path("."))
    try:
        handle, probe = tempfile.mkstemp(prefix=".kaohe-probe-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        exc.filename = os.fspath(existing)  # the folder, not the probe's random name
        raise os_problem(exc, existing, "写入") from exc
    return folder


def check_output_file(path: object, what: str = "文件") -> Path:
    """Fail now when `path` cannot be written: its folder (check_output_dir), a folder in its place, or
    an existing file locked by another program (opened for append and closed: nothing changes)."""
    path = Path(path)
    check_output_dir(path.parent, what)
    if path.is_dir():
        raise PathBlocked(f"{what}「{path}」是一个文件夹，不能作为文件写入。请指定一个文件名（如 历年考核.xlsx）", path)
    if path.is_file():
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise os_problem(exc, path, f"写入{what}") from exc
    return path
