"""相对最优 (relative to the best): P · x / 最优值 (反向 P · 最优值 / x), the best among the group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, where
from kaohe_excel.scoring.methods.registry import Method, NOT_ALLOWED, OPTIONAL, register
from kaohe_excel.scoring.methods._inverse import Ctx, blank, ratio_keys
from kaohe_excel.scoring.methods.mirror import (
    DEFAULT_BASE_SHARE,
    attainment_ratio,
    dir_note,
    group_extreme,
    is_lower,
    num,
)


def relative_best(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """相对最优: P · x / 最优值 (反向 P · 最优值 / x), the best among the group."""
    P, x = num(rows, "points"), num(rows, "value")
    best = group_extreme(rows, x, best=True)
    used = np.clip(attainment_ratio(x, best, rows["direction"]), 0, 1)
    score = P * used
    fx, fb, fP = f(x), f(best), f(P)
    frac = where(is_lower(rows["direction"]), fb + "/" + fx, fx + "/" + fb)
    text = ("相对最优法" + dir_note(rows) + "：完成值" + fx + "，本类别最优值" + fb + "，得分 " + fP + "×" + frac
            + " = " + fs(score))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, b = num(rows, "points"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    best_value = st["best_o"] * s
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = st["best_o"]
    out["key_base"] = ratio_keys(best_value, b, s)
    out["full_always"] = st["n_o"].eq(0)
    out["base_always"] = out["full_always"]
    return out


register(Method(
    name="相对最优", description="完成值÷本类别最优值×分值",
    score=relative_best, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    group_relative=True, progress="skipped",
))
