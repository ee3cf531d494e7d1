"""What-if simulation (模拟测算): re-score a period with some values changed and compare totals, ranks and grades."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.base.errors import KaoheError
from kaohe_excel.scoring.explain import round_half_up, show_numbers
from kaohe_excel.scoring.methods.mirror import num


# --------------------------------------------------------------------------- changes


_CHANGE = re.compile(r"^\s*([A-Za-z0-9_-]{1,32})\s*[:：]\s*([^=＝\s]+)\s*[=＝]\s*(.+?)\s*$")


def parse_changes(items: list[str]) -> dict[tuple[str, str], Any]:
    """["XZ01:A01=8.5", "XZ01:C1=优"] → {("XZ01", "A01"): 8.5, ("XZ01", "C1"): "优"}.

    Plain numbers (full-width digits too) become floats; anything else stays text: a grade
    for 定性, or a number with its unit (8.5亿元, 85%) that simulate reads with the
    indicator's 计量单位. Malformed items raise KaoheError listing each one.
    """
    changes: dict[tuple[str, str], Any] = {}
    problems: list[str] = []
    for item in items:
        match = _CHANGE.match(str(item))
        if not match:
            problems.append(f"「{item}」格式不对，应写成 单位代码:指标代码=值，例如 XZ01:A01=8.5")
            continue
        unit, code, raw = match.groups()
        if (unit, code) in changes:
            problems.append(f"「{item}」重复设定了 {unit} 的指标 {code}")
            continue
        text = unicodedata.normalize("NFKC", raw).strip()
        try:
            number = float(text)
            changes[(unit, code)] = number if math.isfinite(number) else text
        except ValueError:
            changes[(unit, code)] = text
    if problems:
        raise KaoheError("模拟测算的设定值有误：\n" + "\n".join("  " + p for p in problems))
    return changes


# --------------------------------------------------------------------------- simulation


SIM_TOTAL_COLUMNS = ["unit_code", "unit_name", "group", "total_before", "total_after", "total_delta", "rank_before",
                     "rank_after", "rank_delta", "grade_before", "grade_after", "grade_changed"]
SIM_SCORE_COLUMNS = ["unit_code", "unit_name", "indicator_code", "name", "changed", "value_before", "value_after",
                     "score_before", "score_after", "score_delta"]


@dataclass
class SimulationResult:
    """Before/after of a what-if run. `totals` has one row per unit (rank_delta > 0 = moved up);
    `scores` lists the set values and every indicator score that moved (group-relative
    methods move the peers too)."""

    before: Any  # period_scoring.Results
    after: Any
    totals: pd.DataFrame
    scores: pd.DataFrame


def _display_values(frame: pd.DataFrame) -> pd.Series:
    text = frame["text_value"].astype(object).where(frame["text_value"].notna(), "").astype(str)
    number = show_numbers(num(frame, "value"), frame.index).where(num(frame, "value").notna(), "")
    return pd.Series(np.where(text.str.strip() != "", text, number), index=frame.index, dtype=object)


def apply_changes(scheme: Any, values: pd.DataFrame, changes: dict[tuple[str, str], Any]) -> pd.DataFrame:
    from kaohe_excel.inputs.validate import parse_value

    assigned = scheme.assignments()
    assigned = assigned.assign(unit_code=assigned["unit_code"].astype(object),
                               indicator_code=assigned["indicator_code"].astype(object))
    wanted = pd.DataFrame([(u, i, v) for (u, i), v in changes.items()], columns=["unit_code", "indicator_code", "new"])
    wanted = wanted.astype({"unit_code": object, "indicator_code": object, "new": object})
    joined = wanted.merge(assigned[["unit_code", "indicator_code", "method", "exempt", "tier_table", "measure_unit"]],
                          on=["unit_code", "indicator_code"], how="left")
    units = set(scheme.units["unit_code"].astype(str))
    grades = scheme.tier_tables[scheme.tier_tables["level"].fillna("").astype(str).str.strip() != ""]
    problems: list[str] = []
    numbers: dict[tuple[str, str], float] = {}
    for row in joined.itertuples(index=False):  # a handful of user-typed settings, not a scoring path
        where = f"{row.unit_code}:{row.indicator_code}"
        if row.unit_code not in units:
            problems.append(f"{where}：没有单位代码 {row.unit_code}")
        elif not isinstance(row.method, str):
            problems.append(f"{where}：指标 {row.indicator_code} 不存在或不适用于该单位")
        elif bool(row.exempt):
            problems.append(f"{where}：该单位此指标不考核，无需模拟")
        elif row.method == "定性":
            levels = grades.loc[grades["tier_table"].astype(object).eq(row.tier_table), "level"].astype(str).str.strip()
            if str(row.new).strip() not in set(levels):
                problems.append(f"{where}：定性指标应填等级（{'、'.join(levels)}），不能是「{row.new}」")
        elif isinstance(row.new, str):
            parsed = parse_value(row.new, row.measure_unit if isinstance(row.measure_unit, str) else "")
            if parsed.problem is not None or parsed.text is not None:
                problems.append(f"{where}：「{row.new}」不是数字")
            else:
                numbers[(row.unit_code, row.indicator_code)] = parsed.value
    if problems:
        raise KaoheError("无法模拟测算：\n" + "\n".join("  " + p for p in problems))

    is_grade = joined["method"].eq("定性")
    parsed_new = [numbers.get((u, i), v) for u, i, v in zip(joined["unit_code"], joined["indicator_code"], joined["new"])]
    joined["new"] = pd.Series(parsed_new, index=joined.index, dtype=object)
    new = pd.DataFrame({
        "unit_code": joined["unit_code"], "indicator_code": joined["indicator_code"],
        "value": pd.to_numeric(joined["new"].where(~is_grade), errors="coerce").astype(float),
        "text_value": joined["new"].where(is_grade).map(lambda v: str(v).strip() if isinstance(v, str) else None)
        .astype(object),
    })
    values = values.copy()
    key = pd.MultiIndex.from_frame(values[["unit_code", "indicator_code"]].astype(object))
    hit = key.isin(pd.MultiIndex.from_frame(new[["unit_code", "indicator_code"]]))
    lookup = new.set_index(["unit_code", "indicator_code"])
    values["value"] = values["value"].astype(float)
    values["text_value"] = values["text_value"].astype(object)
    values.loc[hit, "value"] = lookup["value"].reindex(key[hit]).to_numpy()
    values.loc[hit, "text_value"] = lookup["text_value"].reindex(key[hit]).to_numpy()
    values.loc[hit, "unscored"] = False
    present = pd.MultiIndex.from_frame(new[["unit_code", "indicator_code"]]).isin(key)
    added = new.loc[~present].assign(evidence="", note="模拟测算", file="", sheet="", cell="", unscored=False)
    if len(added):
        values = pd.concat([values, added.reindex(columns=values.columns)], ignore_index=True)
    return values


def _without_overrides(validated: Any, changes: dict[tuple[str, str], Any]) -> dict[str, pd.DataFrame]:
    """The simulated figure is the one scored: a lead department's 核定值 or a 复核 decision on the
    same unit × indicator would replace it in score_period, and the what-if would show no change."""
    if not changes:
        return {}
    pairs = pd.MultiIndex.from_tuples(list(changes))
    out = {}
    for name in ("verified", "appeals"):
        frame = getattr(validated, name, None)
        if frame is None or not len(frame):
            continue
        key = pd.MultiIndex.from_frame(frame[["unit_code", "indicator_code"]].astype(object))
        out[name] = frame[~key.isin(pairs)].reset_index(drop=True)
    return out


def simulate(results_or_frames: Any, changes: dict[tuple[str, str], Any]) -> SimulationResult:
    """Re-score with some values changed; `results_or_frames` is period_scoring.Results or (scheme, validated).

    Unknown units, indicators that do not apply, exempt pairs, text for numeric indicators
    and unknown grades raise KaoheError with every problem listed.
    """
    from kaohe_excel.scoring import period_scoring

    if isinstance(results_or_frames, tuple):
        scheme, validated = results_or_frames
        before = period_scoring.score_period(scheme, validated)
    else:
        before = results_or_frames
        scheme, validated = before.scheme, before.validated
    changed = replace(validated, values=apply_changes(scheme, validated.values, changes), **_without_overrides(validated, changes))
    after = period_scoring.score_period(scheme, changed)

    b = before.ranked[["unit_code", "unit_name", "group", "total", "rank", "grade"]]
    a = after.ranked[["unit_code", "total", "rank", "grade"]]
    totals = b.merge(a, on="unit_code", suffixes=("_before", "_after"))
    totals["total_delta"] = round_half_up(totals["total_after"] - totals["total_before"])
    totals["rank_delta"] = totals["rank_before"] - totals["rank_after"]
    totals["grade_changed"] = totals["grade_before"].astype(object) != totals["grade_after"].astype(object)

    cols = ["unit_code", "indicator_code", "value", "text_value", "score"]
    sb = before.scored[["unit_name", "name"] + cols]
    sa = after.scored[cols]
    scores = sb.merge(sa, on=["unit_code", "indicator_code"], suffixes=("_before", "_after"))
    pairs = pd.MultiIndex.from_tuples(list(changes)) if changes else pd.MultiIndex.from_arrays([[], []])
    scores["changed"] = pd.MultiIndex.from_frame(scores[["unit_code", "indicator_code"]].astype(object)).isin(pairs)
    sb_, sa_ = scores["score_before"], scores["score_after"]
    moved = ~((sb_ == sa_) | (sb_.isna() & sa_.isna()))
    scores["value_before"] = _display_values(scores.rename(columns={"value_before": "value", "text_value_before": "text_value"}))
    scores["value_after"] = _display_values(scores.rename(columns={"value_after": "value", "text_value_after": "text_value"}))
    scores["score_delta"] = round_half_up(sa_.fillna(0.0) - sb_.fillna(0.0))
    scores = scores[scores["changed"] | moved].sort_values(["changed", "unit_code", "indicator_code"],
                                                           ascending=[False, True, True])
    return SimulationResult(before, after, totals[SIM_TOTAL_COLUMNS].reset_index(drop=True),
                            scores[SIM_SCORE_COLUMNS].reset_index(drop=True))


# The Chinese headers of SimulationResult.scores, as the console and the web page show them.
SCORE_HEADERS = {
    "unit_code": "单位代码", "unit_name": "单位名称", "indicator_code": "指标代码", "name": "指标名称",
    "changed": "是否设定", "value_before": "原值", "value_after": "模拟值", "score_before": "原得分",
    "score_after": "模拟得分", "score_delta": "变化",
}


def simulation_rows(sim: SimulationResult, only_changed: bool = True) -> pd.DataFrame:
    """Totals before/after with Chinese headers (console table); only units whose total, rank or grade moved."""
    t = sim.totals
    if only_changed:
        t = t[(t["total_delta"] != 0) | (t["rank_delta"] != 0) | t["grade_changed"]]
    return pd.DataFrame({
        "单位代码": t["unit_code"], "单位名称": t["unit_name"], "考核类别": t["group"],
        "原总分": t["total_before"], "模拟总分": t["total_after"], "变化": t["total_delta"],
        "原排名": t["rank_before"], "模拟排名": t["rank_after"],
        "原等次": t["grade_before"], "模拟等次": t["grade_after"],
    }).reset_index(drop=True)
