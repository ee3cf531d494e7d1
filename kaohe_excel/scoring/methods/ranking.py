"""排名 (ranking): position k among the group (ties share the better k); P − (k−1)·每项分值, or linear P → P·b."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, pick
from kaohe_excel.scoring.methods.registry import Method, NOT_ALLOWED, OPTIONAL, register
from kaohe_excel.scoring.methods._inverse import Ctx, EPS, blank
from kaohe_excel.scoring.methods.mirror import DEFAULT_BASE_SHARE, base_share, dir_note, num, peers, sign


def ranking(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """排名: position k among the group (ties share the better k); P − (k−1)·每项分值, or linear P → P·b."""
    idx = rows.index
    P, x, step, b = num(rows, "points"), num(rows, "value"), num(rows, "step"), base_share(rows)
    key = pd.Series(x.to_numpy() * sign(rows), index=idx)
    cell = peers(rows)
    k = key.groupby(cell, dropna=False).rank(method="min", ascending=False)
    n = key.groupby(cell, dropna=False).transform("count")
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.where(n > 1, P - (k - 1) / (n - 1) * P * (1 - b), P)
    by_step = np.clip(P - (k - 1) * step, 0, None)
    has_step = step.notna().to_numpy()
    score = np.where(has_step, by_step, linear)
    fk, fn, fP, fscore = f(k), f(n), f(P), fs(score)
    text = ("排名法" + dir_note(rows) + "：完成值" + f(x) + "，本类别第" + fk + "名（共" + fn + "个单位），得分 "
            + pick([has_step, (n <= 1).to_numpy()], [
                "max(0, " + fP + "−(" + fk + "−1)×" + f(step) + ") = " + fscore,
                "仅一个单位，得满分 " + fscore],
                default=fP + "−(" + fk + "−1)/(" + fn + "−1)×" + fP + "×(1−" + f(b) + ") = " + fscore))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    st = ctx.stats.loc[rows.index]
    P, step, b = num(rows, "points"), num(rows, "step"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = st["best_o"]  # ties share the better position: equalling the best is first place
    out["full_always"] = st["n_o"].eq(0)
    # with 每项分值: position k keeps P·b while (k−1)·step ≤ P(1−b); without it the linear
    # scale never goes below P·b
    k_base = np.floor(1 + P * (1 - b) / step.where(step > 0) + EPS).to_numpy()
    has_step = step.gt(0).to_numpy()
    kth = ctx.peers.kth_best(ctx.pos.loc[rows.index].to_numpy(), np.where(has_step, k_base, np.nan))
    out["key_base"] = np.where(has_step, kth, np.nan)
    out["base_always"] = ~has_step | (st["n_o"].to_numpy() < np.nan_to_num(k_base, nan=0.0))
    return out


register(Method(
    name="排名", description="按本类别名次得分：每降一位扣每项分值，或由满分线性递减至基本分",
    score=ranking, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": OPTIONAL, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    group_relative=True, progress="skipped",
))
