"""Progress during the year (月报季评): time progress, lag warnings and year-end forecasts.

Pure functions, no I/O. A monthly or quarterly scheme (周期类型 月度/季度) scores the year so
far: `prorate_thresholds` scales the thresholds of cumulative indicators by the elapsed
share before scoring, and `progress_table` compares each unit's value with its annual
target ("时间过半、任务过半") and forecasts the year. See docs/methods.md, 进度与预测.

Kinds of indicator:
- cumulative (累计类): 方向 正向 and a 计量单位 that is not a rate unit (亿元, 个, 万人…): the
  value grows through the year, so it is compared with the elapsed share of the year.
- rate (比率类: %, ‰, 百分点) and every 反向 indicator: the value is a level, not a sum, so
  it is compared with the annual target directly.
Methods without a target to complete (progress role "skipped" in kaohe_excel/methods/: 定性,
排名, 相对最优, 扣分) are left out: a grade, a position among peers or a count of incidents has
no "share of the year's task".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from kaohe_excel.base.errors import KaoheError
from kaohe_excel.scoring import methods
from kaohe_excel.scoring.explain import format_numbers as _format
from kaohe_excel.scoring.explain import round_half_up
from kaohe_excel.scoring.methods.mirror import is_lower as _is_lower
from kaohe_excel.scoring.methods.mirror import num as _num

PROGRESS_PERIOD_TYPES = ("月度", "季度")
RATE_UNITS = frozenset({"%", "％", "‰", "百分点", "个百分点"})
THRESHOLDS = ("base", "target", "full", "floor")
THRESHOLDS_ZH = {"base": "基本值", "target": "目标值", "full": "满分值", "floor": "不允许值"}

PROGRESS_COLUMNS = ["unit_code", "unit_name", "group", "indicator_code", "name", "measure_unit", "value", "target",
                    "completion", "elapsed", "lag", "forecast_linear", "forecast_last_year", "note",
                    "cumulative", "behind"]
LAST_YEAR_COLUMNS = ["unit_code", "indicator_code", "same_period", "final"]

_YEAR = re.compile(r"(\d{4})")
_MONTH = re.compile(r"(\d{4})(?:-?[Mm]|-)(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-?[Qq](\d)")
# Float noise must not decide a lag at the exact boundary (45/100 vs 0.5 − 0.05).
_EPS = 1e-9


def is_progress_mode(period_type: object) -> bool:
    """True for 月度/季度 schemes: `kaohe run` scores the year so far."""
    return str(period_type or "").strip() in PROGRESS_PERIOD_TYPES


def parse_period(period: object) -> tuple[int, str, int]:
    """(year, kind, index): 2024 → (2024, "year", 0), 2024-06/2024M06/2024-6 → (2024, "month", 6),
    2024Q3/2024-Q3 → (2024, "quarter", 3). Anything else raises KaoheError."""
    text = str(period or "").strip()
    if m := _YEAR.fullmatch(text):
        return int(m[1]), "year", 0
    if m := _MONTH.fullmatch(text):
        if 1 <= int(m[2]) <= 12:
            return int(m[1]), "month", int(m[2])
    elif m := _QUARTER.fullmatch(text):
        if 1 <= int(m[2]) <= 4:
            return int(m[1]), "quarter", int(m[2])
    raise KaoheError(f"无法识别考核周期「{text}」：年度写作 2024，季度写作 2024Q3，月度写作 2024-06")


def elapsed_share(period: object, period_type: object) -> float:
    """The share of the year covered by the period: 2024-06 月度 → 0.5, 2024Q3 季度 → 0.75, 年度 → 1."""
    kind_wanted = {"月度": "month", "季度": "quarter"}.get(str(period_type or "").strip())
    if kind_wanted is None:
        if str(period_type or "").strip() in ("", "年度"):
            return 1.0
        raise KaoheError(f"周期类型只能是 年度 / 季度 / 月度，现为「{period_type}」")
    _, kind, index = parse_period(period)
    if kind != kind_wanted:
        example = "2024-06" if kind_wanted == "month" else "2024Q3"
        raise KaoheError(f"考核周期「{period}」与周期类型「{period_type}」不一致：{period_type}考核的周期应写作 {example}")
    return index / 12.0 if kind == "month" else index * 3 / 12.0


def last_year_keys(period: object) -> tuple[tuple[int, str, int], tuple[int, str, int]]:
    """The parsed ids of last year's same period and last year's annual period (2024-06 → 2023-06, 2023)."""
    year, kind, index = parse_period(period)
    return (year - 1, kind, index), (year - 1, "year", 0)


def _text_col(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str)


def cumulative_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows whose value accumulates through the year: 正向 and not in a rate unit."""
    unit = _text_col(frame, "measure_unit").str.strip()
    lower = _is_lower(frame["direction"]) if "direction" in frame.columns else np.zeros(len(frame), dtype=bool)
    return pd.Series(~lower & ~unit.isin(RATE_UNITS).to_numpy(), index=frame.index)


def prorate_thresholds(frame: pd.DataFrame, elapsed: float) -> pd.DataFrame:
    """Scale base/target/full/floor of cumulative rows by the elapsed share (before scoring).

    Adds `prorated` (bool) and `annual_<threshold>` (the unscaled values) so the progress
    table and the audit trail can show the annual figures.
    """
    out = frame.copy()
    method = _text_col(out, "method")
    prorated = cumulative_mask(out) & ~method.isin(methods.skipped_in_progress()) & (elapsed < 1.0)
    for column in THRESHOLDS:
        annual = _num(out, column)
        out[f"annual_{column}"] = annual
        out[column] = annual.where(~prorated, annual * elapsed)
    out["prorated"] = prorated
    return out


def prorate_note(scored: pd.DataFrame, elapsed: float) -> pd.Series:
    """The audit-trail suffix of prorated rows: （按时间进度50%折算：目标值100→50）."""
    index = scored.index
    rows = scored["prorated"].fillna(False).astype(bool) if "prorated" in scored.columns else pd.Series(False, index=index)
    parts = []
    for column in THRESHOLDS:
        annual = _num(scored, f"annual_{column}")
        shown = rows & annual.notna()
        text = THRESHOLDS_ZH[column] + _format(annual, index, 4) + "→" + _format(_num(scored, column), index, 4)
        parts.append(text.where(shown, ""))
    # "，".join of the non-empty parts, column-wise: a row-wise apply would cost seconds at city scale
    joined = pd.Series("", index=index, dtype=object)
    for part in parts:
        part = part.astype(object)
        separator = np.where(joined.ne("") & part.ne(""), "，", "")
        joined = joined + separator + part
    share = _format(np.full(len(index), elapsed * 100), index, 4)
    note = "（按时间进度" + share + "%折算：" + joined.astype(str) + "）"
    return note.where(rows & joined.ne(""), "")


def _pct(values: pd.Series) -> pd.Series:
    """0.38 → "38.0%" (one decimal, 四舍五入)."""
    return _format(values * 100, values.index, 1) + "%"


def _amount(values: pd.Series, unit: pd.Series) -> pd.Series:
    return _format(values, values.index, 2) + unit


def progress_table(scored: pd.DataFrame, elapsed: float, tolerance: float = 0.05,
                   last_year: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per unit × indicator with a numeric target: completion, lag flag and forecasts.

    `scored` is score_indicators' output (or assignments joined with values); when it has
    `annual_target`/`annual_full` (prorated run) those are the annual targets. `last_year`
    has LAST_YEAR_COLUMNS: last year's value at the same period and at year end.
    Columns: PROGRESS_COLUMNS (`behind` = percentage points behind time progress or target,
    as a fraction; negative when ahead).
    """
    status = _text_col(scored, "status")
    exempt = status.isin(["exempt", "exempt_mean"])
    if "exempt" in scored.columns:
        exempt |= scored["exempt"].fillna(False).astype(bool)
    rows = scored.loc[~_text_col(scored, "method").isin(methods.skipped_in_progress()) & ~exempt].reset_index(drop=True)
    idx = rows.index
    method = _text_col(rows, "method")
    target = _num(rows, "annual_target" if "annual_target" in rows.columns else "target")
    full = _num(rows, "annual_full" if "annual_full" in rows.columns else "full")
    target = target.where(target.notna() | ~method.isin(methods.full_as_target()), full)  # the goal stated only as 满分值
    # a value with an error left unscored is not a result
    value = _num(rows, "value").where(~_text_col(rows, "status").isin(["unscored", "missing"]))
    if "unscored" in rows.columns:
        value = value.where(~rows["unscored"].fillna(False).astype(bool))
    lower = pd.Series(_is_lower(rows["direction"]) if "direction" in rows.columns else False, index=idx)
    cumulative = cumulative_mask(rows)
    unit = _text_col(rows, "measure_unit").str.strip()

    usable = value.notna() & target.notna() & (target > 0)
    lower_zero = usable & lower & (value <= 0)  # 反向 at 0 or below: better than any target
    with np.errstate(divide="ignore", invalid="ignore"):
        completion = pd.Series(np.where(lower, target / value, value / target), index=idx)
    completion = completion.where(usable & ~lower_zero)
    reference = pd.Series(np.where(cumulative, elapsed, 1.0), index=idx)
    behind = round_half_up(reference - completion, 9)
    lag = (behind > tolerance + _EPS).fillna(False).astype(bool)
    forecast_linear = pd.Series(np.where(cumulative, value / elapsed if elapsed > 0 else np.nan, value), index=idx)

    forecast_last_year = pd.Series(np.nan, index=idx)
    if last_year is not None and len(last_year):
        ly = last_year.drop_duplicates(["unit_code", "indicator_code"])
        keys = rows[["unit_code", "indicator_code"]].astype(object)
        merged = keys.merge(ly.astype({"unit_code": object, "indicator_code": object}),
                            on=["unit_code", "indicator_code"], how="left")
        same = pd.to_numeric(merged["same_period"], errors="coerce").set_axis(idx)
        final = pd.to_numeric(merged["final"], errors="coerce").set_axis(idx)
        forecast_last_year = (value * final / same).where((same > 0) & final.notna())

    note = _notes(value, target, completion, reference, behind, lag, cumulative, lower, lower_zero, unit,
                  forecast_linear, forecast_last_year, elapsed)
    out = pd.DataFrame({
        "unit_code": rows["unit_code"], "unit_name": _text_col(rows, "unit_name"), "group": _text_col(rows, "group"),
        "indicator_code": rows["indicator_code"], "name": _text_col(rows, "name"), "measure_unit": unit,
        "value": value, "target": target, "completion": completion, "elapsed": float(elapsed), "lag": lag,
        "forecast_linear": forecast_linear.where(value.notna()), "forecast_last_year": forecast_last_year,
        "note": note, "cumulative": cumulative.astype(bool), "behind": behind,
    }, index=idx)
    return out[PROGRESS_COLUMNS]


def _notes(value, target, completion, reference, behind, lag, cumulative, lower, lower_zero, unit,
           forecast_linear, forecast_last_year, elapsed) -> pd.Series:
    idx = value.index
    done = "完成目标的" + _pct(completion)
    gap_pp = _format(behind.abs() * 100, idx, 1) + "个百分点"
    time_part = "，时间进度" + _pct(reference) + np.where(behind > _EPS, "，落后" + gap_pp,
                                                      np.where(behind < -_EPS, "，超前" + gap_pp, "，与时间进度持平"))
    kind = pd.Series(np.where(lower, "反向指标", "比率类指标"), index=idx, dtype=object)
    level_part = ("（" + kind + "按全年目标直接比较）" + np.where(behind > _EPS, "，低于目标" + gap_pp, "，已达到目标"))
    linear = np.where(cumulative, "，按当前进度预计全年完成", "，预计全年") + _amount(forecast_linear, unit)
    ly = pd.Series(np.where(forecast_last_year.notna(), "；按上年同期进度推算全年" + _amount(forecast_last_year, unit), ""),
                   index=idx, dtype=object)
    main = done + pd.Series(np.where(cumulative, time_part, level_part), index=idx, dtype=object) + linear + ly
    note = pd.Series(np.select(
        [value.isna(), lower_zero, target.isna() | (target <= 0), completion.notna()],
        ["未报送实际完成值，无法测算进度",
         "实际值" + _format(value, idx, 4) + unit + "，优于全年目标" + _format(target, idx, 4) + unit,
         "无全年目标值，不测算完成进度",
         main], default=""), index=idx, dtype=object)
    return note

