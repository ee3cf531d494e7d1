"""测评 computation, pure and vectorized: marks → void/blank ballots → per unit × rater group
statistics (trimmed means) → the weighted value per unit, which becomes the 测评 indicator's
实际完成值. No I/O, no loops over units or marks (a city's 2,000 raters × 300 units is 600,000 marks).

Frames:
- marks: rating_code, rater_group, ballot, unit_code, points (0–100 scale), top (bool); one row per
  mark that is a grade or an in-range number (abstentions and erroneous marks are not rows).
- ballots: rating_code, rater_group, ballot, units (how many units the ballot lists), file.
- tallies: rating_code, rater_group, unit_code, votes, points, top (one row per unit × grade).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .score import round_half_up

KEY = ["rating_code", "rater_group"]
STAT_KEY = ["rating_code", "rater_group", "unit_code"]
STATUS_VALID, STATUS_BLANK, STATUS_VOID_TOP, STATUS_VOID_SAME = "valid", "blank", "void_top", "void_same"
STAT_COLUMNS = STAT_KEY + ["weight", "count", "dropped", "dropped_high", "dropped_low", "mean", "top_share", "tally"]
VALUE_COLUMNS = ["rating_code", "indicator_code", "unit_code", "value", "explanation", "groups_marked"]


def top_limits(ballots: pd.DataFrame, ratings: pd.DataFrame) -> pd.Series:
    """每票优秀上限 per ballot: the count, or floor(units × share) but at least 1; NaN = no limit."""
    rules = ballots[["rating_code"]].merge(ratings[["rating_code", "top_limit_count", "top_limit_share"]],
                                           on="rating_code", how="left")
    count = rules["top_limit_count"].astype(float).to_numpy()
    share = rules["top_limit_share"].astype(float).to_numpy()
    units = ballots["units"].astype(float).to_numpy()
    # 1e-9: 5 units × 20% is exactly 1, not 0.999…
    by_share = np.maximum(1.0, np.floor(units * share + 1e-9))
    return pd.Series(np.where(np.isnan(count), by_share, count), index=ballots.index)


def judge_ballots(marks: pd.DataFrame, ballots: pd.DataFrame, ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ballots with n_marks, n_top, limit, status; the marks of valid ballots).

    A ballot without any mark is blank; more top grades than the limit (at the limit is valid)
    or, where 全同无效, at least 3 marks all equal, voids the whole ballot."""
    ballot_key = KEY + ["ballot"]
    per = marks.groupby(ballot_key, sort=False).agg(n_marks=("points", "size"), n_top=("top", "sum"),
                                                    low=("points", "min"), high=("points", "max")).reset_index()
    judged = ballots.merge(per, on=ballot_key, how="left")
    judged["n_marks"] = judged["n_marks"].fillna(0).astype(int)
    judged["n_top"] = judged["n_top"].fillna(0).astype(int)
    judged["limit"] = top_limits(judged, ratings).to_numpy()
    same_rule = judged[["rating_code"]].merge(ratings[["rating_code", "all_same_void"]], on="rating_code", how="left")
    same_rule = same_rule["all_same_void"].fillna(False).astype(bool).to_numpy()
    all_same = same_rule & (judged["n_marks"] >= 3).to_numpy() & (judged["low"] == judged["high"]).to_numpy()
    over = (judged["n_top"] > judged["limit"]).to_numpy()  # NaN limit compares False: no limit
    judged["status"] = np.select([judged["n_marks"].to_numpy() == 0, over, all_same],
                                 [STATUS_BLANK, STATUS_VOID_TOP, STATUS_VOID_SAME], STATUS_VALID)
    judged = judged.drop(columns=["low", "high"])
    valid = judged.loc[judged["status"] == STATUS_VALID, ballot_key]
    return judged, marks.merge(valid, on=ballot_key, how="inner")


def rated_pairs(raters: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """rating_code, rater_group, unit_code, weight: every unit each group rates (its 评价对象)."""
    groups = list(dict.fromkeys(units["group"]))
    targets = raters[["rating_code", "rater_group", "weight", "targets"]].copy()
    targets["targets"] = targets["targets"].map(lambda t: groups if isinstance(t, str) else list(t))
    exploded = targets.explode("targets").rename(columns={"targets": "group"}).dropna(subset=["group"])
    return exploded.merge(units[["unit_code", "group"]], on="group")[STAT_KEY + ["weight"]].reset_index(drop=True)


def group_stats(valid_marks: pd.DataFrame, tallies: pd.DataFrame, ratings: pd.DataFrame, raters: pd.DataFrame,
                units: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation × rater group × unit it rates: valid marks, dropped marks, mean, 优秀率.

    When a group gave a unit more valid marks than 去极值人数, its highest and lowest are
    dropped (one each; exactly 去极值人数 marks keeps them all). 汇总 is never trimmed."""
    agg = valid_marks.groupby(STAT_KEY, sort=False).agg(
        count=("points", "size"), total=("points", "sum"), high=("points", "max"), low=("points", "min"),
        tops=("top", "sum")).reset_index()
    trim = agg[["rating_code"]].merge(ratings[["rating_code", "trim_above"]], on="rating_code", how="left")["trim_above"]
    trimmed = (agg["count"].to_numpy() > trim.astype(float).to_numpy())  # NaN: never
    kept = np.where(trimmed, agg["count"] - 2, agg["count"])
    kept_total = np.where(trimmed, agg["total"] - agg["high"] - agg["low"], agg["total"])
    marked = pd.DataFrame({
        "rating_code": agg["rating_code"], "rater_group": agg["rater_group"], "unit_code": agg["unit_code"],
        "count": agg["count"], "dropped": np.where(trimmed, 2, 0),
        "dropped_high": np.where(trimmed, agg["high"], np.nan), "dropped_low": np.where(trimmed, agg["low"], np.nan),
        "mean": kept_total / kept, "top_share": agg["tops"] / agg["count"], "tally": False})
    if len(tallies):
        weighted = tallies.assign(score=tallies["votes"] * tallies["points"], top_votes=tallies["votes"] * tallies["top"])
        sums = weighted.groupby(STAT_KEY, sort=False).agg(count=("votes", "sum"), score=("score", "sum"),
                                                           tops=("top_votes", "sum")).reset_index()
        sums = sums[sums["count"] > 0]
        tallied = pd.DataFrame({
            "rating_code": sums["rating_code"], "rater_group": sums["rater_group"], "unit_code": sums["unit_code"],
            "count": sums["count"], "dropped": 0, "dropped_high": np.nan, "dropped_low": np.nan,
            "mean": sums["score"] / sums["count"], "top_share": sums["tops"] / sums["count"], "tally": True})
        marked = pd.concat([marked, tallied], ignore_index=True) if len(marked) else tallied
    pairs = rated_pairs(raters, units)
    stats = pairs.merge(marked, on=STAT_KEY, how="left")
    stats["count"] = stats["count"].fillna(0).astype(int)
    stats["dropped"] = stats["dropped"].fillna(0).astype(int)
    stats["tally"] = stats["tally"].fillna(False).astype(bool)
    return stats[STAT_COLUMNS]


def _num(x: float) -> str:
    """A number as a person writes it: 86.67, 80, 12.5."""
    text = f"{round_half_up(x, 2):.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _nums(series: pd.Series) -> pd.Series:
    """_num over a column: rounded once, each distinct value formatted once."""
    rounded = pd.Series(round_half_up(series.astype(float), 2), index=series.index)
    texts = {v: (f"{v:.2f}".rstrip("0").rstrip(".") if v == v else "") for v in rounded.unique()}
    return rounded.map(texts).fillna("").astype(object)


def unit_values(stats: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """value(u) = Σ w·mean / Σ w over the groups that gave u at least one valid mark, half-up to
    2 decimals; NaN when no group did. With the explanation sentence (counts, dropped, means, weights)."""
    marked = stats["count"] > 0
    w = stats["weight"].astype(float).where(marked, 0.0)
    frame = stats.assign(wm=(w * stats["mean"].fillna(0.0)), w=w, marked=marked.astype(int))
    sums = frame.groupby(["rating_code", "unit_code"], sort=False).agg(wm=("wm", "sum"), w=("w", "sum"),
                                                                       groups_marked=("marked", "sum"))
    sums = sums.reset_index()
    exact = sums["wm"] / sums["w"].where(sums["w"] > 0)
    sums["value"] = round_half_up(exact, 2)
    # The sentence, built column-wise: one text per group row, joined per unit.
    count_text = stats["count"].astype(str)
    dropped_text = np.where(stats["dropped"] > 0,
                            "，去掉最高 " + _nums(stats["dropped_high"]) + "、最低 " + _nums(stats["dropped_low"]), "")
    what = np.where(stats["tally"], " 票（汇总）", " 票有效")
    part = np.where(marked, stats["rater_group"] + " " + count_text + what + dropped_text + "，均值 "
                    + _nums(stats["mean"]),
                    stats["rater_group"] + " 无有效评价（权重不计）")
    weight_text = _nums(stats["weight"].astype(float) * 100) + "%"
    part = pd.Series(part, index=stats.index) + "，权重 " + weight_text
    joined = pd.DataFrame({"rating_code": stats["rating_code"], "unit_code": stats["unit_code"], "part": part})
    joined = joined.groupby(["rating_code", "unit_code"], sort=False)["part"].agg("；".join).reset_index()
    sums = sums.merge(joined, on=["rating_code", "unit_code"], how="left")
    names = ratings.set_index("rating_code")
    sums["indicator_code"] = sums["rating_code"].map(names["indicator_code"])
    rating_name = sums["rating_code"].map(names["rating_name"])
    renorm = np.where((sums["w"] > 0) & ((sums["w"] - 1).abs() > 1e-9),
                      "（权重按有评价的类别 " + _nums(sums["w"] * 100) + "% 归一）", "")
    sums["explanation"] = np.where(
        sums["value"].notna(),
        rating_name + "：" + sums["part"] + "；测评值 " + _nums(sums["value"]) + renorm,
        rating_name + "：" + sums["part"] + "；没有任何有效评价，测评值缺失")
    return sums[VALUE_COLUMNS].reset_index(drop=True)


def participation(judged: pd.DataFrame, raters: pd.DataFrame) -> pd.DataFrame:
    """Per evaluation × rater group: ballots received, valid, void, blank, against 应参评人数."""
    counts = judged.assign(valid=judged["status"] == STATUS_VALID, blank=judged["status"] == STATUS_BLANK,
                           void=judged["status"].isin([STATUS_VOID_TOP, STATUS_VOID_SAME]))
    agg = counts.groupby(KEY, sort=False).agg(received=("ballot", "size"), valid=("valid", "sum"),
                                              void=("void", "sum"), blank=("blank", "sum")).reset_index()
    frame = raters[KEY + ["expected", "collect"]].merge(agg, on=KEY, how="left")
    for column in ("received", "valid", "void", "blank"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["rate"] = frame["valid"] / frame["expected"].astype(float)
    return frame


__all__ = ["judge_ballots", "group_stats", "unit_values", "participation", "rated_pairs", "top_limits"]
