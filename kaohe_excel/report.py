"""Output workbooks: the summary (汇总表), one feedback workbook per unit (反馈), and the
machine-readable csv tables (scores.csv, totals.csv).

Every text cell that may have come from a unit is written with `write_string`, and the
workbooks are opened with strings_to_formulas/urls/numbers off, so a unit name such as
"=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from .adjust_detail import bonus_cap_note
from .gap import GAP_SHEET_HEADERS, gap_sheet_rows
from .issues import ISSUE_COLUMNS, ISSUE_HEADERS_ZH, issue_kind
from .rank import unscored_counts
from . import sheet_rows
from .memory import release_unused
from .safety import csv_safe, csv_unquote, safe_filename
from .score import round_half_up
from .total_note import GAP_NOTE_COLUMN, NOTE_COLUMN, indicator_total_notes

# 「指标得分」 stands for the score matrix: one sheet per 考核类别 when there are several (summary_sheet_names).
SUMMARY_SHEETS = ["总排名", "指标得分", "原始数据", "得分说明", "加扣分明细", "校验问题", "未报送", "统计"]
FEEDBACK_SHEETS = ["得分情况", "失分分析"]
# Added only when given: the progress sheets in a 月度/季度 run, the gap sheet when a gap table is passed.
PROGRESS_SHEETS = ["进度预警", "进度分析"]
FEEDBACK_GAP_SHEET = "差距分析"
FEEDBACK_PROGRESS_SHEET = "进度预警"
# Only in the workbooks of units with 加分/扣分/否决 items.
FEEDBACK_ADJUSTMENT_SHEET = "加扣分明细"

SCORES_CSV_COLUMNS = ["考核周期", "单位代码", "单位名称", "考核类别", "指标代码", "指标名称", "实际值", "得分", "分值", "计分方法"]
TOTALS_CSV_COLUMNS = ["考核周期", "单位代码", "单位名称", "考核类别", "指标得分", "加分", "扣分", "总分", "排名", "等次", "否决"]

STATUS_ZH = {
    "scored": "已计分",
    "exempt": "不考核",
    "exempt_mean": "不考核（按均值得分）",
    "missing": "未填报（计0分）",
    "unscored": "未计分（数据有误）",
}
KIND_ZH = {"bonus": "加分", "deduction": "扣分", "veto": "否决"}
_PARAMS_ZH = [
    ("base", "基本值"),
    ("target", "目标值"),
    ("full", "满分值"),
    ("floor", "不允许值"),
    ("base_share", "基本分比例"),
    ("cap", "上限系数"),
    ("step", "每项分值"),
    ("tier_table", "档次表"),
]
# Statuses whose score reflects the unit's own result (used for group best/mean and statistics).
_OWN_RESULT = ["scored", "missing"]

# Grade colours by position in the grade table: top grade green, bottom red.
_GRADE_FILLS = ["#C6EFCE", "#DDEBF7", "#FFF2CC", "#FFC7CE"]
_GRADE_FONTS = ["#006100", "#1F4E78", "#7F6000", "#9C0006"]

# Tables shorter than this are written cell by cell (see _write_rows).
_SMALL_TABLE = 200
_TEXT_KINDS = ("text", "wrap", "auto")
# Rows planned at a time when writing a long table.
_PLAN_SLICE = 20000

# Beyond this many indicators the score matrix prints across several pages.
_MATRIX_FIT_COLUMNS = 14

_WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    # Assemble in memory: xlsxwriter's per-part temp files dominate the time of small workbooks.
    "in_memory": True,
    "default_format_properties": {"font_name": "宋体", "font_size": 10},
}
# constant_memory needs its temp files (in_memory would switch it off); every sheet must be written
# in row order, with row heights set before the row's cells.
_SUMMARY_OPTIONS = {**_WORKBOOK_OPTIONS, "in_memory": False, "constant_memory": True}


# --------------------------------------------------------------------------- previous period


@dataclass
class Previous:
    """Last period's results, the baseline for 纵向 comparison.

    totals: unit_code, total, rank, grade; scores: unit_code, indicator_code, score (optional).
    """

    totals: pd.DataFrame
    scores: pd.DataFrame | None = None


def load_previous(folder: str | Path) -> Previous:
    """Read an archived period's totals.csv and scores.csv (as written by `write_csvs`)."""
    folder = Path(folder)
    totals = pd.read_csv(folder / "totals.csv", encoding="utf-8-sig", dtype={"单位代码": str})
    totals = totals.rename(columns={"单位代码": "unit_code", "总分": "total", "排名": "rank", "等次": "grade"})
    totals["unit_code"] = totals["unit_code"].map(csv_unquote)
    scores = None
    if (folder / "scores.csv").exists():
        scores = pd.read_csv(folder / "scores.csv", encoding="utf-8-sig", dtype={"单位代码": str, "指标代码": str})
        scores = scores.rename(columns={"单位代码": "unit_code", "指标代码": "indicator_code", "得分": "score"})
        scores["unit_code"] = scores["unit_code"].map(csv_unquote)
        scores["indicator_code"] = scores["indicator_code"].map(csv_unquote)
        scores = scores[["unit_code", "indicator_code", "score"]]
    return Previous(totals[["unit_code", "total", "rank", "grade"]], scores)


def _as_previous(previous: Any) -> Previous | None:
    """Accept a `Previous`, or one frame: totals, or long form with indicator_code/score columns."""
    if previous is None or isinstance(previous, Previous):
        return previous
    frame = pd.DataFrame(previous)
    scores = None
    if "indicator_code" in frame.columns:
        scores = frame[["unit_code", "indicator_code", "score"]]
        frame = frame.drop_duplicates("unit_code")
    cols = [c for c in ["unit_code", "total", "rank", "grade"] if c in frame.columns]
    return Previous(frame[cols].reset_index(drop=True), scores)


# --------------------------------------------------------------------------- small helpers


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(isinstance(value, (float, np.floating)) and math.isnan(value))
    except TypeError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) and not _missing(value)


def _text(value: object) -> str:
    if _missing(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(_text(v) for v in value if _text(v))
    if isinstance(value, (float, np.floating)):
        return _num_text(value)
    return str(value)


def _num_text(value: float) -> str:
    """A number as a person writes it: 85.3, 12, 0.05 (no float noise, no exponent)."""
    return np.format_float_positional(round(float(value), 9), trim="-")


def _round2(series: pd.Series) -> pd.Series:
    """四舍五入 to 2 decimals (score.round_half_up) of anything numeric-looking."""
    return round_half_up(pd.to_numeric(pd.Series(series), errors="coerce").astype(float), 2)


def _display_width(text: str) -> int:
    """Column width units: CJK and full-width characters count as 2."""
    longest = max((line for line in str(text).split("\n")), key=len, default="")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


# Wide characters seen so far, as a str.translate table that deletes them: the width of a line is
# then 2 * len - len(line without its wide characters), computed in C.
_WIDE: dict[int, None] = {}
_CHARS_SEEN: set[str] = set()


def _learn_chars(texts: list[str]) -> None:
    new = set("".join(texts)) - _CHARS_SEEN
    for ch in new:
        if unicodedata.east_asian_width(ch) in "WF":
            _WIDE[ord(ch)] = None
    _CHARS_SEEN.update(new)


def _line_widths(texts: list[str]) -> np.ndarray:
    """_display_width of every text (all strings), fast for the common single-line text."""
    _learn_chars(texts)
    wide = _WIDE
    return np.array([_display_width(t) if "\n" in t else 2 * len(t) - len(t.translate(wide)) for t in texts], dtype=float)


def _texts(values: Any) -> list[str]:
    """_text of every value; each distinct value is formatted once."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if series.dtype.kind == "f":
        arr = series.to_numpy(dtype=float)
        # by bit pattern, so that -0.0 ("-0") and 0.0 ("0") stay apart
        bits, inverse = np.unique(arr.view(np.int64), return_inverse=True)
        shown = [_text(v) for v in bits.view(float).tolist()]
        return [shown[i] for i in inverse.tolist()]
    if series.dtype != object and pd.api.types.is_string_dtype(series.dtype):
        return series.to_numpy(dtype=object, na_value="").tolist()
    out = []
    cache: dict = {}
    for v in series.tolist():
        if type(v) is str:
            out.append(v)
            continue
        try:
            key = (type(v), v, math.copysign(1.0, v)) if isinstance(v, float) and v == 0 else (type(v), v)
            text = cache.get(key)
            if text is None:
                text = cache[key] = _text(v)
        except TypeError:  # unhashable: a list of flags
            text = _text(v)
        out.append(text)
    return out


def _col(frame: pd.DataFrame, name: str, default: object = None) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _period_label(meta: Any) -> str:
    """The "<考核名称> <考核周期>" label, not repeating a period the name already carries."""
    name, period = _text(getattr(meta, "name", "")), _text(getattr(meta, "period", ""))
    return name if period and period in name else f"{name} {period}".strip()


def _group_positions(ranked: pd.DataFrame) -> dict:
    return {g: i for i, g in enumerate(pd.unique(ranked["group"].astype(object)))}


def _sort_ranked(ranked: pd.DataFrame) -> pd.DataFrame:
    """Group by group (in order of first appearance), then display order within group."""
    frame = ranked.copy()
    positions = _group_positions(frame)
    frame["_g"] = frame["group"].astype(object).map(positions)
    order = frame["order"] if "order" in frame.columns else frame["rank"]
    frame["_o"] = pd.to_numeric(order, errors="coerce")
    return frame.sort_values(["_g", "_o", "unit_code"], kind="stable").drop(columns=["_g", "_o"]).reset_index(drop=True)


def _indicator_table(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per indicator in scheme order, grouped by category (first appearance)."""
    cols = ["indicator_code", "category", "subcategory", "name", "measure_unit", "points", "method", "direction"]
    frame = scored.copy()
    for c in cols:
        if c not in frame.columns:
            frame[c] = None
    frame["_order"] = pd.to_numeric(_col(frame, "order"), errors="coerce")
    frame["_seen"] = np.arange(len(frame))
    table = frame.sort_values(["_order", "_seen"], kind="stable").drop_duplicates("indicator_code")
    cat_pos = {c: i for i, c in enumerate(pd.unique(table["category"].astype(object)))}
    table = table.assign(_cat=table["category"].astype(object).map(cat_pos))
    table = table.sort_values(["_cat", "_order", "_seen"], kind="stable")
    return table[cols].reset_index(drop=True)


def _veto_text(frame: pd.DataFrame) -> pd.Series:
    vetoed = _col(frame, "vetoed", False).fillna(False).astype(bool)
    items = _col(frame, "veto_items", "").map(_text)
    return pd.Series(np.where(vetoed, np.where(items != "", items, "是"), ""), index=frame.index)


def _flags_text(frame: pd.DataFrame) -> pd.Series:
    """Grade note and flags; a veto flag is left out since the 否决 column shows it."""
    flags = _col(frame, "flags", None).map(
        lambda v: _text([f for f in v if not _text(f).startswith("一票否决")]) if isinstance(v, (list, tuple, np.ndarray)) else _text(v)
    )
    notes = _col(frame, "grade_note", "").map(_text)
    both = pd.concat([notes, flags], axis=1)
    return both.apply(lambda row: "；".join(v for v in row if v), axis=1) if len(frame) else flags


def _value_display(frame: pd.DataFrame) -> pd.Series:
    """The actual value: the number when there is one, else the typed text (定性 grades)."""
    value = pd.to_numeric(_col(frame, "value"), errors="coerce")
    text = np.array(_texts(_col(frame, "text_value")), dtype=object)
    return pd.Series(np.where(value.notna(), value.astype(object), text), index=frame.index, dtype=object)


def _value_and_grade(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The actual value split in two columns: the number (float, NaN without one) and the 定性
    grade or other typed text (None without one: a blank cell), so a grade never sits in a number column."""
    value = pd.to_numeric(_col(frame, "value"), errors="coerce").astype(float)
    text = np.array(_texts(_col(frame, "text_value")), dtype=object)
    grade = pd.Series(np.where(value.isna().to_numpy() & (text != ""), text, None), index=frame.index, dtype=object)
    return value, grade


def _has_grades(frame: pd.DataFrame) -> bool:
    return "grade_text" in frame.columns and bool(frame["grade_text"].notna().any())


def _method_display(frame: pd.DataFrame) -> pd.Series:
    method = pd.Series(_texts(_col(frame, "method", "")), index=frame.index)
    lower = np.array(_texts(_col(frame, "direction", "")), dtype=object) == "lower"
    return method + np.where(lower, "（反向）", "")


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The first row of each code 0..max (codes from a factorize or ngroup)."""
    first = np.empty(int(codes.max(initial=-1)) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # written last to first: the first row wins
    return first


def _runs(keys: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys as an array, start, stop) of each run of equal neighbouring keys."""
    codes = keys.astype(object).to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, dtype=np.int64)
    return codes, starts, np.r_[starts[1:], len(codes)].astype(np.int64)


def _params_display(frame: pd.DataFrame) -> pd.Series:
    keys = [key for key, _ in _PARAMS_ZH if key in frame.columns]
    if len(frame) > _SMALL_TABLE and keys:
        # parameters repeat on every row of an indicator: describe each distinct set once
        codes = frame.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
        shown = _params_texts(frame.iloc[_first_rows(codes)])
        return pd.Series(np.asarray(shown, dtype=object)[codes], index=frame.index, dtype=object)
    return pd.Series(_params_texts(frame), index=frame.index, dtype=object)


def _params_texts(frame: pd.DataFrame) -> list[str]:
    parts = []
    for key, label in _PARAMS_ZH:
        if key in frame.columns:
            parts.append([f"{label}={t}" if t else "" for t in _texts(frame[key])])
    if not parts or not len(frame):
        return [""] * len(frame)
    return ["；".join(v for v in row if v) for row in zip(*parts)]


def _with_subcategory(cols: list[Col], frame: pd.DataFrame) -> list[Col]:
    """Insert a 二级指标 column after 一级指标 when the scheme uses the middle level."""
    if "subcategory" not in frame.columns or not frame["subcategory"].map(_text).astype(bool).any():
        return cols
    at = [c.key for c in cols].index("category") + 1
    return cols[:at] + [Col("二级指标", "subcategory", "text", cols[at - 1].width)] + cols[at:]


# --------------------------------------------------------------------------- xlsx writing


@dataclass
class Col:
    header: str
    key: str
    kind: str = "text"  # text | score | int | num | num1 | num2 | pct | delta | rank_delta | auto
    width: float | None = None


class _Formats:
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


def _write_cell(ws, row: int, col: int, value: object, kind: str, fmts: _Formats, fmt=None) -> None:
    code, value, fmt = _cell_plan(value, kind, fmts, fmt or fmts.by_kind.get(kind, fmts.text))
    _writer(ws, code)(row, col, value, fmt)


def _writer(ws, code: str):
    return {"s": ws.write_string, "n": ws.write_number, "b": ws.write_blank}[code]


def _column_cells(values: pd.Series, kind: str, fmts: _Formats) -> list[tuple]:
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


def _column_tails(values: pd.Series, kind: str, fmts: _Formats, cache: dict) -> list[str]:
    """sheet_rows.column_tails of _column_cells(values): each distinct value planned and encoded once.

    Only for numbers and str columns, whose distinct values factorize exactly; an object column may
    mix 1, 1.0 and True, which hash alike but are written differently, so it is planned cell by cell.
    """
    dtype = values.dtype
    if not (dtype.kind in "fiu" or (dtype != object and pd.api.types.is_string_dtype(dtype))) or len(values) < 64:
        return sheet_rows.column_tails(_column_cells(values, kind, fmts), cache)
    # floats by bit pattern: 0.0 and -0.0 are distinct texts ("0", "-0") in a text column
    key = values.to_numpy(dtype=float).view(np.int64) if dtype.kind == "f" else values
    codes, _ = pd.factorize(key, use_na_sentinel=False)
    distinct = values.iloc[_first_rows(codes)].reset_index(drop=True)
    tails = np.array(sheet_rows.column_tails(_column_cells(distinct, kind, fmts), cache), dtype=object)
    return tails[codes].tolist()


def _cell_plan(value: object, kind: str, fmts: _Formats, fmt) -> tuple:
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


def _write_rows(ws, fmts: _Formats, columns: list[Col], frame: pd.DataFrame, first_row: int,
                widths: list[float] | None = None) -> None:
    """The frame's cells row by row (constant_memory writes a row out once the next one starts);
    with the columns' widths, rows whose text wraps get their heights first."""
    if not len(frame):
        return
    if len(frame) < _SMALL_TABLE:
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
    absent = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    cache: dict = {}
    # In slices, so that a 10,000-unit audit sheet never holds all its cells at once.
    for start in range(0, len(frame), _PLAN_SLICE):
        part = frame.iloc[start:start + _PLAN_SLICE]
        values = [part[spec.key] if spec.key in part.columns else absent.iloc[start:start + _PLAN_SLICE] for spec in columns]
        if widths is not None:
            _fit_row_heights(ws, columns, widths, part, first_row + start)
        if sheet_rows.supported(ws):
            sheet_rows.append_tails(ws, first_row + start,
                                    [_column_tails(v, spec.kind, fmts, cache) for v, spec in zip(values, columns)])
        else:
            _write_plans(ws, [_column_cells(v, spec.kind, fmts) for v, spec in zip(values, columns)], first_row + start)


def _write_plans(ws, plans: list[list[tuple]], first_row: int) -> None:
    """Cell plans through xlsxwriter's own writers (small tables, in-memory worksheets)."""
    writers = {code: _writer(ws, code) for code in "snb"}
    for r, cells in enumerate(zip(*plans), start=first_row):
        c = 0
        for code, value, fmt in cells:
            writers[code](r, c, value, fmt)
            c += 1


def _write_title(ws, row: int, ncols: int, text: str, fmts: _Formats) -> None:
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


def _set_widths(ws, columns: list[Col], frame: pd.DataFrame) -> list[float]:
    """Set column widths from the content (its first 2,000 rows); returns them."""
    widths = []
    for i, spec in enumerate(columns):
        longest = None
        if spec.width is None and spec.kind in _TEXT_KINDS and spec.key in frame.columns:
            sample = _texts(frame[spec.key].head(2000))
            longest = _line_widths(list(set(sample))).max(initial=0)
        width = _auto_width(spec, longest)
        ws.set_column(i, i, width)
        widths.append(width)
    return widths


def _line_counts(texts: list[str], width: float) -> np.ndarray:
    """Printed lines of each text in a wrapping column `width` wide."""
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


def _table_head(ws, fmts: _Formats, columns: list[Col], header_row: int, title: str | None, header_height: float | None) -> None:
    if title is not None:
        _write_title(ws, header_row - 1, len(columns), title, fmts)
    if header_height is not None:
        ws.set_row(header_row, header_height)
    for c, spec in enumerate(columns):
        ws.write_string(header_row, c, spec.header, fmts.header)


def _table_end(ws, columns: list[Col], header_row: int, n_rows: int) -> int:
    """Frozen header, autofilter and print setup under a table; returns its last row."""
    last = header_row + n_rows
    ws.freeze_panes(header_row + 1, 0)
    ws.autofilter(header_row, 0, max(last, header_row), len(columns) - 1)
    _print_setup(ws, header_row, header_row)
    return last


def _write_table(ws, fmts: _Formats, columns: list[Col], frame: pd.DataFrame, header_row: int, title: str | None = None,
                 header_height: float | None = None, readable: bool = False) -> int:
    """A titled table with frozen header, autofilter and print setup; returns the last data row.

    readable: a wide table is made to print at about 80% on one A4 landscape page width (long texts
    wrap in narrower columns) instead of being shrunk to 4–5 pt glyphs."""
    if readable:
        columns = _readable_columns(columns, frame)
    _table_head(ws, fmts, columns, header_row, title, header_height)
    widths = _set_widths(ws, columns, frame)
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
            longest = _line_widths(list(set(_texts(frame[spec.key].head(2000))))).max(initial=0)
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
    (the same cells, widths and heights `_write_table` gives that slice). A unit's rows are contiguous."""

    columns: list[Col]
    tails: list[list[str]]
    lines: list[np.ndarray | None]  # per column: printed lines of each row (wrapping columns)
    longest: list[np.ndarray | None]  # per column: display width of each row (columns sized by content)
    spans: dict

    def span(self, unit_code: object) -> tuple[int, int]:
        return self.spans.get(unit_code, (0, 0))


def _plan_table(fmts: _Formats, columns: list[Col], frame: pd.DataFrame, units: pd.Series, cache: dict) -> _PlannedTable:
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
    return _PlannedTable(columns, tails, lines, longest, spans)


def _write_planned(ws, fmts: _Formats, planned: _PlannedTable, unit_code: object, header_row: int,
                   title: str | None = None, header_height: float | None = None, keep: list[int] | None = None) -> int:
    """`_write_table` of one unit's slice of a planned table; keep: the column positions to show."""
    keep = list(range(len(planned.columns))) if keep is None else keep
    columns = [planned.columns[i] for i in keep]
    start, stop = planned.span(unit_code)
    _table_head(ws, fmts, columns, header_row, title, header_height)
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


def _grade_colours(ws, fmts: _Formats, grades: pd.DataFrame | None, first_row: int, last_row: int, col: int) -> None:
    if grades is None or last_row < first_row or not len(grades):
        return
    names = [_text(g) for g in grades["grade"]]
    for i, name in enumerate(names):
        # Top grade green, bottom grade red, the ones between blue then yellow.
        pos = 0 if i == 0 else (3 if i == len(names) - 1 else min(i, 2))
        literal = '"' + name.replace('"', '""') + '"'
        ws.conditional_format(first_row, col, last_row, col, {"type": "cell", "criteria": "==", "value": literal, "format": fmts.grade_formats[pos]})


def _new_workbook(path: str | Path, options: dict | None = None, stream_rows: bool = False) -> xlsxwriter.Workbook:
    """stream_rows: an in-memory workbook's sheets stream their rows too (written in row order only)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    options = dict(options or _WORKBOOK_OPTIONS)
    # xlsxwriter writes into this dict (the theme font); a shared one would make the first workbook
    # of a process differ from the ones after it.
    options["default_format_properties"] = dict(options["default_format_properties"])
    return sheet_rows.StreamingWorkbook(str(path), options, stream_in_memory=stream_rows)


def _cell_table_sheet(wb: xlsxwriter.Workbook, name: str):
    """A worksheet that keeps its cells until close, so that it may write out of row order
    (vertical merges). Its unused row temp file, if any, is removed by `_close`."""
    ws = wb.add_worksheet(name)
    spare = sheet_rows.keep_cells(ws)
    if spare:
        wb._kaohe_spare_files = getattr(wb, "_kaohe_spare_files", []) + [spare]
    return ws


def _close(wb: xlsxwriter.Workbook) -> None:
    try:
        wb.close()
    finally:
        for name in getattr(wb, "_kaohe_spare_files", []):
            try:
                os.unlink(name)
            except OSError:
                pass


# --------------------------------------------------------------------------- summary


def _ranking_frame(ranked: pd.DataFrame, previous: Previous | None) -> pd.DataFrame:
    frame = _sort_ranked(ranked)
    frame["veto_text"] = _veto_text(frame)
    frame["flags_text"] = _flags_text(frame)
    if "unscored_count" in frame.columns:
        n = pd.to_numeric(frame["unscored_count"], errors="coerce").fillna(0).astype(int)
        mark = pd.Series([f"含未计分指标（{k}项，数据有误未更正）" if k else "" for k in n.tolist()], index=frame.index)
        frame["flags_text"] = [f"{m}；{f}" if m and f else (m or f) for m, f in zip(mark, frame["flags_text"])]
    if previous is not None:
        prev = previous.totals.rename(columns={"total": "prev_total", "rank": "prev_rank", "grade": "prev_grade"})
        frame = frame.merge(prev[["unit_code", "prev_total", "prev_rank"]], on="unit_code", how="left")
        frame["total_change"] = _round2(pd.to_numeric(frame["total"], errors="coerce") - pd.to_numeric(frame["prev_total"], errors="coerce"))
        # Positive = moved up (rank number got smaller).
        frame["rank_change"] = pd.to_numeric(frame["prev_rank"], errors="coerce") - pd.to_numeric(frame["rank"], errors="coerce")
    return frame


def _ranking_columns(previous: Previous | None) -> list[Col]:
    cols = [
        Col("考核类别", "group"),
        Col("排名", "rank", "int", 6),
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标得分", "indicator_total", "score", 10),
        Col("加分", "bonus", "score", 8),
        Col("扣分", "deduction", "score", 8),
        Col("总分", "total", "score", 10),
        Col("等次", "grade", "text", 8),
        Col("否决", "veto_text"),
        Col("标记", "flags_text", "wrap"),
    ]
    if previous is not None:
        cols += [
            Col("上期总分", "prev_total", "score", 10),
            Col("分数变化", "total_change", "delta", 10),
            Col("上期排名", "prev_rank", "int", 10),
            Col("名次变化", "rank_change", "rank_delta", 10),
        ]
    return cols


def _write_ranking_sheet(wb, fmts, meta, grades, ranked, previous, scheme=None) -> None:
    ws = wb.add_worksheet("总排名")
    frame = _ranking_frame(ranked, previous)
    cols = _ranking_columns(previous)
    last = _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 汇总表")
    _grade_colours(ws, fmts, grades, 2, last, [c.header for c in cols].index("等次"))
    ws.freeze_panes(2, 4)
    if scheme is not None:
        _write_quota_block(ws, fmts, scheme, ranked, last + 2, len(cols))


def _write_quota_block(ws, fmts, scheme, ranked, row: int, width: int) -> None:
    """Under the ranking: each group's 优秀 名额 and who lost 优秀 to it or to a veto, worded as in the notice."""
    from .publicity import quota_lines  # the notice's wording, one owner

    lines = quota_lines(scheme, ranked)
    if not lines:
        return
    top = _text(scheme.grades["grade"].iloc[0])
    ws.write(row, 0, f"{top}名额", fmts.label)
    for offset, (group, text) in enumerate(lines.items(), start=1):
        ws.write(row + offset, 0, group, fmts.label)
        if width > 2:
            ws.merge_range(row + offset, 1, row + offset, width - 1, text, fmts.wrap)
        else:
            ws.write(row + offset, 1, text, fmts.wrap)
        # merged cells do not grow with their text: about 60 characters a printed line
        ws.set_row(row + offset, 15 * max(1, math.ceil(len(text) / 60)) + 3)


def _score_matrix(scored: pd.DataFrame, ranked: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    """Units × indicators; text marks where a unit has no score of its own (不考核, 未计分)."""
    rows = _sort_ranked(ranked)[["unit_code", "unit_name", "group", "indicator_total", "total"]]
    if not len(scored):
        return rows
    status = _col(scored, "status", "scored").map(_text)
    cell = pd.Series(scored["score"].astype(object), index=scored.index)
    cell = cell.where(~status.isin(["exempt"]), "不考核")
    cell = cell.where(~(status.eq("unscored") & scored["score"].isna()), "未计分")
    long = pd.DataFrame({"unit_code": scored["unit_code"], "indicator_code": scored["indicator_code"], "cell": cell})
    wide = long.drop_duplicates(["unit_code", "indicator_code"]).pivot(index="unit_code", columns="indicator_code", values="cell")
    wide = wide.reindex(columns=list(indicators["indicator_code"]))
    wide.columns = [f"ind::{c}" for c in wide.columns]
    return rows.merge(wide, left_on="unit_code", right_index=True, how="left")


def _matrix_sheet_names(groups: list) -> list[str]:
    """「指标得分」 for one group; 「指标得分（<考核类别>）」 for each of several (Excel's 31 characters, no []:*?/\\)."""
    if len(groups) <= 1:
        return ["指标得分"]
    names: list[str] = []
    for group in groups:
        label = "".join("_" if ch in "[]:*?/\\" else ch for ch in _text(group)).strip("'") or "_"
        name = f"指标得分（{label}）"
        if len(name) > 31:
            name = f"指标得分（{label[:24]}…）"
        base, n = name, 2
        while name in names:
            name = f"{base[:28]}{n}"
            n += 1
        names.append(name)
    return names


def summary_sheet_names(groups: list) -> list[str]:
    """SUMMARY_SHEETS of a run with these 考核类别 (in ranking order), the matrix sheets expanded."""
    at = SUMMARY_SHEETS.index("指标得分")
    return SUMMARY_SHEETS[:at] + _matrix_sheet_names(groups) + SUMMARY_SHEETS[at + 1:]


# Printable width of an A4 landscape page (0.5" margins) at the matrix's print scale, in pixels.
_PAGE_PIXELS = (297 / 25.4 - 1.0) * 96
_MATRIX_SCALE = 85


def _column_pixels(width: float) -> float:
    # 8 rather than Excel's 7 pixels a character: LibreOffice and WPS draw 宋体 wider, and a page
    # that holds one column less is better than one that cuts a column in half
    return width * 8 + 5


def _page_pieces(widths: list[float], categories: list[str], room: float) -> list[tuple[int, int]]:
    """Indicator columns cut into pages of at most `room` pixels, at a 一级指标 boundary where one
    fits (a category wider than a page is cut inside it): (start, stop) positions."""
    pieces, start = [], 0
    while start < len(widths):
        used, stop, boundary = 0.0, start, None
        while stop < len(widths) and (stop == start or used + _column_pixels(widths[stop]) <= room):
            used += _column_pixels(widths[stop])
            stop += 1
            if stop < len(widths) and categories[stop] != categories[stop - 1]:
                boundary = stop
        if stop < len(widths) and boundary is not None and categories[stop] == categories[stop - 1]:
            stop = boundary
        pieces.append((start, stop))
        start = stop
    return pieces


def _write_matrix_sheet(wb, fmts, meta, scored, ranked, notes: pd.DataFrame | None = None) -> None:
    """The score matrix, one sheet per 考核类别 with only the indicators that apply to it, so that it
    fits the page width; a group with many indicators prints on pages cut at 一级指标 boundaries,
    each page repeating the title, the header rows and the unit columns."""
    groups = list(pd.unique(_sort_ranked(ranked)["group"].astype(object))) if len(ranked) else [""]
    names = _matrix_sheet_names(groups)
    by_group = scored["group"].astype(object) if len(scored) and "group" in scored.columns else None
    for group, name in zip(groups, names):
        units = ranked[ranked["group"].astype(object) == group] if len(ranked) else ranked
        rows = scored[(by_group == group).to_numpy()] if by_group is not None and len(groups) > 1 else scored
        title = f"{_period_label(meta)} 指标得分" + (f"（{_text(group)}）" if len(groups) > 1 else "")
        _write_matrix_block(wb, fmts, name, title, rows, units, notes)


def _write_matrix_block(wb, fmts, sheet_name: str, title: str, scored, ranked, notes: pd.DataFrame | None) -> None:
    ws = _cell_table_sheet(wb, sheet_name)
    indicators = _indicator_table(scored)
    frame = _score_matrix(scored, ranked, indicators)
    with_notes = notes is not None and len(frame) and "unit_code" in frame.columns
    if with_notes:
        frame = frame.merge(notes[["unit_code", "total_note"]], on="unit_code", how="left")
        with_notes = bool(frame["total_note"].fillna("").astype(str).ne("").any())
    fixed = [Col("考核类别", "group"), Col("单位代码", "unit_code"), Col("单位名称", "unit_name")]
    ind_cols = [
        Col(f"{_text(r.name)}\n（{_text(r.points)}分）", f"ind::{r.indicator_code}", "score", 10)
        for r in indicators.itertuples(index=False)
    ]
    tail = [Col("指标得分", "indicator_total", "score", 10), Col("总分", "total", "score", 10)]
    if with_notes:
        tail.append(Col("指标得分折算", "total_note", "wrap", 34))
    cols = fixed + ind_cols + tail
    many = len(ind_cols) > _MATRIX_FIT_COLUMNS
    if many:
        # unmerged and left-aligned: the title then shows at the top of every page across
        ws.write_string(0, 0, title, fmts.title_left)
        ws.set_row(0, 28)
    else:
        _write_title(ws, 0, len(cols), title, fmts)
    # One header row per level: 一级指标, 二级指标 when the scheme uses it, then the indicators.
    levels = [indicators["category"].map(_text).tolist()]
    subcategories = indicators["subcategory"].map(_text).tolist()
    if any(subcategories):
        levels.append(subcategories)
    top, bottom = 1, 1 + len(levels)
    widths = _set_widths(ws, cols, frame)
    start = len(fixed)
    fixed_pixels = sum(_column_pixels(w) for w in widths[:start])
    pieces = (_page_pieces(widths[start:start + len(ind_cols)], levels[0], _PAGE_PIXELS * 100 / _MATRIX_SCALE - fixed_pixels)
              if many else [(0, len(ind_cols))])
    # Fixed and total columns span all header rows.
    for c, spec in enumerate(fixed):
        ws.merge_range(top, c, bottom, c, "", fmts.header)
        ws.write_string(top, c, spec.header, fmts.header)
    for depth, labels in enumerate(levels):
        # A run of equal labels (under the same parents) becomes one merged cell, never across a page.
        keys = list(zip(*levels[: depth + 1]))
        for lo, hi in pieces:
            i = lo
            while i < hi:
                j = i
                while j + 1 < hi and keys[j + 1] == keys[i]:
                    j += 1
                if j > i:
                    ws.merge_range(top + depth, start + i, top + depth, start + j, "", fmts.header)
                ws.write_string(top + depth, start + i, labels[i], fmts.header)
                i = j + 1
    for k, spec in enumerate(ind_cols):
        ws.write_string(bottom, start + k, spec.header, fmts.header)
    for k, spec in enumerate(tail):
        c = start + len(ind_cols) + k
        ws.merge_range(top, c, bottom, c, "", fmts.header)
        ws.write_string(top, c, spec.header, fmts.header)
    # tall enough for the longest indicator name at its column width (Excel does not grow it)
    header_lines = max([_line_counts([spec.header], width)[0] for spec, width in zip(ind_cols, widths[start:])] or [3])
    ws.set_row(bottom, max(45, 13.5 * header_lines + 4))
    _write_rows(ws, fmts, cols, frame, bottom + 1, widths if with_notes else None)
    last = bottom + len(frame)
    ws.freeze_panes(bottom + 1, len(fixed))
    ws.autofilter(bottom, 0, max(last, bottom), len(cols) - 1)
    _print_setup(ws, top, bottom, fit_width=not many)
    ws.repeat_rows(0, bottom)  # the title too: every printed page says what it is
    if many:
        # Squeezing dozens of indicators onto one page width makes them unreadable: pages across,
        # cut at 一级指标 boundaries, each repeating the unit columns.
        ws.set_print_scale(_MATRIX_SCALE)
        ws.repeat_columns(0, len(fixed) - 1)
        ws.set_v_pagebreaks([start + lo for lo, _ in pieces[1:]])


def _names(scored: pd.DataFrame, ranked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    units = ranked[["unit_code", "unit_name"]].drop_duplicates("unit_code")
    indicators = _indicator_table(scored)[["indicator_code", "name"]] if len(scored) else pd.DataFrame(columns=["indicator_code", "name"])
    return units, indicators


def _write_raw_sheet(wb, fmts, meta, scored, ranked, values) -> None:
    ws = wb.add_worksheet("原始数据")
    units, indicators = _names(scored, ranked)
    frame = values.copy() if values is not None else pd.DataFrame(columns=["unit_code", "indicator_code"])
    if "unit_name" not in frame.columns:
        frame = frame.merge(units, on="unit_code", how="left")
    if "name" not in frame.columns:
        frame = frame.merge(indicators, on="indicator_code", how="left")
    frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
    for c in ["evidence", "note", "file", "sheet", "cell"]:
        frame[c] = _col(frame, c, "")
    cols = [
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("实际完成值", "value_number", "num", 11),
        *([Col("等级", "grade_text", "text", 8)] if _has_grades(frame) else []),
        Col("佐证材料", "evidence", "wrap"),
        Col("备注", "note", "wrap"),
        Col("文件", "file"),
        Col("工作表", "sheet"),
        Col("单元格", "cell"),
    ]
    _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 原始数据",
                        readable=True)


def _write_audit_sheet(wb, fmts, meta, scored, ranked) -> None:
    ws = wb.add_worksheet("得分说明")
    order = {u: i for i, u in enumerate(_sort_ranked(ranked)["unit_code"])}
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    # only the columns shown or needed for them: at 10,000 units a full copy of the scores costs 0.5 GB
    used = ["unit_code", "unit_name", "indicator_code", "name", "method", "direction", "value", "text_value",
            "points", "score", "status", "explanation", "points_available"] + [key for key, _ in _PARAMS_ZH]
    frame = scored[[c for c in used if c in scored.columns]]
    frame = frame.assign(_u=frame["unit_code"].map(order), _i=frame["indicator_code"].map(ind_order))
    frame = frame.sort_values(["_u", "_i"], kind="stable")
    frame["method_display"] = _method_display(frame)
    frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
    frame["params"] = _params_display(frame)
    status = pd.Series(_texts(_col(frame, "status", "")), index=frame.index, dtype=object)
    frame["status_zh"] = status.map(STATUS_ZH).fillna(status)
    for c in ["unit_name", "name", "explanation", "points_available"]:
        frame[c] = _col(frame, c)
    cols = [
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("计分方法", "method_display"),
        Col("实际完成值", "value_number", "num", 11),
        *([Col("等级", "grade_text", "text", 8)] if _has_grades(frame) else []),
        Col("计分参数", "params", "wrap", 36),
        Col("分值", "points", "num", 8),
        Col("得分", "score", "score", 8),
        Col("状态", "status_zh"),
        Col("得分说明", "explanation", "wrap", 60),
    ]
    _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 得分说明",
                        readable=True)


def _write_adjustment_sheet(wb, fmts, meta, ranked, adjustment_scores) -> None:
    ws = wb.add_worksheet("加扣分明细")
    units = ranked[["unit_code", "unit_name"]].drop_duplicates("unit_code")
    frame = adjustment_scores.copy() if adjustment_scores is not None else pd.DataFrame(columns=["unit_code"])
    if "unit_name" not in frame.columns:
        frame = frame.merge(units, on="unit_code", how="left")
    frame["kind_zh"] = _col(frame, "kind", "").map(lambda k: KIND_ZH.get(_text(k), _text(k)))
    for c in ["item_code", "name", "count", "step", "item_cap", "amount", "explanation", "recorded_by_zh",
              "description", "evidence"]:
        frame[c] = _col(frame, c)
    cols = [Col("单位代码", "unit_code"), Col("单位名称", "unit_name")] + _adjustment_columns()
    _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 加扣分明细",
                        readable=True)


def _adjustment_columns() -> list[Col]:
    """The item columns of 加扣分明细 (summary and feedback): what was claimed or recorded, and why."""
    return [
        Col("项目代码", "item_code"),
        Col("项目名称", "name", "wrap", 18),
        Col("类型", "kind_zh", "text", 6),
        Col("来源", "recorded_by_zh", "text", 11),
        Col("数量", "count", "num", 6),
        Col("每项分值", "step", "num", 8),
        Col("单项上限", "item_cap", "num", 8),
        Col("计分", "amount", "score", 8),
        Col("事项说明", "description", "wrap", 28),
        Col("佐证材料", "evidence", "wrap", 24),
        Col("说明", "explanation", "wrap", 36),
    ]


def _write_issues_sheet(wb, fmts, meta, issues) -> None:
    ws = wb.add_worksheet("校验问题")
    frame = issues if issues is not None and len(issues) else pd.DataFrame(columns=ISSUE_COLUMNS)
    frame = frame.reindex(columns=ISSUE_COLUMNS)
    # a person reads the Chinese 问题类型; the stable code keeps its own column for filtering
    frame = frame.assign(kind=frame["code"].map(issue_kind) if len(frame) else pd.Series(dtype=object))
    shown = [c for c in ISSUE_COLUMNS if c != "code"]
    shown = shown[:shown.index("message")] + ["kind", "message", "code"]
    widths = {"severity": 6, "cell": 8, "message": 60, "kind": 14}
    cols = [Col(ISSUE_HEADERS_ZH[c], c, "wrap" if c == "message" else "text", widths.get(c)) for c in shown]
    last = _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 校验问题",
                        readable=True)
    if last >= 2:
        ws.conditional_format(2, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"错误"', "format": fmts.error})
        ws.conditional_format(2, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"警告"', "format": fmts.warning})
    else:
        ws.write_string(2, 0, "无校验问题。", fmts.note)


def _write_missing_sheet(wb, fmts, meta, missing_units) -> None:
    ws = wb.add_worksheet("未报送")
    frame = missing_units.copy() if missing_units is not None else pd.DataFrame()
    for c in ["unit_code", "unit_name", "group", "contact", "email"]:
        frame[c] = _col(frame, c, "")
    cols = [Col("单位代码", "unit_code"), Col("单位名称", "unit_name"), Col("考核类别", "group"), Col("联系人", "contact"), Col("邮箱", "email")]
    last = _write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 未报送单位")
    if last < 2:
        ws.write_string(2, 0, "全部单位均已报送。", fmts.note)


def _indicator_stats(scored: pd.DataFrame) -> pd.DataFrame:
    indicators = _indicator_table(scored)
    own = scored[_col(scored, "status", "scored").map(_text).isin(_OWN_RESULT) & scored["score"].notna()]
    stats = own.groupby("indicator_code", sort=False).agg(
        count=("score", "size"), mean=("score", "mean"), max=("score", "max"), min=("score", "min"),
        score_sum=("score", "sum"), points_sum=("points_available", "sum"),
    )
    frame = indicators.merge(stats, left_on="indicator_code", right_index=True, how="left")
    frame["mean"] = _round2(frame["mean"])
    frame["rate"] = np.where(frame["points_sum"] > 0, frame["score_sum"] / frame["points_sum"], np.nan)
    frame["count"] = frame["count"].fillna(0)
    return frame


def _group_stats(ranked: pd.DataFrame, grades: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    groups = pd.unique(ranked["group"].astype(object))
    total = pd.to_numeric(ranked["total"], errors="coerce")
    stats = ranked.assign(_t=total).groupby("group", sort=False)["_t"].agg(["size", "mean", "max", "min"]).reindex(groups)
    stats["mean"] = _round2(stats["mean"])
    grade_names = [_text(g) for g in grades["grade"]] if grades is not None and len(grades) else []
    for name in grade_names:
        stats[f"grade::{name}"] = ranked.assign(_hit=ranked["grade"].map(_text).eq(name)).groupby("group", sort=False)["_hit"].sum().reindex(groups)
    return stats.rename_axis("group").reset_index(), grade_names


def _write_stats_sheet(wb, fmts, meta, grades, scored, ranked) -> None:
    """The groups' totals and chart on the first page, then the indicators' table from a new page
    with its own header repeated: a page of the groups never carries the indicators' header."""
    ws = _cell_table_sheet(wb, "统计")
    frame = _indicator_stats(scored) if len(scored) else pd.DataFrame(columns=["indicator_code"])
    cols = [
        Col("一级指标", "category"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("分值", "points", "num", 8),
        Col("考核单位数", "count", "int", 10),
        Col("平均分", "mean", "score", 10),
        Col("最高分", "max", "score", 10),
        Col("最低分", "min", "score", 10),
        Col("得分率", "rate", "pct", 10),
    ]
    for c in cols:
        if c.key not in frame.columns:
            frame[c.key] = None
    cols = _with_subcategory(cols, frame)

    gstats, grade_names = _group_stats(ranked, grades)
    gcols = [
        Col("考核类别", "group"),
        Col("单位数", "size", "int"),
        Col("平均总分", "mean", "score"),
        Col("最高总分", "max", "score"),
        Col("最低总分", "min", "score"),
    ] + [Col(f"{name}（个）", f"grade::{name}", "int") for name in grade_names]
    _write_title(ws, 0, len(cols), f"{_period_label(meta)} 统计", fmts)
    ws.write_string(1, 0, "各考核类别总分", fmts.label)
    head = 2
    for c, spec in enumerate(gcols):
        ws.write_string(head, c, spec.header, fmts.header)
    for r, record in enumerate(gstats.reindex(columns=[c.key for c in gcols]).itertuples(index=False), start=head + 1):
        for c, (spec, value) in enumerate(zip(gcols, record)):
            _write_cell(ws, r, c, value, spec.kind, fmts)
    glast = head + len(gstats)
    chart_rows = 0
    if len(gstats):
        chart = wb.add_chart({"type": "column"})
        chart.add_series({
            "name": "平均总分",
            "categories": ["统计", head + 1, 0, glast, 0],
            "values": ["统计", head + 1, 2, glast, 2],
            "data_labels": {"value": True, "num_format": "0.00"},
            "fill": {"color": "#4472C4"},
        })
        chart.set_title({"name": "各考核类别平均总分", "name_font": {"name": "黑体", "size": 12}})
        chart.set_x_axis({"num_font": {"name": "宋体"}})
        chart.set_y_axis({"name": "平均总分", "min": 0, "name_font": {"name": "宋体"}})
        chart.set_legend({"none": True})
        chart.set_size({"width": 560, "height": 300})
        ws.insert_chart(xl_rowcol_to_cell(glast + 2, 0), chart)
        chart_rows = 17  # 300 px of 20 px rows, and a spare one
    label = glast + 2 + chart_rows + 1
    ws.write_string(label, 0, "各指标得分情况", fmts.label)
    ws.set_h_pagebreaks([label])
    header_row = label + 1
    _write_table(ws, fmts, cols, frame, header_row=header_row)
    # the groups' table and chart are short: the frozen panes and filter belong to the indicators
    ws.freeze_panes(0, 0)
    ws.repeat_rows(header_row, header_row)


def write_summary(
    path: str | Path,
    meta: Any,
    grades: pd.DataFrame,
    scored: pd.DataFrame,
    ranked: pd.DataFrame,
    adjustment_scores: pd.DataFrame | None,
    values: pd.DataFrame | None,
    issues: pd.DataFrame | None,
    missing_units: pd.DataFrame | None,
    previous: Previous | pd.DataFrame | None = None,
    progress: pd.DataFrame | None = None,
    crosscheck: pd.DataFrame | None = None,
    county_totals: pd.DataFrame | None = None,
    appeals: pd.DataFrame | None = None,
    appeal_changes: pd.DataFrame | None = None,
    ratings: Any = None,
    scheme: Any = None,
) -> Path:
    """Write the summary workbook (汇总表) with the sheets in SUMMARY_SHEETS, plus PROGRESS_SHEETS
    when a progress table (progress.progress_table) is given, and 口径核对 when lead-department
    figures were checked (crosscheck.reconcile) or county totals given."""
    previous = _as_previous(previous)
    # Row by row to disk: the big sheets (得分说明, 原始数据) would otherwise sit in memory as cell objects.
    wb = _new_workbook(path, _SUMMARY_OPTIONS)
    fmts = _Formats(wb)
    if "unscored_count" not in ranked.columns:
        ranked = ranked.assign(unscored_count=unscored_counts(ranked, scored))
    _write_ranking_sheet(wb, fmts, meta, grades, ranked, previous, scheme)
    _write_matrix_sheet(wb, fmts, meta, scored, ranked, indicator_total_notes(scored, ranked, meta))
    _write_raw_sheet(wb, fmts, meta, scored, ranked, values)
    _write_audit_sheet(wb, fmts, meta, scored, ranked)
    _write_adjustment_sheet(wb, fmts, meta, ranked, adjustment_scores)
    _write_issues_sheet(wb, fmts, meta, issues)
    _write_missing_sheet(wb, fmts, meta, missing_units)
    _write_stats_sheet(wb, fmts, meta, grades, scored, ranked)
    if progress is not None:
        _write_progress_sheets(wb, fmts, meta, progress, ranked)
    _write_crosscheck_sheet(wb, fmts, meta, crosscheck, county_totals)
    if appeals is not None:  # w-appeal: appeal_report.appeal_rows / change_rows
        _write_appeal_sheets(wb, fmts, meta, appeals, appeal_changes)
    if ratings is not None and scheme is not None:  # w-rating: 测评结果 and 测评票校验
        _write_rating_sheets(wb, fmts, meta, ratings, scheme)
    _close(wb)
    return Path(path)


def _write_rating_sheets(wb, fmts: _Formats, meta: Any, ratings: Any, scheme: Any) -> None:
    from . import rating_report

    ws = wb.add_worksheet(rating_report.RESULT_SHEET)
    _write_display_table(ws, fmts, rating_report.result_frame(ratings, scheme), header_row=1,
                         title=f"{_period_label(meta)} 测评结果（各类测评人的有效评价数、平均分和加权测评值）",
                         kinds=rating_report.SCORE_COLUMNS)
    participation, ballots = rating_report.check_frames(ratings)
    ws = wb.add_worksheet(rating_report.CHECK_SHEET)
    last = _write_display_table(ws, fmts, participation, header_row=1, title=f"{_period_label(meta)} 测评参评情况")
    if len(ballots):
        _write_title(ws, last + 2, len(ballots.columns), "未计入的测评票（作废、空白、重复）", fmts)
        for c, name in enumerate(ballots.columns):
            ws.write_string(last + 3, c, name, fmts.header)
        for r, record in enumerate(ballots.itertuples(index=False), start=last + 4):
            for c, value in enumerate(record):
                _write_cell(ws, r, c, value, "auto", fmts)
        # one set of column widths serves both tables: widen a column the second table needs wider
        for c, name in enumerate(ballots.columns):
            above = participation.iloc[:, c] if c < participation.shape[1] else pd.Series([], dtype=object)
            header = participation.columns[c] if c < participation.shape[1] else name
            texts = _texts(pd.concat([above.astype(object), ballots.iloc[:, c].astype(object)], ignore_index=True))
            longest = max([_display_width(header), _display_width(name), *(_display_width(t) for t in texts)])
            ws.set_column(c, c, min(longest + 2, 60))


CROSSCHECK_SHEET = "口径核对"


def _write_appeal_sheets(wb, fmts: _Formats, meta: Any, appeals: pd.DataFrame, changes: pd.DataFrame | None) -> None:
    _write_display_table(wb.add_worksheet("复核"), fmts, appeals.drop(columns="unit_code"), header_row=1,
                         title=f"{_period_label(meta)} 复核情况（复核结论）")
    ws = wb.add_worksheet("复核前后对比")
    if changes is not None and len(changes):
        _write_display_table(ws, fmts, changes, header_row=1, title="复核前后对比（有变化的单位）")
    else:
        _write_title(ws, 0, 6, f"{_period_label(meta)} 复核前后对比", fmts)
        ws.write_string(2, 0, "复核结论均为维持或调整未改变任何得分、总分、名次和等次。", fmts.note)


def _write_display_table(ws, fmts: _Formats, frame: pd.DataFrame, header_row: int, title: str,
                         kinds: dict[str, str] | None = None) -> int:
    """A table whose columns are already Chinese headers and display values (crosscheck rows);
    `kinds` gives a column a fixed number format (e.g. "score": two decimals)."""
    wide = {"说明", "核定说明", "自报位置", "核定位置", "指标名称", "单位名称", "牵头单位"}
    kinds = kinds or {}
    cols = [Col(name, name, kinds.get(name) or ("wrap" if name in wide else "auto"), 36 if name == "说明" else None)
            for name in frame.columns]
    return _write_table(ws, fmts, cols, frame, header_row=header_row, title=title, readable=True)


def _write_crosscheck_sheet(wb, fmts: _Formats, meta: Any, crosscheck: pd.DataFrame | None,
                            county_totals: pd.DataFrame | None) -> None:
    from .crosscheck import crosscheck_sheet_rows, total_sheet_rows

    pairs = crosscheck_sheet_rows(crosscheck) if crosscheck is not None and len(crosscheck) else None
    totals = total_sheet_rows(county_totals) if county_totals is not None and len(county_totals) else None
    if pairs is None and totals is None:
        return
    ws = wb.add_worksheet(CROSSCHECK_SHEET)
    last = 0
    if pairs is not None:
        last = _write_display_table(ws, fmts, pairs, header_row=1,
                                    title=f"{_period_label(meta)} 口径核对（单位自报值与牵头单位核定值）")
    if totals is not None:
        start = last + 3 if pairs is not None else 1
        if pairs is not None:
            _write_title(ws, start - 1, len(totals.columns), "各单位合计与全县总量核对", fmts)
            for c, name in enumerate(totals.columns):
                ws.write_string(start, c, name, fmts.header)
            for r, record in enumerate(totals.itertuples(index=False), start=start + 1):
                for c, value in enumerate(record):
                    _write_cell(ws, r, c, value, "auto", fmts)
        else:
            _write_display_table(ws, fmts, totals, header_row=1, title=f"{_period_label(meta)} 各单位合计与全县总量核对")


# --------------------------------------------------------------------------- progress


def _progress_frame(progress: pd.DataFrame, ranked: pd.DataFrame | None) -> pd.DataFrame:
    """Display columns; sorted by group and unit in ranking order, then the largest lag first."""
    frame = progress.copy()
    if ranked is not None and len(ranked):
        units = _sort_ranked(ranked)
        frame["_g"] = frame["group"].astype(object).map(_group_positions(units))
        frame["_u"] = frame["unit_code"].astype(object).map({u: i for i, u in enumerate(units["unit_code"])})
    else:
        frame["_g"], frame["_u"] = 0, 0
    frame["_b"] = -pd.to_numeric(frame["behind"], errors="coerce")
    frame = frame.sort_values(["_g", "_u", "_b"], kind="stable", na_position="last").reset_index(drop=True)
    cumulative = frame["cumulative"].fillna(False).astype(bool)
    elapsed = pd.to_numeric(frame["elapsed"], errors="coerce")
    frame["reference"] = pd.Series(np.where(cumulative, elapsed.astype(object), "对标全年目标"), index=frame.index, dtype=object)
    frame["behind_pp"] = round_half_up(pd.to_numeric(frame["behind"], errors="coerce") * 100, 1)
    frame["lag_text"] = np.where(frame["lag"].astype(bool), "是", "")
    for c in ("forecast_linear", "forecast_last_year"):
        frame[c] = _round2(frame[c])
    return frame


def _progress_columns(with_unit: bool, with_lag: bool) -> list[Col]:
    cols = [Col("考核类别", "group"), Col("单位代码", "unit_code"), Col("单位名称", "unit_name")] if with_unit else []
    cols += [
        Col("指标名称", "name", "wrap", 22),
        Col("计量单位", "measure_unit", "text"),
        Col("实际完成值", "value", "num", 11),
        Col("全年目标", "target", "num", 10),
        Col("完成比例", "completion", "pct", 10),
        Col("时间进度", "reference", "pct", 12),
        Col("落后\n（百分点）", "behind_pp", "behind", 10),
    ]
    if with_lag:
        cols.append(Col("预警", "lag_text", "text", 6))
    cols += [
        Col("全年预测\n（按当前进度）", "forecast_linear", "num2", 13),
        Col("全年预测\n（按上年同期）", "forecast_last_year", "num2", 13),
        Col("说明", "note", "wrap", 50),
    ]
    return cols


def _write_progress_sheets(wb, fmts, meta, progress: pd.DataFrame, ranked: pd.DataFrame) -> None:
    frame = _progress_frame(progress, ranked)
    ws = wb.add_worksheet(PROGRESS_SHEETS[0])
    cols = _progress_columns(with_unit=True, with_lag=False)
    lagging = frame[frame["lag"].astype(bool)]
    last = _write_table(ws, fmts, cols, lagging, header_row=1, title=f"{_period_label(meta)} 进度预警（完成进度落后的指标）",
                        header_height=30)
    if last < 2:
        ws.write_string(2, 0, "本期各单位各项指标完成进度均不落后，无预警。", fmts.note)
    ws2 = wb.add_worksheet(PROGRESS_SHEETS[1])
    cols = _progress_columns(with_unit=True, with_lag=True)
    last = _write_table(ws2, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 进度分析及全年预测",
                        header_height=30)
    if last >= 2:
        ws2.conditional_format(2, 0, last, len(cols) - 1, {
            "type": "formula", "criteria": f'=${xl_rowcol_to_cell(2, [c.key for c in cols].index("lag_text"), col_abs=True)}="是"',
            "format": fmts.warning})


def write_issue_report(path: str | Path, meta: Any, issues: pd.DataFrame | None) -> Path:
    """The validation issues alone (`kaohe check`), as a workbook the office can forward."""
    wb = _new_workbook(path)
    _write_issues_sheet(wb, _Formats(wb), meta, issues)
    wb.close()
    return Path(path)


# --------------------------------------------------------------------------- feedback


def _feedback_table(scored: pd.DataFrame, previous: Previous | None) -> pd.DataFrame:
    """Every unit × indicator row with the group's best and mean (aggregates only) and lost points."""
    shown = ["unit_code", "group", "indicator_code", "category", "subcategory", "name", "points_available", "value",
             "text_value", "score", "status", "explanation", "interim_detail"]  # interim_detail: w-interim
    frame = scored[[c for c in shown if c in scored.columns]]
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    # sorted first, and the group figures by transform, not a merge: one copy of a city's table, not three
    frame = frame.assign(_i=frame["indicator_code"].map(ind_order)).sort_values(["unit_code", "_i"], kind="stable")
    frame = frame.reset_index(drop=True)
    status = _col(frame, "status", "scored").map(_text)
    own_score = frame["score"].where(status.isin(_OWN_RESULT).to_numpy())
    peers = own_score.groupby([frame["group"], frame["indicator_code"]], sort=False)
    frame["group_best"] = peers.transform("max")
    frame["group_mean"] = _round2(peers.transform("mean"))
    # Over-completion (上限系数 > 1) can score above the points; that is no negative loss.
    frame["lost"] = _round2(pd.to_numeric(frame["points_available"], errors="coerce") - frame["score"]).clip(lower=0)
    frame["gap_best"] = _round2(frame["group_best"] - frame["score"])
    frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
    if previous is not None and previous.scores is not None:
        prev = previous.scores.rename(columns={"score": "prev_score"})[["unit_code", "indicator_code", "prev_score"]]
        frame = frame.merge(prev.astype({"unit_code": object, "indicator_code": object}), on=["unit_code", "indicator_code"], how="left")
        frame["score_change"] = _round2(frame["score"] - pd.to_numeric(frame["prev_score"], errors="coerce"))
    return frame


def _feedback_header(unit: pd.Series, previous_row: pd.Series | None) -> list[tuple[str, object, str]]:
    rank = _text(unit.get("rank"))
    size = _text(unit.get("group_size"))
    lines = [
        ("单位名称", unit.get("unit_name"), "text"),
        ("单位代码", unit.get("unit_code"), "text"),
        ("考核类别", unit.get("group"), "text"),
        ("总分", unit.get("total"), "score"),
        ("排名", f"第{rank}名/共{size}个" if rank else "", "text"),
        ("等次", unit.get("grade"), "text"),
        ("指标得分", unit.get("indicator_total"), "score"),
        *([("指标得分折算", unit.get(NOTE_COLUMN), "text")] if _text(unit.get(NOTE_COLUMN)) else []),
        ("加分", unit.get("bonus"), "score"),
        ("扣分", unit.get("deduction"), "score"),
        ("否决", _text(unit.get("veto_items")) or "是" if bool(unit.get("vetoed") is True or unit.get("vetoed") == 1) else "无", "text"),
        ("标记", _flags_text(unit.to_frame().T).iloc[0] or "无", "text"),
    ]
    if previous_row is not None:
        prev_total = pd.to_numeric(pd.Series([previous_row.get("total")]), errors="coerce").iloc[0]
        prev_rank = pd.to_numeric(pd.Series([previous_row.get("rank")]), errors="coerce").iloc[0]
        total = pd.to_numeric(pd.Series([unit.get("total")]), errors="coerce").iloc[0]
        rank_now = pd.to_numeric(pd.Series([unit.get("rank")]), errors="coerce").iloc[0]
        change = _round2(pd.Series([total - prev_total])).iloc[0]
        lines += [
            ("上期总分", prev_total, "score"),
            ("分数变化", change, "delta"),
            ("上期排名", prev_rank, "int"),
            ("名次变化", prev_rank - rank_now, "rank_delta"),
        ]
    return lines


def _gap_columns() -> list[Col]:
    # values are numbers (grades for 定性): "auto" writes each as what it is
    kinds = {"得分": "score", "满分": "score", "基本分": "score", "距满分差（分）": "score", "可增加总分": "score",
             "指标名称": "wrap", "说明": "wrap", "实际完成值": "auto", "达到基本分需": "auto", "达到满分需": "auto",
             "升一位需": "auto"}
    widths = {"指标代码": 9, "指标名称": 20, "计分方法": 10, "实际完成值": 11, "得分": 8, "满分": 8,
              "基本分": 8, "达到基本分需": 12, "达到满分需": 12, "升一位需": 11, "距满分差（分）": 10, "可增加总分": 9, "说明": 48}
    return [Col(h, h, kinds.get(h, "text"), widths.get(h)) for h in GAP_SHEET_HEADERS]


def _write_gap_sheet(wb, fmts: _Formats, unit: pd.Series, gap_plan: _PlannedTable) -> None:
    """gap.gap_sheet_rows' table for one unit (headers GAP_SHEET_HEADERS)."""
    ws = wb.add_worksheet(FEEDBACK_GAP_SHEET)
    last = _write_planned(ws, fmts, gap_plan, unit.get("unit_code"), header_row=1,
                          title=f"{_text(unit.get('unit_name'))} 差距分析（达到基本分、满分所需的完成值）", header_height=30)
    if last < 2:
        ws.write_string(2, 0, "没有可测算的指标。", fmts.note)
    else:
        ws.write_string(last + 2, 0, "注：所需值按其他单位完成值不变测算；「可增加总分」为达到满分时总分可增加的分数。", fmts.note)
        if _text(unit.get(GAP_NOTE_COLUMN)):
            ws.write_string(last + 3, 0, _text(unit.get(GAP_NOTE_COLUMN)), fmts.note)


def _write_progress_feedback_sheet(wb, fmts: _Formats, meta: Any, unit: pd.Series, progress_rows: pd.DataFrame) -> None:
    ws = wb.add_worksheet(FEEDBACK_PROGRESS_SHEET)
    frame = _progress_frame(progress_rows, None) if len(progress_rows) else progress_rows.assign(
        reference=None, behind_pp=None, lag_text=None)
    frame = frame[frame["lag"].astype(bool)] if len(frame) else frame
    cols = _progress_columns(with_unit=False, with_lag=False)
    last = _write_table(ws, fmts, cols, frame, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 进度预警（{_text(getattr(meta, 'period', ''))}）",
                        header_height=30)
    if last < 2:
        ws.write_string(2, 0, "各项指标完成进度均不落后于时间进度或目标要求，无预警。", fmts.note)
    else:
        ws.write_string(last + 2, 0, "注：累计类指标按时间进度比较，比率类（%）和反向指标按全年目标直接比较。请对照落后指标加快工作进度。", fmts.note)


def _lag_count_text(progress_rows: pd.DataFrame) -> str:
    n = int(progress_rows["lag"].astype(bool).sum()) if len(progress_rows) else 0
    return f"{n}项指标进度落后（见「{FEEDBACK_PROGRESS_SHEET}」表）" if n else "无"


def _score_columns(with_previous_scores: bool) -> list[Col]:
    cols = [
        Col("一级指标", "category", "text", 14),
        Col("指标名称", "name", "wrap", 28),
        Col("分值", "points_available", "num", 8),
        Col("实际值", "value_number", "num", 10),
        Col("等级", "grade_text", "text", 6),  # 定性 only: dropped for a unit without grades (keep)
        Col("得分", "score", "score", 8),
        Col("失分", "lost", "score", 8),
        Col("组内最高", "group_best", "score", 10),
        Col("组内平均", "group_mean", "score", 10),
        Col("得分说明", "explanation", "wrap", 60),
    ]
    if with_previous_scores:
        cols += [Col("上期得分", "prev_score", "score", 10), Col("变化", "score_change", "delta", 10)]
    return cols


_LOST_COLUMNS = [
    Col("一级指标", "category", "text", 14),
    Col("指标名称", "name", "wrap", 28),
    Col("分值", "points_available", "num", 8),
    Col("得分", "score", "score", 8),
    Col("失分", "lost", "score", 8),
    Col("失分占比", "share", "pct", 10),
    Col("组内最高", "group_best", "score", 10),
    Col("与组内最高差距", "gap_best", "score", 14),
    Col("得分说明", "explanation", "wrap", 60),
]


def _lost_table(rows: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """The 失分分析 rows of every unit: indicators that lost points and the deductions' total,
    most lost first (ties in indicator order, the deductions last), with each one's share."""
    lost = rows[pd.to_numeric(rows["lost"], errors="coerce") > 0]
    deduction = pd.to_numeric(_col(units, "deduction"), errors="coerce")
    docked = units.loc[deduction > 0, ["unit_code"]].assign(_d=deduction[deduction > 0])
    deductions = pd.DataFrame({
        "unit_code": docked["unit_code"].to_numpy(dtype=object), "category": "加扣分", "name": "扣分合计",
        "points_available": np.nan, "score": np.nan, "lost": docked["_d"].to_numpy(dtype=float),
        "explanation": [f"加扣分项目中的扣分合计{_num_text(d)}分" for d in docked["_d"]],
    })
    parts = [part for part in (lost, deductions) if len(part)]
    if not parts:
        return lost.assign(share=np.nan)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    table["_seq"] = np.arange(len(table))
    table["lost"] = pd.to_numeric(table["lost"], errors="coerce")
    table = table.sort_values(["unit_code", "lost", "_seq"], ascending=[True, False, True], kind="stable")
    table = table.reset_index(drop=True)
    lost_values = table["lost"].to_numpy(dtype=float)
    _, starts, stops = _runs(table["unit_code"])
    # numpy's (pairwise) sum of each unit's run, as Series.sum gives it: the shares stay bit-identical.
    total = np.repeat([lost_values[a:b].sum() for a, b in zip(starts, stops)], stops - starts)
    table["share"] = np.where(total > 0, lost_values / np.where(total > 0, total, 1), np.nan)
    return table


class _FeedbackBatch:
    """The tables of a batch of units' feedback workbooks, each table decided and encoded once
    (see _PlannedTable); rows: _feedback_table of these units, gap_rows: gap_sheet_rows(…, None)."""

    def __init__(self, units: pd.DataFrame, rows: pd.DataFrame, with_previous_scores: bool,
                 gap_rows: pd.DataFrame | None = None):
        self.rows = rows.sort_values("unit_code", kind="stable").reset_index(drop=True)
        self.score_columns = _with_subcategory(_score_columns(with_previous_scores), self.rows)
        self.lost_columns = _with_subcategory(list(_LOST_COLUMNS), self.rows)
        self.lost = _lost_table(self.rows, units)
        named = _col(self.rows, "subcategory", None).map(_text).astype(bool)
        self.with_subcategory = set(self.rows.loc[named.to_numpy(), "unit_code"].astype(object))
        graded = _col(self.rows, "grade_text", None).notna()
        self.with_grades = set(self.rows.loc[graded.to_numpy(), "unit_code"].astype(object))
        self.gap_rows = None
        if gap_rows is not None:
            self.gap_rows = gap_rows.sort_values("单位代码", kind="stable").reset_index(drop=True)
        self._plans: dict[tuple, dict[str, _PlannedTable]] = {}

    def plans(self, fmts: _Formats) -> dict[str, _PlannedTable]:
        """The planned tables for workbooks whose formats have fmts' style numbers."""
        key = fmts.xf_signature
        if key not in self._plans:
            cache: dict = {}
            plans = {
                "score": _plan_table(fmts, self.score_columns, self.rows, self.rows["unit_code"], cache),
                "lost": _plan_table(fmts, self.lost_columns, self.lost, self.lost["unit_code"], cache),
            }
            if self.gap_rows is not None:
                plans["gap"] = _plan_table(fmts, _gap_columns(), self.gap_rows, self.gap_rows["单位代码"], cache)
            self._plans[key] = plans
        return self._plans[key]

    def keep(self, columns: list[Col], unit_code: object) -> list[int]:
        """Column positions shown for a unit: 二级指标 only when the unit's indicators have one,
        等级 only when it has 定性 grades."""
        hidden = set()
        if unit_code not in self.with_subcategory:
            hidden.add("subcategory")
        if unit_code not in self.with_grades:
            hidden.add("grade_text")
        return [i for i, c in enumerate(columns) if c.key not in hidden]


def _write_feedback_book(path: Path, meta: Any, unit: pd.Series, batch: _FeedbackBatch, previous_row: pd.Series | None,
                         progress_rows: pd.DataFrame | None = None, crosscheck_rows: pd.DataFrame | None = None,
                         adjustment_rows: pd.DataFrame | None = None,
                         appeal_rows: pd.DataFrame | None = None, rating_rows: pd.DataFrame | None = None) -> Path:
    wb = _new_workbook(path, stream_rows=True)
    fmts = _Formats(wb)
    plans = batch.plans(fmts)
    code = unit.get("unit_code")
    ws = wb.add_worksheet("得分情况")
    keep = batch.keep(batch.score_columns, code)
    _write_title(ws, 0, len(keep), f"{_period_label(meta)} 考核反馈表", fmts)
    header = _feedback_header(unit, previous_row)
    if progress_rows is not None:
        header.append(("进度预警", _lag_count_text(progress_rows), "text"))
    for r, (label, value, kind) in enumerate(header, start=1):
        ws.write_string(r, 0, label, fmts.label)
        block = fmts.block.get(kind, fmts.block["text"])
        ws.merge_range(r, 1, r, 3, "", block)
        _write_cell(ws, r, 1, value, kind, fmts, block)
    _write_planned(ws, fmts, plans["score"], code, header_row=len(header) + 2, keep=keep)

    ws2 = wb.add_worksheet("失分分析")
    last = _write_planned(ws2, fmts, plans["lost"], code, header_row=1, keep=batch.keep(batch.lost_columns, code),
                          title=f"{_text(unit.get('unit_name'))} 失分分析（按失分从多到少）")
    if last < 2:
        ws2.write_string(2, 0, "各项指标均得满分，无失分。", fmts.note)
    if rating_rows is not None and len(rating_rows):  # 测评: the unit's own group means, never a ballot
        _write_feedback_ratings(wb, fmts, unit, rating_rows)
    if adjustment_rows is not None and len(adjustment_rows):
        _write_feedback_adjustments(wb, fmts, meta, unit, adjustment_rows)
    if "gap" in plans:
        _write_gap_sheet(wb, fmts, unit, plans["gap"])
    if progress_rows is not None:
        _write_progress_feedback_sheet(wb, fmts, meta, unit, progress_rows)
    if "interim_detail" in batch.rows.columns:  # w-interim: each source period's 总分 beside the 平时 value
        from .interim_report import write_interim_sheet

        write_interim_sheet(wb, fmts, unit, batch.rows, _write_display_table, _text)
    if crosscheck_rows is not None and len(crosscheck_rows):
        _write_display_table(wb.add_worksheet(CROSSCHECK_SHEET), fmts, crosscheck_rows, header_row=1,
                             title=f"{_text(unit.get('unit_name'))} 口径核对（本单位自报值与牵头单位核定值）")
    if appeal_rows is not None and len(appeal_rows):  # w-appeal: this unit's appeals and their outcome
        _write_display_table(wb.add_worksheet("复核"), fmts, appeal_rows.drop(columns=["unit_code", "登记位置"]), header_row=1,
                             title=f"{_text(unit.get('unit_name'))} 复核申请及结论")
    wb.close()
    return path


_RATING_NOTES = [
    "注：测评票不记名，本表只列各类测评人对本单位评价的汇总结果，不列单张测评票。",
    "平均分为该类测评人对本单位有效评价的平均分（百分制）；有效票数多于去极值人数时，去掉一个最高分和一个最低分后平均。",
    "测评值 = Σ（权重 × 平均分）÷ Σ权重，只计给出有效评价的类别；测评值作为「计入指标」的实际完成值计分，得分计入「得分情况」表。",
]


def _write_feedback_ratings(wb, fmts: _Formats, unit: pd.Series, rows: pd.DataFrame) -> None:
    """rating_report.unit_blocks' rows of one unit: per evaluation and rater group, then the value and score."""
    from .rating_report import FEEDBACK_SHEET

    ws = wb.add_worksheet(FEEDBACK_SHEET)
    kinds = {"有效票数": ("int", 9), "平均分": ("score", 9), "测评值": ("score", 9), "指标分值": ("num", 9),
             "指标得分": ("score", 9), "权重": ("text", 7), "去掉的评价": ("text", 18), "测评": ("wrap", 14),
             "测评人类别": ("wrap", 12), "计入指标": ("wrap", 16), "说明": ("wrap", 22)}
    cols = [Col(name, name, *kinds.get(name, ("text", None))) for name in rows.columns if name != "单位代码"]
    last = _write_table(ws, fmts, cols, rows, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 测评情况（各类测评人的有效票数、平均分和测评值）")
    for i, line in enumerate(_RATING_NOTES):
        ws.write_string(last + 2 + i, 0, line, fmts.note)


def _write_feedback_adjustments(wb, fmts: _Formats, meta: Any, unit: pd.Series, rows: pd.DataFrame) -> None:
    """The unit's own 加分/扣分/否决 items (only written for a unit that has any)."""
    ws = wb.add_worksheet(FEEDBACK_ADJUSTMENT_SHEET)
    frame = rows.assign(kind_zh=_col(rows, "kind", "").map(lambda k: KIND_ZH.get(_text(k), _text(k))))
    last = _write_table(ws, fmts, _adjustment_columns(), frame, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 加扣分明细")
    kinds = _col(frame, "kind", "").map(_text)
    bonus_items = float(pd.to_numeric(frame.loc[kinds.eq("bonus").to_numpy(), "amount"], errors="coerce").sum())
    lines = [f"加分{_score_text(unit.get('bonus'))}分，扣分{_score_text(unit.get('deduction'))}分"
             "（已计入总分，见「得分情况」表）。"]
    note = bonus_cap_note(bonus_items, getattr(meta, "bonus_cap", None))
    if note:
        lines.append(note)
    for i, line in enumerate(lines):
        ws.write_string(last + 2 + i, 0, line, fmts.note)


def _score_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "0.00" if pd.isna(number) else f"{round_half_up(float(number), 2):.2f}"


def _with_total_notes(units: pd.DataFrame, scored: pd.DataFrame, meta: Any) -> pd.DataFrame:
    """units plus the 百分制/权重 sentences of total_note.indicator_total_notes (one per unit)."""
    notes = indicator_total_notes(scored, units, meta)
    return units.assign(**{NOTE_COLUMN: notes[NOTE_COLUMN].to_numpy(), GAP_NOTE_COLUMN: notes[GAP_NOTE_COLUMN].to_numpy()})


def _unit_crosscheck(crosscheck: pd.DataFrame | None, unit_code: str) -> pd.DataFrame | None:
    if crosscheck is None or not len(crosscheck):
        return None
    from .crosscheck import unit_crosscheck_rows

    return unit_crosscheck_rows(crosscheck, unit_code)


def _feedback_path(folder: Path, unit: pd.Series) -> Path:
    return folder / (safe_filename(f"{_text(unit.get('unit_code'))}_{_text(unit.get('unit_name'))}") + ".xlsx")


def _slicer(frame: pd.DataFrame, keys: pd.Series):
    """A function key -> frame's rows with that key (an empty frame when none), sliced when asked."""
    positions = pd.Series(np.arange(len(frame))).groupby(keys.astype(object).to_numpy(), sort=False).indices
    empty = frame.iloc[0:0]
    return lambda key: frame.iloc[positions[key]] if key in positions else empty


def _unit_slicer(frame: pd.DataFrame | None, column: str):
    """A function unit_code -> that unit's rows, renumbered; None without a frame."""
    if frame is None:
        return None
    rows_of = _slicer(frame, frame[column])
    return lambda code: rows_of(code).reset_index(drop=True)


def _write_feedback_batch(folder: Path, meta: Any, units: pd.DataFrame, rows: pd.DataFrame, prev_totals: pd.DataFrame | None,
                          with_previous_scores: bool, gap: pd.DataFrame | None = None,
                          progress_rows: pd.DataFrame | None = None, crosscheck: pd.DataFrame | None = None,
                          adjustments: pd.DataFrame | None = None, appeals: pd.DataFrame | None = None,
                          ratings: pd.DataFrame | None = None) -> list[Path]:
    """Write a batch of units' workbooks; gap is gap.gap_table's rows of these units (at least)."""
    batch = _FeedbackBatch(units, rows, with_previous_scores, gap_sheet_rows(gap, None) if gap is not None else None)
    progress_of = _unit_slicer(progress_rows, "unit_code")
    adjustments_of = _unit_slicer(adjustments if adjustments is not None and len(adjustments) else None, "unit_code")
    appeals_of = _unit_slicer(appeals, "unit_code")
    ratings_of = _unit_slicer(ratings, "单位代码")
    prev_by_unit = prev_totals.set_index("unit_code") if prev_totals is not None else None
    paths = []
    for _, unit in units.iterrows():
        code = unit["unit_code"]
        prev_row = None
        if prev_by_unit is not None and code in prev_by_unit.index:
            prev_row = prev_by_unit.loc[code]
            if isinstance(prev_row, pd.DataFrame):
                prev_row = prev_row.iloc[0]
        elif prev_by_unit is not None:
            prev_row = pd.Series({"total": np.nan, "rank": np.nan})
        paths.append(_write_feedback_book(_feedback_path(folder, unit), meta, unit, batch, prev_row,
                                          progress_of(code) if progress_of else None, _unit_crosscheck(crosscheck, code),
                                          adjustments_of(code) if adjustments_of else None,
                                          appeals_of(code) if appeals_of else None,
                                          ratings_of(code) if ratings_of else None))
    release_unused()
    return paths


def write_feedback(path: str | Path, meta: Any, unit_code: str, scored: pd.DataFrame, ranked: pd.DataFrame,
                   previous: Previous | pd.DataFrame | None = None, gap: pd.DataFrame | None = None,
                   progress: pd.DataFrame | None = None, crosscheck: pd.DataFrame | None = None,
                   adjustments: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None) -> Path:
    """One unit's feedback workbook; other units appear only through group best/mean.

    gap: gap.gap_table (adds the 差距分析 sheet); progress: progress.progress_table (adds 进度预警);
    ratings (the RatingOutcome, with its scheme) adds 测评情况.
    """
    previous = _as_previous(previous)
    table = _feedback_table(scored, previous)
    units = _with_total_notes(ranked[ranked["unit_code"] == unit_code], scored[scored["unit_code"] == unit_code], meta)
    unit = units.iloc[0]
    prev_row = None
    if previous is not None:
        match = previous.totals[previous.totals["unit_code"] == unit_code]
        prev_row = match.iloc[0] if len(match) else pd.Series({"total": np.nan, "rank": np.nan})
    with_prev_scores = previous is not None and previous.scores is not None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the unit's gap rows only: the sheet rows of every unit would be built to keep one
    gap_rows = gap_sheet_rows(gap[gap["unit_code"].astype(object).eq(unit_code)], None) if gap is not None else None
    batch = _FeedbackBatch(units, table[table["unit_code"] == unit_code], with_prev_scores, gap_rows)
    progress_rows = progress[progress["unit_code"] == unit_code] if progress is not None else None
    adjustment_rows = adjustments[adjustments["unit_code"] == unit_code] if adjustments is not None else None
    rating_rows = _rating_rows(ratings, scheme, scored)
    if rating_rows is not None:
        rating_rows = rating_rows[rating_rows["单位代码"] == unit_code]
    return _write_feedback_book(path, meta, unit, batch, prev_row, progress_rows, _unit_crosscheck(crosscheck, unit_code),
                                adjustment_rows, rating_rows=rating_rows)


def _rating_rows(ratings: Any, scheme: Any, scored: pd.DataFrame) -> pd.DataFrame | None:
    """Every unit's 测评情况 rows (rating_report.unit_blocks); None when the scheme has no 测评."""
    if ratings is None or scheme is None or not len(getattr(scheme, "ratings", ())):
        return None
    from .rating_report import unit_blocks

    return unit_blocks(ratings, scheme, scored)


def write_all_feedback(folder: str | Path, meta: Any, scored: pd.DataFrame, ranked: pd.DataFrame,
                       previous: Previous | pd.DataFrame | None = None, workers: int | None = None,
                       gap: pd.DataFrame | None = None, progress: pd.DataFrame | None = None,
                       crosscheck: pd.DataFrame | None = None, adjustments: pd.DataFrame | None = None,
                       appeals: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None) -> list[Path]:
    """`<单位代码>_<单位名称>.xlsx` for every ranked unit; workers=1 writes serially.

    gap (gap.gap_table, computed once per run) adds a 差距分析 sheet, progress
    (progress.progress_table) a 进度预警 sheet, ratings (the RatingOutcome, with the scheme that
    has the 测评) a 测评情况 sheet; each worker gets its units' slices only.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _as_previous(previous)
    table = _feedback_table(scored, previous)
    rating_rows = _rating_rows(ratings, scheme, scored)
    release_unused()  # the table's temporaries
    units = _with_total_notes(_sort_ranked(ranked), scored, meta)
    prev_totals = previous.totals if previous is not None else None
    with_prev_scores = previous is not None and previous.scores is not None
    if workers is None:
        # A process pool only pays off once there are many workbooks to write.
        workers = 1 if len(units) < 40 else max(1, min(os.cpu_count() or 1, 8))
    if workers <= 1 or len(units) <= 1:
        return _write_feedback_batch(folder, meta, units, table, prev_totals, with_prev_scores, gap, progress,
                                     crosscheck, adjustments, appeals, rating_rows)
    size = max(1, math.ceil(len(units) / (workers * 4)))
    batches = [units.iloc[i:i + size] for i in range(0, len(units), size)]
    batch_of = {code: i for i, batch in enumerate(batches) for code in batch["unit_code"]}

    def slicer(frame: pd.DataFrame | None, column: str):
        """batch number -> that batch's rows of frame, sliced only when the batch is sent."""
        return (lambda i: None) if frame is None else _slicer(frame, frame[column].astype(object).map(batch_of))

    # each batch's gap rows become sheet rows in its worker: all at once they would double the gap table
    tables, gaps, progresses = slicer(table, "unit_code"), slicer(gap, "unit_code"), slicer(progress, "unit_code")
    checks = slicer(crosscheck if crosscheck is not None and len(crosscheck) else None, "unit_code")
    items = slicer(adjustments if adjustments is not None and len(adjustments) else None, "unit_code")
    appeals_by = slicer(appeals, "unit_code")
    ratings_by = slicer(rating_rows, "单位代码")
    paths: list[Path] = []
    release_unused()  # workers are forked from this process: let them start small
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # a few batches in flight: all of them queued at once would copy the whole table into their arguments
        in_flight: deque = deque()
        for i, batch in enumerate(batches):
            in_flight.append(pool.submit(_write_feedback_batch, folder, meta, batch, tables(i), prev_totals,
                                         with_prev_scores, gaps(i), progresses(i), checks(i), items(i), appeals_by(i),
                                         ratings_by(i)))
            if len(in_flight) >= 2 * workers:
                paths.extend(in_flight.popleft().result())
        while in_flight:
            paths.extend(in_flight.popleft().result())
    return paths


# --------------------------------------------------------------------------- csv


def _by_distinct(values: np.ndarray, show) -> list[str]:
    """show(v) for every float in values, computed once per distinct bit pattern."""
    bits, inverse = np.unique(np.asarray(values, dtype=float).view(np.int64), return_inverse=True)
    shown = [show(v) for v in bits.view(float).tolist()]
    return [shown[i] for i in inverse.tolist()]


def _fmt2(series: pd.Series) -> pd.Series:
    numbers = _round2(pd.to_numeric(series, errors="coerce")).to_numpy(dtype=float)
    return pd.Series(_by_distinct(numbers, lambda v: f"{v:.2f}" if v == v else ""), index=series.index, dtype=object)


def _csv_cells(series: pd.Series, numbers_plain: bool) -> list[str]:
    """csv_safe(_text(v)) of every value; with numbers_plain, numbers as _num_text (never quoted)."""
    if series.dtype.kind == "f":
        return _texts(series) if numbers_plain else [csv_safe(t) for t in _texts(series)]
    texts = _texts(series)
    safe: dict[str, str] = {}
    out = [safe[t] if t in safe else safe.setdefault(t, csv_safe(t)) for t in texts]
    if numbers_plain and (series.dtype == object or series.dtype.kind in "iu"):
        for i, v in enumerate(series.tolist()):
            if _is_number(v):
                out[i] = _num_text(v)
    return out


def _fmt_plain(series: pd.Series) -> pd.Series:
    return pd.Series(_csv_cells(series, True), index=series.index, dtype=object)


def _csv_text(series: pd.Series) -> pd.Series:
    return pd.Series(_csv_cells(series, False), index=series.index, dtype=object)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def write_csvs(folder: str | Path, period: str, scored: pd.DataFrame, ranked: pd.DataFrame) -> list[Path]:
    """scores.csv (unit × indicator) and totals.csv (unit), UTF-8 with BOM, Chinese headers."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    units = _sort_ranked(ranked)
    unit_order = {u: i for i, u in enumerate(units["unit_code"])}
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    rows = scored.assign(_u=scored["unit_code"].map(unit_order), _i=scored["indicator_code"].map(ind_order))
    rows = rows.sort_values(["_u", "_i"], kind="stable")
    value = _value_display(rows)
    scores = pd.DataFrame({
        "考核周期": csv_safe(_text(period)),
        "单位代码": _csv_text(rows["unit_code"]),
        "单位名称": _csv_text(_col(rows, "unit_name", "")),
        "考核类别": _csv_text(_col(rows, "group", "")),
        "指标代码": _csv_text(rows["indicator_code"]),
        "指标名称": _csv_text(_col(rows, "name", "")),
        "实际值": _fmt_plain(value),
        "得分": _fmt2(rows["score"]),
        "分值": _fmt_plain(_col(rows, "points")),
        "计分方法": _csv_text(_method_display(rows)),
    }, columns=SCORES_CSV_COLUMNS)
    rank = pd.to_numeric(units["rank"], errors="coerce")
    totals = pd.DataFrame({
        "考核周期": csv_safe(_text(period)),
        "单位代码": _csv_text(units["unit_code"]),
        "单位名称": _csv_text(units["unit_name"]),
        "考核类别": _csv_text(units["group"]),
        "指标得分": _fmt2(units["indicator_total"]),
        "加分": _fmt2(units["bonus"]),
        "扣分": _fmt2(units["deduction"]),
        "总分": _fmt2(units["total"]),
        "排名": pd.Series([str(int(v)) if not _missing(v) else "" for v in rank], index=units.index, dtype=object),
        "等次": _csv_text(units["grade"]),
        "否决": pd.Series(np.where(_col(units, "vetoed", False).fillna(False).astype(bool), "是", "否"), index=units.index, dtype=object),
    }, columns=TOTALS_CSV_COLUMNS)
    paths = [folder / "scores.csv", folder / "totals.csv"]
    _write_csv(scores, paths[0])
    _write_csv(totals, paths[1])
    return paths
