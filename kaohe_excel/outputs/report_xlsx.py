"""The generic xlsx table writer of the output workbooks: formats, cell plans, titled tables with
widths, row heights, frozen header, filter and print setup, and tables planned once for many workbooks.

Every text cell that may have come from a unit is written as a string, and the workbooks are opened
with strings_to_formulas/urls/numbers off, so a unit name such as "=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import xlsxwriter

from kaohe_excel.outputs import sheet_rows
from kaohe_excel.outputs.report_values import (
    SMALL_TABLE,
    _display_width,
    _distinct_texts,
    _first_rows,
    _is_number,
    _line_widths,
    _missing,
    _runs,
    _text,
    _texts,
)


# Grade colours by position in the grade table: top grade green, bottom red.
_GRADE_FILLS = ["#C6EFCE", "#DDEBF7", "#FFF2CC", "#FFC7CE"]
_GRADE_FONTS = ["#006100", "#1F4E78", "#7F6000", "#9C0006"]
_TEXT_KINDS = ("text", "wrap", "auto")
# Rows planned at a time when writing a long table.
PLAN_SLICE = 20000
# Encoded cells kept between the slices of a long table (names repeat on every unit's rows).
_CACHE_CELLS = 50000
# Rows whose texts size a table's columns.
_WIDTH_SAMPLE = 2000
WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    # Assemble in memory: xlsxwriter's per-part temp files dominate the time of small workbooks.
    "in_memory": True,
    "default_format_properties": {"font_name": "宋体", "font_size": 10},
}
# constant_memory needs its temp files (in_memory would switch it off); every sheet must be written
# in row order, with row heights set before the row's cells.
SUMMARY_OPTIONS = {**WORKBOOK_OPTIONS, "in_memory": False, "constant_memory": True}


def _with_subcategory(cols: list[Col], frame: pd.DataFrame) -> list[Col]:
    """Insert a 二级指标 column after 一级指标 when the scheme uses the middle level."""
    if "subcategory" not in frame.columns or not frame["subcategory"].map(_text).astype(bool).any():
        return cols
    at = [c.key for c in cols].index("category") + 1
    return cols[:at] + [Col("二级指标", "subcategory", "text", cols[at - 1].width)] + cols[at:]


@dataclass
class Col:
    header: str
    key: str
    kind: str = "text"  # text | score | int | num | num1 | num2 | pct | delta | rank_delta | auto
    width: float | None = None


class Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        border = {"border": 1, "valign": "vcenter"}
        self.title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter", "font_name": "黑体"})
        self.title_left = wb.add_format({"bold": True, "font_size": 16, "align": "left", "valign": "vcenter", "font_name": "黑体"})
        self.header = wb.add_format({**border, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9E1F2"})
        self.label = wb.add_format({**border, "bold": True, "bg_color": "#F2F2F2"})
        self.text = wb.add_format({**border})
        self.wrap = wb.add_format({**border, "text_wrap": True})
        self.by_kind = {
            "text": self.text,
            "wrap": self.wrap,
            "auto": wb.add_format({**border, "num_format": "General"}),
            "num": wb.add_format({**border, "num_format": "General"}),
            "score": wb.add_format({**border, "num_format": "0.00"}),
            "num1": wb.add_format({**border, "num_format": "0.0"}),
            # percentage points behind; negative = ahead of time progress or target
            "behind": wb.add_format({**border, "num_format": '0.0;"超前"0.0;0.0'}),
            "num2": wb.add_format({**border, "num_format": "0.00"}),
            "int": wb.add_format({**border, "num_format": "0", "align": "center"}),
            "pct": wb.add_format({**border, "num_format": "0.00%"}),
            "delta": wb.add_format({**border, "num_format": "+0.00;-0.00;0.00"}),
            "rank_delta": wb.add_format({**border, "num_format": "+0;-0;0", "align": "center"}),
        }
        self.centered_text = wb.add_format({**border, "align": "center"})
        # Header-block values read as a form, so numbers are left-aligned like the texts.
        self.block = {
            kind: wb.add_format({**border, "align": "left", "num_format": fmt})
            for kind, fmt in [("text", "@"), ("score", "0.00"), ("int", "0"), ("delta", "+0.00;-0.00;0.00"), ("rank_delta", "+0;-0;0")]
        }
        self.note = wb.add_format({"italic": True, "font_color": "#595959"})
        self.grade_formats = [
            wb.add_format({"bg_color": fill, "font_color": font}) for fill, font in zip(_GRADE_FILLS, _GRADE_FONTS)
        ]
        self.error = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.warning = wb.add_format({"bg_color": "#FFF2CC", "font_color": "#7F6000"})
        # Style numbers are handed out on first use; fixing them here makes a cell's XML the same
        # in every workbook, so feedback rows can be encoded once for many workbooks.
        self.xf_signature = tuple(fmt._get_xf_index() for fmt in self.cell_formats())

    def cell_formats(self) -> list:
        """The formats cells use (the conditional-format ones are styled differently)."""
        return [self.title, self.header, self.label, self.text, self.wrap, *self.by_kind.values(),
                self.centered_text, *self.block.values(), self.note]


def _write_cell(ws, row: int, col: int, value: object, kind: str, fmts: Formats, fmt=None) -> None:
    code, value, fmt = _cell_plan(value, kind, fmts, fmt or fmts.by_kind.get(kind, fmts.text))
    _writer(ws, code)(row, col, value, fmt)


def _writer(ws, code: str):
    return {"s": ws.write_string, "n": ws.write_number, "b": ws.write_blank}[code]


def _column_cells(values: pd.Series, kind: str, fmts: Formats) -> list[tuple]:
    """The plan ("s"/"n"/"b", value, format) of every cell of a column: `_write_cell`'s decisions
    taken once per column, vectorized by dtype, so the row loop only writes."""
    fmt = fmts.by_kind.get(kind, fmts.text)
    blank = ("b", None, fmt)
    if kind in ("text", "wrap"):
        texts = _texts(values)
        missing = values.isna().to_numpy() if len(values) else np.zeros(0, bool)
        if kind == "wrap":
            return [blank if m or not t else ("s", t, fmt) for t, m in zip(texts, missing.tolist())]
        return [blank if m else ("s", t, fmt) for t, m in zip(texts, missing.tolist())]
    if values.dtype.kind in "fiu":  # numbers only (bool is kind "b")
        return [blank if v != v else ("n", v, fmt) for v in values.to_numpy(dtype=float).tolist()]
    if values.dtype != object and pd.api.types.is_string_dtype(values.dtype):
        texts = values.to_numpy(dtype=object, na_value="").tolist()
        other = fmt if kind == "auto" else fmts.centered_text
        return [("s", t, other) if t else blank for t in texts]
    return [_cell_plan(v, kind, fmts, fmt) for v in values.tolist()]


def _column_tails(values: pd.Series, kind: str, fmts: Formats, cache: dict) -> list[str]:
    """sheet_rows.column_tails of _column_cells(values): each distinct value planned and encoded once.

    Numbers and str columns factorize exactly; an object column may mix 1, 1.0 and True, which hash
    alike but are written differently, so its values are told apart by type too (_object_codes).
    """
    dtype = values.dtype
    if len(values) < 64:
        return sheet_rows.column_tails(_column_cells(values, kind, fmts), cache)
    if not (dtype.kind in "fiu" or (dtype != object and pd.api.types.is_string_dtype(dtype))):
        found = _object_codes(values.tolist())
        if found is None:  # unhashable values (a list of flags): cell by cell
            return sheet_rows.column_tails(_column_cells(values, kind, fmts), cache)
        codes, distinct = found
        planned = _column_cells(pd.Series(distinct, dtype=object), kind, fmts)
        tails = np.array(sheet_rows.column_tails(planned, cache), dtype=object)
        return tails[codes].tolist()
    # floats by bit pattern: 0.0 and -0.0 are distinct texts ("0", "-0") in a text column
    key = values.to_numpy(dtype=float).view(np.int64) if dtype.kind == "f" else values
    codes, _ = pd.factorize(key, use_na_sentinel=False)
    distinct = values.iloc[_first_rows(codes)].reset_index(drop=True)
    tails = np.array(sheet_rows.column_tails(_column_cells(distinct, kind, fmts), cache), dtype=object)
    return tails[codes].tolist()


def _object_codes(values: list) -> tuple[np.ndarray, list] | None:
    """(code of each value, the distinct values) of an object column, a value known by its type and
    value (and a zero by its sign: 0.0 and -0.0 are written differently); None if one is unhashable."""
    index: dict = {}
    distinct: list = []
    codes = np.empty(len(values), dtype=np.int64)
    try:
        for i, v in enumerate(values):
            key = (type(v), v, math.copysign(1.0, v)) if isinstance(v, (float, np.floating)) and v == 0 else (type(v), v)
            code = index.get(key)
            if code is None:
                code = index[key] = len(distinct)
                distinct.append(v)
            codes[i] = code
    except TypeError:
        return None
    return codes, distinct


def _cell_plan(value: object, kind: str, fmts: Formats, fmt) -> tuple:
    """`_write_cell`'s decision for one value, as a ("s"/"n"/"b", value, format) plan."""
    if type(value) is str and value and kind in ("text", "wrap", "auto"):
        return "s", value, fmt
    if isinstance(value, (list, tuple, np.ndarray)):
        value = _text(value)
    if _missing(value) or (isinstance(value, str) and value == "" and kind != "text"):
        return "b", None, fmt
    if kind in ("text", "wrap"):
        return "s", _text(value), fmt
    if _is_number(value):
        return "n", float(value), fmt
    return "s", _text(value), fmt if kind == "auto" else fmts.centered_text


@dataclass
class _LazyRows:
    """A long table made a slice at a time by `make(start, stop)` (its rows start:stop, each row what
    it would be in the whole table), so that its display columns never exist for all rows at once;
    `write_table` takes it for a frame. head: its first rows, which size the columns."""

    length: int
    make: Callable[[int, int], pd.DataFrame]
    head: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.head = self.make(0, min(_WIDTH_SAMPLE, self.length))

    def __len__(self) -> int:
        return self.length

    def part(self, start: int, stop: int) -> pd.DataFrame:
        stop = min(stop, self.length)
        return self.head.iloc[start:stop] if stop <= len(self.head) else self.make(start, stop)


def _head(frame: pd.DataFrame | _LazyRows) -> pd.DataFrame:
    """The rows that size a table's columns (the first _WIDTH_SAMPLE are read)."""
    return frame.head if isinstance(frame, _LazyRows) else frame


def _write_rows(ws, fmts: Formats, columns: list[Col], frame: pd.DataFrame | _LazyRows, first_row: int,
                widths: list[float] | None = None) -> None:
    """The frame's cells row by row (constant_memory writes a row out once the next one starts);
    with the columns' widths, rows whose text wraps get their heights first. A long table's row
    heights are forgotten once written (sheet_rows.append_tails): no chart or image goes over it."""
    if not len(frame):
        return
    if isinstance(frame, _LazyRows) and len(frame) < SMALL_TABLE:
        frame = frame.part(0, len(frame))
    if len(frame) < SMALL_TABLE:
        if widths is not None:
            _fit_row_heights(ws, columns, widths, frame, first_row)
        # a short table: pandas' per-column overhead costs more than deciding cell by cell
        plans = [[_cell_plan(v, spec.kind, fmts, fmts.by_kind.get(spec.kind, fmts.text))
                  for v in (frame[spec.key].tolist() if spec.key in frame.columns else [None] * len(frame))]
                 for spec in columns]
        if sheet_rows.supported(ws):
            sheet_rows.append_rows(ws, first_row, plans)
        else:
            _write_plans(ws, plans, first_row)
        return
    cache: dict = {}
    # In slices, so that a 10,000-unit audit sheet never holds all its cells at once.
    for start in range(0, len(frame), PLAN_SLICE):
        if isinstance(frame, _LazyRows):
            part = frame.part(start, start + PLAN_SLICE)
        else:
            part = frame.iloc[start:start + PLAN_SLICE]
        values = [part[spec.key] if spec.key in part.columns else pd.Series([None] * len(part), index=part.index, dtype=object)
                  for spec in columns]
        if widths is not None:
            _fit_row_heights(ws, columns, widths, part, first_row + start)
        if sheet_rows.supported(ws):
            sheet_rows.append_tails(ws, first_row + start,
                                    [_column_tails(v, spec.kind, fmts, cache) for v, spec in zip(values, columns)],
                                    forget=True)
        else:
            _write_plans(ws, [_column_cells(v, spec.kind, fmts) for v, spec in zip(values, columns)], first_row + start)
        if len(cache) > _CACHE_CELLS:  # distinct sentences (得分说明) would otherwise all stay encoded
            cache.clear()


def _write_plans(ws, plans: list[list[tuple]], first_row: int) -> None:
    """Cell plans through xlsxwriter's own writers (small tables, in-memory worksheets)."""
    writers = {code: _writer(ws, code) for code in "snb"}
    for r, cells in enumerate(zip(*plans), start=first_row):
        c = 0
        for code, value, fmt in cells:
            writers[code](r, c, value, fmt)
            c += 1


def write_title(ws, row: int, ncols: int, text: str, fmts: Formats) -> None:
    if ncols > 1:
        ws.merge_range(row, 0, row, ncols - 1, "", fmts.title)
    ws.write_string(row, 0, text, fmts.title)
    ws.set_row(row, 28)


def _print_setup(ws, header_first: int, header_last: int, fit_width: bool = True) -> None:
    ws.set_paper(9)
    ws.set_landscape()
    if fit_width:
        ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_first, header_last)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.set_footer("&C第 &P 页，共 &N 页")


def _auto_width(spec: Col, longest: float | None) -> float:
    """A column's width: its own, else from its longest text (None: not a text column)."""
    if spec.width is not None:
        return spec.width
    longest = 8 if spec.kind not in _TEXT_KINDS else int(max(longest or 0, 0))
    # Long texts wrap instead of widening the sheet (which shrinks the printout).
    return min(max(longest, _display_width(spec.header)) + 2, 40 if spec.kind == "wrap" else 60)


def _widths(columns: list[Col], frame: pd.DataFrame) -> list[float]:
    """Column widths from the content (its first 2,000 rows)."""
    widths = []
    for spec in columns:
        longest = None
        if spec.width is None and spec.kind in _TEXT_KINDS and spec.key in frame.columns:
            sample = _texts(frame[spec.key].head(_WIDTH_SAMPLE))
            longest = _line_widths(list(set(sample))).max(initial=0)
        widths.append(_auto_width(spec, longest))
    return widths


def _set_widths(ws, columns: list[Col], frame: pd.DataFrame) -> list[float]:
    """Set column widths from the content (its first 2,000 rows); returns them."""
    widths = _widths(columns, frame)
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    return widths


def _line_counts(texts: list[str], width: float) -> np.ndarray:
    """Printed lines of each text in a wrapping column `width` wide."""
    if len(texts) > 256:
        codes, uniques = _distinct_texts(texts)
        if len(uniques) < len(texts):
            return _line_counts(uniques, width)[codes]
    per_line = max(width - 1, 1)
    counts = np.maximum(1, np.ceil(_line_widths(texts) / per_line))
    for i, text in enumerate(texts):
        if "\n" in text:
            counts[i] = sum(max(1, math.ceil(_display_width(part) / per_line)) for part in text.split("\n"))
    return counts


def _fit_row_heights(ws, columns: list[Col], widths: list[float], frame: pd.DataFrame, first_row: int) -> None:
    """Excel does not grow rows for wrapped text in a generated file, so estimate the lines.

    Call it before writing the rows: in a streamed sheet a row's height is lost once written."""
    wrapped = [(spec.key, width) for spec, width in zip(columns, widths) if spec.kind == "wrap" and spec.key in frame.columns]
    if not wrapped or not len(frame):
        return
    lines = np.ones(len(frame))
    for key, width in wrapped:
        # names repeat on every row of a unit or indicator: count each distinct text's lines once
        codes, uniques = pd.factorize(pd.Series(_texts(frame[key]), dtype=object))
        counts = _line_counts(list(uniques), width) if len(uniques) else np.ones(0)
        lines = np.maximum(lines, np.where(codes >= 0, counts[np.maximum(codes, 0)] if len(counts) else 1, 1))
    _set_heights(ws, lines, first_row)


def _set_heights(ws, lines: np.ndarray, first_row: int) -> None:
    for offset in np.flatnonzero(lines > 1):
        ws.set_row(first_row + int(offset), 13.5 * lines[offset])


def _table_head(ws, fmts: Formats, columns: list[Col], header_row: int, title: str | None, header_height: float | None) -> None:
    if title is not None:
        write_title(ws, header_row - 1, len(columns), title, fmts)
    if header_height is not None:
        ws.set_row(header_row, header_height)
    for c, spec in enumerate(columns):
        ws.write_string(header_row, c, spec.header, fmts.header)


def _stream_block(ws, first_row: int, rows: list[list[tuple]], cache: dict) -> None:
    """Rows of cell plans (all rows as wide) appended to a streamed sheet as encoded XML."""
    sheet_rows.append_tails(ws, first_row, [sheet_rows.column_tails(column, cache) for column in zip(*rows)])


def _title_plans(text: str, ncols: int, fmts: Formats) -> list[tuple]:
    """The cells `write_title` writes: the text, then the merged range's blanks."""
    return [("s", text, fmts.title)] + [("b", None, fmts.title)] * (ncols - 1)


def _stream_title(ws, row: int, ncols: int, text: str, fmts: Formats, cache: dict) -> None:
    """`write_title` on a streamed sheet whose earlier rows are written (row heights first)."""
    ws.set_row(row, 28)
    if ncols > 1:
        sheet_rows.merge_cells(ws, row, 0, row, ncols - 1)
    _stream_block(ws, row, [_title_plans(text, ncols, fmts)], cache)


def _stream_head(ws, fmts: Formats, columns: list[Col], header_row: int, title: str | None,
                 header_height: float | None, cache: dict) -> None:
    """`_table_head` on a streamed sheet, its rows appended as encoded XML: the same cells, merge and heights."""
    head = [("s", spec.header, fmts.header) for spec in columns]
    if not (sheet_rows.supported(ws) and sheet_rows.plain(head + ([("s", title, None)] if title is not None else []))):
        _table_head(ws, fmts, columns, header_row, title, header_height)
        return
    if title is not None:
        _stream_title(ws, header_row - 1, len(columns), title, fmts, cache)
    if header_height is not None:
        ws.set_row(header_row, header_height)
    _stream_block(ws, header_row, [head], cache)


def _table_end(ws, columns: list[Col], header_row: int, n_rows: int) -> int:
    """Frozen header, autofilter and print setup under a table; returns its last row."""
    last = header_row + n_rows
    ws.freeze_panes(header_row + 1, 0)
    ws.autofilter(header_row, 0, max(last, header_row), len(columns) - 1)
    _print_setup(ws, header_row, header_row)
    return last


def write_table(ws, fmts: Formats, columns: list[Col], frame: pd.DataFrame | _LazyRows, header_row: int, title: str | None = None,
                 header_height: float | None = None, readable: bool = False) -> int:
    """A titled table with frozen header, autofilter and print setup; returns the last data row.

    readable: a wide table is made to print at about 80% on one A4 landscape page width (long texts
    wrap in narrower columns) instead of being shrunk to 4–5 pt glyphs."""
    if readable:
        columns = _readable_columns(columns, _head(frame))
    _table_head(ws, fmts, columns, header_row, title, header_height)
    widths = _set_widths(ws, columns, _head(frame))
    if readable:
        widths = _narrow_wraps(ws, columns, widths)
    if readable and header_height is None:
        lines = max([_line_counts([c.header], w)[0] for c, w in zip(columns, widths)] or [1])
        if lines > 1:
            ws.set_row(header_row, 13.5 * lines + 4)
    _write_rows(ws, fmts, columns, frame, header_row + 1, widths)
    return _table_end(ws, columns, header_row, len(frame))


# The print scale a readable table is narrowed for (fit to the page width then shrinks it no further).
_READABLE_SCALE = 80
_WRAP_FLOOR = 10
# Columns never wrapped in a readable table: codes and cell addresses read as one token.
_NO_WRAP_KEYS = {"unit_code", "indicator_code", "item_code", "cell", "severity", "单位代码", "指标代码", "项目代码"}


def _readable_columns(columns: list[Col], frame: pd.DataFrame) -> list[Col]:
    """Text columns longer than 12 characters' width become wrapping ones (at most 24, a long
    说明 36), so that the table can be narrowed to the page instead of shrunk."""
    out = []
    for spec in columns:
        if spec.kind in ("text", "wrap") and spec.key in frame.columns and spec.key not in _NO_WRAP_KEYS:
            longest = _line_widths(list(set(_texts(frame[spec.key].head(_WIDTH_SAMPLE))))).max(initial=0)
            natural = max(longest, _display_width(spec.header)) + 2
            cap = 36 if spec.kind == "wrap" and (spec.width or 0) >= 40 else 24
            width = min(cap, spec.width or natural)
            if natural > 12 or spec.kind == "wrap":
                out.append(Col(spec.header, spec.key, "wrap", max(_WRAP_FLOOR, width)))
                continue
        out.append(spec)
    return out


def _narrow_wraps(ws, columns: list[Col], widths: list[float]) -> list[float]:
    """Narrow the wrapping columns until the table fits the page width at 80%: the others first
    (to 12), the widest (the 说明) last (to 16)."""
    room = (_PAGE_PIXELS * 100 / _READABLE_SCALE - 5 * len(widths)) / 8
    out = list(widths)
    wraps = [i for i, c in enumerate(columns) if c.kind == "wrap"]
    if sum(out) <= room or not wraps:
        return out
    widest = max(wraps, key=lambda i: out[i])
    for group, floor in (([i for i in wraps if i != widest], 12.0), ([widest], 16.0)):
        excess = sum(out) - room
        spare = sum(max(0.0, out[i] - floor) for i in group)
        if excess <= 0 or spare <= 0:
            continue
        keep = max(0.0, 1 - excess / spare)
        for i in group:
            if out[i] > floor:
                out[i] = round(floor + (out[i] - floor) * keep, 1)
    for i in wraps:
        if out[i] != widths[i]:
            ws.set_column(i, i, out[i])
    return out


@dataclass
class _PlannedTable:
    """One table's rows for many units, decided and encoded once; each workbook writes its slice
    (the same cells, widths and heights `write_table` gives that slice). A unit's rows are contiguous."""

    columns: list[Col]
    tails: list[list[str]]
    lines: list[np.ndarray | None]  # per column: printed lines of each row (wrapping columns)
    longest: list[np.ndarray | None]  # per column: display width of each row (columns sized by content)
    spans: dict
    cache: dict = field(default_factory=dict)  # encoded cells of the heads and titles written with it

    def span(self, unit_code: object) -> tuple[int, int]:
        return self.spans.get(unit_code, (0, 0))


def plan_table(fmts: Formats, columns: list[Col], frame: pd.DataFrame, units: pd.Series, cache: dict) -> _PlannedTable:
    codes, starts, stops = _runs(units)
    spans = {codes[a]: (int(a), int(b)) for a, b in zip(starts, stops)}
    if len(spans) != len(starts):
        raise ValueError("a unit's rows must be contiguous")
    absent = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    tails, lines, longest = [], [], []
    for spec in columns:
        values = frame[spec.key] if spec.key in frame.columns else absent
        tails.append(_column_tails(values, spec.kind, fmts, cache))
        present = spec.key in frame.columns
        if spec.kind == "wrap" and spec.width is None:
            raise ValueError("a planned wrapping column needs a width")  # its lines would depend on the unit
        lines.append(_line_counts(_texts(values), spec.width) if spec.kind == "wrap" and present else None)
        sized = spec.width is None and spec.kind in _TEXT_KINDS and present
        longest.append(_line_widths(_texts(values)) if sized else None)
    return _PlannedTable(columns, tails, lines, longest, spans, cache)


def write_planned(ws, fmts: Formats, planned: _PlannedTable, unit_code: object, header_row: int,
                   title: str | None = None, header_height: float | None = None, keep: list[int] | None = None) -> int:
    """`write_table` of one unit's slice of a planned table; keep: the column positions to show."""
    keep = list(range(len(planned.columns))) if keep is None else keep
    columns = [planned.columns[i] for i in keep]
    start, stop = planned.span(unit_code)
    _stream_head(ws, fmts, columns, header_row, title, header_height, planned.cache)
    lines = np.ones(stop - start)
    for c, i in enumerate(keep):
        longest = planned.longest[i]
        ws.set_column(c, c, _auto_width(columns[c], longest[start:stop].max(initial=0) if longest is not None else None))
        if planned.lines[i] is not None:
            lines = np.maximum(lines, planned.lines[i][start:stop])
    _set_heights(ws, lines, header_row + 1)
    if stop > start:
        sheet_rows.append_tails(ws, header_row + 1, [planned.tails[i][start:stop] for i in keep])
    return _table_end(ws, columns, header_row, stop - start)


def _grade_colours(ws, fmts: Formats, grades: pd.DataFrame | None, first_row: int, last_row: int, col: int) -> None:
    if grades is None or last_row < first_row or not len(grades):
        return
    names = [_text(g) for g in grades["grade"]]
    for i, name in enumerate(names):
        # Top grade green, bottom grade red, the ones between blue then yellow.
        pos = 0 if i == 0 else (3 if i == len(names) - 1 else min(i, 2))
        literal = '"' + name.replace('"', '""') + '"'
        ws.conditional_format(first_row, col, last_row, col, {"type": "cell", "criteria": "==", "value": literal, "format": fmts.grade_formats[pos]})


def new_workbook(path: str | Path, options: dict | None = None, stream_rows: bool = False) -> xlsxwriter.Workbook:
    """stream_rows: an in-memory workbook's sheets stream their rows too (written in row order only)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    options = dict(options or WORKBOOK_OPTIONS)
    # xlsxwriter writes into this dict (the theme font); a shared one would make the first workbook
    # of a process differ from the ones after it.
    options["default_format_properties"] = dict(options["default_format_properties"])
    return sheet_rows.StreamingWorkbook(str(path), options, stream_in_memory=stream_rows)


def _cell_table_sheet(wb: xlsxwriter.Workbook, name: str):
    """A worksheet that keeps its cells until close, so that it may write out of row order
    (vertical merges). Its unused row temp file, if any, is removed by `close_workbook`."""
    ws = wb.add_worksheet(name)
    spare = sheet_rows.keep_cells(ws)
    if spare:
        wb._kaohe_spare_files = getattr(wb, "_kaohe_spare_files", []) + [spare]
    return ws


def close_workbook(wb: xlsxwriter.Workbook) -> None:
    try:
        wb.close()
    finally:
        for name in getattr(wb, "_kaohe_spare_files", []):
            try:
                os.unlink(name)
            except OSError:
                pass


# Printable width of an A4 landscape page (0.5" margins) at the matrix's print scale, in pixels.
_PAGE_PIXELS = (297 / 25.4 - 1.0) * 96


def _write_display_table(ws, fmts: Formats, frame: pd.DataFrame, header_row: int, title: str,
                         kinds: dict[str, str] | None = None) -> int:
    """A table whose columns are already Chinese headers and display values (crosscheck rows);
    `kinds` gives a column a fixed number format (e.g. "score": two decimals)."""
    return write_table(ws, fmts, _display_cols(frame, kinds), frame, header_row=header_row, title=title, readable=True)


def _display_cols(frame: pd.DataFrame, kinds: dict[str, str] | None = None) -> list[Col]:
    wide = {"说明", "核定说明", "自报位置", "核定位置", "指标名称", "单位名称", "牵头单位"}
    kinds = kinds or {}
    return [Col(name, name, kinds.get(name) or ("wrap" if name in wide else "auto"), 36 if name == "说明" else None)
            for name in frame.columns]


def _write_display_table_below(ws, fmts: Formats, above: pd.DataFrame, frame: pd.DataFrame, last: int, title: str) -> None:
    """A second display table two rows under `above` (which ends at row `last`), on the same
    columns: a column the second table needs wider is widened, none is narrowed."""
    write_title(ws, last + 2, len(frame.columns), title, fmts)
    for c, name in enumerate(frame.columns):
        ws.write_string(last + 3, c, name, fmts.header)
    for r, record in enumerate(frame.itertuples(index=False), start=last + 4):
        for c, value in enumerate(record):
            _write_cell(ws, r, c, value, "auto", fmts)
    first = _widths(_display_cols(above), above)
    for c, width in enumerate(_widths(_display_cols(frame), frame)):
        if c >= len(first) or width > first[c]:
            ws.set_column(c, c, width)
