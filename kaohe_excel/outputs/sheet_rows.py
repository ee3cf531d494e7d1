"""Rows of a long table written straight into an xlsxwriter constant_memory worksheet.

xlsxwriter spends ~20 µs on each cell it is given (a cell tuple, dimension checks, attribute
escaping, one file write per element); the summary's audit sheets hold over a million cells at
2,000 units. Here each row's XML is built as one string, with the escaping xlsxwriter itself
applies (its own helpers), and appended to the worksheet's row stream. The file is byte for byte
what write_string / write_number / write_blank would have produced (tests/test_sheet_rows.py compares
the two), except that a text looking like rich-text XML ("<r>…</r>") is always escaped here, never
copied into the file raw. It leans on xlsxwriter internals (the row stream, row_info, _write_row);
that test is what notices when a new xlsxwriter release changes them (pyproject keeps it below 4).

In-memory workbooks (the small feedback workbooks) get the same path through StreamingWorkbook:
their sheets stream rows into a string buffer instead of a temp file, so every sheet must be
written in row order there too (keep_cells exempts one that cannot be).

A cell is given as a plan: ("s", text, format), ("n", number, format) or ("b", None, format).
Every cell needs a format (xlsxwriter would otherwise fall back on row or column formats, which
the sheets this serves never set).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from xlsxwriter.exceptions import OverlappingRange
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name, xl_range
from xlsxwriter.xmlwriter import XMLwriter, xml_escapes

from kaohe_excel.base.safety import InertWorkbook, InertWorksheet

_STRMAX = 32767  # Excel's limit, in UTF-16 code units, for one cell's text
_ROW_SENTINEL = 1048574  # a row number no table reaches, replaced by the real one


class StreamingWorksheet(InertWorksheet):
    """A worksheet whose streamed rows may live in memory (row_data_filename None)."""

    def _write_optimized_sheet_data(self) -> None:
        if self.row_data_filename is not None:
            return super()._write_optimized_sheet_data()
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
            return None
        self._xml_start_tag("sheetData")
        self.fh.write(self.row_data_fh.getvalue())
        self._xml_end_tag("sheetData")
        return None


class StreamingWorkbook(InertWorkbook):
    """An InertWorkbook whose sheets stream their rows: to temp files when constant_memory, to
    memory when in_memory and stream_in_memory (xlsxwriter would otherwise keep one object per cell).

    Streamed rows hold their texts inline, not in the shared-string table; Excel, WPS, LibreOffice
    and calamine read both alike, but openpyxl leaves an escaped "_x000D_" in an inline text escaped.
    """

    def __init__(self, filename=None, options=None, stream_in_memory: bool = False):
        self.stream_in_memory = stream_in_memory
        super().__init__(filename, options)

    def add_worksheet(self, name=None, worksheet_class=None):
        ws = super().add_worksheet(name, worksheet_class or StreamingWorksheet)
        if self.in_memory and self.stream_in_memory and isinstance(ws, StreamingWorksheet):
            ws.constant_memory = True
            ws.row_data_filename = None
            ws.row_data_fh = io.StringIO()
            ws.row_data_fh_closed = False
            ws.fh = ws.row_data_fh
        return ws


def keep_cells(ws) -> str | None:
    """Let a freshly added sheet be written in any order (vertical merges): its cells are kept
    until close. Returns the temp file it no longer needs (the caller removes it after close)."""
    if not ws.constant_memory:
        return None
    ws.constant_memory = False
    return ws.row_data_filename


def supported(ws) -> bool:
    """Whether `ws` streams its rows (to a temp file or a buffer): the only sheets this writer appends to."""
    return bool(getattr(ws, "constant_memory", False)) and getattr(ws, "row_data_fh", None) is not None


def plain(plans: Sequence[tuple]) -> bool:
    """Whether every text of these plans is written here as xlsxwriter writes it (not one that looks
    like rich-text XML, which InertWorksheet writes as rich text)."""
    return not any(code == "s" and value.startswith("<r>") and value.endswith("</r>") for code, value, _ in plans)


def merge_cells(ws, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
    """What merge_range records of a merged range, for cells then written by append_tails (the first
    cell's plan and blanks in the range's format, as merge_range writes them)."""
    cell_range = xl_range(first_row, first_col, last_row, last_col)
    for row in range(first_row, last_row + 1):
        for col in range(first_col, last_col + 1):
            previous = ws.merged_cells.get((row, col)) or ws.table_cells.get((row, col))
            if previous:
                raise OverlappingRange(f"Merge range '{cell_range}' overlaps previous range '{previous}'.")
            ws.merged_cells[(row, col)] = cell_range
    ws.merge.append([first_row, first_col, last_row, last_col])


def _text_xml(text: str) -> str:
    """What xlsxwriter writes between <t> and </t> for an inline string, with the <t> attributes."""
    if len(text) > _STRMAX // 2 and _utf16_len(text) > _STRMAX:
        text = _utf16_truncate(text, _STRMAX)
    text = XMLwriter._escape_control_characters(text)
    preserve = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    if xml_escapes.search(text):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<t{preserve}>{text}"


def _cell_tail(code: str, value: object, fmt) -> str:
    """Everything of a cell's XML after `<c r="A1"`."""
    style = "" if fmt is None else f' s="{fmt._get_xf_index()}"'
    if code == "s":
        return f'{style} t="inlineStr"><is>{_text_xml(value)}</t></is></c>'
    if code == "n":
        return f"{style}><v>{value:.16G}</v></c>"
    return f"{style}/>"


def column_tails(plans: Sequence[tuple], cache: dict | None = None) -> list[str]:
    """The tail of each cell of a column; each distinct plan (a unit name, a format) encoded once.

    Pass one cache to many calls whose formats have the same style numbers (see report_xlsx.Formats)."""
    cache = {} if cache is None else cache
    out = []
    # a format without a style number of its own (one equal to an earlier format) keys itself anew
    # on every _get_xf_index: ask each format once
    style_of: dict[int, int | None] = {}
    for code, value, fmt in plans:
        if fmt is None:
            style = None
        else:
            style = style_of.get(id(fmt))
            if style is None:
                style = style_of[id(fmt)] = fmt._get_xf_index()
        key = (code, value, style)
        if code == "n" and value == 0:
            key += (math.copysign(1.0, value),)  # 0.0 and -0.0 are equal keys but written "0" and "-0"
        tail = cache.get(key)
        if tail is None:
            tail = cache[key] = _cell_tail(code, value, fmt)
        out.append(tail)
    return out


def _row_tags(ws, rows: range) -> list[str]:
    """The opening <row> tag of each row, as xlsxwriter writes it (height, format, options)."""
    saved = ws.fh
    buffer = io.StringIO()

    def render(info) -> str:
        buffer.seek(0)
        buffer.truncate()
        ws._write_row(_ROW_SENTINEL, None, info)
        return buffer.getvalue().replace(f'r="{_ROW_SENTINEL + 1}"', 'r="{}"', 1)

    try:
        ws.fh = buffer
        templates = {None: render(None)}
        tags = []
        for row in rows:
            info = ws.row_info.get(row)
            key = None if info is None else (info.height, id(info.row_format), info.hidden, info.level, info.collapsed)
            template = templates.get(key)
            if template is None:
                template = templates[key] = render(info)
            tags.append(template.format(row + 1))
        return tags
    finally:
        ws.fh = saved


def append_rows(ws, first_row: int, plans: Sequence[Sequence[tuple]]) -> int:
    """Write `plans[c][i]` (the plan of column c in row first_row + i) as rows; returns the last row.

    Rows before first_row must all be written already; row heights must be set (set_row) before.
    Every cell must have a format.
    """
    if any(plan[2] is None for column in plans for plan in column):
        raise ValueError("append_rows needs a format for every cell")
    return append_tails(ws, first_row, [column_tails(column) for column in plans])


def append_tails(ws, first_row: int, tails: Sequence[Sequence[str]], chunk: int = 4096, forget: bool = False) -> int:
    """append_rows with the cells already encoded (column_tails); returns the last row.

    forget: drop what xlsxwriter keeps of each written row's height (~0.5 kB a row, 0.25 GB for the
    audit sheet of 10,000 units); it only places images and charts, which such a sheet must not get.
    """
    if not tails or not len(tails[0]):
        return first_row - 1
    if not supported(ws):
        raise ValueError("append_rows needs a sheet that streams its rows")
    n_rows, n_cols = len(tails[0]), len(tails)
    last_row = first_row + n_rows - 1
    # Flush the row xlsxwriter still holds (the header) and claim the rows that follow; a pending
    # first_row with only its height set is not flushed (its <row> tag below carries the height).
    if ws.previous_row != first_row or first_row in ws.table:
        ws._write_single_row(first_row)
    ws._check_dimensions(first_row, 0)
    ws._check_dimensions(last_row, n_cols - 1)
    # One str.format per row: "{0}" the <row> tag, "{1}" the row number, then the cells' tails.
    row_xml = "{0}" + "".join(f'<c r="{xl_col_to_name(c)}{{1}}"{{{c + 2}}}' for c in range(n_cols)) + "</row>"
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        tags = _row_tags(ws, range(first_row + start, first_row + stop))
        numbers = range(first_row + start + 1, first_row + stop + 1)
        ws.fh.write("".join([row_xml.format(tag, number, *cells)
                             for tag, number, cells in zip(tags, numbers, zip(*(t[start:stop] for t in tails)))]))
        if forget:
            for row in range(first_row + start, first_row + stop):
                ws.row_info.pop(row, None)
                ws.row_sizes.pop(row, None)
    # Nothing is pending: the next row xlsxwriter flushes (at close or on a later write) is empty.
    ws.previous_row = last_row + 1
    ws.table.clear()
    return last_row
