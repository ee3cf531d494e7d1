"""加扣分 itemized for people: each unit × item with its count, points each, capped amount, and the
事项说明 and 佐证材料 of the claims (the unit's) or records (the office's) behind it.

`with_claim_texts` runs once per period (in scoring); the feedback sheet is written only for the
units that have items, so a city's thousands of units without claims cost nothing here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

RECORDED_BY_ZH = {"unit": "单位申报", "office": "考核办记录"}


def _join(values: pd.Series) -> str:
    """Distinct non-empty texts in order, joined with ；."""
    seen: list[str] = []
    for v in values:
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
        if text and text not in seen:
            seen.append(text)
    return "；".join(seen)


def with_claim_texts(adjustments: pd.DataFrame, claims: pd.DataFrame | None) -> pd.DataFrame:
    """adjustments (score.score_adjustments, one row per unit × item) plus `description`,
    `evidence` and `recorded_by_zh` gathered from the claims of that unit and item."""
    out = adjustments.copy()
    if claims is None or not len(claims) or not len(out):
        for column in ("description", "evidence", "recorded_by_zh"):
            out[column] = pd.Series([""] * len(out), index=out.index, dtype=object)
        return out
    keys = ["unit_code", "item_code"]
    frame = claims.assign(recorded_by_zh=claims.get("recorded_by", pd.Series("", index=claims.index))
                          .map(lambda v: RECORDED_BY_ZH.get(str(v), "")))
    texts = (frame.astype({"unit_code": object, "item_code": object})
             .groupby(keys, sort=False)[["description", "evidence", "recorded_by_zh"]].agg(_join).reset_index())
    out = out.astype({"unit_code": object, "item_code": object}).merge(texts, on=keys, how="left")
    for column in ("description", "evidence", "recorded_by_zh"):
        out[column] = out[column].astype(object).where(out[column].notna(), "")
    return out


def bonus_cap_note(bonus_items: float, bonus_cap: Any) -> str:
    """The sentence under a unit's items when its bonus total was cut to 加分上限 ('' otherwise)."""
    if bonus_cap is None or (isinstance(bonus_cap, float) and math.isnan(bonus_cap)):
        return ""
    if not np.isfinite(bonus_items) or bonus_items <= float(bonus_cap) + 1e-9:
        return ""
    cap = np.format_float_positional(round(float(bonus_cap), 9), trim="-")
    total = f"{bonus_items:.2f}"
    return f"加分项目合计{total}分，超过加分上限{cap}分，按{float(bonus_cap):.2f}分计入总分。"
