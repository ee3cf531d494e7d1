"""Indicator scores, adjustment (加扣分) amounts and unit totals.

Pure functions: DataFrames in, DataFrames out, no I/O. Every method (kaohe_excel/methods/, one
registration each) is applied to all rows that use it at once (boolean masks, groupby), never
unit by unit. The explanations are written with kaohe_excel/explain.py. docs/methods.md lists
the methods and their formulas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.scoring import methods as _methods
from kaohe_excel.scoring.explain import (
    STR_DTYPE,
    Piece,
    Text,
    arrow,
    assemble,
    constant,
    f,
    fs,
    pick,
    round_half_up,
    where,
    words,
)
from kaohe_excel.scoring.methods import METHODS
from kaohe_excel.scoring.methods.mirror import (
    DEFAULT_BASE_SHARE,
    DEFAULT_CAP,
    PEER,
    PEER_KEYS,
    attainment_ratio,
    is_lower,
    num,
    signed_gap,
)

__all__ = ["DEFAULT_BASE_SHARE", "DEFAULT_CAP", "METHODS", "attainment_ratio", "compute_totals", "round_half_up",
           "score_adjustments", "score_indicators", "signed_gap"]


# --------------------------------------------------------------------------- indicator scores

SCORE_COLUMNS = ["score_raw", "score", "points_available", "status", "explanation"]
METHOD_INPUTS = ["points", "value", "text_value", "target", "base", "full", "floor", "base_share", "cap", "step",
                 "tier_table", "direction", "group", "indicator_code"]


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    col = frame[column]
    if col.dtype == bool:
        return col
    return col.astype(object).where(col.notna(), False).astype(bool)


def _has_value(frame: pd.DataFrame, is_grade: np.ndarray | None = None) -> np.ndarray:
    numeric = num(frame, "value").notna().to_numpy(dtype=bool)
    if is_grade is None:
        is_grade = frame["method"].isin(_methods.with_value("grade")).to_numpy(dtype=bool)
    if "text_value" not in frame.columns:
        return numeric
    # only grade rows can count a text value: strip those few, not every row
    candidates = np.flatnonzero(is_grade & frame["text_value"].notna().to_numpy(dtype=bool))
    text = np.zeros(len(frame), dtype=bool)
    tv = frame["text_value"].take(candidates)
    text[candidates] = tv.astype(STR_DTYPE).str.strip().ne("").to_numpy(dtype=bool)
    return numeric | text


def _method_inputs(out: pd.DataFrame) -> pd.DataFrame:
    """The columns methods read; direction as higher/lower codes (methods only test it for
    "lower") and the peer keys as one code column as well."""
    work = out[[c for c in METHOD_INPUTS if c in out.columns]]
    cheap: dict[str, Any] = {"direction": pd.Categorical.from_codes(
        is_lower(out["direction"]).astype(np.int8), categories=["higher", "lower"])}
    if all(k in work.columns for k in PEER_KEYS):
        # 0 stands for a missing name: one more set of peers, as with groupby(dropna=False)
        group, indicator = (pd.factorize(work[k])[0].astype(np.int64) + 1 for k in PEER_KEYS)
        cheap[PEER] = group * (indicator.max(initial=0) + 1) + indicator
    return work.assign(**cheap)


class _Rows:
    """One method's rows of the inputs, each column taken when the method first reads it.

    Offers what methods use of their DataFrame (rows[column], column in rows.columns,
    column in rows, rows.index, len(rows)): a method reads five or six of the inputs, and
    taking all of them for a million rows costs more than most methods do.
    """

    def __init__(self, frame: pd.DataFrame, positions: np.ndarray):
        self._frame, self._positions, self._taken = frame, positions, {}
        self.columns = frame.columns
        self.index = pd.RangeIndex(len(positions))

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self._taken:
            values = self._frame[column].array.take(self._positions)
            self._taken[column] = pd.Series(values, index=self.index, name=column)
        return self._taken[column]


def score_indicators(frame: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """Score every unit × indicator row; adds score_raw, score, points_available, status, explanation.

    Group-relative methods see only the rows of their group that have a value and are
    neither exempt nor unscored.
    """
    original_index = frame.index
    out = frame.reset_index(drop=True)  # copy-on-write: the caller's frame is never touched
    if "tier_table" not in out.columns:
        out["tier_table"] = np.nan
    if "direction" not in out.columns:
        out["direction"] = "higher"
    tier_tables = tier_tables if tier_tables is not None else pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    points = num(out, "points").fillna(0.0)
    exempt = _flag(out, "exempt")
    # defence in depth: validation reports a non-finite value, scoring must never carry one
    unscored = (_flag(out, "unscored") | np.isinf(num(out, "value"))) & ~exempt
    mean_rule = out["missing_rule"].eq("mean").fillna(False).astype(bool) if "missing_rule" in out.columns else exempt & False
    method_codes, method_names = pd.factorize(out["method"])
    grades = _methods.with_value("grade")  # a grade (定性) counts as a value when typed as text
    has_value = _has_value(out, np.isin(method_codes, [k for k, m in enumerate(method_names) if m in grades]))

    # masks as numpy arrays, methods looked up by factorized code: per-method masks over a
    # million rows must not cost a string comparison each
    is_exempt_mean = (exempt & mean_rule).to_numpy(dtype=bool)
    is_exempt = exempt.to_numpy(dtype=bool) & ~is_exempt_mean
    is_unscored = unscored.to_numpy(dtype=bool) & ~is_exempt_mean & ~is_exempt
    is_missing = ~has_value & ~is_exempt_mean & ~is_exempt & ~is_unscored
    scored = ~(is_exempt_mean | is_exempt | is_unscored | is_missing)
    status_code = np.zeros(len(out), dtype=np.int8)
    for code, rows in enumerate([is_exempt_mean, is_exempt, is_unscored, is_missing], start=1):
        status_code[rows] = code
    # taking from a small object array: np.full of a million objects is several times slower
    status = pd.Series(np.array(["scored", "exempt_mean", "exempt", "unscored", "missing"], dtype=object)[status_code],
                       index=out.index, dtype=object)
    score_raw_np = np.full(len(out), np.nan)
    parts: list = []  # explanation pieces of every row, joined once at the end
    known = np.zeros(len(out), dtype=bool)
    # methods see only the columns they use: taking every text column of the frame per method is the slow part
    work = _method_inputs(out)
    for name, method in METHODS.items():  # one pass per method, never per unit
        matches = [k for k, m in enumerate(method_names) if m == name]
        if not matches:
            continue
        mask = scored & (method_codes == matches[0])
        known |= method_codes == matches[0]
        if mask.any():
            positions = np.flatnonzero(mask)
            raw, text = method.score(_Rows(work, positions), tier_tables)
            raw = np.asarray(raw, dtype=float)
            if not isinstance(text, Text):  # a method may give its explanations as a column of strings
                text = Text.of(len(positions), Piece(None, arrow(pd.Series(text))))
            raw = np.where(np.isinf(raw), np.nan, raw)  # an infinite score must never reach a workbook
            score_raw_np[mask] = raw
            text = text + where(np.isnan(raw), "（评分参数缺失，得0分）", "")
            parts += text.parts(positions)
    score_raw = pd.Series(score_raw_np, index=out.index)
    unknown = scored & ~known
    if unknown.any():
        parts += ("未知计分方法「" + words(out.loc[unknown, "method"]) + "」，得0分").parts(np.flatnonzero(unknown))
    score_raw[scored & score_raw.isna().to_numpy()] = 0.0

    score_raw[is_missing] = 0.0
    parts += constant(is_missing, "未填报实际完成值，得0分")
    parts += constant(is_unscored, "数据有误未计分（待核实后补评）")
    parts += constant(is_exempt, "不考核，不计入应得分，按已有项归一化")

    score = round_half_up(score_raw)
    points_available = points.where(~is_exempt, 0.0)

    # 均值: the mean of the printed scores of the group's non-exempt units on that indicator
    mean_rows = pd.Series(is_exempt_mean, index=out.index)
    if mean_rows.any():
        peer_score = score.where(~exempt)
        group_mean = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("mean")
        n_peers = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("count")
        ok = mean_rows & group_mean.notna()
        score_raw[ok] = group_mean[ok]
        score[ok] = round_half_up(group_mean[ok])
        if ok.any():
            parts += ("不考核，按本类别" + f(n_peers[ok]) + "个单位平均分得分 " + fs(group_mean[ok])).parts(
                np.flatnonzero(ok.to_numpy()))
        alone = mean_rows & group_mean.isna()
        status[alone] = "exempt"
        points_available[alone] = 0.0
        parts += constant(alone.to_numpy(), "不考核，本类别无其他单位可取平均分，按已有项归一化")
    explanation = pd.Series(pd.arrays.ArrowStringArray(assemble(len(out), parts), dtype=STR_DTYPE), index=out.index)

    out["score_raw"] = score_raw
    out["score"] = score
    out["points_available"] = points_available
    out["status"] = status
    out["explanation"] = explanation
    out.index = original_index
    return out


# --------------------------------------------------------------------------- adjustments

ADJUSTMENT_COLUMNS = ["unit_code", "item_code", "name", "kind", "count", "step", "item_cap", "amount", "explanation"]
_KIND_ZH = {"bonus": "加分", "deduction": "扣分", "veto": "一票否决"}


def score_adjustments(claims: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Per unit × item: count × 每项分值, capped by 单项上限 (counts of one item are summed first).

    Claims naming an item not in the catalogue are dropped (validation reports them).
    Veto rows keep their count and have amount 0.
    """
    if claims is None or claims.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("unit_code", "item_code", "name", "kind", "explanation")
                                          else float) for c in ADJUSTMENT_COLUMNS})
    counts = (claims.assign(count=pd.to_numeric(claims["count"], errors="coerce").replace([np.inf, -np.inf], np.nan)
                            .fillna(0.0).astype(float))
              .groupby(["unit_code", "item_code"], sort=False, as_index=False)["count"].sum())
    cat = catalogue[["item_code", "kind", "name", "step", "item_cap"]].copy()
    cat["step"] = pd.to_numeric(cat["step"], errors="coerce").astype(float)
    cat["item_cap"] = pd.to_numeric(cat["item_cap"], errors="coerce").astype(float)
    out = counts.merge(cat.drop_duplicates("item_code"), on="item_code", how="inner")
    raw = out["count"] * out["step"].fillna(0.0)
    capped = raw.clip(upper=out["item_cap"].where(out["item_cap"].notna(), np.inf))
    is_veto = out["kind"].astype(object).eq("veto")
    out["amount"] = round_half_up(capped.where(~is_veto, 0.0))
    kind_zh = out["kind"].astype(object).map(_KIND_ZH).fillna("")
    cap_note = where((raw > capped + 1e-9).to_numpy(),
                      "（单项上限" + f(out["item_cap"]) + "分，按" + fs(out["amount"]) + "分计）", "")
    name, count = words(out["name"]), f(out["count"])
    text = pick([is_veto.to_numpy(dtype=bool)], ["一票否决：" + name + "（" + count + "项）"],
                 default=words(kind_zh) + "：" + name + " " + count + "项×" + f(out["step"]) + "分 = " + fs(raw) + "分"
                 + cap_note)
    out["explanation"] = pd.Series(text.array().to_numpy(zero_copy_only=False), index=out.index, dtype=object)
    return out[ADJUSTMENT_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- totals

TOTAL_COLUMNS = ["unit_code", "unit_name", "group", "indicator_total", "points_available", "bonus", "deduction",
                 "vetoed", "veto_items", "veto_effect", "total"]
# a unit hit by several vetoes takes the strongest effect
VETO_STRENGTH = {"no_excellent": 1, "fail": 2, "zero": 3}
_VETO_BY_STRENGTH = np.array(["", "no_excellent", "fail", "zero"], dtype=object)


def _effective_weights(weights: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """[group, category, weight]: a group with rows of its own uses only those, others the rows without a group."""
    w = weights.copy()
    w["group"] = w["group"].astype(object).where(w["group"].notna(), "").astype(str).str.strip()
    w["weight"] = pd.to_numeric(w["weight"], errors="coerce").fillna(0.0).astype(float)
    w["category"] = w["category"].astype(object)
    present = pd.DataFrame({"group": pd.unique(groups.astype(object))})
    specific = w[w["group"] != ""][["group", "category", "weight"]]
    generic = present[~present["group"].isin(specific["group"])].merge(
        w[w["group"] == ""][["category", "weight"]], how="cross")
    return pd.concat([specific, generic], ignore_index=True)


def _rescaled(numerator: Any, full: Any, present: Any, percent: bool) -> Any:
    """A unit's weighted sum over the categories it was assessed on, rescaled to the full weight sum W
    (× 100/W with 百分制)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = numerator * full / present
        return value * 100.0 / full if percent else value


def category_factors(by_cat: pd.DataFrame, units: pd.DataFrame, weights: pd.DataFrame, percent: bool) -> pd.DataFrame:
    """The 权重 formula, once (compute_totals and the gap analysis both use it).

    by_cat: per unit × 一级指标 its points available (and its score, when totalling). Returns, per
    unit × 一级指标 the unit was assessed on (points available > 0), its group, weight w_c, the
    unit's present weight sum, the group's full weight sum W and `factor`: how many 总分 points
    one point of the category is worth, w_c / points_c · W / present (× 100/W with 百分制).
    A category the unit was not assessed on is dropped and the remaining weights rescaled.
    """
    unit_groups = units[["unit_code", "group"]].astype({"unit_code": object, "group": object})
    eff = _effective_weights(weights, unit_groups["group"])
    full_sum = eff.groupby("group")["weight"].sum()
    frame = (unit_groups.merge(eff, on="group", how="inner")
             .merge(by_cat.astype({"unit_code": object, "category": object}), on=["unit_code", "category"], how="left"))
    frame = frame[frame["points_available"].fillna(0.0) > 0]
    present = frame.groupby("unit_code")["weight"].transform("sum")
    full = frame["group"].map(full_sum)
    return frame.assign(present=present, full=full,
                        factor=_rescaled(frame["weight"] / frame["points_available"], full, present, percent))


def _weighted_total(scored: pd.DataFrame, units: pd.DataFrame, weights: pd.DataFrame, percent: bool) -> pd.Series:
    by_cat = (scored.assign(score=scored["score"].fillna(0.0))
              .groupby(["unit_code", "category"], as_index=False)[["score", "points_available"]].sum())
    frame = category_factors(by_cat, units, weights, percent)
    frame = frame.assign(part=frame["weight"] * frame["score"] / frame["points_available"])
    agg = frame.groupby("unit_code").agg(part=("part", "sum"), present=("weight", "sum"), full=("full", "first"))
    value = _rescaled(agg["part"], agg["full"], agg["present"], percent)
    value = value.where(agg["present"] > 0, 0.0)
    return value.reindex(units["unit_code"].astype(object)).fillna(0.0)


def _sum_by_unit(scored: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Column sums per unit_code (index: the codes as objects; a missing score counts 0)."""
    # grouping by factorized codes: a million unit codes as Python objects cost more than the sums
    ids, uniques = pd.factorize(scored["unit_code"])
    values = pd.DataFrame({c: scored[c].fillna(0.0).to_numpy() if c == "score" else scored[c].to_numpy()
                           for c in columns})
    present = ids >= 0
    if not present.all():
        values, ids = values[present], ids[present]
    per_unit = values.groupby(ids).sum()
    per_unit.index = pd.Index(np.asarray(uniques, dtype=object)[per_unit.index.to_numpy()], dtype=object)
    return per_unit


def compute_totals(scored: pd.DataFrame, adjustment_scores: pd.DataFrame, units: Any, meta: Any = None,
                   weights: pd.DataFrame | None = None, catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit: indicator_total (raw, 百分制 or weighted), bonus, deduction, veto, total.

    `units` is the scheme's units frame (or a Scheme, whose units, meta, weights and 加扣分
    catalogue are then used); `meta` needs total_mode, bonus_cap and veto_effect. A veto
    item's own 否决效果 (catalogue column veto_effect) overrides the 方案 value; veto_effect
    is each vetoed unit's strongest effect ("" when not vetoed).
    """
    if hasattr(units, "units") and hasattr(units, "meta"):
        scheme = units
        units, meta = scheme.units, scheme.meta
        weights = getattr(scheme, "weights", None) if weights is None else weights
        catalogue = getattr(scheme, "adjustments", None) if catalogue is None else catalogue
    units = units[["unit_code", "unit_name", "group"]].reset_index(drop=True)
    codes = units["unit_code"].astype(object)
    percent = getattr(meta, "total_mode", "raw") == "percent"

    sums = _sum_by_unit(scored, ["score", "points_available"]).reindex(codes).fillna(0.0)
    points_available = round_half_up(sums["points_available"].to_numpy())
    if weights is not None and len(weights):
        indicator_total = round_half_up(_weighted_total(scored, units, weights, percent).to_numpy())
    elif percent:
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(points_available > 0, sums["score"].to_numpy() * 100.0 / points_available, 0.0)
        indicator_total = round_half_up(scaled)
    else:
        indicator_total = round_half_up(sums["score"].to_numpy())

    adj = adjustment_scores if adjustment_scores is not None else pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    adj = adj.assign(unit_code=adj["unit_code"].astype(object), kind=adj["kind"].astype(object),
                     amount=pd.to_numeric(adj["amount"], errors="coerce").fillna(0.0).astype(float),
                     count=pd.to_numeric(adj["count"], errors="coerce").fillna(0.0).astype(float))
    bonus_sum = adj[adj["kind"].eq("bonus")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    deduction_sum = adj[adj["kind"].eq("deduction")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    bonus_cap = getattr(meta, "bonus_cap", None)
    bonus = bonus_sum.to_numpy()
    if bonus_cap is not None and not (isinstance(bonus_cap, float) and math.isnan(bonus_cap)):
        bonus = np.minimum(bonus, float(bonus_cap))
    bonus = round_half_up(bonus)
    deduction_total = round_half_up(deduction_sum.to_numpy())
    vetoes = adj[adj["kind"].eq("veto") & (adj["count"] > 0)]
    veto_items = (vetoes.groupby("unit_code")["name"].agg(lambda names: "、".join(pd.unique(names.astype(str))))
                  .reindex(codes).fillna("").astype(object))
    vetoed = veto_items.ne("").to_numpy()
    default_effect = getattr(meta, "veto_effect", None) or "no_excellent"
    own = pd.Series(dtype=object)
    if catalogue is not None and "veto_effect" in catalogue.columns:
        own = catalogue.drop_duplicates("item_code").set_index("item_code")["veto_effect"].astype(object)
    item_effect = vetoes["item_code"].astype(object).map(own).astype(object).fillna("") if "item_code" in vetoes.columns \
        else pd.Series("", index=vetoes.index, dtype=object)
    strength = item_effect.where(item_effect != "", default_effect).map(VETO_STRENGTH).fillna(1).astype(int)
    strongest = strength.groupby(vetoes["unit_code"]).max().reindex(codes).fillna(0).astype(int).to_numpy()
    veto_effect = _VETO_BY_STRENGTH[np.where(vetoed, np.maximum(strongest, 1), 0)]

    total = round_half_up(indicator_total + bonus - deduction_total)
    total = np.where(veto_effect == "zero", 0.0, total)
    return pd.DataFrame({
        "unit_code": units["unit_code"], "unit_name": units["unit_name"], "group": units["group"],
        "indicator_total": indicator_total, "points_available": points_available, "bonus": bonus,
        "deduction": deduction_total, "vetoed": vetoed, "veto_items": veto_items.to_numpy(),
        "veto_effect": veto_effect, "total": total,
    })[TOTAL_COLUMNS]
