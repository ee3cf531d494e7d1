"""功效系数 (efficacy coefficient): P · clip(c + (1−c)·(x−不允许值)/(满分值−不允许值), 0, 1); empty thresholds → group best/worst."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, pick, where
from kaohe_excel.scoring.methods.registry import Check, Method, NOT_ALLOWED, OPTIONAL, register
from kaohe_excel.scoring.methods._inverse import Ctx, blank
from kaohe_excel.scoring.methods.mirror import (
    DEFAULT_BASE_SHARE,
    base_share,
    dir_note,
    group_extreme,
    is_lower,
    num,
    signed_gap,
)


def efficacy(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """功效系数: P · clip(c + (1−c)·(x−不允许值)/(满分值−不允许值), 0, 1); empty thresholds → group best/worst."""
    d = rows["direction"]
    P, x, c = num(rows, "points"), num(rows, "value"), base_share(rows)
    full_given, floor_given = num(rows, "full"), num(rows, "floor")
    full = full_given.fillna(group_extreme(rows, x, best=True))
    floor = floor_given.fillna(group_extreme(rows, x, best=False))
    span = signed_gap(full, floor, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_coef = c + (1 - c) * signed_gap(x, floor, d) / span
    # equal thresholds (e.g. every unit of the group reported the same value): reaching them earns P
    coef = np.where(span > 0, raw_coef, np.where(signed_gap(x, full, d) >= 0, 1.0, 0.0))
    used = np.clip(coef, 0, 1)
    score = P * used
    lower = is_lower(d)
    fx, ff, fl, fscore = f(x), f(full), f(floor), fs(score)
    frac = where(lower, "(" + fl + "−" + fx + ")/(" + fl + "−" + ff + ")",
                  "(" + fx + "−" + fl + ")/(" + ff + "−" + fl + ")")
    src = where(full_given.isna() | floor_given.isna(), "（取本类别最优值、最差值）", "")
    clip_note = where(np.isclose(used, coef), "", "，系数限定在0～1")
    formula = pick([span > 0], [
        f(P) + "×(" + f(c) + "+" + f(1 - c) + "×" + frac + ")" + clip_note + " = " + fscore],
        default="满分值与不允许值相同，" + where(coef >= 1, "得满分 ", "得 ") + fscore)
    text = ("功效系数法" + dir_note(rows) + "：完成值" + fx + "，满分值" + ff + "，不允许值" + fl + src
            + "，得分 " + formula)
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, c = num(rows, "points"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    full_given, floor_given = num(rows, "full"), num(rows, "floor")
    out["full_score"] = P
    out["base_score"] = P * c
    # empty 满分值: the group best, which the unit matches (or becomes) at the others' best
    out["key_full"] = (full_given * s).fillna(st["best_o"])
    out["full_always"] = full_given.isna() & st["n_o"].eq(0)
    # empty 不允许值: the group worst includes the unit itself, so its coefficient never drops below c
    out["key_base"] = floor_given * s
    out["base_always"] = floor_given.isna()
    return out


_PAIRED = "「满分值」和「不允许值」须同时填写或同时留空（留空按组内最优、最差值）"

register(Method(
    name="功效系数", description="按完成值在不允许值与满分值之间的位置得分（两者留空取本类别最优、最差值）",
    score=efficacy, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": OPTIONAL,
                "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
    checks=(
        Check(("full", "floor"), lambda rows, higher: rows["full"].isna() != rows["floor"].isna(), _PAIRED,
              on_indicator=True),
        Check(("full", "floor"), lambda rows, higher: higher & (rows["full"] <= rows["floor"]), "正向指标的「满分值」应大于「不允许值」"),
        Check(("full", "floor"), lambda rows, higher: ~higher & (rows["full"] >= rows["floor"]), "反向指标的「满分值」应小于「不允许值」"),
    ),
    group_relative=("full", "floor"), progress="prorated", full_as_target=True,
))
