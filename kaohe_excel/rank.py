"""Ranks, grades, the 优秀 quota, veto effects and consequence flags, per group.

Everything is computed with groupby/rank/transform over all groups at once.

Documented rules:
- rank: competition ranking (1, 2, 2, 4) within the group on the printed total.
- order: display position within the group: total desc, then indicator_total desc,
  then unit_code asc (so ties still print in a stable, explainable order).
- quota: the top grade goes to at most floor(n × excellent_quota) eligible units of the
  group (n = all units of the group). Units tied at the quota's edge are all demoted
  rather than exceeding the quota ("不超过").
- 末位: the last rank of a group of two or more units whose units do not all tie.
- a unit both 末位 and below rectify_below gets the single combined flag
  "末位且低于N分，须作出整改承诺" instead of the two separate ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

QUOTA_NOTE = "达到{top}分数线，受{top}比例限制"


def _fmt(v: float) -> str:
    text = f"{float(v):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def rank_and_grade(totals: pd.DataFrame, grades: Any, excellent_quota: float | None = None,
                   veto_effect: str | None = None, rectify_below: float | None = None) -> pd.DataFrame:
    """Add rank, order, grade, grade_note, flags, group_size; rows sorted by group then order.

    `grades` is DataFrame[grade, min_score] sorted descending (first row is the top
    grade); a Scheme may be passed instead, its grades and meta are then used.
    """
    if hasattr(grades, "grades") and hasattr(grades, "meta"):
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

    if veto_effect == "fail":
        note = np.where(vetoed, f"一票否决：定为{lowest}", note)
        level = np.where(vetoed, n_levels - 1, level)
    else:
        label = "总分清零" if veto_effect == "zero" else "取消评优"
        barred = vetoed.to_numpy() & (level == 0)
        note = np.where(vetoed, f"一票否决：{label}", note)
        level = np.where(barred, second, level)

    # quota: eligible units keep the top grade only while their worst tied position fits the quota
    eligible = pd.Series(level == 0, index=out.index)
    n = out["group_size"].to_numpy()
    quota = np.floor(np.round(n * excellent_quota, 9))
    eligible_total = total.where(eligible)
    worst_pos = eligible_total.groupby(group_key).rank(method="max", ascending=False).to_numpy()
    demoted = eligible.to_numpy() & (worst_pos > quota)
    level = np.where(demoted, second, level)
    note = np.where(demoted, QUOTA_NOTE.format(top=top), note)

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
