"""口径核对: the same figure reported by a unit and by its lead department (牵头单位) must agree.

When both exist the lead department's verified value (核定值) is the one scored; every
pair is listed with both figures and where each came from, so a difference can be
traced to the two cells it comes from. Pure functions over frames; no I/O.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kaohe_excel.inputs.number_text import plain
from kaohe_excel.scoring.score import round_half_up

KEYS = ["unit_code", "indicator_code"]
VERIFIED_COLUMNS = ["unit_code", "indicator_code", "verified_value", "verified_text", "lead_unit", "note",
                    "file", "sheet", "cell"]
CROSSCHECK_COLUMNS = [
    "unit_code", "unit_name", "indicator_code", "name", "measure_unit",
    "self_value", "self_text", "self_file", "self_sheet", "self_cell",
    "verified_value", "verified_text", "lead_unit", "lead_file", "lead_sheet", "lead_cell", "lead_note",
    "difference", "relative_difference", "tolerance", "status", "value_source",
]
TOTAL_COLUMNS = ["indicator_code", "name", "measure_unit", "unit_count", "unit_sum", "county_total", "difference",
                 "relative_difference", "tolerance", "status"]

AGREE = "一致"
DIFFER = "不一致"
NO_VERIFIED = "缺少核定值"
NO_SELF = "缺少自报值"
NO_UNIT_DATA = "缺少单位数据"
SELF = "自报"
VERIFIED = "核定"
DEFAULT_TOLERANCE = 0.005
# Problems first in every listing a person reads.
STATUS_ORDER = {DIFFER: 0, NO_VERIFIED: 1, NO_SELF: 2, AGREE: 3}

SHEET_HEADERS = ["单位代码", "单位名称", "指标代码", "指标名称", "计量单位", "自报值", "核定值", "差额（自报−核定）",
                 "相对差异（%）", "容差（%）", "核对结果", "计分采用", "牵头单位", "核定说明", "自报位置", "核定位置", "说明"]
UNIT_HEADERS = ["指标代码", "指标名称", "计量单位", "本单位自报值", "牵头单位核定值", "差额（自报−核定）", "相对差异（%）",
                "核对结果", "计分采用", "牵头单位", "核定说明", "说明"]


def empty_verified() -> pd.DataFrame:
    """The verified-values frame with no rows (no lead workbook received)."""
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in VERIFIED_COLUMNS})
    return frame.astype({"verified_value": float})


def _text(series: pd.Series) -> pd.Series:
    """Grade texts as object with None for "no text" (NaN, None and "" alike)."""
    series = series.astype(object)
    return series.where(series.notna() & (series.astype(str) != ""), None)


def _present(value: pd.Series, text: pd.Series) -> pd.Series:
    return value.notna() | text.notna()


def indicator_tolerances(scheme, tolerance_default: float = DEFAULT_TOLERANCE,
                         tolerances: dict[str, float] | None = None) -> pd.Series:
    """Relative tolerance per indicator code: `tolerances` first, then the scheme's optional
    `tolerance` column (指标 核对容差), then the default."""
    indicators = scheme.indicators
    codes = indicators["indicator_code"]
    if "tolerance" in indicators:
        column = pd.to_numeric(indicators["tolerance"], errors="coerce").to_numpy(dtype=float)
    else:
        column = np.full(len(indicators), np.nan)
    series = pd.Series(column, index=codes.to_numpy(), dtype=float)
    if tolerances:
        given = pd.Series(tolerances, dtype=float)
        series = given.combine_first(series)
    return series.fillna(tolerance_default)


def covered_indicators(verified: pd.DataFrame, scheme) -> set[str]:
    """Indicators a received lead workbook answers for: every 自报 indicator its lead
    department leads, whether or not each row was filled."""
    if verified is None or verified.empty:
        return set()
    indicators = scheme.indicators
    leads = set(verified["lead_unit"].dropna())
    led = indicators.loc[indicators["lead_unit"].isin(leads) & (indicators["source"] == "self"), "indicator_code"]
    return set(led) | set(verified["indicator_code"].dropna())


def reconcile(values: pd.DataFrame, verified: pd.DataFrame | None, scheme,
              tolerance_default: float = DEFAULT_TOLERANCE,
              tolerances: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored values (the verified value wherever one exists, `value_source` 自报/核定)
    and the crosscheck frame (one row per unit × indicator covered by a lead workbook).

    A scored row taken from the lead workbook carries the lead workbook's file/sheet/cell,
    so the audit trail points at the figure actually scored; the crosscheck keeps both.
    """
    if verified is None:
        verified = empty_verified()
    verified = verified.reindex(columns=VERIFIED_COLUMNS)
    values = values.copy()
    values["text_value"] = _text(values["text_value"])
    verified = verified.assign(verified_value=pd.to_numeric(verified["verified_value"], errors="coerce").astype(float),
                               verified_text=_text(verified["verified_text"]))
    usable = verified[_present(verified["verified_value"], verified["verified_text"])].drop_duplicates(KEYS)
    lead = usable.rename(columns={"lead_unit": "lead_unit", "note": "lead_note", "file": "lead_file",
                                  "sheet": "lead_sheet", "cell": "lead_cell"})

    # Left merge then append: the units' rows keep their order, verified-only rows follow.
    scored = values.merge(lead, on=KEYS, how="left")
    only_verified = lead.merge(values[KEYS], on=KEYS, how="left", indicator="_origin")
    only_verified = only_verified[only_verified["_origin"] == "left_only"].drop(columns="_origin")
    if len(only_verified):
        scored = pd.concat([scored, only_verified], ignore_index=True)
    has_verified = _present(scored["verified_value"], _text(scored["verified_text"]))
    scored["value"] = scored["verified_value"].where(has_verified, scored["value"]).astype(float)
    scored["text_value"] = scored["verified_text"].where(has_verified, scored["text_value"])
    for column in ("file", "sheet", "cell"):
        scored[column] = scored[f"lead_{column}"].where(has_verified, scored[column])
    for column in ("evidence", "note"):
        scored[column] = scored[column].astype(object).where(scored[column].notna(), "")
    scored["unscored"] = scored["unscored"].astype(object).where(~has_verified, False).astype(bool)
    scored["value_source"] = np.where(has_verified, VERIFIED, SELF)
    scored = scored[list(values.columns) + ["value_source"]].reset_index(drop=True)

    covered = covered_indicators(verified, scheme)
    checks = _crosscheck(values[values["indicator_code"].isin(covered)], lead, scheme,
                         indicator_tolerances(scheme, tolerance_default, tolerances))
    return scored, checks


def _crosscheck(values: pd.DataFrame, lead: pd.DataFrame, scheme, tolerance: pd.Series) -> pd.DataFrame:
    own = values.loc[:, KEYS + ["value", "text_value", "file", "sheet", "cell", "unscored"]].rename(columns={
        "value": "self_value", "text_value": "self_text", "file": "self_file", "sheet": "self_sheet", "cell": "self_cell"})
    # An unusable self-report (an error was issued for it) is no figure to compare.
    unusable = own["unscored"].astype(bool)
    own["self_value"] = own["self_value"].where(~unusable).astype(float)
    own["self_text"] = own["self_text"].where(~unusable, None)
    frame = own.drop(columns="unscored").merge(lead, on=KEYS, how="outer")
    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in CROSSCHECK_COLUMNS})
    has_self = _present(frame["self_value"], _text(frame["self_text"]))
    has_verified = _present(frame["verified_value"], _text(frame["verified_text"]))
    frame["tolerance"] = frame["indicator_code"].map(tolerance).fillna(DEFAULT_TOLERANCE).astype(float)
    frame["difference"], frame["relative_difference"] = _differences(frame["self_value"], frame["verified_value"])
    is_text = frame["self_text"].notna() | frame["verified_text"].notna()
    agree_text = frame["self_text"].astype(object) == frame["verified_text"].astype(object)
    agree_number = frame["relative_difference"].abs() <= frame["tolerance"] + 1e-12
    agree = agree_text.where(is_text, agree_number).astype(bool)
    frame["status"] = np.select(
        [has_self & has_verified & agree, has_self & has_verified, has_verified],
        [AGREE, DIFFER, NO_SELF], default=NO_VERIFIED)
    frame["value_source"] = np.where(has_verified, VERIFIED, SELF)

    indicators = scheme.indicators.set_index("indicator_code")
    frame["name"] = frame["indicator_code"].map(indicators["name"])
    frame["measure_unit"] = frame["indicator_code"].map(indicators["measure_unit"])
    # The lead of a row nobody verified is still the indicator's lead department.
    frame["lead_unit"] = frame["lead_unit"].where(frame["lead_unit"].notna(), frame["indicator_code"].map(indicators["lead_unit"]))
    frame["unit_name"] = frame["unit_code"].map(scheme.unit_names())
    unit_order = {code: i for i, code in enumerate(scheme.units["unit_code"])}
    frame["_indicator_order"] = frame["indicator_code"].map(indicators["order"])
    frame["_unit_order"] = frame["unit_code"].map(unit_order)
    frame = frame.sort_values(["_indicator_order", "_unit_order"], kind="stable")
    for column in ("self_text", "verified_text"):
        frame[column] = _text(frame[column])
    for column in ("self_file", "self_sheet", "self_cell", "lead_file", "lead_sheet", "lead_cell", "lead_note"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    return frame[CROSSCHECK_COLUMNS].reset_index(drop=True)


def _differences(value: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """value − reference and that relative to |reference| (0 when both are 0, inf against a 0 reference),
    each rounded to 9 decimals so that a difference at the tolerance compares as written."""
    difference = value - reference
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(reference != 0, difference / reference.abs(), np.where(difference == 0, 0.0, np.inf))
    return difference.round(9), pd.Series(relative, index=value.index).where(difference.notna()).round(9)


def county_total_check(values: pd.DataFrame, totals: dict[str, float],
                       tolerance: float | dict[str, float] = DEFAULT_TOLERANCE, scheme=None) -> pd.DataFrame:
    """Compare, per indicator with a county total (全县总量), the sum of the units' usable
    values with that total. `values` should be the scored values (after `reconcile`)."""
    if not totals:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in TOTAL_COLUMNS})
    codes = list(totals)
    usable = values[~values["unscored"].astype(bool) & values["value"].notna() & values["indicator_code"].isin(codes)]
    grouped = usable.groupby("indicator_code")["value"].agg(["sum", "count"])
    frame = pd.DataFrame({"indicator_code": codes, "county_total": [float(totals[c]) for c in codes]})
    frame["unit_sum"] = frame["indicator_code"].map(grouped["sum"]).astype(float)
    frame["unit_count"] = frame["indicator_code"].map(grouped["count"]).fillna(0).astype(int)
    if isinstance(tolerance, dict):
        frame["tolerance"] = frame["indicator_code"].map(tolerance).fillna(DEFAULT_TOLERANCE).astype(float)
    else:
        frame["tolerance"] = float(tolerance)
    frame["difference"], frame["relative_difference"] = _differences(frame["unit_sum"], frame["county_total"])
    agree = frame["relative_difference"].abs() <= frame["tolerance"] + 1e-12
    frame["status"] = np.select([frame["unit_count"] == 0, agree], [NO_UNIT_DATA, AGREE], default=DIFFER)
    if scheme is not None:
        indicators = scheme.indicators.set_index("indicator_code")
        frame["name"] = frame["indicator_code"].map(indicators["name"]).fillna("")
        frame["measure_unit"] = frame["indicator_code"].map(indicators["measure_unit"]).fillna("")
    else:
        frame["name"] = ""
        frame["measure_unit"] = ""
    return frame[TOTAL_COLUMNS]


# ---------------------------------------------------------------- rows for the workbooks

def _shown(value: pd.Series, text: pd.Series) -> pd.Series:
    """The figure as a person reads it: the grade text, else the number (None when absent)."""
    number = round_half_up(value.astype(float), 6)
    return text.astype(object).where(text.notna(), number.astype(object).where(number.notna(), None))


_plain = plain


def _explain(record: dict) -> str:
    status = record["status"]
    lead = record["lead_unit"] or "牵头单位"
    self_shown = record["self_text"] if record["self_text"] is not None else _plain(record["self_value"]) if not math.isnan(record["self_value"]) else ""
    verified_shown = record["verified_text"] if record["verified_text"] is not None else _plain(record["verified_value"]) if not math.isnan(record["verified_value"]) else ""
    if status == NO_VERIFIED:
        if not self_shown:
            return f"{lead}未填写核定值，单位自报值无效（见校验问题），未计分"
        return f"{lead}未填写核定值，按单位自报值 {self_shown} 计分"
    if status == NO_SELF:
        return f"单位无有效自报值，按{lead}核定值 {verified_shown} 计分"
    if record["self_text"] is not None or record["verified_text"] is not None:
        verb = "一致" if status == AGREE else "不一致"
        return f"自报「{self_shown}」与{lead}核定「{verified_shown}」{verb}，按核定值计分"
    relative = record["relative_difference"]
    gap = "差异无法按比例计算（核定值为0）" if math.isinf(relative) else f"相对差异 {round_half_up(abs(relative) * 100, 2):.2f}%"
    limit = f"容差 {_plain(round_half_up(record['tolerance'] * 100, 4))}%"
    within = "在" + limit + "以内" if status == AGREE else "超过" + limit
    return f"自报 {self_shown} 与{lead}核定 {verified_shown} {gap}，{within}，按核定值计分"


def _where(file: pd.Series, sheet: pd.Series, cell: pd.Series) -> pd.Series:
    located = file.astype(str) + " / " + sheet.astype(str) + "!" + cell.astype(str)
    return located.where(file.astype(str) != "", "").astype(object)


def _sorted_for_reading(crosscheck: pd.DataFrame) -> pd.DataFrame:
    # Stable on the crosscheck's own order (scheme indicator order, then unit order).
    order = crosscheck["status"].map(STATUS_ORDER).fillna(len(STATUS_ORDER))
    return crosscheck.assign(_status_order=order).sort_values("_status_order", kind="stable").drop(columns="_status_order")


def _display_columns(crosscheck: pd.DataFrame) -> pd.DataFrame:
    frame = _sorted_for_reading(crosscheck)
    relative = frame["relative_difference"].astype(float)
    finite = relative.where(np.isfinite(relative))
    shown = pd.DataFrame({
        "shown_self": _shown(frame["self_value"], frame["self_text"]),
        "shown_verified": _shown(frame["verified_value"], frame["verified_text"]),
        "shown_difference": round_half_up(frame["difference"].astype(float), 6).astype(object),
        "shown_relative": round_half_up(finite * 100, 2).astype(object),
        "shown_tolerance": round_half_up(frame["tolerance"].astype(float) * 100, 4),
        "explanation": [_explain(record) for record in frame.to_dict("records")],
    }, index=frame.index)
    return pd.concat([frame, shown], axis=1).reset_index(drop=True)


def crosscheck_sheet_rows(crosscheck: pd.DataFrame) -> pd.DataFrame:
    """The 口径核对 sheet of the summary: Chinese headers, problems first."""
    if crosscheck.empty:
        return pd.DataFrame(columns=SHEET_HEADERS)
    frame = _display_columns(crosscheck)
    rows = pd.DataFrame({
        "单位代码": frame["unit_code"], "单位名称": frame["unit_name"], "指标代码": frame["indicator_code"],
        "指标名称": frame["name"], "计量单位": frame["measure_unit"], "自报值": frame["shown_self"],
        "核定值": frame["shown_verified"], "差额（自报−核定）": frame["shown_difference"], "相对差异（%）": frame["shown_relative"],
        "容差（%）": frame["shown_tolerance"], "核对结果": frame["status"], "计分采用": frame["value_source"] + "值",
        "牵头单位": frame["lead_unit"], "核定说明": frame["lead_note"],
        "自报位置": _where(frame["self_file"], frame["self_sheet"], frame["self_cell"]),
        "核定位置": _where(frame["lead_file"], frame["lead_sheet"], frame["lead_cell"]),
        "说明": frame["explanation"],
    })
    return _nan_to_none(rows)


def unit_crosscheck_rows(crosscheck: pd.DataFrame, unit_code: str) -> pd.DataFrame:
    """One unit's 口径核对 section for its feedback workbook (empty frame when nothing was checked)."""
    mine = crosscheck[crosscheck["unit_code"] == unit_code]
    if mine.empty:
        return pd.DataFrame(columns=UNIT_HEADERS)
    frame = _display_columns(mine)
    rows = pd.DataFrame({
        "指标代码": frame["indicator_code"], "指标名称": frame["name"], "计量单位": frame["measure_unit"],
        "本单位自报值": frame["shown_self"], "牵头单位核定值": frame["shown_verified"], "差额（自报−核定）": frame["shown_difference"],
        "相对差异（%）": frame["shown_relative"], "核对结果": frame["status"], "计分采用": frame["value_source"] + "值",
        "牵头单位": frame["lead_unit"], "核定说明": frame["lead_note"], "说明": frame["explanation"],
    })
    return _nan_to_none(rows)


def total_sheet_rows(check: pd.DataFrame) -> pd.DataFrame:
    """County-total check rows with Chinese headers (for the 口径核对 sheet, below the pairs)."""
    headers = ["指标代码", "指标名称", "计量单位", "报送单位数", "各单位合计", "全县总量", "差额（合计−总量）", "相对差异（%）", "核对结果"]
    if check.empty:
        return pd.DataFrame(columns=headers)
    relative = check["relative_difference"].astype(float)
    rows = pd.DataFrame({
        "指标代码": check["indicator_code"], "指标名称": check["name"], "计量单位": check["measure_unit"],
        "报送单位数": check["unit_count"], "各单位合计": round_half_up(check["unit_sum"].astype(float), 6).astype(object),
        "全县总量": check["county_total"], "差额（合计−总量）": round_half_up(check["difference"].astype(float), 6).astype(object),
        "相对差异（%）": round_half_up(relative.where(np.isfinite(relative)) * 100, 2).astype(object),
        "核对结果": check["status"],
    })
    return _nan_to_none(rows)


def _nan_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)
