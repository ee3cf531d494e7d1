"""阶梯 (tiers): ratio r = x/目标值 (反向 目标值/x); the highest tier with 下限 ≤ r gives P·得分比例."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, f, fs, pick, words
from kaohe_excel.scoring.methods.registry import Check, Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, EPS, blank, ratio_keys
from kaohe_excel.scoring.methods.mirror import DEFAULT_BASE_SHARE, attainment_ratio, dir_note, num


def tiered(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """阶梯: ratio r = x/目标值 (反向 目标值/x); the highest tier with 下限 ≤ r gives P·得分比例."""
    P, x, t = num(rows, "points"), num(rows, "value"), num(rows, "target")
    r = pd.Series(attainment_ratio(x, t, rows["direction"]), index=rows.index)
    tiers = tier_tables.loc[tier_tables["lower"].notna() & tier_tables["tier_table"].notna(),
                            ["tier_table", "lower", "share"]].astype({"lower": float, "share": float})
    # compared as a calculator shows it: 9.45/10.5 is 0.9 and reaches the tier 0.9, though binary gives 0.8999…
    ratio = np.round(r.to_numpy(dtype=float), 9)
    lower_hit, share = np.full(len(rows), np.nan), np.zeros(len(rows))
    codes, names = pd.factorize(rows["tier_table"])
    for code, name in enumerate(names):  # per tier table (a scheme has a handful), never per unit
        table = tiers[tiers["tier_table"].astype(object) == name].sort_values("lower", kind="stable")
        lowers = np.round(table["lower"].to_numpy(dtype=float), 9)
        shares = table["share"].ffill().to_numpy()  # an empty 得分比例 keeps the one below it
        at = np.flatnonzero((codes == code) & ~np.isnan(ratio))
        pos = np.searchsorted(lowers, ratio[at], side="right") - 1  # the highest tier with 下限 ≤ r
        hit = pos >= 0
        lower_hit[at[hit]] = lowers[pos[hit]]
        share[at[hit]] = shares[pos[hit]]
    share = np.nan_to_num(share, nan=0.0)
    score = np.where(r.isna(), np.nan, P * share)
    fshare = f(share)
    text = ("阶梯法" + dir_note(rows) + "：完成值" + f(x) + "，目标值" + f(t) + "，完成比例"
            + f(r) + "，" + pick([~np.isnan(lower_hit)], [
                "达到下限" + f(lower_hit) + "的档次（得分比例" + fshare + "），得分 " + f(P)
                + "×" + fshare + " = " + fs(score)],
                default="未达到档次表「" + words(rows["tier_table"]) + "」最低档，得0分"))
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    s = ctx.sign.loc[rows.index]
    P, t, b = num(rows, "points"), num(rows, "target"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    tiers = ctx.tier_tables.loc[ctx.tier_tables["lower"].notna() & ctx.tier_tables["tier_table"].notna(),
                                ["tier_table", "lower", "share"]].astype({"tier_table": object, "lower": float,
                                                                          "share": float})
    top = tiers.groupby("tier_table")["share"].max().rename("top")
    tiers = tiers.join(top, on="tier_table")
    full_lower = tiers[tiers["share"] >= tiers["top"] - EPS].groupby("tier_table")["lower"].min()
    table = rows["tier_table"].astype(object)
    out["full_score"] = P * table.map(top).astype(float)
    out["base_score"] = P * b
    out["key_full"] = ratio_keys(t, table.map(full_lower).astype(float), s)
    # the first tier whose share reaches b (per row, since b is a row parameter)
    cand = pd.DataFrame({"tier_table": table.to_numpy(), "_b": b.to_numpy(), "_i": np.arange(len(rows))}).merge(
        tiers, on="tier_table", how="inner")
    base_lower = cand[cand["share"] >= cand["_b"] - EPS].groupby("_i")["lower"].min().reindex(np.arange(len(rows)))
    out["key_base"] = ratio_keys(t, base_lower.to_numpy(), s)
    # a tier starting at ratio ≤ 0 is reached by any reported value
    out["base_always"] = (base_lower.to_numpy() <= 0)
    out["full_always"] = (table.map(full_lower).astype(float).to_numpy() <= 0)
    return out


register(Method(
    name="阶梯", description="按完成比例达到的档次表下限，取该档得分比例×分值",
    score=tiered, inverse=inverse,
    parameters={"目标值": REQUIRED, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": REQUIRED, "基本分比例": OPTIONAL},
    checks=(Check(("target",), lambda rows, higher: ~(rows["target"] > 0), "须有大于0的「目标值」"),),
    group_relative=False, progress="prorated", tier_rows="下限",
))
