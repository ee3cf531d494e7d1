"""What a file is, decided from its bytes and not its name, before any parser sees it: the
container (.xlsx read in-process; .ods, .xlsb, .xls, .et in an isolated child), or the issue that
rejects it (empty, encrypted, HTML, a zip of something else, a zip bomb, a sheet whose cell area
would make calamine allocate without bound)."""

from __future__ import annotations

import re
import zipfile

from kaohe_excel.base.hostile import string_table_problem
from kaohe_excel.base.issues import Issue, IssueCode, error, warning
from kaohe_excel.base.tables import column_letter, column_number
from kaohe_excel.inputs.zip_parts import ZIP_MAGIC, TooLarge, part_bytes, sheet_parts, zip_of

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et"}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_MARKER = "EncryptionInfo".encode("utf-16-le")
# BOF records of the pre-OLE BIFF2-4 worksheet files (Excel 2.x-4.x), which calamine may read.
BIFF_MAGICS = (b"\x09\x00\x04\x00", b"\x09\x02", b"\x09\x04")

UNREADABLE_MESSAGE = "文件已损坏或不是有效的 Excel 文件，请用 Excel 或 WPS 打开后另存为 .xlsx 再报送"
ENCRYPTED_MESSAGE = "文件设置了打开密码（已加密），请取消密码后重新报送"
ET_MESSAGE = "WPS 专用 .et 格式无法读取，请在 WPS 中另存为 .xlsx 后报送"


def sniff(data: bytes, suffix: str, limits, scan: bool = True) -> tuple[Issue | None, str]:
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


def _declares_spreadsheet(archive: zipfile.ZipFile, names: dict, limits) -> bool:
    """A workbook stored under unusual part names still declares its content type."""
    content_types = names.get("[content_types].xml")
    types = part_bytes(archive, content_types, limits) if content_types is not None else b""
    return b"spreadsheetml" in types or b"sheet.main" in types


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


def _sniff_zip(data: bytes, limits, scan: bool = True) -> tuple[Issue | None, str]:
    truncated = error(IssueCode.unreadable_file, "文件已损坏（压缩包不完整，可能未保存完或传输中断），请重新保存后报送")
    try:
        if True:  # the archive stays open for the file's later steps (zip_of)
            archive = zip_of(data)
            infos = archive.infolist()
            names = {info.filename.replace("\\", "/").lower(): info for info in infos}
            uncompressed = sum(info.file_size for info in infos)
            compressed = sum(info.compress_size for info in infos) or 1
            if uncompressed > limits.max_uncompressed_bytes or (
                    uncompressed / compressed > limits.max_compression_ratio and uncompressed > 50 * 1024 * 1024):
                return error(IssueCode.file_too_large, f"文件解压后过大（{uncompressed // 1024 // 1024} MB），已拒绝读取，请核实文件"), ""
            if "content.xml" in names or "mimetype" in names:
                manifest = names.get("meta-inf/manifest.xml")
                if manifest is not None and b"encryption-data" in part_bytes(archive, manifest, limits):
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
            parts, complete = sheet_parts(archive, limits)
            if complete and len(names) == len(infos):
                infos = [archive.getinfo(member) for member in parts.values()]
            problem = _scan_cells(archive, infos, limits)
            return problem, "xlsx"
    except TooLarge as exc:
        return error(IssueCode.file_too_large, str(exc)), ""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return truncated, ""
    except Exception:  # zlib.error and friends: a damaged deflate stream
        return truncated, ""



# A cell with content (not self-closing) and its reference; the namespace prefix is optional.
_CELL_WITH_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["\']\s*([A-Za-z]{1,4})\s*([0-9]{1,10})[^>]*?(?<!/)>')
_CELL_REF_ATTRIBUTE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=')
# A cell tag whose first attribute is not its reference, or a namespaced one: rare, exact scan.
_ODD_CELL = re.compile(rb'<c(?:[>/]|\s(?!r="))')
_PREFIXED_CELL = re.compile(rb':c[\s>]')
_CELL_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c[\s>/]')
_ROW_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row[\s>/]')

def _scan_cells(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits) -> Issue | None:
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
        xml = part_bytes(archive, info, limits)
        if xml[:2] in (b"\xff\xfe", b"\xfe\xff"):
            xml = xml.decode("utf-16", "replace").encode("utf-8")
        if b"sheetData" not in xml:
            continue
        if unusual.search(xml) is None and _PREFIXED_CELL.search(xml) is None:
            continue  # the usual sheet: every cell near A1, written the usual way
        if _ODD_CELL.search(xml) is None and _PREFIXED_CELL.search(xml) is None:
            # far candidates only; where there are none the near bound stands in (an over-estimate)
            rows = max(map(int, re.findall(rb'<c r="[A-Za-z]+([0-9]{%d,})"' % (near_digits + 1), xml)), default=near_rows)
            columns = max(map(column_number, set(re.findall(rb'<c r="([A-Za-z]{%d,})[0-9]' % (near_letters + 1), xml))),
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


def _over_limits(rows: int, columns: int, limits) -> bool:
    return rows > limits.max_rows or columns > limits.max_columns or rows * columns > limits.max_cells


def _exact_extent(xml: bytes) -> tuple[int, int]:
    """Bottom-right (1-based row, column) of the cells with content, as calamine places them."""
    rows = columns = 0
    for match in _CELL_WITH_REF.finditer(xml):
        rows = max(rows, int(match.group(2)))
        columns = max(columns, column_number(match.group(1)))
    tags = len(_CELL_TAG.findall(xml))
    if tags > len(_CELL_REF_ATTRIBUTE.findall(xml)):
        # Cells without references are placed by counting: bound by rows and cells per row.
        segments = _ROW_TAG.split(xml)
        rows += len(segments)
        columns += max(len(_CELL_TAG.findall(segment)) for segment in segments)
    return rows, columns
