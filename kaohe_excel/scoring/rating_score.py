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

from kaohe_excel.inputs.number_text import trimmed
from kaohe_excel.scoring.score import round_half_up

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


def _column_codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of one key column and the values they stand for (categoricals keep theirs)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype=np.int64), pd.Index(column.cat.categories)
    codes, uniques = pd.factorize(column.to_numpy())
    return codes.astype(np.int64), pd.Index(uniques)


def _key_codes(frame: pd.DataFrame, columns: list[str], other: pd.DataFrame | None = None,
               dense: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """One int64 per row for a multi-column key, equal where the keys are equal: the marks' keys are
    hashed as text once per column, never as tuples of 600,000 strings. dense: numbered 0, 1, … in
    order of first appearance. With `other` (a small frame), its rows get codes on the same scale,
    -1 where any of its key values is not in `frame`."""
    combined = np.zeros(len(frame), dtype=np.int64)
    theirs = np.zeros(len(other), dtype=np.int64) if other is not None else None
    span = 1

    def fold(combined, theirs):  # renumber densely, so that the product of the sizes never overflows
        codes, uniques = pd.factorize(combined)
        if theirs is not None:
            theirs = np.where(theirs < 0, -1, pd.Index(uniques).get_indexer(theirs))
        return codes.astype(np.int64), theirs, max(len(uniques), 1)

    for name in columns:
        codes, uniques = _column_codes(frame[name])
        size = max(len(uniques), 1)
        if span * size >= 2**62:
            combined, theirs, span = fold(combined, theirs)
        combined = combined * size + codes
        if theirs is not None:
            found = uniques.get_indexer(other[name].to_numpy())
            theirs = np.where((theirs < 0) | (found < 0), -1, theirs * size + found)
        span *= size
    if dense or span > 4 * len(frame) + 1024:
        combined, theirs, _ = fold(combined, theirs)
    return combined, theirs


def judge_ballots(marks: pd.DataFrame, ballots: pd.DataFrame, ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ballots with n_marks, n_top, limit, status; the marks of valid ballots).

    `ballots` has one row per ballot key (the collector sets duplicate 票号 aside first); marks of a
    ballot not listed there are not counted. A ballot without any mark is blank; more top grades than
    the limit (at the limit is valid) or, where 全同无效, at least 3 marks all equal, voids the whole ballot."""
    ballot_key = KEY + ["ballot"]
    mark_code, ballot_code = _key_codes(marks, ballot_key, ballots, dense=False)
    # each mark's ballot row; -1: its ballot is not among `ballots`
    position = np.full(int(max(mark_code.max(initial=-1), ballot_code.max(initial=-1))) + 1, -1, dtype=np.int64)
    known = ballot_code >= 0
    position[ballot_code[known]] = np.flatnonzero(known)
    row_of_mark = position[mark_code]
    listed = row_of_mark >= 0
    rows = row_of_mark[listed]
    points = marks["points"].to_numpy(dtype=float)[listed]
    n_ballots = len(ballots)
    # NaN points are not marks the collector passes; size counts them, min/max skip them (as pandas does)
    n_marks = np.bincount(rows, minlength=n_ballots).astype(np.int64)
    n_top = np.bincount(rows, weights=marks["top"].to_numpy(dtype=bool)[listed], minlength=n_ballots).astype(np.int64)
    low = np.full(n_ballots, np.nan)
    high = np.full(n_ballots, np.nan)
    np.fmin.at(low, rows, points)
    np.fmax.at(high, rows, points)
    judged = ballots.reset_index(drop=True)
    judged["n_marks"] = n_marks
    judged["n_top"] = n_top
    judged["limit"] = top_limits(judged, ratings).to_numpy()
    same_rule = judged[["rating_code"]].merge(ratings[["rating_code", "all_same_void"]], on="rating_code", how="left")
    same_rule = same_rule["all_same_void"].fillna(False).astype(bool).to_numpy()
    all_same = same_rule & (n_marks >= 3) & (low == high)
    over = n_top > judged["limit"].to_numpy()  # NaN limit compares False: no limit
    judged["status"] = np.select([n_marks == 0, over, all_same], [STATUS_BLANK, STATUS_VOID_TOP, STATUS_VOID_SAME], STATUS_VALID)
    valid_ballot = (judged["status"] == STATUS_VALID).to_numpy()
    keep = np.zeros(len(marks), dtype=bool)
    keep[listed] = valid_ballot[rows]
    return judged, marks[keep].reset_index(drop=True)


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
    # grouped by one integer per rating × group × unit (same sums, in the same order, as by the text keys)
    code, _ = _key_codes(valid_marks, STAT_KEY)
    grouped = valid_marks[["points", "top"]].groupby(code, sort=False)
    agg = grouped.agg(count=("points", "size"), total=("points", "sum"), high=("points", "max"), low=("points", "min"),
                      tops=("top", "sum"))
    # codes are numbered in order of first appearance: a group's first row is where the running maximum grows
    first = np.flatnonzero(np.diff(np.maximum.accumulate(code), prepend=-1) > 0) if len(code) else np.zeros(0, dtype=np.int64)
    # through an Index, as a grouped frame's keys are: object text becomes str, so the merge below types them alike
    keys = pd.DataFrame({name: pd.Index(np.asarray(valid_marks[name].array[first], dtype=object)) for name in STAT_KEY})
    agg = pd.concat([keys, agg.reset_index(drop=True)], axis=1)
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
    """A number as a person writes it: 86.67, 80, 12.5 (the reference _nums equals)."""
    text = trimmed(round_half_up(x, 2), 2)
    return text if text != "-0" else "0"


def _nums(series: pd.Series) -> pd.Series:
    """_num over a column: rounded once, each distinct value formatted once."""
    rounded = pd.Series(round_half_up(series.astype(float), 2), index=series.index)
    texts = {v: (trimmed(v, 2) if v == v else "") for v in rounded.unique()}
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
