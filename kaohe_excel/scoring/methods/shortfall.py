"""差额扣分 (shortfall): P − (shortfall against 目标值)·每项分值, floored at 0; empty 目标值 → group mean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, pick, where
from kaohe_excel.scoring.methods.registry import Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, blank
from kaohe_excel.scoring.methods.mirror import DEFAULT_BASE_SHARE, dir_note, is_lower, num, peers, signed_gap


def shortfall(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """差额扣分: P − (shortfall against 目标值)·每项分值, floored at 0; empty 目标值 → group mean."""
    P, x, step = num(rows, "points"), num(rows, "value"), num(rows, "step")
    t_given = num(rows, "target")
    mean = x.groupby(peers(rows), dropna=False).transform("mean")
    t = t_given.fillna(mean)
    gap = np.clip(-signed_gap(x, t, rows["direction"]), 0, None)
    charged = gap * step
    score = np.clip(P - charged, 0, None)
    lower = is_lower(rows["direction"])
    word = where(lower, "超出", "差")
    src = where(t_given.isna(), "（本类别平均值）", "")
    fgap, fcharged, fscore = f(gap), f(charged), fs(score)
    text = ("差额扣分法" + dir_note(rows) + "：完成值" + f(x) + "，目标值" + f(t) + src + "，"
            + pick([gap <= 0], ["达到目标值，不扣分，得分 " + fscore],
                    default=(word + fgap + "，扣 " + fgap + "×" + f(step) + " = " + fcharged + "分，得分 max(0, "
                             + f(P) + "−" + fcharged + ") = " + fscore)))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, step, b = num(rows, "points"), num(rows, "step"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    t_given = num(rows, "target")
    allowed = P * (1 - b) / step.where(step > 0)  # the shortfall that still leaves P·b
    n_o = st["n_o"]
    # empty 目标值: target = mean of the group including the unit, (x + S_o)/(n_o + 1);
    # solving P − gap·step = S gives x = mean_o at gap 0 and mean_o − (n_o+1)/n_o·gap otherwise
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_o = st["sum_o"] / n_o.where(n_o > 0)
        key_full = (t_given * s).fillna(mean_o)
        spread = pd.Series(np.where(t_given.notna(), 1.0, (n_o + 1) / n_o.where(n_o > 0)), index=rows.index)
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = key_full.where(step > 0)
    out["key_base"] = key_full - allowed * spread
    alone = t_given.isna() & n_o.eq(0)
    out["full_always"] = alone | step.eq(0)
    out["base_always"] = out["full_always"]
    return out


register(Method(
    name="差额扣分", description="每差目标值1个单位扣每项分值，扣完为止（目标值留空取本类别平均值）",
    score=shortfall, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": REQUIRED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    group_relative=("target",), progress="prorated",
))
