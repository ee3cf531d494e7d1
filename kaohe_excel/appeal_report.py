"""复核 in the outputs: the before/after diff of two scorings, and the display tables of the
summary's 复核 and 复核前后对比 sheets and of an appellant's feedback (Chinese headers)."""

from __future__ import annotations

import pandas as pd

APPEAL_SHEET = "复核"
CHANGES_SHEET = "复核前后对比"
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


def _subject(appeals: pd.DataFrame, scheme) -> pd.Series:
    names = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["name"]))
    items = dict(zip(scheme.adjustments["item_code"], scheme.adjustments["name"]))
    return pd.Series([f"指标 {c} {names.get(c, '')}" if c else f"加扣分 {i} {items.get(i, '')}"
                      for c, i in zip(appeals["indicator_code"], appeals["item_code"])], index=appeals.index, dtype=object)


def appeal_rows(appeals: pd.DataFrame, scheme) -> pd.DataFrame:
    """The 复核 sheet: each appeal with its conclusion (unit_code kept for slicing per unit)."""
    names = scheme.unit_names()
    value = [t if t is not None and t == t else ("" if v != v else f"{v:g}")
             for v, t in zip(appeals["value"], appeals["text_value"])]
    return pd.DataFrame({"unit_code": appeals["unit_code"], "单位代码": appeals["unit_code"],
                         "单位名称": appeals["unit_code"].map(names), "复核事项": _subject(appeals, scheme),
                         "申请事项": appeals["request"], "复核结论": appeals["conclusion"],
                         "复核值": pd.Series(value, index=appeals.index, dtype=object), "复核说明": appeals["note"],
                         "登记位置": appeals["file"] + " " + appeals["sheet"] + "!" + appeals["cell"]}).reset_index(drop=True)


def change_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """The 复核前后对比 sheet."""
    return pd.DataFrame({"单位代码": changes["unit_code"], "单位名称": changes["unit_name"], "考核类别": changes["group"],
                         "项目": changes["what"], "复核前": changes["before"], "复核后": changes["after"]})


__all__ = ["compare", "appeal_rows", "change_rows", "APPEAL_SHEET", "CHANGES_SHEET"]
