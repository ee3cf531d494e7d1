"""Rows of a long table written straight into an xlsxwriter constant_memory worksheet.

xlsxwriter spends ~20 µs on each cell it is given (a cell tuple, dimension checks, attribute
escaping, one file write per element); the summary's audit sheets hold over a million cells at
2,000 units. Here each row's XML is built as one string, with the escaping xlsxwriter itself
applies (its own helpers), and appended to the worksheet's row stream. The file is byte for byte
what write_string / write_number / write_blank would have produced (tests/test_report.py compares
the two), except that a text looking like rich-text XML ("<r>…</r>") is always escaped here, never
copied into the file raw.

A cell is given as a plan: ("s", text, format), ("n", number, format) or ("b", None, format).
Every cell needs a format (xlsxwriter would otherwise fall back on row or column formats, which
the sheets this serves never set).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter, xml_escapes

_STRMAX = 32767  # Excel's limit, in UTF-16 code units, for one cell's text
_ROW_SENTINEL = 1048574  # a row number no table reaches, replaced by the real one


def supported(ws) -> bool:
    """Whether `ws` streams its rows to disk (the only mode this writer can append to)."""
    return bool(getattr(ws, "constant_memory", False)) and getattr(ws, "row_data_fh", None) is not None


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


def _column_tails(plans: Sequence[tuple]) -> list[str]:
    """The tail of each cell of a column; each distinct plan (a unit name, a format) encoded once."""
    cache: dict[tuple, str] = {}
    out = []
    for plan in plans:
        tail = cache.get(plan)
        if tail is None:
            tail = cache[plan] = _cell_tail(*plan)
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


def append_rows(ws, first_row: int, plans: Sequence[Sequence[tuple]], chunk: int = 4096) -> int:
    """Write `plans[c][i]` (the plan of column c in row first_row + i) as rows; returns the last row.

    Rows before first_row must all be written already; row heights must be set (set_row) before.
    Every cell must have a format.
    """
    if not plans or not len(plans[0]):
        return first_row - 1
    if not supported(ws):
        raise ValueError("append_rows needs a constant_memory worksheet")
    if any(plan[2] is None for column in plans for plan in column):
        raise ValueError("append_rows needs a format for every cell")
    n_rows, n_cols = len(plans[0]), len(plans)
    last_row = first_row + n_rows - 1
    # Flush the row xlsxwriter still holds (the header) and claim the rows that follow.
    ws._write_single_row(first_row)
    ws._check_dimensions(first_row, 0)
    ws._check_dimensions(last_row, n_cols - 1)
    tails = [_column_tails(column) for column in plans]
    # One str.format per row: "{0}" the <row> tag, "{1}" the row number, then the cells' tails.
    row_xml = "{0}" + "".join(f'<c r="{xl_col_to_name(c)}{{1}}"{{{c + 2}}}' for c in range(n_cols)) + "</row>"
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        tags = _row_tags(ws, range(first_row + start, first_row + stop))
        numbers = range(first_row + start + 1, first_row + stop + 1)
        ws.fh.write("".join([row_xml.format(tag, number, *cells)
                             for tag, number, cells in zip(tags, numbers, zip(*(t[start:stop] for t in tails)))]))
    # Nothing is pending: the next row xlsxwriter flushes (at close or on a later write) is empty.
    ws.previous_row = last_row + 1
    ws.table.clear()
    return last_row
