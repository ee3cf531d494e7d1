"""复核: what the office's decisions moved — the before/after diff of two scorings of one period
(printed figures compared), which the summary's 复核前后对比 sheet and the appellants' feedback show."""

from __future__ import annotations

import pandas as pd

CHANGE_COLUMNS = ["unit_code", "unit_name", "group", "what", "before", "after"]


def _printed(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def compare(before_scored: pd.DataFrame, before_ranked: pd.DataFrame,
            after_scored: pd.DataFrame, after_ranked: pd.DataFrame) -> pd.DataFrame:
    """Every unit × indicator score, and every unit's 总分, 名次, 等次, that differ between the two
    scorings (printed figures compared), with both values."""
    keys = ["unit_code", "indicator_code"]
    s = before_scored[keys + ["score"]].merge(after_scored[keys + ["unit_name", "group", "name", "score"]],
                                              on=keys, how="outer", suffixes=("_b", "_a"))
    b, a = s["score_b"].round(2), s["score_a"].round(2)
    moved = ~((b == a) | (b.isna() & a.isna()))
    s = s[moved]
    rows = [pd.DataFrame({"unit_code": s["unit_code"], "unit_name": s["unit_name"], "group": s["group"],
                          "what": "指标得分：" + s["name"].astype(str), "before": s["score_b"].map(_printed),
                          "after": s["score_a"].map(_printed), "_order": 0})]
    t = before_ranked[["unit_code", "total", "rank", "grade"]].merge(
        after_ranked[["unit_code", "unit_name", "group", "total", "rank", "grade"]], on="unit_code", suffixes=("_b", "_a"))
    for field, label, order in (("total", "总分", 1), ("rank", "名次", 2), ("grade", "等次", 3)):
        bv, av = t[f"{field}_b"], t[f"{field}_a"]
        if field == "total":
            bv, av = bv.round(2), av.round(2)
        diff = t[~((bv == av) | (bv.isna() & av.isna()))]
        show = (lambda v: "" if v != v else str(int(v))) if field == "rank" else _printed
        rows.append(pd.DataFrame({"unit_code": diff["unit_code"], "unit_name": diff["unit_name"], "group": diff["group"],
                                  "what": label, "before": diff[f"{field}_b"].map(show),
                                  "after": diff[f"{field}_a"].map(show), "_order": order}))
    out = pd.concat(rows, ignore_index=True)
    unit_order = {u: i for i, u in enumerate(after_ranked["unit_code"])}
    out["_unit"] = out["unit_code"].map(unit_order)
    return out.sort_values(["_unit", "_order"], kind="stable")[CHANGE_COLUMNS].reset_index(drop=True)


__all__ = ["compare", "CHANGE_COLUMNS"]
