"""Read every workbook in the inbox into compact per-file results.

Reading knows nothing of the scheme: it sniffs the container, opens the workbook with
python-calamine, finds the tables by their header texts wherever they are, and returns
the raw cell values with their exact addresses. Judging those values is validate.py's job.

Nothing in the inbox is ever written: files are opened read-only, hashed before reading.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .issues import Issue, IssueCode, error, warning
from .tables import Table, cell_address, clean_text, header_key, locate_table

META_SHEET = "_kaohe"
UNIT_SHEET = "填报"
CLAIM_SHEET = "加扣分"
ASSESSMENT_SHEET = "评定"
KIND_UNIT = "单位填报表"
KIND_ASSESSMENT = "评定表"

UNIT_HEADERS = ["指标代码", "实际完成值"]
UNIT_OPTIONAL = ["指标名称", "计量单位", "目标值", "佐证材料", "备注"]
CLAIM_HEADERS = ["项目代码", "数量"]
CLAIM_OPTIONAL = ["单位代码", "事项说明", "佐证材料", "项目名称"]
ASSESSMENT_HEADERS = ["单位代码", "指标代码", "评定值"]
ASSESSMENT_OPTIONAL = ["说明", "单位名称", "指标名称"]
HEADER_BLOCK_LABELS = ["考核名称", "考核周期", "单位代码", "单位名称"]

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et"}
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTION_MARKER = "EncryptionInfo".encode("utf-16-le")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep one hostile file from stalling or exhausting the batch."""

    max_file_bytes: int = 100 * 1024 * 1024
    max_uncompressed_bytes: int = 300 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_rows: int = 20_000
    max_columns: int = 200


@dataclass
class Cell:
    """A raw value with where it was found (sheet name, A1 address)."""

    value: object
    sheet: str
    cell: str


@dataclass
class FileResult:
    """What one inbox file held, or why it could not be read. Small enough to pickle cheaply."""

    path: str
    name: str
    size: int
    sha256: str
    kind: str = ""  # KIND_UNIT | KIND_ASSESSMENT | "" (unknown / unreadable)
    meta: dict[str, str] = field(default_factory=dict)
    header: dict[str, Cell] = field(default_factory=dict)
    rows: list[dict[str, Cell]] = field(default_factory=list)  # indicator rows (填报 or 评定)
    claims: list[dict[str, Cell]] = field(default_factory=list)  # 加扣分 rows
    issues: list[Issue] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return not any(i.code in FATAL_FILE_CODES for i in self.issues)


FATAL_FILE_CODES = {
    IssueCode.unreadable_file, IssueCode.empty_file, IssueCode.encrypted_file, IssueCode.legacy_format,
    IssueCode.not_a_spreadsheet, IssueCode.file_too_large, IssueCode.not_our_template,
}


@dataclass
class ReadResult:
    files: list[FileResult]
    skipped: list[str]  # lock files and system files, ignored without an issue


# ---------------------------------------------------------------- inbox listing

def list_inbox(folder: Path) -> tuple[list[Path], list[str]]:
    """Files to read (sorted, recursive) and names skipped silently (Excel lock files, OS files)."""
    files, skipped = [], []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        name = path.name
        if name.startswith("~$") or name.lower() in IGNORED_NAMES or name.startswith("."):
            skipped.append(str(path.relative_to(folder)))
            continue
        files.append(path)
    return files, skipped


def read_inbox(folder: Path, workers: int | None = None, limits: ReadLimits = ReadLimits(),
               progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read every file in `folder`; a process pool is used when there are many files."""
    folder = Path(folder)
    paths, skipped = list_inbox(folder)
    names = [str(p.relative_to(folder)) for p in paths]
    total = len(paths)
    if workers is None:
        workers = os.cpu_count() or 1
    results: list[FileResult] = []
    if workers > 1 and total >= 64:
        chunk = max(8, total // (workers * 8))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for index, result in enumerate(pool.map(_read_one, paths, names, [limits] * total, chunksize=chunk)):
                results.append(result)
                if progress:
                    progress(index + 1, total)
    else:
        for index, (path, name) in enumerate(zip(paths, names)):
            results.append(_read_one(path, name, limits))
            if progress:
                progress(index + 1, total)
    return ReadResult(results, skipped)


# ---------------------------------------------------------------- one file

def _read_one(path: Path, name: str, limits: ReadLimits) -> FileResult:
    """Never raises: any failure becomes an issue on the file."""
    try:
        return read_file(path, name, limits)
    except Exception as exc:  # a reader bug must cost one file, never the batch
        return FileResult(str(path), name, _size(path), "", issues=[error(
            IssueCode.unreadable_file, f"文件无法读取（{type(exc).__name__}），请用 Excel 或 WPS 打开后另存为 .xlsx 再报送", file=name)])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_file(path: Path, name: str | None = None, limits: ReadLimits = ReadLimits()) -> FileResult:
    path = Path(path)
    name = name or path.name
    size = _size(path)
    if size > limits.max_file_bytes:
        return FileResult(str(path), name, size, "", issues=[error(
            IssueCode.file_too_large, f"文件过大（{size // 1024 // 1024} MB），超过 {limits.max_file_bytes // 1024 // 1024} MB 的上限，请确认是否报错文件", file=name)])
    data = path.read_bytes()
    result = FileResult(str(path), name, size, hashlib.sha256(data).hexdigest())
    problem = _sniff(data, path.suffix.lower(), limits)
    if problem is not None:
        result.issues.append(_with_file(problem, name))
        return result
    try:
        sheets = _load_sheets(data, limits)
    except _TooLarge as exc:
        result.issues.append(error(IssueCode.file_too_large, str(exc), file=name))
        return result
    except Exception as exc:
        text = str(exc).lower()
        if "password" in text or "encrypt" in text:
            result.issues.append(error(IssueCode.encrypted_file, "文件设置了打开密码，请取消密码后重新报送", file=name))
        else:
            result.issues.append(error(IssueCode.unreadable_file, "文件已损坏或不是有效的 Excel 文件，请重新保存后报送", file=name))
        return result
    _interpret(result, sheets)
    return result


def _with_file(issue: Issue, name: str) -> Issue:
    return Issue(issue.severity, issue.code, issue.message, file=name)


def _sniff(data: bytes, suffix: str, limits: ReadLimits) -> Issue | None:
    """Decide from the bytes, not the name, what the file is; None means try to read it."""
    if not data:
        return error(IssueCode.empty_file, "文件为空（0 字节），可能未保存完成，请重新报送")
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                names = {info.filename for info in infos}
        except (zipfile.BadZipFile, OSError, ValueError):
            return error(IssueCode.unreadable_file, "文件已损坏（压缩包不完整），请重新保存后报送")
        if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names and "content.xml" not in names:
            return error(IssueCode.not_a_spreadsheet, "这是压缩包或其他 Office 文件，不是 Excel 工作簿")
        uncompressed = sum(info.file_size for info in infos)
        compressed = sum(info.compress_size for info in infos) or 1
        if uncompressed > limits.max_uncompressed_bytes or uncompressed / compressed > limits.max_compression_ratio and uncompressed > 50 * 1024 * 1024:
            return error(IssueCode.file_too_large, f"文件解压后过大（{uncompressed // 1024 // 1024} MB），已拒绝读取，请核实文件")
        return None
    if data.startswith(OLE_MAGIC):
        if ENCRYPTION_MARKER in data[:1024 * 1024] or ENCRYPTION_MARKER in data[-1024 * 1024:]:
            return error(IssueCode.encrypted_file, "文件设置了打开密码（已加密），请取消密码后重新报送")
        if suffix == ".et":
            return error(IssueCode.legacy_format, "WPS 专用 .et 格式无法读取，请在 WPS 中另存为 .xlsx 后报送")
        return None  # legacy .xls: calamine reads it
    head = data[:512].lstrip().lower()
    if head.startswith(b"<") or b"<html" in head or b"<table" in head:
        return error(IssueCode.not_a_spreadsheet, "这是网页（HTML）文件而不是 Excel 工作簿，请在 Excel 或 WPS 中另存为 .xlsx")
    if suffix in SPREADSHEET_SUFFIXES:
        return error(IssueCode.unreadable_file, "文件扩展名是 Excel，但内容不是 Excel 工作簿（可能已损坏或被改名），请重新保存后报送")
    return warning(IssueCode.not_a_spreadsheet, "不是 Excel 文件，已跳过（收件箱中只应放各单位报送的表格）")


class _TooLarge(Exception):
    pass


def _load_sheets(data: bytes, limits: ReadLimits) -> dict[str, list[list]]:
    """Every sheet as a grid of raw values, addresses preserved (row 0 is Excel row 1)."""
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        sheets = {}
        for meta in workbook.sheets_metadata:
            if str(meta.typ) != "SheetTypeEnum.WorkSheet":
                continue
            sheet = workbook.get_sheet_by_name(meta.name)
            if sheet.total_height > 1_048_576 or sheet.total_width > 16_384:
                raise _TooLarge(f"工作表「{meta.name}」的尺寸异常，已拒绝读取，请核实文件")
            end = sheet.end
            if end is not None and (end[0] >= limits.max_rows or end[1] >= limits.max_columns):
                raise _TooLarge(f"工作表「{meta.name}」的数据区过大（{end[0] + 1} 行 × {end[1] + 1} 列），超过读取上限，请删除多余内容后报送")
            sheets[meta.name] = sheet.to_python(skip_empty_area=False)
        return sheets
    finally:
        workbook.close()


def _interpret(result: FileResult, sheets: dict[str, list[list]]) -> None:
    meta_rows = sheets.get(META_SHEET)
    if meta_rows:
        for row in meta_rows:
            if len(row) >= 2 and clean_text(row[0]):
                result.meta[clean_text(row[0])] = clean_text(row[1])
    kind = result.meta.get("文件类型", "")
    unit_sheet = _find_sheet(sheets, UNIT_SHEET, UNIT_HEADERS, UNIT_OPTIONAL)
    assessment_sheet = _find_sheet(sheets, ASSESSMENT_SHEET, ASSESSMENT_HEADERS, ASSESSMENT_OPTIONAL)
    if kind == KIND_ASSESSMENT or (not kind and assessment_sheet and not unit_sheet):
        kind = KIND_ASSESSMENT
        found = assessment_sheet
        headers, optional = ASSESSMENT_HEADERS, ASSESSMENT_OPTIONAL
    else:
        kind = KIND_UNIT if (kind == KIND_UNIT or unit_sheet) else ""
        found = unit_sheet
        headers, optional = UNIT_HEADERS, UNIT_OPTIONAL
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
    result.rows = _table_cells(rows, sheet_name, table, headers + optional, key="指标代码", inputs=inputs)
    claim_sheet = _find_sheet(sheets, CLAIM_SHEET, CLAIM_HEADERS, CLAIM_OPTIONAL, exclude=sheet_name)
    if claim_sheet is not None:
        claim_name, claim_rows, claim_table = claim_sheet
        result.claims = _table_cells(claim_rows, claim_name, claim_table, CLAIM_HEADERS + CLAIM_OPTIONAL, key="项目代码",
                                     inputs=("数量", "事项说明", "佐证材料"))


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
            label = header_key(cell).rstrip(":：")
            if label in HEADER_BLOCK_LABELS and label not in found:
                for c2 in range(c + 1, min(len(row), c + 6)):
                    if clean_text(row[c2]):
                        found[label] = Cell(row[c2], sheet, cell_address(r, c2))
                        break
                else:
                    found[label] = Cell("", sheet, cell_address(r, c + 1))
    return found


def _table_cells(rows: list[list], sheet: str, table: Table, names: list[str], key: str,
                 inputs: tuple[str, ...]) -> list[dict[str, Cell]]:
    """Rows below the header as {header: Cell} that have a key or something typed in an
    input column; a value whose key was deleted is kept so validate can report it, while
    notes written under the table are not rows."""
    columns = {name: table.columns[name] for name in names if name in table.columns}
    records = []
    for r in range(table.header_row + 1, len(rows)):
        row = rows[r]
        record = {}
        has_content = False
        for name, c in columns.items():
            value = row[c] if c < len(row) else ""
            record[name] = Cell(value, sheet, cell_address(r, c))
            if (name == key or name in inputs) and clean_text(value):
                has_content = True
        if has_content:
            records.append(record)
    return records
