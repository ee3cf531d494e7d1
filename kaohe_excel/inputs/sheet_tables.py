"""Finding a kind's table in a workbook's sheets by its header texts, and taking its rows;
then the checks of what the office would see in those rows' cells (table_guard, or the 测评
reader's guard): doubled headers, hidden rows and columns, the number formats of input cells."""

from __future__ import annotations

import zipfile
import zlib
from operator import itemgetter

from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.layout import HEADER_BLOCK_LABELS, META_SHEET, TableLayout
from kaohe_excel.base.read_rows import Cell, Row, _Layout
from kaohe_excel.base.tables import Table, clean_text, header_key, locate_table
from kaohe_excel.inputs.zip_parts import TooLarge, forget_zip, part_bytes, related_part, sheet_parts, special_styles, uses_style, zip_of


def find_sheet(sheets, layout: TableLayout, exclude: str | None = None) -> tuple[str, list[list], Table] | None:
    """The sheet holding the table: the one with the layout's name first, then any other
    (sheet name, its rows, where the table's headers are)."""
    preferred = layout.sheet
    order = [preferred] + [name for name in sheets if name not in (preferred, META_SHEET, exclude)]
    required, optional = list(layout.required), list(layout.optional)
    for name in order:
        rows = sheets.get(name)
        if not rows or name == exclude:
            continue
        table = locate_table(rows, required, optional, scan_rows=60)
        if table is not None:
            return name, rows, table
    return None


def header_block(rows: list[list], sheet: str, header_row: int) -> dict[str, Cell]:
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


def table_rows(found: tuple[str, list[list], Table], layout: TableLayout) -> list[Row]:
    """Rows below the header that have a key or something typed in an input column; a
    value whose key was deleted is kept so validate can report it, while notes written
    under the table are not rows. Only the layout's kept columns are kept."""
    sheet, rows, table = found
    names, key, inputs = layout.kept, layout.key, layout.inputs
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



def guard_tables(data: bytes, result, sheets: dict[str, list[list]], container: str, limits, kind,
                 known_headers: set[str]) -> None:
    """Doubled headers, hidden rows and columns, and number formats of the input cells
    (the kind's guard, table_guard's by default). The XML is read only for .xlsx: styles.xml
    once, each table's sheet once."""
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
            strings.append(xlsx_meta.hidden_runs(part_bytes(archive, info, limits)) if info is not None else set())
        return strings[0]

    def view_of(sheet: str, cells: set) -> object:
        nonlocal archive, parts, styles, names
        if container != "xlsx":
            return None
        if sheet in views:
            return views[sheet]
        if archive is None:
            archive = zip_of(data)
            parts, _ = sheet_parts(archive, limits)
            names = {info.filename.replace("\\", "/").lower(): info for info in archive.infolist()}
            info = names.get("xl/styles.xml")
            styles = special_styles(archive, info, limits) if info is not None else {}
        part = parts.get(sheet)
        view = None
        if part is not None:
            xml = part_bytes(archive, archive.getinfo(part), limits)
            # the cells' formats are looked up only where some cell uses a special style at all, or
            # where the sheet has conditional formats (their differential formats ride on `styles`)
            wanted = (styles and uses_style(xml, styles)) or (getattr(styles, "dxfs", None) and b"conditionalFormatting" in xml)
            view = xlsx_meta.scan_sheet(xml, styles if wanted else {}, cells, hidden_strings,
                                        lambda rel_id: related_part(archive, names, part, rel_id, limits))
        views[sheet] = view
        return view

    try:
        guard = kind.guard or table_guard.guard
        result.issues.extend(guard(result.name, records, sheets, known_headers, view_of, kind.scored))
    except (zipfile.BadZipFile, TooLarge, OSError, ValueError, KeyError, zlib.error) as exc:
        # calamine read this file, so its parts are sound; a part the scan cannot read is
        # an error: the tool cannot say what the office sees
        result.issues.append(error(IssueCode.unreadable_file,
                                   f"无法核对表格的格式与隐藏行列（{type(exc).__name__}），请用 Excel 或 WPS 打开后另存为 .xlsx 再报送",
                                   file=result.name))
    finally:
        forget_zip()
