"""基本满分 (base and full mark): 满分值 reached → P; between → P·(b+(1−b)·progress); below 基本值 → P·b·ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, pick, where
from kaohe_excel.scoring.methods.registry import Check, Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, blank
from kaohe_excel.scoring.methods.mirror import (
    DEFAULT_BASE_SHARE,
    attainment_ratio,
    base_share,
    dir_note,
    is_lower,
    num,
    signed_gap,
)


def base_full(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """基本满分: 满分值 reached → P; between → P·(b+(1−b)·progress); below 基本值 → P·b·ratio."""
    d = rows["direction"]
    P, x, base = num(rows, "points"), num(rows, "value"), num(rows, "base")
    full = num(rows, "full").fillna(num(rows, "target"))  # 满分值 left empty: the target is the full mark
    b = base_share(rows)
    at_full = signed_gap(x, full, d) >= 0
    at_base = signed_gap(x, base, d) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = signed_gap(x, base, d) / signed_gap(full, base, d)
    below = b * np.clip(attainment_ratio(x, base, d), 0, 1)
    share = np.select([at_full, at_base], [1.0, b + (1 - b) * progress], default=below)
    bad = np.isnan(x) | np.isnan(base) | np.isnan(full)
    score = np.where(bad, np.nan, P * np.clip(share, 0, 1))
    lower = is_lower(d)
    fb, fx, ff, fP, fbase, fscore = f(b), f(x), f(full), f(P), f(base), fs(score)
    head = "基本满分法" + dir_note(rows) + "：完成值" + fx + "，基本值" + fbase + "，满分值" + ff + "，"
    mid_frac = where(lower, "(" + fbase + "−" + fx + ")/(" + fbase + "−" + ff + ")",
                      "(" + fx + "−" + fbase + ")/(" + ff + "−" + fbase + ")")
    low_frac = where(lower, fbase + "/" + fx, fx + "/" + fbase)
    text = head + pick([at_full, at_base], [
        "达到满分值，得满分 " + fscore,
        "得分 " + fP + "×(" + fb + "+" + f(1 - b) + "×" + mid_frac + ") = " + fscore,
    ], default="未达基本值，得分 " + fP + "×" + fb + "×" + low_frac + " = " + fscore)
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    s = ctx.sign.loc[rows.index]
    P, b = num(rows, "points"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = num(rows, "full").fillna(num(rows, "target")) * s
    out["key_base"] = num(rows, "base") * s
    return out


register(Method(
    name="基本满分", description="达到满分值得满分，基本值至满分值之间按比例，未达基本值按基本分比例折算",
    score=base_full, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": REQUIRED, "满分值": REQUIRED, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    checks=(
        Check(("base", "full"), lambda rows, higher: rows["base"].isna() | rows["full"].isna(), "须有「基本值」和「满分值」"),
        Check(("base", "full"), lambda rows, higher: higher & (rows["full"] <= rows["base"]), "正向指标的「满分值」应大于「基本值」"),
        Check(("base", "full"), lambda rows, higher: ~higher & (rows["full"] >= rows["base"]), "反向指标的「满分值」应小于「基本值」"),
        Check(("base",), lambda rows, higher: ~(rows["base"] > 0), "「基本值」应大于0（未达基本值时按比例得分）"),
    ),
    group_relative=False, progress="prorated", full_as_target=True,
))
