"""Read every workbook in the inbox into compact per-file results.

Reading knows nothing of the scheme: it sniffs the container, opens the workbook with
python-calamine, finds the tables by their header texts wherever they are, and returns
the raw cell values with their exact addresses. Judging those values is validate.py's job.

Nothing in the inbox is ever written: files are opened read-only, hashed before reading.
Every file ends read or as one issue naming why, whatever it holds (see ReadLimits for
how one hostile file is kept from stalling or crashing the batch).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kaohe_excel.base.hostile import ChildDied, ChildTimedOut, call_isolated, cap_memory, quiet, scan_inbox, string_table_problem
from kaohe_excel.base.issues import Issue, IssueCode, error, warning
from kaohe_excel.base.read_rows import Cell, Row, _Layout
from kaohe_excel.base.tables import Table, clean_text, column_letter, header_key, locate_table

META_SHEET = "_kaohe"
UNIT_SHEET = "填报"
CLAIM_SHEET = "加扣分"
ASSESSMENT_SHEET = "评定"
KIND_UNIT = "单位填报表"
KIND_ASSESSMENT = "评定表"
KIND_LEAD = "牵头单位核定表"
LEAD_SHEET = "核定"
KIND_APPEAL = "复核登记表"  # w-appeal
APPEAL_SHEET = "复核"

UNIT_HEADERS = ["指标代码", "实际完成值"]
UNIT_OPTIONAL = ["指标名称", "计量单位", "目标值", "佐证材料", "备注"]
CLAIM_HEADERS = ["项目代码", "数量"]
CLAIM_OPTIONAL = ["单位代码", "事项说明", "佐证材料", "项目名称"]
ASSESSMENT_HEADERS = ["单位代码", "指标代码", "评定值"]
ASSESSMENT_OPTIONAL = ["说明", "单位名称", "指标名称"]
LEAD_HEADERS = ["单位代码", "指标代码", "核定值"]
LEAD_OPTIONAL = ["说明", "单位名称", "指标名称"]
APPEAL_HEADERS = ["单位代码", "指标代码", "项目代码", "复核结论", "复核值"]
APPEAL_OPTIONAL = ["申请事项", "复核说明", "单位名称"]
HEADER_BLOCK_LABELS = ["考核名称", "考核周期", "单位代码", "单位名称"]
# The columns a row keeps: what validation reads (names and units only to check them against the codes).
UNIT_KEPT = ["指标代码", "实际完成值", "目标值", "佐证材料", "备注", "指标名称", "计量单位"]
ASSESSMENT_KEPT = ["单位代码", "指标代码", "评定值", "说明", "单位名称", "指标名称"]
LEAD_KEPT = ["单位代码", "指标代码", "核定值", "说明", "单位名称", "指标名称"]
CLAIM_KEPT = ["项目代码", "数量", "单位代码", "事项说明", "佐证材料"]
APPEAL_KEPT = ["单位代码", "指标代码", "项目代码", "申请事项", "复核结论", "复核值", "复核说明"]

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et"}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTION_MARKER = "EncryptionInfo".encode("utf-16-le")
# BOF records of the pre-OLE BIFF2-4 worksheet files (Excel 2.x-4.x), which calamine may read.
BIFF_MAGICS = (b"\x09\x00\x04\x00", b"\x09\x02", b"\x09\x04")

UNREADABLE_MESSAGE = "文件已损坏或不是有效的 Excel 文件，请用 Excel 或 WPS 打开后另存为 .xlsx 再报送"
ENCRYPTED_MESSAGE = "文件设置了打开密码（已加密），请取消密码后重新报送"
ET_MESSAGE = "WPS 专用 .et 格式无法读取，请在 WPS 中另存为 .xlsx 后报送"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep one hostile file from stalling or exhausting the batch.

    The .xlsx path (every template) is read in-process after a cheap scan of the zip that
    bounds the unpacked size and the cell area calamine would allocate; the rare formats
    (.xls, .et, .ods, .xlsb) are read in a child process with a memory cap and a timeout,
    because their parsers cannot be bounded from outside.
    """

    max_file_bytes: int = 100 * 1024 * 1024
    max_uncompressed_bytes: int = 300 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_part_bytes: int = 64 * 1024 * 1024  # one unpacked part (a sheet's XML)
    # Excel's own row limit: a city's 评定表 has a row per unit and 评定 indicator; what
    # bounds memory is the cell area, checked before parsing (scan) and after loading.
    max_rows: int = 1_048_576
    max_columns: int = 200
    max_cells: int = 2_000_000  # rows x columns of one sheet's area from A1 (~100 MB once loaded)
    timeout_seconds: float = 60.0  # per file, isolated readers
    max_memory_bytes: int = 1024 * 1024 * 1024  # per isolated reader or pool worker (Linux)


@dataclass(frozen=True)
class FormulaWithoutValue:
    """An input cell holding a formula with no cached result (the file was never
    recalculated by Excel/WPS); calamine reads such a cell as empty."""

    formula: str

    def __str__(self) -> str:  # inert wherever a value is shown as text
        return ""


@dataclass
class FileResult:
    """What one inbox file held, or why it could not be read. Small enough to pickle cheaply."""

    path: str
    name: str
    size: int
    sha256: str
    kind: str = ""  # KIND_UNIT | KIND_ASSESSMENT | KIND_LEAD | "" (unknown / unreadable)
    meta: dict[str, str] = field(default_factory=dict)
    header: dict[str, Cell] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)  # indicator rows (填报, 评定 or 核定)
    claims: list[Row] = field(default_factory=list)  # 加扣分 rows
    issues: list[Issue] = field(default_factory=list)
    # Why the file is not copied into the archive (a link, a hidden file, too large); "" = copied.
    not_copied: str = ""
    # What judging the file in the pool worker produced (validate's per-file verdict; the cells
    # are then dropped); None: not judged there, the consumer judges the cells itself.
    verdict: object = None

    @property
    def readable(self) -> bool:
        return not any(i.code in FATAL_FILE_CODES for i in self.issues)

    def drop_cells(self) -> None:
        """Forget the cells once validated; what names and identifies the file stays."""
        self.header, self.rows, self.claims = {}, [], []


FATAL_FILE_CODES = {
    IssueCode.unreadable_file, IssueCode.empty_file, IssueCode.encrypted_file, IssueCode.legacy_format,
    IssueCode.not_a_spreadsheet, IssueCode.file_too_large, IssueCode.not_our_template,
}


@dataclass
class ReadResult:
    files: list[FileResult]
    skipped: list[str]  # every inbox entry not read (named by an issue in `files` unless OS or stale lock files)


# ---------------------------------------------------------------- inbox listing

def list_inbox(folder: Path) -> tuple[list[Path], list[str]]:
    """Files to read (sorted, recursive) and the names of the entries not read (links, hidden,
    lock and OS files; see hostile.scan_inbox for which of them are named by an issue)."""
    files, skipped = scan_inbox(Path(folder))
    return files, [name for _, name, _ in skipped]


def _skipped_results(folder: Path) -> tuple[list[Path], list[FileResult], list[str]]:
    """The files to read, one result per entry not read that an issue names, and all their names."""
    files, skipped = scan_inbox(folder)
    named = []
    for path, name, issue in skipped:
        if issue is not None:
            named.append(FileResult(str(path), name, _size(path, follow=False), "", issues=[issue],
                                    not_copied=issue.message))
    return files, named, [name for _, name, _ in skipped]


def read_inbox(folder: Path, workers: int | None = None, limits: ReadLimits = ReadLimits(),
               progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read every file in `folder` in a process pool; entries not read are named first."""
    folder = Path(folder)
    paths, named, skipped = _skipped_results(folder)
    return ReadResult(named + list(_read_paths(folder, paths, workers, limits, progress)), skipped)


class InboxStream:
    """read_inbox's results one at a time, in the same order, as they arrive (iter_inbox).

    Nothing is read before the first result is asked for. A consumer may set `judge` before
    that: a callable the pool workers apply to each file they read (validate_stream's
    per-file checks), so the files are judged where they are read, in parallel; it is handed
    to the workers when the pool starts (inherited where processes fork). A file read outside
    a worker (no process support, a file re-read alone after a worker died) is not judged:
    its `verdict` stays None and the consumer judges its cells itself."""

    def __init__(self, folder: Path, workers: int | None, limits: ReadLimits,
                 progress: Callable[[int, int], None] | None):
        self.folder, self.workers, self.limits, self.progress = Path(folder), workers, limits, progress
        self.judge: Callable[[FileResult], None] | None = None
        self._results: Iterator[FileResult] | None = None
        self._listing: tuple[list[Path], list[FileResult], list[str]] | None = None

    def listing(self) -> tuple[list[Path], list[FileResult], list[str]]:
        """The inbox listed once (what is read, the entries not read that an issue names, and
        every name not read); taken when first asked for, reading uses the same."""
        if self._listing is None:
            self._listing = _skipped_results(self.folder)
        return self._listing

    def __iter__(self) -> InboxStream:
        return self

    def __next__(self) -> FileResult:
        if self._results is None:
            self._results = self._generate()
        return next(self._results)

    def close(self) -> None:
        """Stop early: the pool is shut down, the rest is not read."""
        if self._results is not None:
            self._results.close()

    def _generate(self) -> Iterator[FileResult]:
        paths, named, _ = self.listing()
        yield from named
        yield from _read_paths(self.folder, paths, self.workers, self.limits, self.progress, self.judge)


def iter_inbox(folder: Path, workers: int | None = None, limits: ReadLimits = ReadLimits(),
               progress: Callable[[int, int], None] | None = None) -> InboxStream:
    """read_inbox's results one at a time, in the same order, as they arrive: a consumer
    that validates each one can let its cells go (validate.validate_stream)."""
    return InboxStream(folder, workers, limits, progress)


def _read_paths(folder: Path, paths: list[Path], workers: int | None, limits: ReadLimits,
                progress: Callable[[int, int], None] | None,
                judge: Callable[[FileResult], None] | None = None) -> Iterator[FileResult]:
    names = [str(p.relative_to(folder)) for p in paths]
    total = len(paths)
    if workers is None:
        workers = os.cpu_count() or 1
    count = 0

    def taken(results: Iterable[FileResult]) -> Iterator[FileResult]:
        nonlocal count
        for result in results:
            count += 1
            if progress:
                progress(count, total)
            yield result

    # Every file is read in a pool worker, however few there are: a native abort that no check
    # foresaw (calamine allocating for a number the file declares) then kills a worker, and
    # the pool's recovery below turns it into an issue on that file, never a dead batch.
    workers = max(1, min(workers, -(-total // 4)))  # no more workers than chunks of 4 files

    while count < total:
        start = count
        # Small chunks: results stream back steadily and a crash re-reads few files alone.
        chunk = max(4, min(32, (total - start) // (workers * 8)))
        try:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_pool_worker_setup,
                                       initargs=(limits, judge))
        except (OSError, NotImplementedError, ImportError):  # no process support (a locked-down host)
            yield from taken(_read_one(paths[index], names[index], limits) for index in range(start, total))
            return
        try:
            with pool:
                # A few chunks in flight, not all: results the consumer has not taken yet would pile
                # up in memory whenever it is slower than the readers (a city's 10,000 files).
                in_flight: deque = deque()
                try:
                    for first in range(start, total, chunk):
                        in_flight.append(pool.submit(_read_pooled_chunk, paths[first:first + chunk],
                                                     names[first:first + chunk], limits))
                        if len(in_flight) >= 2 * workers:
                            yield from taken(in_flight.popleft().result())
                    while in_flight:
                        yield from taken(in_flight.popleft().result())
                finally:  # a consumer that stops early must not wait for every file to be read
                    pool.shutdown(wait=True, cancel_futures=True)
        except BrokenProcessPool:
            # A worker died on one of the files it had in flight (a parser abort, or the
            # memory cap): read those one per child process, so the culprit costs only its
            # own file, then go on with a fresh pool.
            suspects = range(count, min(total, count + 2 * workers * chunk))
            yield from taken(_read_one(paths[index], names[index], limits, isolate=True) for index in suspects)
        except OSError:  # the workers could not be started (no fork/spawn left): one file at a time
            yield from taken(_read_one(paths[index], names[index], limits, isolate=True) for index in range(count, total))
            return


def _pool_context():
    """fork on Linux: a worker then starts in milliseconds with the modules and the judge's
    tables already in memory, where spawn or forkserver (the Linux default from Python 3.14)
    would import pandas and unpickle the scheme in every worker first. Elsewhere the platform's
    default (macOS and Windows spawn: fork is not safe there)."""
    import multiprocessing
    import sys

    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)


# ---------------------------------------------------------------- one file

_MEMORY_CAPPED = False  # set in pool workers whose address space is capped
_JUDGE: Callable[[FileResult], None] | None = None  # InboxStream.judge, in pool workers


def _pool_worker_setup(limits: ReadLimits, judge: Callable[[FileResult], None] | None = None) -> None:
    global _MEMORY_CAPPED, _JUDGE
    _JUDGE = judge
    _MEMORY_CAPPED = cap_memory(limits.max_memory_bytes)
    if _MEMORY_CAPPED:
        _quiet_stderr()  # an abort under the cap is expected and handled: no backtrace on screen


def _quiet_stderr() -> None:  # a name of its own: tests replace it in forked workers
    quiet()


def _read_pooled_chunk(paths: list[Path], names: list[str], limits: ReadLimits) -> list[FileResult]:
    results = [_read_pooled(path, name, limits) for path, name in zip(paths, names)]
    if _JUDGE is not None:
        for result in results:
            _JUDGE(result)
    return results


def _read_pooled(path: Path, name: str, limits: ReadLimits) -> FileResult:
    # Under a memory cap a worker that explodes dies alone and the pool recovers, so the
    # pre-parse scan of the cell area (a third of calamine's own time) is not needed here.
    return _read_one(path, name, limits, scan=not _MEMORY_CAPPED)


def _read_one(path: Path, name: str, limits: ReadLimits, isolate: bool = False, scan: bool = True) -> FileResult:
    """Never raises: any failure becomes an issue on the file."""
    try:
        return read_file(path, name, limits, isolate=isolate, scan=scan)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a reader bug (or a Rust panic) must cost one file, never the batch
        return FileResult(str(path), name, _size(path), "", issues=[error(
            IssueCode.unreadable_file, f"文件无法读取（{type(exc).__name__}），请用 Excel 或 WPS 打开后另存为 .xlsx 再报送", file=name)])


def _size(path: Path, follow: bool = True) -> int:
    try:
        return (path.stat() if follow else path.lstat()).st_size
    except OSError:
        return 0


def read_file(path: Path, name: str | None = None, limits: ReadLimits = ReadLimits(), isolate: bool = False,
              scan: bool = True) -> FileResult:
    """Read one file; `isolate` forces the child-process reader whatever the format; `scan`
    False skips bounding the cell area before parsing (only where a crash is contained)."""
    path = Path(path)
    name = name or path.name
    size = _size(path)
    if size > limits.max_file_bytes:
        # Neither hashed nor copied into the archive: the manifest records its name, size and why.
        return FileResult(str(path), name, size, "", issues=[error(
            IssueCode.file_too_large, f"文件过大（{size // 1024 // 1024} MB），超过 {limits.max_file_bytes // 1024 // 1024} MB 的上限，请确认是否报错文件", file=name)],
            not_copied=f"超过 {limits.max_file_bytes // 1024 // 1024} MB 的读取上限，未读取，未复制到归档")
    try:
        with open(path, "rb") as handle:  # read-only; the inbox is never written
            data = handle.read(limits.max_file_bytes + 1)
    except OSError:
        return FileResult(str(path), name, size, "", issues=[error(
            IssueCode.unreadable_file, "文件无法打开（可能正被 Excel/WPS 占用或没有读取权限），请关闭文件后重新运行", file=name)],
            not_copied="无法打开，未读取，未复制到归档")  # copying it would fail the whole run
    result = FileResult(str(path), name, len(data), hashlib.sha256(data).hexdigest())
    if len(data) > limits.max_file_bytes:  # grew while we looked
        result.issues.append(error(IssueCode.file_too_large, "文件过大，超过读取上限，请确认是否报错文件", file=name))
        result.sha256, result.not_copied = "", "超过读取上限，未读取，未复制到归档"
        return result
    problem, container = _sniff(data, path.suffix.lower(), limits, scan)
    if problem is not None:
        result.issues.append(_with_file(problem, name))
        return result
    try:
        if container == "xlsx" and not isolate:
            _parse(data, result, limits, container)
        else:
            _isolated(data, result, limits, container)
    finally:
        _forget_zip()  # the sniff's archive of this file
    return result


def _with_file(issue: Issue, name: str) -> Issue:
    return Issue(issue.severity, issue.code, issue.message, file=name)


def _sniff(data: bytes, suffix: str, limits: ReadLimits, scan: bool = True) -> tuple[Issue | None, str]:
    """Decide from the bytes, not the name, what the file is and how to read it: the issue
    that rejects it, else the container ("xlsx" in-process; "ods", "xlsb", "xls", "et" isolated)."""
    if not data:
        return error(IssueCode.empty_file, "文件为空（0 字节），可能未保存完成，请重新报送"), ""
    if data.startswith(ZIP_MAGIC) or (data.startswith(b"PK") and suffix in SPREADSHEET_SUFFIXES):
        return _sniff_zip(data, limits, scan)
    if data.startswith(OLE_MAGIC):
        if ENCRYPTION_MARKER in data[:1024 * 1024] or ENCRYPTION_MARKER in data[-1024 * 1024:] or _biff_encrypted(data):
            return error(IssueCode.encrypted_file, ENCRYPTED_MESSAGE), ""
        return None, "et" if suffix == ".et" else "xls"
    if data.startswith(BIFF_MAGICS) and suffix in (".xls", ".et"):
        return None, "xls"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") or b"<html" in head or b"<table" in head:
        if b"urn:schemas-microsoft-com:office:spreadsheet" in data[:4096]:
            return error(IssueCode.legacy_format, "这是 Excel 2003 XML 表格，不能直接读取，请在 Excel 或 WPS 中另存为 .xlsx 后报送"), ""
        if b"opendocument" in data[:4096]:
            return error(IssueCode.legacy_format, "这是 LibreOffice 平面 XML 表格（.fods），不能直接读取，请另存为 .xlsx 后报送"), ""
        if b"<html" in head or b"<table" in head or b"<!doctype html" in head:
            return error(IssueCode.not_a_spreadsheet, "这是网页（HTML）文件而不是 Excel 工作簿，请在 Excel 或 WPS 中另存为 .xlsx"), ""
        return error(IssueCode.not_a_spreadsheet, "这是 XML 文本文件而不是 Excel 工作簿，请报送 .xlsx 表格"), ""
    if suffix in SPREADSHEET_SUFFIXES:
        return error(IssueCode.unreadable_file, "文件扩展名是 Excel，但内容不是 Excel 工作簿（可能已损坏或被改名），请重新保存后报送"), ""
    return warning(IssueCode.not_a_spreadsheet, "不是 Excel 文件，已跳过（收件箱中只应放各单位报送的表格）"), ""


def _biff_encrypted(data: bytes) -> bool:
    """A legacy .xls with an open password: a FILEPASS record (0x002F) among the first
    records after the workbook's BOF. calamine only reports a codepage error for these."""
    offset = data.find(b"\x09\x08", 0, 4 * 1024 * 1024)
    while offset != -1:
        size = int.from_bytes(data[offset + 2:offset + 4], "little")
        if size in (8, 16):
            position = offset + 4 + size
            for _ in range(4):
                record = int.from_bytes(data[position:position + 2], "little")
                if record == 0x002F:
                    return True
                position += 4 + int.from_bytes(data[position + 2:position + 4], "little")
        offset = data.find(b"\x09\x08", offset + 1, 4 * 1024 * 1024)
    return False


def _sniff_zip(data: bytes, limits: ReadLimits, scan: bool = True) -> tuple[Issue | None, str]:
    truncated = error(IssueCode.unreadable_file, "文件已损坏（压缩包不完整，可能未保存完或传输中断），请重新保存后报送")
    try:
        if True:  # the archive stays open for the file's later steps (_zip_of)
            archive = _zip_of(data)
            infos = archive.infolist()
            names = {info.filename.replace("\\", "/").lower(): info for info in infos}
            uncompressed = sum(info.file_size for info in infos)
            compressed = sum(info.compress_size for info in infos) or 1
            if uncompressed > limits.max_uncompressed_bytes or (
                    uncompressed / compressed > limits.max_compression_ratio and uncompressed > 50 * 1024 * 1024):
                return error(IssueCode.file_too_large, f"文件解压后过大（{uncompressed // 1024 // 1024} MB），已拒绝读取，请核实文件"), ""
            if "content.xml" in names or "mimetype" in names:
                manifest = names.get("meta-inf/manifest.xml")
                if manifest is not None and b"encryption-data" in _member(archive, manifest, limits):
                    return error(IssueCode.encrypted_file, ENCRYPTED_MESSAGE), ""
                return None, "ods"
            if "xl/workbook.bin" in names:
                return None, "xlsb"
            if "xl/workbook.xml" not in names and not _declares_spreadsheet(archive, names, limits):
                return error(IssueCode.not_a_spreadsheet, "这是压缩包或 Word/PPT 等其他文件，不是 Excel 工作簿，请报送 .xlsx 表格"), ""
            # A declared count calamine would reserve memory for and abort on (even in a pool
            # worker that recovers, the file must say why it was not read).
            abort_trigger = string_table_problem(data)
            if abort_trigger is not None:
                return error(IssueCode.unreadable_file, f"{abort_trigger}；请用 Excel 或 WPS 打开后另存为 .xlsx 再报送"), ""
            if not scan:
                return None, "xlsx"
            # Scan the worksheets calamine will open; everything when that is in any doubt.
            parts, complete = _sheet_parts(archive, limits)
            if complete and len(names) == len(infos):
                infos = [archive.getinfo(member) for member in parts.values()]
            problem = _scan_cells(archive, infos, limits)
            return problem, "xlsx"
    except _TooLarge as exc:
        return error(IssueCode.file_too_large, str(exc)), ""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return truncated, ""
    except Exception:  # zlib.error and friends: a damaged deflate stream
        return truncated, ""


_OPEN_ZIP: list = [None, None]  # [the bytes, their ZipFile]: one file's steps share one central directory read


def _zip_of(data: bytes) -> zipfile.ZipFile:
    """The file's zip archive, opened once for the sniff, the empty-cell look and the guard
    (reading the central directory each time cost as much as scanning the sheet)."""
    if _OPEN_ZIP[0] is not data:
        _OPEN_ZIP[0], _OPEN_ZIP[1] = data, zipfile.ZipFile(io.BytesIO(data))
    return _OPEN_ZIP[1]


def _forget_zip() -> None:
    _OPEN_ZIP[0] = _OPEN_ZIP[1] = None


def _packed(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes as stored (before inflating), with how it is stored: equal keys inflate
    to equal parts. None where only zipfile can read the part."""
    packed = _stored_bytes(archive, info)
    return None if packed is None else b"%d:%d:" % (info.compress_type, info.file_size) + packed


def _stored_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes as the zip stores them, read from the in-memory file without zipfile's
    per-part overhead; None where only zipfile can read the part (encrypted, other codecs)."""
    fp = archive.fp
    if not isinstance(fp, io.BytesIO) or info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    with fp.getbuffer() as view:
        offset = info.header_offset
        if bytes(view[offset:offset + 4]) != ZIP_MAGIC:
            return None
        start = offset + 30 + int.from_bytes(view[offset + 26:offset + 28], "little") + int.from_bytes(view[offset + 28:offset + 30], "little")
        packed = bytes(view[start:start + info.compress_size])
    return packed


# Templates of one scheme share their styles and workbook parts byte for byte: what is
# derived from a part is kept by its stored bytes (a few hundred bytes each), per process.
_DERIVED: dict[tuple, object] = {}


def _derived(key: tuple, make: Callable[[], object]) -> object:
    found = _DERIVED.get(key)
    if found is None:
        if len(_DERIVED) >= 256:
            _DERIVED.clear()
        found = _DERIVED[key] = make()
    return found


def _special_styles(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> dict:
    from kaohe_excel.base import xlsx_meta

    packed = _packed(archive, info)
    if packed is None:
        return xlsx_meta.special_styles(_member(archive, info, limits))
    return _derived(("styles", limits.max_part_bytes, packed), lambda: xlsx_meta.special_styles(_member(archive, info, limits)))


_STYLE_USES: dict[tuple, re.Pattern] = {}


def _uses_style(xml: bytes, styles: dict) -> bool:
    """Whether any s="n" attribute in the sheet names one of these styles (one C-level search;
    xlsx_meta.scan_sheet's loop over every cell tag only matters when one does)."""
    key = tuple(sorted(styles))
    pattern = _STYLE_USES.get(key)
    if pattern is None:
        if len(_STYLE_USES) >= 64:
            _STYLE_USES.clear()
        numbers = b"|".join(str(number).encode() for number in key)
        pattern = _STYLE_USES[key] = re.compile(rb'\bs\s*=\s*["\']\s*(?:%s)\s*["\']' % numbers)  # either quote (w-redteam)
    return pattern.search(xml) is not None


def _declares_spreadsheet(archive: zipfile.ZipFile, names: dict, limits: ReadLimits) -> bool:
    """A workbook stored under unusual part names still declares its content type."""
    content_types = names.get("[content_types].xml")
    types = _member(archive, content_types, limits) if content_types is not None else b""
    return b"spreadsheetml" in types or b"sheet.main" in types


class _TooLarge(Exception):
    pass


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> bytes:
    """One part unpacked, never more than it declares nor more than the part limit."""
    if info.file_size > limits.max_part_bytes:
        raise _TooLarge(f"文件中的部件「{info.filename[:60]}」解压后过大（{info.file_size // 1024 // 1024} MB），已拒绝读取，请核实文件")
    data = _inflate(archive, info)
    if data is None:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise zipfile.BadZipFile("member larger than declared")
    return data


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part inflated straight from the in-memory file, at half the cost of ZipFile.open
    (no CRC: calamine checks it); None when only zipfile can do it (encrypted, other codecs)."""
    packed = _stored_bytes(archive, info)
    if packed is None:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        return packed[:info.file_size + 1]
    return zlib.decompressobj(-15).decompress(packed, info.file_size + 1)


# A cell with content (not self-closing) and its reference; the namespace prefix is optional.
_CELL_WITH_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["\']\s*([A-Za-z]{1,4})\s*([0-9]{1,10})[^>]*?(?<!/)>')
_CELL_REF_ATTRIBUTE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=')
# A cell tag whose first attribute is not its reference, or a namespaced one: rare, exact scan.
_ODD_CELL = re.compile(rb'<c(?:[>/]|\s(?!r="))')
_PREFIXED_CELL = re.compile(rb':c[\s>]')
_CELL_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c[\s>/]')
_ROW_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row[\s>/]')


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters.upper():
        number = number * 26 + (byte - 64)
    return number


def _scan_cells(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: ReadLimits) -> Issue | None:
    """Bound the area calamine will allocate before it does: it builds one dense grid from
    the top-left to the bottom-right cell of a sheet, so two cells at A1 and XFD1048576
    would abort the whole process. Every XML part is scanned (a worksheet can be any part
    the workbook points to). An ordinary sheet costs a few byte searches; references are
    parsed only when some have as many digits or letters as the limits (far candidates),
    and the exact cell-by-cell scan runs only for unusual XML or an apparent overflow."""
    # A "near" reference has so few letters and digits that no sheet of near cells can
    # break any limit (A1..Z9999 with the defaults); only farther ones are looked at.
    near_letters = len(column_letter(max(limits.max_columns - 1, 0))) - 1
    near_columns = sum(26 ** n for n in range(1, near_letters + 1))
    near_digits = len(str(limits.max_rows)) - 1
    while near_digits > 0 and (10 ** near_digits - 1) * max(near_columns, 1) > limits.max_cells:
        near_digits -= 1
    near_rows = 10 ** near_digits - 1
    if near_letters > 0 and near_digits > 0:
        # any cell tag but <c r="A1"> with near letters and digits
        unusual = re.compile(rb'<c(?! r="[A-Z]{1,%d}[0-9]{1,%d}")(?=[\s>/])' % (near_letters, near_digits))
    else:  # limits too small for a shortcut
        unusual = re.compile(rb'<c(?=[\s>/])')
    for info in infos:
        if info.is_dir() or info.file_size == 0:
            continue
        xml = _member(archive, info, limits)
        if xml[:2] in (b"\xff\xfe", b"\xfe\xff"):
            xml = xml.decode("utf-16", "replace").encode("utf-8")
        if b"sheetData" not in xml:
            continue
        if unusual.search(xml) is None and _PREFIXED_CELL.search(xml) is None:
            continue  # the usual sheet: every cell near A1, written the usual way
        if _ODD_CELL.search(xml) is None and _PREFIXED_CELL.search(xml) is None:
            # far candidates only; where there are none the near bound stands in (an over-estimate)
            rows = max(map(int, re.findall(rb'<c r="[A-Za-z]+([0-9]{%d,})"' % (near_digits + 1), xml)), default=near_rows)
            columns = max(map(_column_number, set(re.findall(rb'<c r="([A-Za-z]{%d,})[0-9]' % (near_letters + 1), xml))),
                          default=near_columns)
            if not _over_limits(rows, columns, limits):
                continue
        # Unusual XML, or an overflow counting empty formatted cells: the exact scan decides.
        rows, columns = _exact_extent(xml)
        if _over_limits(rows, columns, limits):
            return error(IssueCode.file_too_large,
                         f"工作表的数据区过大（{rows} 行 × {columns} 列，可能在很远的单元格中有内容），超过读取上限"
                         f"（{limits.max_columns} 列、共 {limits.max_cells} 个单元格），请删除多余内容后报送")
    return None


def _over_limits(rows: int, columns: int, limits: ReadLimits) -> bool:
    return rows > limits.max_rows or columns > limits.max_columns or rows * columns > limits.max_cells


def _exact_extent(xml: bytes) -> tuple[int, int]:
    """Bottom-right (1-based row, column) of the cells with content, as calamine places them."""
    rows = columns = 0
    for match in _CELL_WITH_REF.finditer(xml):
        rows = max(rows, int(match.group(2)))
        columns = max(columns, _column_number(match.group(1)))
    tags = len(_CELL_TAG.findall(xml))
    if tags > len(_CELL_REF_ATTRIBUTE.findall(xml)):
        # Cells without references are placed by counting: bound by rows and cells per row.
        segments = _ROW_TAG.split(xml)
        rows += len(segments)
        columns += max(len(_CELL_TAG.findall(segment)) for segment in segments)
    return rows, columns


class _Sheets(dict):
    """Sheet name -> grid, and `hidden`: the sheets Excel does not show ("hidden" | "veryHidden")."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}


def _load_sheets(data: bytes, limits: ReadLimits) -> dict[str, list[list]]:
    """Every sheet as a grid of raw values, addresses preserved (row 0 is Excel row 1)."""
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        sheets = _Sheets()
        for meta in workbook.sheets_metadata:
            if str(meta.typ) != "SheetTypeEnum.WorkSheet":
                continue
            if str(meta.visible) != "SheetVisibleEnum.Visible":  # w-redteam: table_guard names a table on it
                sheets.hidden[meta.name] = "veryHidden" if "VeryHidden" in str(meta.visible) else "hidden"
            sheet = workbook.get_sheet_by_name(meta.name)
            end = sheet.end
            if end is not None and (end[0] >= limits.max_rows or end[1] >= limits.max_columns
                                    or (end[0] + 1) * (end[1] + 1) > limits.max_cells):
                raise _TooLarge(f"工作表「{meta.name}」的数据区过大（{end[0] + 1} 行 × {end[1] + 1} 列），超过读取上限，请删除多余内容后报送")
            sheets[meta.name] = sheet.to_python(skip_empty_area=False)
        return sheets
    finally:
        workbook.close()


def _parse(data: bytes, result: FileResult, limits: ReadLimits, container: str) -> None:
    """Load and interpret the workbook in this process; failures become one issue."""
    try:
        sheets = _load_sheets(data, limits)
    except _TooLarge as exc:
        result.issues.append(error(IssueCode.file_too_large, str(exc), file=result.name))
        return
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine errors, and pyo3 panics, which are BaseException
        result.issues.append(_load_failure(exc, container, result.name))
        return
    _interpret(result, sheets)
    if container == "xlsx" and result.rows:
        try:
            _resolve_empty_inputs(data, result, limits)
        except Exception:  # the values are read; this only explains empty cells better
            pass
    _guard_tables(data, result, sheets, container, limits)


def _load_failure(exc: BaseException, container: str, name: str) -> Issue:
    text = f"{type(exc).__name__} {exc}".lower()
    if "password" in text or "encrypt" in text:
        return error(IssueCode.encrypted_file, ENCRYPTED_MESSAGE, file=name)
    if container == "et":
        return error(IssueCode.legacy_format, ET_MESSAGE, file=name)
    return error(IssueCode.unreadable_file, UNREADABLE_MESSAGE, file=name)


# ---------------------------------------------------------------- isolated reader

def _isolated(data: bytes, result: FileResult, limits: ReadLimits, container: str) -> None:
    """Parse in a child process with a memory cap and a time limit: a looping or
    exploding parser then costs this one file."""
    try:
        outcome = call_isolated(_parsed_alone, data, result.path, result.name, limits, container,
                                timeout=limits.timeout_seconds, memory_bytes=limits.max_memory_bytes)
    except ChildTimedOut:
        result.issues.append(error(IssueCode.unreadable_file,
                                   f"读取超时（超过 {limits.timeout_seconds:g} 秒），文件可能已损坏或过于复杂，请另存为 .xlsx 后报送", file=result.name))
        return
    except ChildDied:  # out of memory, or the parser aborted
        if container == "et":
            result.issues.append(error(IssueCode.legacy_format, ET_MESSAGE, file=result.name))
        else:
            result.issues.append(error(IssueCode.unreadable_file,
                                       "文件已损坏，读取时解析程序异常退出（可能结构错误或数据量异常），请用 Excel 或 WPS 打开后另存为 .xlsx 再报送",
                                       file=result.name))
        return
    except RuntimeError as exc:  # the parser raised
        result.issues.append(_load_failure(exc, container, result.name))
        return
    for attr in ("kind", "meta", "header", "rows", "claims", "issues"):
        setattr(result, attr, getattr(outcome, attr))


def _parsed_alone(data: bytes, path: str, name: str, limits: ReadLimits, container: str) -> FileResult:
    result = FileResult(path, name, len(data), "")
    _parse(data, result, limits, container)
    return result


# ---------------------------------------------------------------- empty input cells

_SHEET_ENTRY = re.compile(rb'<(?:\w+:)?sheet\b[^>]*>')
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')
_CELL_BODY = re.compile(rb'<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)', re.S)
_FORMULA = re.compile(rb'<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)', re.S)
_VALUE = re.compile(rb'<(?:\w+:)?v\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?v>)', re.S)
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
_ADDRESS = re.compile(r"([A-Z]+)([0-9]+)")


def _empty_inputs(result: FileResult) -> list[tuple[Row, str]]:
    inputs = {KIND_ASSESSMENT: ("评定值",), KIND_LEAD: ("核定值",), KIND_APPEAL: ("复核值",)}.get(result.kind, ("实际完成值",))
    from kaohe_excel.inputs import rating_read

    if result.kind in rating_read.RATING_KINDS:  # a mark or count that is a formula is no abstention
        return rating_read.empty_marks(result)
    empty = []
    for records, names in ((result.rows, inputs), (result.claims, ("数量",))):
        for row in records:
            for name in names:
                found = row.layout.columns.get(name)
                if found is not None:
                    value = row.values[found[0]]
                    if value.__class__ is not float and not clean_text(value):  # a number is never empty
                        empty.append((row, name))
    return empty


def _resolve_empty_inputs(data: bytes, result: FileResult, limits: ReadLimits) -> None:
    """calamine returns formulas without a cached result and error values (#DIV/0!) as
    empty cells. Only when an input cell came back empty, look at that sheet's XML and
    put back what is really there; also say when the cell is hidden under a merge."""
    empty = _empty_inputs(result)
    if not empty:
        return
    by_sheet: dict[str, dict[str, tuple[Row, str]]] = {}
    for row, name in empty:
        by_sheet.setdefault(row.layout.sheet, {})[row[name].cell] = (row, name)
    if True:
        archive = _zip_of(data)
        parts, _ = _sheet_parts(archive, limits)
        for sheet, cells in by_sheet.items():
            part = parts.get(sheet)
            if part is None:
                continue
            xml = _member(archive, archive.getinfo(part), limits)
            # most sheets hold no formula and no error value: then no empty cell needs a look
            for match in _CELL_BODY.finditer(xml) if b"<f" in xml or b":f" in xml or b't="e"' in xml else ():
                attributes = dict(_ATTRIBUTE.findall(match.group(1)))
                address = attributes.get(b"r", b"").decode("ascii", "replace")
                found = cells.get(address)
                if found is None:
                    continue
                row, name = found
                body = match.group(2) or b""
                value = _VALUE.search(body)
                value_text = _xml_text(value.group(1)) if value and value.group(1) else ""
                if attributes.get(b"t") == b"e" and value_text:
                    row.set(name, value_text)  # validate reports it as error_value
                elif not value_text and attributes.get(b"t") != b"str" and _FORMULA.search(body):
                    # no cached result (tools such as openpyxl write an empty <v/>); a text
                    # formula (t="str") with an empty result is simply empty
                    formula = _FORMULA.search(body).group(1)
                    row.set(name, FormulaWithoutValue("=" + _xml_text(formula)[:80] if formula else ""))
            _report_merges(xml, sheet, cells, result)


def _report_merges(xml: bytes, sheet: str, cells: dict[str, object], result: FileResult) -> None:
    for match in _MERGE.finditer(xml):
        first_col, first_row = _column_number(match.group(1)), int(match.group(2))
        last_col, last_row = _column_number(match.group(3)), int(match.group(4))
        covered = []
        for address in cells:
            parts = _ADDRESS.fullmatch(address)
            if not parts:
                continue
            col, row = _column_number(parts.group(1).encode()), int(parts.group(2))
            if first_col <= col <= last_col and first_row <= row <= last_row and (col, row) != (first_col, first_row):
                covered.append(address)
        if covered:
            span = f"{match.group(1).decode()}{first_row}:{match.group(3).decode()}{last_row}"
            top_left = f"{match.group(1).decode()}{first_row}"
            result.issues.append(warning(
                IssueCode.missing_value,
                f"单元格 {span} 被合并，只读取到左上角 {top_left} 的值，{'、'.join(covered)} 视为未填写；请取消合并后逐行填写",
                file=result.name, sheet=sheet, cell=covered[0]))


def _sheet_parts(archive: zipfile.ZipFile, limits: ReadLimits) -> tuple[dict[str, str], bool]:
    """Sheet name -> zip member of its XML, following the workbook's relationships, and
    whether every sheet the workbook lists was found."""
    infos = archive.infolist()
    names = {info.filename.replace("\\", "/").lstrip("/").lower(): info.filename for info in infos}
    workbook = names.get("xl/workbook.xml")
    rels = names.get("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return {}, False
    packed = (_packed(archive, archive.getinfo(workbook)), _packed(archive, archive.getinfo(rels)))
    if None in packed:
        return _find_sheet_parts(archive, limits, names, workbook, rels)
    key = ("parts", limits.max_part_bytes, tuple(info.filename for info in infos), *packed)
    parts, complete = _derived(key, lambda: _find_sheet_parts(archive, limits, names, workbook, rels))
    return dict(parts), complete


def _find_sheet_parts(archive: zipfile.ZipFile, limits: ReadLimits, names: dict[str, str], workbook: str,
                      rels: str) -> tuple[dict[str, str], bool]:
    targets = {}
    for tag in re.findall(rb'<(?:\w+:)?Relationship\b[^>]*>', _member(archive, archive.getinfo(rels), limits)):
        attributes = dict(_ATTRIBUTE.findall(tag))
        target = attributes.get(b"Target", b"").decode("utf-8", "replace")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[attributes.get(b"Id", b"")] = os.path.normpath(target).replace("\\", "/").lower()
    parts = {}
    entries = _SHEET_ENTRY.findall(_member(archive, archive.getinfo(workbook), limits))
    for tag in entries:
        attributes = dict(_ATTRIBUTE.findall(tag))
        rel_id = next((v for k, v in attributes.items() if k.endswith(b":id")), b"")
        member = names.get(targets.get(rel_id, ""))
        if member is not None:
            parts[_xml_text(attributes.get(b"name", b""))] = member
    return parts, len(parts) == len(entries) and len(set(parts.values())) == len(parts) > 0


def _related_part(archive: zipfile.ZipFile, names: dict, part: str, rel_id: str, limits: ReadLimits) -> bytes | None:
    """The bytes of the part a sheet's relationship points to (its drawing), or None."""
    folder, _, base = part.replace("\\", "/").rpartition("/")
    rels = names.get(f"{folder}/_rels/{base}.rels".lower())
    if rels is None:
        return None
    for tag in re.findall(rb'<(?:\w+:)?Relationship\b[^>]*>', _member(archive, rels, limits)):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if _xml_text(attributes.get(b"Id", b"")) == rel_id and attributes.get(b"TargetMode", b"") != b"External":
            target = _xml_text(attributes.get(b"Target", b""))
            path = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
            info = names.get(os.path.normpath(path).replace("\\", "/").lower())
            return _member(archive, info, limits) if info is not None else None
    return None


def _xml_text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8", "replace"))


def _interpret(result: FileResult, sheets: dict[str, list[list]]) -> None:
    meta_rows = sheets.get(META_SHEET)
    if meta_rows:
        for row in meta_rows:
            if len(row) >= 2 and clean_text(row[0]):
                result.meta[clean_text(row[0])] = clean_text(row[1])
    kind = result.meta.get("文件类型", "")
    from kaohe_excel.inputs import rating_read  # w-rating: the three 测评 kinds are read by their own module

    if kind in rating_read.RATING_KINDS:
        result.kind = kind
        rating_read.interpret(result, sheets, META_SHEET)
        return
    # The hidden 文件类型 says which table to look for; only a file without it (content
    # copied into a new workbook) is searched for each kind in turn.
    unit_sheet = assessment_sheet = lead_sheet = None
    if kind == KIND_APPEAL:
        _interpret_appeal(result, sheets)
        return
    if kind == KIND_LEAD:
        lead_sheet = _find_sheet(sheets, LEAD_SHEET, LEAD_HEADERS, LEAD_OPTIONAL)
    elif kind == KIND_ASSESSMENT:
        assessment_sheet = _find_sheet(sheets, ASSESSMENT_SHEET, ASSESSMENT_HEADERS, ASSESSMENT_OPTIONAL)
    else:
        unit_sheet = _find_sheet(sheets, UNIT_SHEET, UNIT_HEADERS, UNIT_OPTIONAL)
        if not kind and unit_sheet is None:
            assessment_sheet = _find_sheet(sheets, ASSESSMENT_SHEET, ASSESSMENT_HEADERS, ASSESSMENT_OPTIONAL)
            if assessment_sheet is None:
                lead_sheet = _find_sheet(sheets, LEAD_SHEET, LEAD_HEADERS, LEAD_OPTIONAL)
    if kind == KIND_LEAD or (not kind and lead_sheet):
        # A lead department's 核定表: rows like the 评定 rows, no header block, no claims.
        result.kind = KIND_LEAD
        if lead_sheet is None:
            result.issues.append(error(IssueCode.not_our_template,
                                       "牵头单位核定表中找不到含「单位代码」「指标代码」「核定值」的表头行，请使用考核办下发的核定表",
                                       file=result.name))
            return
        sheet_name, rows, table = lead_sheet
        result.rows = _table_rows(rows, sheet_name, table, LEAD_KEPT, key="指标代码", inputs=("核定值", "说明"))
        return
    if kind == KIND_ASSESSMENT or (not kind and assessment_sheet):
        kind = KIND_ASSESSMENT
        found = assessment_sheet
        kept = ASSESSMENT_KEPT
    else:
        kind = KIND_UNIT if (kind == KIND_UNIT or unit_sheet) else ""
        found = unit_sheet
        kept = UNIT_KEPT
    result.kind = kind
    if not kind or found is None:
        expected = "「指标代码」「实际完成值」" if kind != KIND_ASSESSMENT else "「单位代码」「指标代码」「评定值」"
        result.issues.append(error(
            IssueCode.not_our_template,
            f"不是本系统生成的填报模板：找不到含{expected}的表头行，请使用考核办下发的模板填报", file=result.name))
        return
    sheet_name, rows, table = found
    if kind == KIND_UNIT:
        result.header = _header_block(rows, sheet_name, table.header_row)
    inputs = ("评定值",) if kind == KIND_ASSESSMENT else ("实际完成值", "佐证材料", "备注")
    result.rows = _table_rows(rows, sheet_name, table, kept, key="指标代码", inputs=inputs)
    claim_sheet = _find_sheet(sheets, CLAIM_SHEET, CLAIM_HEADERS, CLAIM_OPTIONAL, exclude=sheet_name)
    if claim_sheet is not None:
        claim_name, claim_rows, claim_table = claim_sheet
        result.claims = _table_rows(claim_rows, claim_name, claim_table, CLAIM_KEPT, key="项目代码",
                                    inputs=("数量", "事项说明", "佐证材料"))


def _interpret_appeal(result: FileResult, sheets: dict[str, list[list]]) -> None:
    """The office's 复核登记表: one row per appeal; every column may hold what was typed."""
    result.kind = KIND_APPEAL
    found = _find_sheet(sheets, APPEAL_SHEET, APPEAL_HEADERS, APPEAL_OPTIONAL)
    if found is None:
        result.issues.append(error(IssueCode.not_our_template,
                                   "复核登记表中找不到含「单位代码」「指标代码」「项目代码」「复核结论」「复核值」的表头行，"
                                   "请使用 kaohe template 生成的复核登记表", file=result.name))
        return
    sheet_name, rows, table = found
    result.rows = _table_rows(rows, sheet_name, table, APPEAL_KEPT, key="单位代码", inputs=tuple(APPEAL_KEPT))


def _find_sheet(sheets, preferred: str, headers: list[str], optional: list[str], exclude: str | None = None):
    """The sheet holding the table: the one with the expected name first, then any other."""
    order = [preferred] + [name for name in sheets if name not in (preferred, META_SHEET, exclude)]
    for name in order:
        rows = sheets.get(name)
        if not rows or name == exclude:
            continue
        table = locate_table(rows, headers, optional, scan_rows=60)
        if table is not None:
            return name, rows, table
    return None


def _header_block(rows: list[list], sheet: str, header_row: int) -> dict[str, Cell]:
    """Label/value pairs above the table (考核名称, 考核周期, 单位代码, 单位名称)."""
    found: dict[str, Cell] = {}
    for r in range(min(header_row, len(rows))):
        row = rows[r]
        for c, cell in enumerate(row):
            if cell.__class__ is not str or not cell:  # a label is text
                continue
            label = header_key(cell).rstrip(":：")
            if label in HEADER_BLOCK_LABELS and label not in found:
                for c2 in range(c + 1, min(len(row), c + 6)):
                    if clean_text(row[c2]):
                        found[label] = Cell(row[c2], sheet, r, c2)
                        break
                else:
                    found[label] = Cell("", sheet, r, c + 1)
    return found


def _table_rows(rows: list[list], sheet: str, table: Table, names: list[str], key: str,
                inputs: tuple[str, ...]) -> list[Row]:
    """Rows below the header that have a key or something typed in an input column; a
    value whose key was deleted is kept so validate can report it, while notes written
    under the table are not rows. Only the named columns are kept."""
    present = [name for name in names if name in table.columns]
    columns = [table.columns[name] for name in present]
    layout = _Layout(sheet, {name: (i, c) for i, (name, c) in enumerate(zip(present, columns))}, table.header_row)
    watched = [i for i, name in enumerate(present) if name == key or name in inputs]
    width = max(columns) + 1
    pick = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    records = []
    if len(_SHARED) >= 50_000:
        _SHARED.clear()
    share = _SHARED.setdefault
    for r in range(table.header_row + 1, len(rows)):
        row = rows[r]
        values = pick(row) if len(row) >= width else tuple(row[c] if c < len(row) else "" for c in columns)
        for i in watched:
            value = values[i]
            if value != "" and clean_text(value):  # "" is calamine's empty cell: most cells, skipped cheaply
                # one object per short text (_SHARED)
                records.append(Row(layout, r, tuple([share(v, v) if v.__class__ is str and len(v) <= 64 else v
                                                     for v in values])))
                break
    return records


# One object per short text: files repeat the same codes and notes, and pickle sends a
# shared object once per batch of results, so the main process holds it once too.
_SHARED: dict[str, str] = {}


# ---------------------------------------------------------------- what the office sees

_KNOWN_HEADERS = set(UNIT_HEADERS + UNIT_OPTIONAL + CLAIM_HEADERS + CLAIM_OPTIONAL + ASSESSMENT_HEADERS
                     + ASSESSMENT_OPTIONAL + LEAD_HEADERS + LEAD_OPTIONAL)


def _guard_tables(data: bytes, result: FileResult, sheets: dict[str, list[list]], container: str,
                  limits: ReadLimits) -> None:
    """Doubled headers, hidden rows and columns, and number formats of the input cells
    (table_guard). The XML is read only for .xlsx: styles.xml once, each table's sheet once."""
    records = result.rows + result.claims
    if not records:
        return
    from kaohe_excel.inputs import table_guard
    from kaohe_excel.base import xlsx_meta

    archive = parts = styles = names = None
    views: dict[str, object] = {}
    strings: list[set[int]] = []

    def hidden_strings() -> set[int]:  # w-redteam: shared strings whose rich text hides a part, read once
        if not strings:
            info = names.get("xl/sharedstrings.xml")
            strings.append(xlsx_meta.hidden_runs(_member(archive, info, limits)) if info is not None else set())
        return strings[0]

    def view_of(sheet: str, cells: set) -> object:
        nonlocal archive, parts, styles, names
        if container != "xlsx":
            return None
        if sheet in views:
            return views[sheet]
        if archive is None:
            archive = _zip_of(data)
            parts, _ = _sheet_parts(archive, limits)
            names = {info.filename.replace("\\", "/").lower(): info for info in archive.infolist()}
            info = names.get("xl/styles.xml")
            styles = _special_styles(archive, info, limits) if info is not None else {}
        part = parts.get(sheet)
        view = None
        if part is not None:
            xml = _member(archive, archive.getinfo(part), limits)
            # the cells' formats are looked up only where some cell uses a special style at all, or
            # where the sheet has conditional formats (their differential formats ride on `styles`)
            wanted = (styles and _uses_style(xml, styles)) or (getattr(styles, "dxfs", None) and b"conditionalFormatting" in xml)
            view = xlsx_meta.scan_sheet(xml, styles if wanted else {}, cells, hidden_strings,
                                        lambda rel_id: _related_part(archive, names, part, rel_id, limits))
        views[sheet] = view
        return view

    try:
        from kaohe_excel.inputs import rating_read

        guard = rating_read.guard if result.kind in rating_read.RATING_KINDS else table_guard.guard
        result.issues.extend(guard(result.name, records, sheets, _KNOWN_HEADERS, view_of))
    except (zipfile.BadZipFile, _TooLarge, OSError, ValueError, KeyError, zlib.error) as exc:
        # calamine read this file, so its parts are sound; a part the scan cannot read is
        # an error: the tool cannot say what the office sees
        result.issues.append(error(IssueCode.unreadable_file,
                                   f"无法核对表格的格式与隐藏行列（{type(exc).__name__}），请用 Excel 或 WPS 打开后另存为 .xlsx 再报送",
                                   file=result.name))
    finally:
        _forget_zip()
