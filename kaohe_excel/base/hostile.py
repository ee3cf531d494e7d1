"""Defences against workbooks built to crash the native reader (python-calamine), and the
listing of what the inbox holds besides workbooks.

calamine trusts some numbers a workbook declares and allocates for them before reading
anything: a shared-string table declaring `uniqueCount="4294967295"` makes it reserve
~100 GB, and a failed allocation in Rust aborts the whole process (SIGABRT, no Python
exception). Two layers keep one such file from costing more than its own issue:

1. `string_table_problem` refuses, before calamine sees the bytes, a declared number no
   honest file can have (read.py's `_scan_cells` does the same for cell references);
2. everything calamine reads is read in another process: read.py's process pool and
   isolated reader for the inbox, `call_isolated` here for the scheme. A crash nobody
   foresaw then kills that process, never the batch.

What calamine 0.37 (python-calamine 0.9) was found to preallocate from, by setting every
numeric attribute of a template to 2^32-1 (and 2^64-1) under a 1.5 GB cap: only the
shared-string table's `uniqueCount` (2^64-1 panics instead) and the cell references.
`count` is checked the same way in case a later version reserves by it.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path

from kaohe_excel.base.issues import Issue, IssueCode, error, warning

# The root of a shared-string table and its declared counts (any namespace prefix).
_SST_ROOT = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?sst\b[^>]*>')
_COUNT_ATTRIBUTE = re.compile(rb'\s(count|uniqueCount)\s*=\s*(["\'])\s*([^"\']*)\2')
# Every <si> (shared string) needs at least "<si/>"; every reference to one needs a cell tag.
_MIN_ENTRY_BYTES = 5
_HEAD_BYTES = 4096  # the root element is at the very start of the part


def string_table_problem(data: bytes) -> str | None:
    """Why the workbook must not reach calamine, in Chinese, or None (the usual case).

    A count a little off is harmless and common (LibreOffice writes some); only a count larger
    than the part or the whole package could hold is refused, before calamine reserves memory
    for it. The test costs a few byte searches unless the zip names a shared-string table.
    """
    if not _may_hold_string_table(data):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            package_size = sum(info.file_size for info in infos)
            for info in infos:
                # calamine finds the table by its name (any case, either slash), not by relationship
                if info.is_dir() or "sharedstrings" not in info.filename.lower():
                    continue
                head = _head(archive, info)
                if head is None:
                    return "文件已损坏：其中的共享字符串表无法解压"
                root = _SST_ROOT.search(_as_utf8(head))
                found = _impossible_count(root.group(0), info.file_size, package_size) if root else None
                if found is not None:
                    declared, limit = found
                    return (f"文件结构异常：共享字符串表声明有 {declared} 个字符串，而文件最多只能容纳约 {limit} 个"
                            "（可能被篡改或由有缺陷的软件生成），为防止读取程序崩溃已拒绝读取")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError, zlib.error, AttributeError):
        return None  # not a readable zip: the reader reports it as damaged
    return None


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The first bytes of a part, inflated no further than needed; None when they cannot be read."""
    try:
        with archive.open(info) as handle:
            return handle.read(_HEAD_BYTES)
    except Exception:  # damaged, encrypted, or a compression zipfile lacks (calamine may have it)
        return None


def _as_utf8(raw: bytes) -> bytes:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", "replace").encode("utf-8")
    return raw


def _impossible_count(root: bytes, part_size: int, package_size: int) -> tuple[str, int] | None:
    """(the declared number, the most the file could hold) for a count no honest file can have."""
    for name, _, value in _COUNT_ATTRIBUTE.findall(root):
        limit = (part_size if name == b"uniqueCount" else package_size) // _MIN_ENTRY_BYTES + 1
        digits = value.strip()
        if not digits.isdigit() or len(digits) > 19 or int(digits) > limit:
            return value.decode("ascii", "replace")[:24], limit
    return None


_STRING_TABLE_NAME = re.compile(rb"(?i)sharedstrings")


def _may_hold_string_table(data: bytes) -> bool:
    """Whether the zip's central directory names a shared-string table: a few byte searches,
    where opening the zip would cost more than the rest of the check (templates have none)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 66_000))
    if end < 0 or end + 22 > len(data):
        return True  # no plain end record (zip64, damaged): look properly
    size = int.from_bytes(data[end + 12:end + 16], "little")
    offset = int.from_bytes(data[end + 16:end + 20], "little")
    if offset + size != end:  # zip64, data before the zip, a comment in the way: look properly
        return True
    return _STRING_TABLE_NAME.search(data, offset, offset + size) is not None


# ---------------------------------------------------------------- what the inbox holds

# Made by the operating system itself beside copied files: never a submission, nothing to do.
OS_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
LINK_MESSAGE = "请把文件本身放入收件箱"


def scan_inbox(folder: Path) -> tuple[list[Path], list[tuple[Path, str, Issue | None]]]:
    """The files to read (sorted, recursive), and every entry not read with the issue that
    names it (None: ignored without a word, OS files and lock files whose workbook is gone).

    Links are never followed: what a link points to may be outside the inbox (another
    unit's folder, a system file), so a link is an 错误 naming it. Hidden entries are
    named too, so a unit whose file is hidden is not just 未报送 without a reason.
    """
    folder = Path(folder)
    files: list[Path] = []
    skipped: list[tuple[Path, str, Issue | None]] = []

    def skip(path: Path, issue: Issue | None, name: str | None = None) -> None:
        skipped.append((path, str(path.relative_to(folder)) if name is None else name, issue))

    def walk(directory: Path, prefix: str = "") -> None:
        """`prefix`: the directory's name relative to the inbox + os.sep ("" for the inbox), so
        an entry's name is prefix + its own (what Path.relative_to gives, at a tenth of the cost)."""
        try:
            with os.scandir(directory) as entries:
                found = sorted(entries, key=lambda e: e.name)
        except OSError:
            skip(directory, error(IssueCode.unreadable_folder,
                                  "无法打开此文件夹（没有读取权限或已被移走），其中的文件均未读取；请检查文件夹权限后重新运行",
                                  file=str(directory.relative_to(folder))))
            return
        for entry in found:
            path = Path(entry.path)
            name = prefix + entry.name  # as read.py names the files it reads
            lowered = entry.name.lower()
            try:
                status = entry.stat(follow_symlinks=False)
                is_link = entry.is_symlink() or _is_junction(status)
                mode = status.st_mode
            except OSError:
                skip(path, error(IssueCode.unreadable_file, "无法读取此文件的属性（可能已被移走或没有权限），未读取；请检查后重新运行", file=name))
                continue
            if lowered in OS_FILES or entry.name.startswith("._"):
                skip(path, None)  # Finder/Explorer metadata ("._x" is macOS's copy of x's attributes)
            elif is_link:
                what = "指向其他文件夹的链接" if _points_to_folder(path) else "快捷方式（符号链接）"
                skip(path, error(IssueCode.link_in_inbox,
                                 f"这是{what}，未读取：收件箱中的链接一律不跟随（可能指向收件箱以外的文件）。{LINK_MESSAGE}",
                                 file=name))
            elif stat.S_ISDIR(mode):
                if entry.name.startswith("."):
                    skip(path, warning(IssueCode.hidden_entry,
                                       "隐藏文件夹（名称以“.”开头），其中的文件均未读取；如果其中有报送的表格，请移到收件箱中不以“.”开头的文件夹",
                                       file=name))
                else:
                    walk(path, name + os.sep)
            elif not stat.S_ISREG(mode):
                skip(path, warning(IssueCode.not_a_regular_file, "这不是普通文件（可能是管道或设备文件），未读取；收件箱中只应放各单位报送的表格", file=name))
            elif lowered.endswith(".lnk"):
                skip(path, error(IssueCode.link_in_inbox, f"这是 Windows 快捷方式，不是表格文件本身，未读取。{LINK_MESSAGE}", file=name))
            elif _locked_workbook(entry.name) is not None:
                skip(path, "lock")  # judged below, once every name is known
            elif entry.name.startswith("."):
                skip(path, warning(IssueCode.hidden_entry,
                                   "隐藏文件（文件名以“.”开头），未读取；如果这是报送的表格，请去掉文件名开头的“.”后重新放入收件箱",
                                   file=name))
            else:
                files.append(path)

    walk(folder)
    # Excel/WPS name the lock "~$" + the name, or for a longer name put "~$" over its first two characters.
    present: dict[tuple[Path, str], Path] = {}
    for path in files:
        present.setdefault((path.parent, path.name.lower()), path)
        present.setdefault((path.parent, "\0" + path.name[2:].lower()), path)
    for index, (path, name, issue) in enumerate(skipped):
        if issue == "lock":
            rest = _locked_workbook(path.name).lower()
            target = present.get((path.parent, rest)) or (
                present.get((path.parent, "\0" + rest)) if path.name.startswith("~$") else None)
            if target is not None:
                # The workbook is open in Excel/WPS right now: what is read is its last save.
                issue = warning(IssueCode.file_open_elsewhere,
                                f"表格「{target.name}」正在 Excel/WPS 中打开（这是它的锁定文件），读取的是它最后一次保存的内容；"
                                "请确认填报人已保存并关闭该文件后重新运行", file=name)
            else:
                issue = None  # left behind by a closed or crashed Excel: nothing to say
            skipped[index] = (path, name, issue)
    return sorted(files), skipped


def _locked_workbook(name: str) -> str | None:
    """The workbook an office lock file belongs to, or None when it is not a lock file.
    Excel/WPS write "~$" + the name (the first two characters dropped for long names);
    LibreOffice ".~lock.<name>#"."""
    if name.startswith("~$"):
        return name[2:]
    if name.startswith(".~lock.") and name.endswith("#"):
        return name[len(".~lock."):-1]
    return None


def _is_junction(status: os.stat_result) -> bool:
    """A Windows directory junction (mklink /J), which is_symlink does not report."""
    tag = getattr(status, "st_reparse_tag", 0)
    return bool(tag) and tag == getattr(stat, "IO_REPARSE_TAG_MOUNT_POINT", -1)


def _points_to_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


# ---------------------------------------------------------------- a reader in a child process

class ChildDied(Exception):
    """The child process ended without an answer: the native code aborted or ran out of memory."""


class ChildTimedOut(Exception):
    """The child did not answer within the time limit (it was killed)."""


def _child(sender, function, args, memory_bytes: int) -> None:
    quiet()
    cap_memory(memory_bytes)
    try:
        outcome = ("ok", function(*args))
    except BaseException as exc:  # a Rust panic is a BaseException
        outcome = ("error", f"{type(exc).__name__}: {exc}"[:500])
    try:
        sender.send(outcome)
    except Exception as exc:  # an answer that cannot be pickled
        sender.send(("error", f"{type(exc).__name__}: {exc}"[:500]))
    finally:
        sender.close()


def call_isolated(function, *args, timeout: float = 60.0, memory_bytes: int = 1024 * 1024 * 1024):
    """function(*args) run in a child process; its return value, or:
    RuntimeError("<type>: <message>") when it raised, ChildDied when the process died
    (abort, out of memory), ChildTimedOut when it hung. `function` must be importable."""
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, function, args, memory_bytes), daemon=True)
    child.start()
    sender.close()
    outcome = None
    timed_out = False
    try:
        if receiver.poll(timeout):
            try:
                outcome = receiver.recv()
            except (EOFError, OSError):
                outcome = None
        else:
            timed_out = True
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)
        receiver.close()
    if timed_out:
        raise ChildTimedOut(f"no answer within {timeout:g} s")
    if not isinstance(outcome, tuple) or len(outcome) != 2:
        raise ChildDied(f"exit code {child.exitcode}")
    status, value = outcome
    if status != "ok":
        raise RuntimeError(value)
    return value


def quiet() -> None:
    """A native abort prints a Rust backtrace: keep it off the user's terminal."""
    try:
        import faulthandler

        faulthandler.disable()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    except (OSError, ValueError):
        pass


def cap_memory(budget: int) -> bool:
    """Cap the address space at what the process maps plus `budget`; False where that is not
    possible (Windows, macOS: the timeout still bounds a child)."""
    try:
        import resource

        with open("/proc/self/statm") as handle:
            mapped = int(handle.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = mapped + budget if hard == resource.RLIM_INFINITY else min(mapped + budget, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        return True
    except Exception:  # no /proc or no resource module (Windows)
        return False


__all__ = ["string_table_problem", "scan_inbox", "call_isolated", "ChildDied", "ChildTimedOut", "quiet", "cap_memory"]
