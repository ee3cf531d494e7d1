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
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kaohe_excel.base.hostile import ChildDied, ChildTimedOut, call_isolated, cap_memory, quiet, scan_inbox
from kaohe_excel.base.issues import Issue, IssueCode, error
from kaohe_excel.base.layout import FILE_TYPE, META_SHEET, UNIT_FILE_TYPE
from kaohe_excel.base.read_rows import Cell, Row
from kaohe_excel.base.tables import clean_text
from kaohe_excel.inputs import kinds
from kaohe_excel.inputs.empty_inputs import resolve_empty_inputs
from kaohe_excel.inputs.sheet_tables import find_sheet, guard_tables
from kaohe_excel.inputs.sniff import ENCRYPTED_MESSAGE, ET_MESSAGE, UNREADABLE_MESSAGE, sniff
from kaohe_excel.inputs.zip_parts import TooLarge, forget_zip


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


@dataclass
class FileResult:
    """What one inbox file held, or why it could not be read. Small enough to pickle cheaply."""

    path: str
    name: str
    size: int
    sha256: str
    kind: str = ""  # the file type of an inputs/kinds kind, "" (unknown / unreadable)
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
    problem, container = sniff(data, path.suffix.lower(), limits, scan)
    if problem is not None:
        result.issues.append(_with_file(problem, name))
        return result
    try:
        if container == "xlsx" and not isolate:
            _parse(data, result, limits, container)
        else:
            _isolated(data, result, limits, container)
    finally:
        forget_zip()  # the sniff's archive of this file
    return result


def _with_file(issue: Issue, name: str) -> Issue:
    return Issue(issue.severity, issue.code, issue.message, file=name)


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
                raise TooLarge(f"工作表「{meta.name}」的数据区过大（{end[0] + 1} 行 × {end[1] + 1} 列），超过读取上限，请删除多余内容后报送")
            sheets[meta.name] = sheet.to_python(skip_empty_area=False)
        return sheets
    finally:
        workbook.close()


def _parse(data: bytes, result: FileResult, limits: ReadLimits, container: str) -> None:
    """Load and interpret the workbook in this process; failures become one issue."""
    try:
        sheets = _load_sheets(data, limits)
    except TooLarge as exc:
        result.issues.append(error(IssueCode.file_too_large, str(exc), file=result.name))
        return
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine errors, and pyo3 panics, which are BaseException
        result.issues.append(_load_failure(exc, container, result.name))
        return
    _interpret(result, sheets)
    kind = kinds.KINDS.get(result.kind)
    if kind is None:  # not a kind's table: nothing was read from it
        return
    if container == "xlsx" and result.rows:
        try:
            resolve_empty_inputs(data, result, limits, kind)
        except Exception:  # the values are read; this only explains empty cells better
            pass
    guard_tables(data, result, sheets, container, limits, kind, kinds.known_headers())


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


def _interpret(result: FileResult, sheets: dict[str, list[list]]) -> None:
    """The hidden sheet's pairs, then the kind's own reading (inputs/kinds). The 文件类型 says
    which kind; only a file without it (content copied into a new workbook) is searched for
    each detectable kind in turn; an unknown 文件类型 is read as a unit's table if it holds one."""
    meta_rows = sheets.get(META_SHEET)
    if meta_rows:
        for row in meta_rows:
            if len(row) >= 2 and clean_text(row[0]):
                result.meta[clean_text(row[0])] = clean_text(row[1])
    _kind_of(result, sheets).interpret(result, sheets)


def _kind_of(result: FileResult, sheets: dict[str, list[list]]) -> kinds.InputKind:
    tag = result.meta.get(FILE_TYPE, "")
    kind = kinds.KINDS.get(tag)
    if kind is not None:
        return kind
    first = kinds.KINDS[UNIT_FILE_TYPE]
    if not tag:
        for candidate in kinds.distinct():
            if candidate.detect and any(find_sheet(sheets, table) is not None for table in candidate.tables[:1]):
                return candidate
    return first
