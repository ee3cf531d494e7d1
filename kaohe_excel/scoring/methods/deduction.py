"""扣分 (deductions): x incidents, P − x·每项分值, floored at 0 (扣完为止). A count is always 反向 by nature."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs
from kaohe_excel.scoring.methods.registry import Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, EPS, blank
from kaohe_excel.scoring.methods.mirror import DEFAULT_BASE_SHARE, num


def deduction(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """扣分: x incidents, P − x·每项分值, floored at 0 (扣完为止). A count is always 反向 by nature."""
    P, x, step = num(rows, "points"), num(rows, "value"), num(rows, "step")
    charged = np.clip(x, 0, None) * step
    score = np.clip(P - charged, 0, None)
    fcharged = f(charged)
    text = ("扣分法：发生" + f(x) + "次（项），每次扣" + f(step) + "分，共扣" + fcharged
            + "分，得分 max(0, " + f(P) + "−" + fcharged + ") = " + fs(score))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    P, step, b = num(rows, "points"), num(rows, "step"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    ok = step > 0
    out["full_score"] = P
    out["base_score"] = P * b
    # a count is always 反向: keys are −count
    out["key_full"] = np.where(ok, -0.0, np.nan)
    out["key_base"] = -np.floor(P * (1 - b) / step.where(ok) + EPS)
    out["full_always"] = step.eq(0)
    out["base_always"] = step.eq(0)
    return out


register(Method(
    name="扣分", description="每发生一次（项）扣每项分值，扣完为止",
    score=deduction, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": REQUIRED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    group_relative=False, progress="skipped", value="count",
))
