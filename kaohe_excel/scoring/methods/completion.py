"""完成率 (completion): P · min(x/目标值, cap); 反向 目标值/x."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, where
from kaohe_excel.scoring.methods.registry import Check, Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, blank, ratio_keys
from kaohe_excel.scoring.methods.mirror import (
    DEFAULT_BASE_SHARE,
    DEFAULT_CAP,
    attainment_ratio,
    dir_note,
    is_lower,
    num,
)


def completion(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """完成率: P · min(ratio, cap), ratio = x/目标值 (反向 目标值/x)."""
    P, x, t = num(rows, "points"), num(rows, "value"), num(rows, "target")
    cap = num(rows, "cap").fillna(DEFAULT_CAP)
    r = attainment_ratio(x, t, rows["direction"])
    used = np.clip(r, 0, cap)
    score = P * used
    ratio_text = where(is_lower(rows["direction"]), "目标值/完成值", "完成值/目标值")
    text = ("完成率法" + dir_note(rows) + "：完成值" + f(x) + "，目标值" + f(t) + "，完成比例（"
            + ratio_text + "）" + f(r) + "，上限系数" + f(cap) + "，得分 " + f(P) + "×"
            + f(used) + " = " + fs(score))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    P, t, b = num(rows, "points"), num(rows, "target"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    cap = num(rows, "cap").fillna(DEFAULT_CAP)
    s = ctx.sign.loc[rows.index]
    out["full_score"] = P * cap
    out["base_score"] = P * b
    out["key_full"] = ratio_keys(t, cap, s)
    out["key_base"] = ratio_keys(t, b, s)
    return out


register(Method(
    name="完成率", description="完成值÷目标值×分值，可设上限系数", score=completion, inverse=inverse,
    parameters={"目标值": REQUIRED, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": OPTIONAL, "每项分值": NOT_ALLOWED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    checks=(Check(("target",), lambda rows, higher: ~(rows["target"] > 0), "须有大于0的「目标值」"),),
    group_relative=False, progress="prorated",
))
