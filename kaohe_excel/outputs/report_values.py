"""What the output workbooks and csv files show of a value: texts, numbers, display widths, the
ranking order and the display columns derived from scored rows; and last period's results (Previous)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.base.safety import csv_unquote
from kaohe_excel.base.text_width import display_width, display_widths
from kaohe_excel.scoring.score import round_half_up


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
# Tables shorter than this are written cell by cell (see _write_rows).
SMALL_TABLE = 200


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
    """Column width units of the longest line (text_width: CJK and full-width characters count as 2)."""
    return display_width(max((line for line in str(text).split("\n")), key=len, default=""))


def _distinct_texts(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """(position of each text among the distinct ones, the distinct texts in order of first appearance)."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
    return codes, list(uniques)


def _line_widths(texts: list[str]) -> np.ndarray:
    """_display_width of every text (all strings), fast for the common single-line text; a long
    list (names repeated on every unit's rows) measures each distinct text once."""
    if len(texts) > 256:
        codes, uniques = _distinct_texts(texts)
        if len(uniques) < len(texts):
            return _line_widths(uniques)[codes]
    widths = display_widths(texts).astype(float)
    for i in [i for i, t in enumerate(texts) if "\n" in t]:
        widths[i] = _display_width(texts[i])
    return widths


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
    # the first row of each indicator found on three columns, then only those rows taken: a copy of
    # the scores' columns would cost ~100 MB at 10,000 units
    keys = pd.DataFrame({"_order": pd.to_numeric(_col(scored, "order"), errors="coerce").to_numpy(),
                         "_seen": np.arange(len(scored)),
                         "indicator_code": _col(scored, "indicator_code").reset_index(drop=True)})
    first = keys.sort_values(["_order", "_seen"], kind="stable").drop_duplicates("indicator_code")
    table = scored.iloc[first["_seen"].to_numpy()][[c for c in cols if c in scored.columns]]
    table = table.assign(**{c: None for c in cols if c not in scored.columns},
                         _order=first["_order"].to_numpy(), _seen=first["_seen"].to_numpy())
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
    if len(frame) > SMALL_TABLE and keys:
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
