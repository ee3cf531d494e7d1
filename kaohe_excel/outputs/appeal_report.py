"""复核 in the outputs: the display tables of the summary's 复核 and 复核前后对比 sheets and of an
appellant's feedback (Chinese headers); the diff itself is appeal_changes.compare."""

from __future__ import annotations

import pandas as pd

APPEAL_SHEET = "复核"
CHANGES_SHEET = "复核前后对比"
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


__all__ = ["appeal_rows", "change_rows", "APPEAL_SHEET", "CHANGES_SHEET"]
