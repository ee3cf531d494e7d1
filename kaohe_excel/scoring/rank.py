"""Ranks, grades, the 优秀 quota, veto effects and consequence flags, per group.

Everything is computed with groupby/rank/transform over all groups at once.

Documented rules:
- rank: competition ranking (1, 2, 2, 4) within the group on the printed total.
- order: display position within the group: total desc, then indicator_total desc,
  then unit_code asc (so ties still print in a stable, explainable order).
- quota: the top grade goes to at most floor(n × excellent_quota) eligible units of the
  group (n = all units of the group). Units tied at the quota's edge are all demoted
  rather than exceeding the quota ("不超过"). A group listed in the scheme's 类别 sheet has
  its own share, may round half-up (四舍五入 of the exact n × share) and may keep at least
  one 名额 when any eligible unit reaches the top threshold (至少一名; ties at the edge
  still follow "不超过"). The quota is kept per unit as `quota`.
- vetoes: each vetoed unit's strongest effect (column veto_effect, else the 方案 value):
  定为不合格 → the lowest grade; 取消评优 and 总分清零 → never the top grade.
- 末位: the last rank of a group of two or more units whose units do not all tie.
- a unit both 末位 and below rectify_below gets the single combined flag
  "末位且低于N分，须作出整改承诺" instead of the two separate ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.inputs.number_text import trimmed

QUOTA_NOTE = "达到{top}分数线，受{top}比例限制"
QUOTA_COUNT_NOTE = "（本类别{top}名额{count}个）"


def _fmt(v: float) -> str:
    return trimmed(float(v), 2)


def quota_counts(sizes: pd.Series, reaching: pd.Series, default_share: float,
                 group_quotas: pd.DataFrame | None = None) -> pd.Series:
    """The 优秀 名额 of each group (index: group), from its size and its eligible units reaching the top grade.

    `group_quotas` rows [group, share, rounding, at_least_one] override the default for their group.
    """
    shares = pd.Series(float(default_share), index=sizes.index)
    rounding = pd.Series("floor", index=sizes.index, dtype=object)
    at_least_one = pd.Series(False, index=sizes.index)
    if group_quotas is not None and len(group_quotas):
        own = group_quotas.drop_duplicates("group").set_index("group").reindex(sizes.index)
        known = own["share"].notna()
        shares = shares.where(~known, own["share"].astype(float))
        rounding = rounding.where(~known, own["rounding"])
        at_least_one = at_least_one.where(~known, own["at_least_one"].fillna(False).astype(bool))
    # exact decimal of n × share: 7 × 40% is 2.8 (→ 3 half-up), 10 × 25% is 2.5 (→ 3), never 2.4999…
    product = np.round(sizes.to_numpy(dtype=float) * shares.to_numpy(dtype=float), 9)
    count = np.where(rounding.to_numpy() == "half_up", np.floor(product + 0.5), np.floor(product))
    count = np.where(at_least_one.to_numpy(dtype=bool) & (reaching.reindex(sizes.index).fillna(0).to_numpy() > 0),
                     np.maximum(count, 1), count)
    return pd.Series(count.astype(int), index=sizes.index)


def rank_and_grade(totals: pd.DataFrame, grades: Any, excellent_quota: float | None = None,
                   veto_effect: str | None = None, rectify_below: float | None = None,
                   group_quotas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add rank, order, grade, grade_note, flags, group_size; rows sorted by group then order.

    `grades` is DataFrame[grade, min_score] sorted descending (first row is the top
    grade); a Scheme may be passed instead, its grades and meta are then used.
    """
    if hasattr(grades, "grades") and hasattr(grades, "meta"):
        group_quotas = getattr(grades, "group_quotas", None) if group_quotas is None else group_quotas
        meta = grades.meta
        grades = grades.grades
        excellent_quota = meta.excellent_quota if excellent_quota is None else excellent_quota
        veto_effect = meta.veto_effect if veto_effect is None else veto_effect
        rectify_below = getattr(meta, "rectify_below", None) if rectify_below is None else rectify_below
    excellent_quota = 1.0 if excellent_quota is None else float(excellent_quota)

    out = totals.reset_index(drop=True)
    # groups keep their first-appearance order; grouping by these codes, not by the names as objects
    group_key = pd.Series(pd.factorize(out["group"].astype(object))[0], index=out.index)
    group_pos = group_key
    total = pd.to_numeric(out["total"], errors="coerce").astype(float).fillna(0.0)
    vetoed = out["vetoed"].astype(object).where(out["vetoed"].notna(), False).astype(bool) \
        if "vetoed" in out.columns else pd.Series(False, index=out.index)

    by_group = total.groupby(group_key)
    out["rank"] = by_group.rank(method="min", ascending=False).astype(int)
    out["group_size"] = by_group.transform("size").astype(int)
    indicator_total = pd.to_numeric(out.get("indicator_total", total)).fillna(0.0).to_numpy(dtype=float)
    code_order, _ = pd.factorize(out["unit_code"].astype(str), sort=True)
    code_order = np.where(code_order < 0, len(out), code_order)  # a missing code sorts last
    display = np.lexsort((code_order, -indicator_total, -total.to_numpy(), group_pos.to_numpy()))  # stable
    order = np.empty(len(out), dtype=int)
    order[display] = group_pos.iloc[display].groupby(group_pos.to_numpy()[display]).cumcount().to_numpy() + 1
    out["order"] = order

    # grade by threshold: level 0 is the top grade, the last level the lowest
    g = grades.reset_index(drop=True)
    names = g["grade"].astype(str).to_numpy()
    mins = pd.to_numeric(g["min_score"]).astype(float).to_numpy()
    n_levels = len(names)
    ascending = mins[::-1]
    pos = np.searchsorted(ascending, total.to_numpy() + 1e-9, side="right") - 1  # 1e-9: a printed 90.00 reaches 90
    level = np.clip(n_levels - 1 - pos, 0, n_levels - 1)
    note = np.full(len(out), "", dtype=object)
    top, lowest = names[0], names[-1]
    second = min(1, n_levels - 1)

    # each unit's own effect (the strongest of its vetoes, score.compute_totals), else the 方案 value
    default_effect = veto_effect or "no_excellent"
    effect = out["veto_effect"].astype(object).where(out["veto_effect"].notna(), "").astype(str) \
        if "veto_effect" in out.columns else pd.Series("", index=out.index, dtype=object)
    effect = effect.where(effect != "", default_effect).where(vetoed, "").to_numpy()
    fail = effect == "fail"
    note = np.where(fail, f"一票否决：定为{lowest}", note)
    level = np.where(fail, n_levels - 1, level)
    barred = np.isin(effect, ["no_excellent", "zero"])
    note = np.where(barred, np.where(effect == "zero", "一票否决：总分清零", "一票否决：取消评优"), note)
    level = np.where(barred & (level == 0), second, level)
    out["veto_effect"] = effect

    # quota: eligible units keep the top grade only while their worst tied position fits the quota
    eligible = pd.Series(level == 0, index=out.index)
    counts = quota_counts(out["group_size"].groupby(group_key).first(), eligible.groupby(group_key).sum(),
                          excellent_quota, _by_key(group_quotas, out["group"], group_key))
    quota = counts.reindex(group_key.to_numpy()).to_numpy()
    out["quota"] = quota
    eligible_total = total.where(eligible)
    worst_pos = eligible_total.groupby(group_key).rank(method="max", ascending=False).to_numpy()
    demoted = eligible.to_numpy() & (worst_pos > quota)
    level = np.where(demoted, second, level)
    quota_text = pd.Series(quota, index=out.index).map(lambda c: QUOTA_COUNT_NOTE.format(top=top, count=c))
    note = np.where(demoted, QUOTA_NOTE.format(top=top) + quota_text.to_numpy(dtype=object), note)

    out["grade"] = names[level]
    out["grade_note"] = note

    # flags
    max_rank = out.groupby(group_key)["rank"].transform("max")
    last = (out["rank"] == max_rank) & (out["group_size"] >= 2) & (max_rank > 1)
    below = total < rectify_below if rectify_below is not None and not math.isnan(rectify_below) \
        else pd.Series(False, index=out.index)
    n_text = _fmt(rectify_below) if rectify_below is not None and not math.isnan(rectify_below) else ""
    veto_items = out["veto_items"].astype(object).where(out["veto_items"].notna(), "").astype(str) \
        if "veto_items" in out.columns else pd.Series("", index=out.index)
    veto_flag = np.where(vetoed, "一票否决（" + veto_items + "）", "")
    veto_flag = np.where(veto_flag == "一票否决（）", "一票否决", veto_flag)
    both = last & below
    last_flag = np.where(both, f"末位且低于{n_text}分，须作出整改承诺", np.where(last, "末位", ""))
    below_flag = np.where(below & ~both, f"低于{n_text}分", "")
    # most units carry no flag: build a list per unit, then append only where a flag is set
    flags: list[list[str]] = [[] for _ in range(len(out))]
    for texts in (veto_flag, last_flag, below_flag):
        texts = np.asarray(texts, dtype=object)
        for i in np.flatnonzero(texts != "").tolist():
            flags[i].append(texts[i])
    out["flags"] = flags

    out = out.assign(_g=group_pos).sort_values(["_g", "order"], kind="stable").drop(columns="_g")
    return out.reset_index(drop=True)


def _by_key(group_quotas: pd.DataFrame | None, groups: pd.Series, group_key: pd.Series) -> pd.DataFrame | None:
    """The 类别 rows re-keyed by the factorized group codes rank_and_grade groups by."""
    if group_quotas is None or not len(group_quotas):
        return None
    codes = dict(zip(groups.astype(object), group_key))
    keyed = group_quotas.assign(group=group_quotas["group"].astype(object).map(codes))
    return keyed[keyed["group"].notna()].astype({"group": int})


def unscored_counts(ranked: pd.DataFrame, scored: pd.DataFrame) -> np.ndarray:
    """Per ranked unit, how many of its indicators were left unscored (errors under --allow-errors)."""
    if not len(scored) or "status" not in scored.columns:
        return np.zeros(len(ranked), dtype=np.int64)
    hit = scored.loc[scored["status"].astype(object).eq("unscored").to_numpy(), "unit_code"].astype(object)
    counts = hit.value_counts()
    return ranked["unit_code"].astype(object).map(counts).fillna(0).astype(np.int64).to_numpy()
