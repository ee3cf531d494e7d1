"""Gap analysis (差距分析) and what-if simulation (模拟测算).

`gap_table` answers, per unit × indicator, which value reaches the base score and which
the full score, solved in closed form from each method's formula (never by search), and
for group-relative methods which value lifts the unit one position. `simulate` re-scores
a period with some values changed and compares totals, ranks and grades.

Definitions (docs/methods.md notation):
- full score: the most the method can give: P·上限系数 (完成率), P·max 得分比例 (阶梯, 定性),
  otherwise P.
- base score (基本分): P·b, b = 基本分比例 (default 0.6). Methods with a base of their own
  hit it exactly: 基本满分 at 基本值, 功效系数 (c = b) at 不允许值; 阶梯/定性 need the first
  tier/grade whose share is ≥ b; 扣分 allows floor(P(1−b)/step) incidents.
- group-relative methods assume the other units' values stay as they are ("others fixed");
  the needed value is solved against the other units only, so the unit's own value never
  moves the reference it is measured against.
Values are handled in "key" space (value × sign, sign −1 for 反向) so bigger is always
better and every method is written once, like score.py.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .errors import KaoheError, PeriodNotFound
from .memory import release_unused
from .score import DEFAULT_BASE_SHARE, DEFAULT_CAP, _effective_weights, _is_lower, _num, round_half_up

GAP_COLUMNS = ["unit_code", "unit_name", "group", "indicator_code", "name", "method", "direction", "measure_unit",
               "status", "value", "text_value", "score", "points", "base_score", "full_score", "value_for_base",
               "value_for_full", "value_for_next_rank", "grade_for_base", "grade_for_full", "points_to_base",
               "points_to_full", "points_at_stake", "sentence", "decimals"]

_SENTENCE_ROWS = 50_000

# A tiny tolerance for "share ≥ b" comparisons on parsed decimals (0.6 typed vs 0.6 computed).
_EPS = 1e-9

# the columns GAP_METHODS read
_PARAMS = ["method", "points", "target", "base", "full", "floor", "cap", "step", "base_share", "tier_table"]

_NEEDED = ["base_score", "full_score", "key_base", "key_full", "key_next", "grade_for_base", "grade_for_full",
           "base_always", "full_always"]


# --------------------------------------------------------------------------- peers


@dataclass
class _Peers:
    """The scored keys of every group × indicator cell, sorted, for leave-one-out lookups.

    A row's peers are the scored rows of its cell other than itself ("others fixed"). Nothing
    pairs rows with each other: per-row positions come from np.searchsorted on the keys sorted
    by (cell, key), so time and memory grow as n log n, not as the square of a group's size.
    Per-row arrays are indexed by row position.
    """

    keys: np.ndarray  # peer keys sorted by (cell, key) ascending, then one NaN (the "none" slot)
    end: np.ndarray  # one past the row's cell's last peer in `keys`
    count: np.ndarray  # peers in the row's cell, the row itself included when it is one
    at_least: np.ndarray  # peers in the row's cell whose key ≥ the row's key
    above: np.ndarray  # index in `keys` of the smallest key > the row's key, or `none` past its cell
    own: np.ndarray  # the row itself is one of its cell's peers
    none: int  # index of the NaN slot

    def kth_best(self, pos: np.ndarray, k: Any) -> np.ndarray:
        """The k-th best (1-based) key among the other peers of rows `pos`; NaN when there are fewer."""
        k = np.asarray(k, dtype=float)
        # the row's own key is (desc, 1-based) at place at_least among its cell's peers; leaving it
        # out moves every place from there on up by one
        j = k - 1 + (self.own[pos] & (k >= self.at_least[pos]))
        ok = np.isfinite(k) & (k >= 1) & (j < self.count[pos])
        idx = np.where(ok, self.end[pos] - 1 - np.where(ok, j, 0).astype(np.int64), self.none)
        return self.keys[idx]


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s = fl(a + b) and its exact rounding error e (a + b = s + e), elementwise (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _cell_sums(cell: np.ndarray, x: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell the sum of x as a double-double (hi + lo), by pairwise halving within each cell.

    A plain total minus the row's own value would round twice and, when the values cancel,
    drift from the sum of the others by many ulps; hi + lo keeps ~106 bits.
    """
    order = np.argsort(cell, kind="stable")
    c, hi, lo = cell[order], x[order], np.zeros(len(x))
    while len(c):
        first = np.r_[True, c[1:] != c[:-1]]
        if first.all():
            break
        at = np.arange(len(c))
        place = at - np.maximum.accumulate(np.where(first, at, 0))  # position within the cell
        left = np.flatnonzero(place % 2 == 0)
        paired = np.r_[~first[1:], False][left]  # the next element is in the same cell
        right = np.where(paired, left + 1, left)
        s, e = _two_sum(hi[left], np.where(paired, hi[right], 0.0))
        hi, lo = _two_sum(s, lo[left] + np.where(paired, lo[right], 0.0) + e)
        c = c[left]
    out_hi, out_lo = np.zeros(n_cells), np.zeros(n_cells)
    out_hi[c], out_lo[c] = hi, lo
    return out_hi, out_lo


def _peer_stats(rows: pd.DataFrame, key: pd.Series, peer_ok: pd.Series) -> tuple[pd.DataFrame, _Peers]:
    """Per row, statistics of the *other* scored units of its group on the same indicator.

    Returns (stats indexed like rows: n_o, best_o, sum_o, next_better; the sorted peers for
    the k-th best lookup of 排名). Cell totals minus the row's own share, never a self-merge.
    """
    n = len(rows)
    group = pd.factorize(rows["group"], use_na_sentinel=False)[0].astype(np.int64)
    indicator, codes = pd.factorize(rows["indicator_code"], use_na_sentinel=False)
    cell = pd.factorize(group * max(len(codes), 1) + indicator)[0].astype(np.int64)
    own = peer_ok.to_numpy(dtype=bool)
    own_key = key.to_numpy(dtype=float)
    peer_cell, peer_key = cell[own], own_key[own]
    # one sortable integer per (cell, key): keys replaced by their rank among the distinct peer keys
    distinct = np.unique(peer_key)
    width = len(distinct) + 1
    coded = np.sort(peer_cell * width + np.searchsorted(distinct, peer_key))
    order = np.lexsort((peer_key, peer_cell))
    keys = np.append(peer_key[order], np.nan)
    none = len(keys) - 1
    base = cell * width
    start = np.searchsorted(coded, base, side="left")
    end = np.searchsorted(coded, base + width, side="left")
    first_at_least = np.searchsorted(coded, base + np.searchsorted(distinct, own_key, side="left"), side="left")
    above = np.searchsorted(coded, base + np.searchsorted(distinct, own_key, side="right"), side="left")
    above = np.where(above < end, above, none)
    peers = _Peers(keys=keys, end=end, count=end - start, at_least=end - first_at_least, above=above, own=own,
                   none=none)

    n_o = (peers.count - own).astype(float)
    hi, lo = _cell_sums(peer_cell, peer_key, int(cell.max()) + 1 if n else 0)
    # total − own in double-double, rounded once: the sum of the others as if added directly
    s, e = _two_sum(hi[cell], -np.where(own, own_key, 0.0))
    sum_o = np.where(n_o > 0, s + (lo[cell] + e), np.nan)
    stats = pd.DataFrame({
        "n_o": n_o, "best_o": peers.kth_best(np.arange(n), np.ones(n)), "sum_o": sum_o,
        "next_better": keys[above],
    }, index=rows.index)
    return stats, peers


# --------------------------------------------------------------------------- per-method solutions


@dataclass
class _Ctx:
    key: pd.Series  # value × sign for every row
    sign: pd.Series
    stats: pd.DataFrame
    peers: _Peers
    pos: pd.Series  # row position (for the peers' per-row arrays)
    tier_tables: pd.DataFrame


def _blank(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: np.nan for c in _NEEDED}, index=rows.index)
    out["grade_for_base"] = pd.Series("", index=rows.index, dtype=object)
    out["grade_for_full"] = pd.Series("", index=rows.index, dtype=object)
    out["base_always"] = False
    out["full_always"] = False
    return out


def _ratio_keys(t: pd.Series, ratio: Any, sign: pd.Series) -> np.ndarray:
    """Key of the value whose attainment ratio against t is `ratio`: x = r·t (正向), t/r (反向)."""
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(sign > 0, ratio * t, t / ratio)
    value = np.where((t > 0) & (ratio > 0), value, np.nan)
    return value * sign


def _completion(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    P, t, b = _num(rows, "points"), _num(rows, "target"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    cap = _num(rows, "cap").fillna(DEFAULT_CAP)
    s = ctx.sign.loc[rows.index]
    out["full_score"] = P * cap
    out["base_score"] = P * b
    out["key_full"] = _ratio_keys(t, cap, s)
    out["key_base"] = _ratio_keys(t, b, s)
    return out


def _base_full(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    s = ctx.sign.loc[rows.index]
    P, b = _num(rows, "points"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = _num(rows, "full").fillna(_num(rows, "target")) * s
    out["key_base"] = _num(rows, "base") * s
    return out


def _efficacy(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, c = _num(rows, "points"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    full_given, floor_given = _num(rows, "full"), _num(rows, "floor")
    out["full_score"] = P
    out["base_score"] = P * c
    # empty 满分值: the group best, which the unit matches (or becomes) at the others' best
    out["key_full"] = (full_given * s).fillna(st["best_o"])
    out["full_always"] = full_given.isna() & st["n_o"].eq(0)
    # empty 不允许值: the group worst includes the unit itself, so its coefficient never drops below c
    out["key_base"] = floor_given * s
    out["base_always"] = floor_given.isna()
    return out


def _tiered(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    s = ctx.sign.loc[rows.index]
    P, t, b = _num(rows, "points"), _num(rows, "target"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    tiers = ctx.tier_tables.loc[ctx.tier_tables["lower"].notna() & ctx.tier_tables["tier_table"].notna(),
                                ["tier_table", "lower", "share"]].astype({"tier_table": object, "lower": float,
                                                                          "share": float})
    top = tiers.groupby("tier_table")["share"].max().rename("top")
    tiers = tiers.join(top, on="tier_table")
    full_lower = tiers[tiers["share"] >= tiers["top"] - _EPS].groupby("tier_table")["lower"].min()
    table = rows["tier_table"].astype(object)
    out["full_score"] = P * table.map(top).astype(float)
    out["base_score"] = P * b
    out["key_full"] = _ratio_keys(t, table.map(full_lower).astype(float), s)
    # the first tier whose share reaches b (per row, since b is a row parameter)
    cand = pd.DataFrame({"tier_table": table.to_numpy(), "_b": b.to_numpy(), "_i": np.arange(len(rows))}).merge(
        tiers, on="tier_table", how="inner")
    base_lower = cand[cand["share"] >= cand["_b"] - _EPS].groupby("_i")["lower"].min().reindex(np.arange(len(rows)))
    out["key_base"] = _ratio_keys(t, base_lower.to_numpy(), s)
    # a tier starting at ratio ≤ 0 is reached by any reported value
    out["base_always"] = (base_lower.to_numpy() <= 0)
    out["full_always"] = (table.map(full_lower).astype(float).to_numpy() <= 0)
    return out


def _shortfall(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, step, b = _num(rows, "points"), _num(rows, "step"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    t_given = _num(rows, "target")
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


def _ranking(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    st = ctx.stats.loc[rows.index]
    P, step, b = _num(rows, "points"), _num(rows, "step"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = st["best_o"]  # ties share the better position: equalling the best is first place
    out["full_always"] = st["n_o"].eq(0)
    # with 每项分值: position k keeps P·b while (k−1)·step ≤ P(1−b); without it the linear
    # scale never goes below P·b
    k_base = np.floor(1 + P * (1 - b) / step.where(step > 0) + _EPS).to_numpy()
    has_step = step.gt(0).to_numpy()
    kth = ctx.peers.kth_best(ctx.pos.loc[rows.index].to_numpy(), np.where(has_step, k_base, np.nan))
    out["key_base"] = np.where(has_step, kth, np.nan)
    out["base_always"] = ~has_step | (st["n_o"].to_numpy() < np.nan_to_num(k_base, nan=0.0))
    return out


def _relative_best(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    s, st = ctx.sign.loc[rows.index], ctx.stats.loc[rows.index]
    P, b = _num(rows, "points"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    best_value = st["best_o"] * s
    out["full_score"] = P
    out["base_score"] = P * b
    out["key_full"] = st["best_o"]
    out["key_base"] = _ratio_keys(best_value, b, s)
    out["full_always"] = st["n_o"].eq(0)
    out["base_always"] = out["full_always"]
    return out


def _qualitative(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    P, b = _num(rows, "points"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    levels = ctx.tier_tables.loc[ctx.tier_tables["level"].fillna("").astype(str).str.strip() != "",
                                 ["tier_table", "level", "share"]].copy()
    levels = levels.astype({"tier_table": object, "share": float}).assign(
        level=levels["level"].astype(str).str.strip().astype(object), _pos=np.arange(len(levels)))
    top = levels.sort_values(["share", "_pos"], ascending=[False, True]).drop_duplicates("tier_table")
    table = rows["tier_table"].astype(object)
    out["full_score"] = P * table.map(top.set_index("tier_table")["share"]).astype(float)
    out["grade_for_full"] = table.map(top.set_index("tier_table")["level"]).astype(object).fillna("")
    out["base_score"] = P * b
    cand = pd.DataFrame({"tier_table": table.to_numpy(), "_b": b.to_numpy(), "_i": np.arange(len(rows))}).merge(
        levels, on="tier_table", how="inner")
    base = (cand[cand["share"] >= cand["_b"] - _EPS].sort_values(["_i", "share", "_pos"])
            .drop_duplicates("_i").set_index("_i")["level"].reindex(np.arange(len(rows))))
    out["grade_for_base"] = base.astype(object).fillna("").to_numpy()
    return out


def _deduction(rows: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    out = _blank(rows)
    P, step, b = _num(rows, "points"), _num(rows, "step"), _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    ok = step > 0
    out["full_score"] = P
    out["base_score"] = P * b
    # a count is always 反向: keys are −count
    out["key_full"] = np.where(ok, -0.0, np.nan)
    out["key_base"] = -np.floor(P * (1 - b) / step.where(ok) + _EPS)
    out["full_always"] = step.eq(0)
    out["base_always"] = step.eq(0)
    return out


GAP_METHODS: dict[str, Callable[[pd.DataFrame, _Ctx], pd.DataFrame]] = {
    "完成率": _completion,
    "基本满分": _base_full,
    "功效系数": _efficacy,
    "阶梯": _tiered,
    "差额扣分": _shortfall,
    "排名": _ranking,
    "相对最优": _relative_best,
    "定性": _qualitative,
    "扣分": _deduction,
}


def _relative_rows(rows: pd.DataFrame) -> pd.Series:
    """Rows whose score depends on their rank among the group: they get a one-position target."""
    method = rows["method"].astype(object)
    return (method.isin(["排名", "相对最优"])
            | (method.eq("功效系数") & (_num(rows, "full").isna() | _num(rows, "floor").isna()))
            | (method.eq("差额扣分") & _num(rows, "target").isna()))


# --------------------------------------------------------------------------- total factor


def _total_factor(scored: pd.DataFrame, rows: pd.DataFrame, scheme: Any) -> pd.Series:
    """How many points of 总分 one point of this indicator is worth (before rounding).

    原始分 → 1; 百分制 → 100 / the unit's points available; 权重 → w_c · W/present / points_c
    (× 100/W with 百分制), mirroring score.compute_totals.
    """
    if scheme is None:
        return pd.Series(1.0, index=rows.index)
    percent = getattr(scheme.meta, "total_mode", "raw") == "percent"
    weights = getattr(scheme, "weights", None)
    # three columns, not a copy of every score with its sentence
    pts = pd.DataFrame({"unit_code": scored["unit_code"],
                        "category": scored["category"] if "category" in scored.columns else "",
                        "points_available": _num(scored, "points_available").fillna(0.0)})
    unit = rows["unit_code"].astype(object)
    if weights is not None and len(weights):
        units = scheme.units[["unit_code", "group"]].astype(object)
        eff = _effective_weights(weights, units["group"])
        full = eff.groupby("group")["weight"].sum()
        by_cat = (pts.assign(unit_code=pts["unit_code"].astype(object), category=pts["category"].astype(object))
                  .groupby(["unit_code", "category"], as_index=False)["points_available"].sum())
        frame = units.merge(eff, on="group").merge(by_cat, on=["unit_code", "category"], how="left")
        frame = frame[frame["points_available"].fillna(0.0) > 0]
        present = frame.groupby("unit_code")["weight"].sum()
        frame = frame.assign(factor=frame["weight"] * frame["group"].map(full) / frame["unit_code"].map(present)
                             / frame["points_available"])
        if percent:
            frame["factor"] = frame["factor"] * 100.0 / frame["group"].map(full)
        keyed = frame.set_index(["unit_code", "category"])["factor"]
        idx = pd.MultiIndex.from_arrays([unit, rows["category"].astype(object)])
        return pd.Series(keyed.reindex(idx).fillna(0.0).to_numpy(), index=rows.index)
    if percent:
        available = pts.assign(unit_code=pts["unit_code"].astype(object)).groupby("unit_code")["points_available"].sum()
        factor = 100.0 / available.where(available > 0)
        return pd.Series(unit.map(factor).astype(float).fillna(0.0).to_numpy(), index=rows.index)
    return pd.Series(1.0, index=rows.index)


# --------------------------------------------------------------------------- display


_MAX_DECIMALS = 4


def _decimals_of(values: np.ndarray) -> np.ndarray:
    """The decimals each number is written with (0..4; NaN → 0): 85 → 0, 85.3 → 1, 0.45 → 2."""
    v = np.abs(np.asarray(values, dtype=float))
    v = np.where(np.isfinite(v), v, 0.0)
    out = np.full(len(v), _MAX_DECIMALS, dtype=np.int64)
    for d in range(_MAX_DECIMALS - 1, -1, -1):
        scaled = v * 10.0 ** d
        exact = np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, scaled)
        out = np.where(exact, d, out)
    return out


def _indicator_decimals(rows: pd.DataFrame) -> np.ndarray:
    """Per row, the decimals its indicator's figures are written with (its values, 基本值, 目标值,
    满分值, 不允许值, over all units), at least 2: the needed values are shown to that precision
    (95.5 → 97.29, not 97.2889; integer figures still get 2.10 rather than an overstated 3)."""
    d = np.full(len(rows), 2, dtype=np.int64)
    for column in ("value", "target", "base", "full", "floor"):
        if column in rows.columns:
            d = np.maximum(d, _decimals_of(_num(rows, column).to_numpy()))
    per = pd.Series(d, index=rows.index).groupby(rows["indicator_code"].astype(object).to_numpy()).transform("max")
    return per.to_numpy(dtype=np.int64)


def _needed_at(values: Any, lower: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """A needed value rounded to its indicator's decimals on the safe side (up for 正向, down for 反向)."""
    scale = 10.0 ** np.asarray(decimals, dtype=float)
    v = np.round(np.asarray(values, dtype=float) * scale, 5)
    return np.where(lower, np.floor(v), np.ceil(v)) / scale + 0.0


def _per_distinct(values: Any, text: Callable[[float], str]) -> np.ndarray:
    """`text` of each value, called once per distinct float: a column repeats few values.

    Distinct by bit pattern, so −0.0 and 0.0 keep their own text as before.
    """
    arr = np.ascontiguousarray(values, dtype=float).reshape(-1)
    bits, inverse = np.unique(arr.view(np.int64), return_inverse=True)
    return np.array([text(v) for v in bits.view(float).tolist()], dtype=object)[inverse]


def _show_one(v: float) -> str:
    if v != v:
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


_CENTS = re.compile(r"(\.\d\d)\d+$")


def _show(values: Any, index: pd.Index, cents: bool = False) -> pd.Series:
    """Numbers with at least 2 and at most 4 decimals (8 → 8.00, 0.4545 → 0.4545); cents: cut to 2."""
    arr = round_half_up(np.asarray(values, dtype=float).reshape(-1), 4)
    text = (lambda v: _CENTS.sub(r"\1", _show_one(v))) if cents else _show_one
    return pd.Series(_per_distinct(arr, text), index=index, dtype=object)


def _count(values: Any, index: pd.Index) -> pd.Series:
    return pd.Series(_per_distinct(values, lambda v: "—" if v != v else str(int(v))), index=index, dtype=object)


def _join(mask: np.ndarray, *parts: Any) -> np.ndarray:
    """Elementwise concatenation of str constants and per-row object arrays, on mask rows ("" elsewhere).

    One str.join per row (map/zip run in C): chained `+` would build every intermediate string.
    """
    out = np.full(len(mask), "", dtype=object)
    at = np.flatnonzero(mask)
    columns = [itertools.repeat(part, len(at)) if isinstance(part, str) else part[at] for part in parts]
    out[at] = list(map("".join, zip(*columns)))
    return out


def _sentence(g: pd.DataFrame) -> pd.Series:
    """One Chinese sentence per row with the numbers plugged in.

    Pieces are numpy object arrays joined only on the rows whose sentence shows them: str
    columns would go to and from Arrow at every step (seconds at 100,000 rows).
    """
    method = g["method"].astype(object).to_numpy()
    is_count, is_grade = method == "扣分", method == "定性"
    lower = _is_lower(g["direction"]) | is_count
    status = g["status"].astype(object).to_numpy()
    mu = g["measure_unit"].astype(object).where(g["measure_unit"].notna(), "").astype(str).str.strip()
    mu = np.select([mu.eq(""), mu.isin(["%", "‰"])], ["", mu], default=" " + mu).astype(object)
    verb = np.where(lower, "降至", "完成").astype(object)
    grades = {col: g[col].astype(object).to_numpy() for col in ("grade_for_base", "grade_for_full")}
    decimals = (g["decimals"].to_numpy(dtype=np.int64) if "decimals" in g.columns
                else np.full(len(g), _MAX_DECIMALS, dtype=np.int64))

    def texts(values: Any, count: bool = False) -> np.ndarray:
        return (_count if count else _show)(values, g.index).to_numpy()

    def amount(col: str, rows: np.ndarray) -> np.ndarray:
        return np.select(
            [is_grade, is_count],
            [_join(rows & is_grade, "评为「", grades[col.replace("value", "grade")], "」"),
             _join(rows & is_count, "扣分事项不超过 ", texts(g[col], count=True), " 次")],
            default=_join(rows & ~is_grade & ~is_count, verb, " ", texts(_needed_at(g[col], lower, decimals)), mu))

    next_rank = g["value_for_next_rank"].notna().to_numpy()
    has_full = (g["value_for_full"].notna() | g["grade_for_full"].astype(str).ne("")).to_numpy()
    needs_base = (g["points_to_base"].gt(0) & (g["value_for_base"].notna()
                                               | g["grade_for_base"].astype(str).ne(""))).to_numpy()
    at_full = (g["points_to_full"].le(0) & g["status"].eq("scored")).to_numpy()
    # the first of these that holds picks the sentence, as np.select would
    led, full = at_full & next_rank, at_full & ~next_rank
    anyway = ~at_full & ~has_full & g["full_always"].to_numpy(dtype=bool)
    no_params = ~at_full & ~has_full & ~anyway
    short = ~at_full & has_full

    said = anyway | no_params | short
    current = np.select(
        [status == "missing", status == "unscored", is_grade, is_count],
        [np.array("目前未填报", dtype=object), np.array("目前数据有误未计分", dtype=object),
         _join(said & is_grade, "目前「", g["text_value"].astype(object).fillna("").astype(str).to_numpy(dtype=object), "」"),
         _join(said & is_count, "目前 ", texts(g["value"], count=True), " 次")],
        default=_join(said, "目前 ", texts(g["value"])))
    stake = _show(g["points_at_stake"].to_numpy(), g.index, cents=True).to_numpy()
    gain = _join(anyway | short, "，可增加 ", stake, " 分")
    for_full = np.where(is_count, "不发生扣分事项", amount("value_for_full", short & ~is_count)).astype(object)
    base_part = _join(short & needs_base, "距基本分需", amount("value_for_base", short & needs_base), "，")
    next_part = _join(short & next_rank, "，升一位需", verb, " ", texts(_needed_at(g["value_for_next_rank"], lower, decimals)),
                      mu, "（与上一位持平即可）")
    score = texts(g["score"])
    return pd.Series(np.select(
        [led, full, anyway, no_params],
        [_join(led, "已得满分 ", score, " 分（须保持本类别领先）"), _join(full, "已得满分 ", score, " 分"),
         _join(anyway, "填报即可得满分（", current, "）", gain), _join(no_params, "评分参数缺失，无法测算（", current, "）")],
        default=_join(short, base_part, "距满分还需", for_full, "（", current, "）", next_part, gain)),
        index=g.index, dtype=object)


# --------------------------------------------------------------------------- gap table


def gap_table(scored: pd.DataFrame, tier_tables: pd.DataFrame, scheme: Any = None) -> pd.DataFrame:
    """Per unit × indicator: the values needed for the base and full score, and the points at stake.

    `scored` is score.score_indicators' output. Exempt rows are left out. `points_to_full`
    counts indicator points; `points_at_stake` converts them into 总分 points when the
    scheme is given (百分制 / 权重), else equals `points_to_full`. Sorted per unit by
    points at stake, largest first.
    """
    status = scored["status"].astype(object)
    # the columns read here only: a city's scores with their sentences would double in memory
    wanted = dict.fromkeys(GAP_COLUMNS + _PARAMS + ["category", "order", "points_available", "direction", "tier_table"])
    rows = scored.loc[~status.isin(["exempt", "exempt_mean"]), [c for c in wanted if c in scored.columns]]
    rows = rows.reset_index(drop=True)
    for column, default in (("direction", "higher"), ("tier_table", np.nan), ("measure_unit", ""), ("text_value", None),
                            ("unit_name", ""), ("category", ""), ("order", np.nan)):
        if column not in rows.columns:
            rows[column] = default
    tier_tables = tier_tables if tier_tables is not None else pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    method = rows["method"].astype(object)
    sign = pd.Series(np.where(_is_lower(rows["direction"]) | method.eq("扣分").to_numpy(), -1.0, 1.0), index=rows.index)
    key = _num(rows, "value") * sign
    peer_ok = rows["status"].astype(object).eq("scored") & key.notna()
    stats, peers = _peer_stats(rows, key, peer_ok)
    ctx = _Ctx(key, sign, stats, peers, pd.Series(np.arange(len(rows)), index=rows.index), tier_tables)

    # only the parameter columns: slicing every text column of `scored` per method costs more than solving
    params = rows[[c for c in _PARAMS if c in rows.columns]]
    at = {name: pos for name, pos in method.groupby(method.to_numpy(), sort=False).indices.items() if name in GAP_METHODS}
    solved = [GAP_METHODS[name](params.iloc[pos], ctx)[_NEEDED] for name, pos in at.items()]  # one pass per method
    rest = np.setdiff1d(np.arange(len(rows)), np.concatenate([np.empty(0, dtype=np.int64), *at.values()]))
    if len(rest) or not solved:
        solved.append(_blank(rows.iloc[rest]))
    need = pd.concat(solved).reindex(rows.index)
    need = need.astype({c: float for c in ("base_score", "full_score", "key_base", "key_full", "key_next")})
    # the next better unit's value: equalling it shares its position (ties share the better one)
    need["key_next"] = stats["next_better"].where(_relative_rows(rows) & peer_ok)
    need["full_score"] = need["full_score"].fillna(_num(rows, "points"))

    score = _num(rows, "score")
    current = score.fillna(0.0)
    full_score = round_half_up(need["full_score"])
    base_score = round_half_up(need["base_score"])
    out = rows.assign(
        score=score,
        base_score=base_score,
        full_score=full_score,
        value_for_base=need["key_base"] * sign + 0.0,
        value_for_full=need["key_full"] * sign + 0.0,
        value_for_next_rank=need["key_next"] * sign + 0.0,
        grade_for_base=need["grade_for_base"].astype(object),
        grade_for_full=need["grade_for_full"].astype(object),
        full_always=need["full_always"].astype(bool),
        points_to_base=round_half_up((base_score - current).clip(lower=0.0)),
        points_to_full=round_half_up((full_score - current).clip(lower=0.0)),
    )
    out["points_at_stake"] = round_half_up(out["points_to_full"] * _total_factor(scored, rows, scheme))
    out["decimals"] = _indicator_decimals(rows)
    # in slices: a sentence reads only its own row, and its pieces for a city's 550,000 rows at once
    # would take a few hundred MB
    out["sentence"] = pd.concat([_sentence(out.iloc[i:i + _SENTENCE_ROWS]) for i in range(0, len(out), _SENTENCE_ROWS)]
                                or [_sentence(out)])
    out = out.sort_values(["unit_code", "points_at_stake", "order", "indicator_code"],
                          ascending=[True, False, True, True], kind="stable")
    out = out[GAP_COLUMNS].reset_index(drop=True)
    release_unused()  # the solving tables of a city's 550,000 rows
    return out


GAP_SHEET_HEADERS = ["指标代码", "指标名称", "计分方法", "计量单位", "实际完成值", "得分", "满分", "基本分",
                     "达到基本分需", "达到满分需", "升一位需", "距满分差（分）", "可增加总分", "说明"]


def gap_sheet_rows(gap: pd.DataFrame, unit_code: str | None = None) -> pd.DataFrame:
    """The 差距分析 sheet of a unit's feedback workbook (Chinese headers).

    Values are numbers (a grade for 定性, a count for 扣分), so Excel can sort and add them; needed
    values are rounded to the indicator's own decimals on the safe side, so reaching the printed
    value is enough. With unit_code None every unit is listed, with 单位代码/单位名称 in front.
    """
    g = gap if unit_code is None else gap[gap["unit_code"].astype(object).eq(unit_code)]
    g = g.reset_index(drop=True)
    idx = g.index
    method = g["method"].astype(object)
    lower = _is_lower(g["direction"]) | method.eq("扣分").to_numpy()
    is_grade = method.eq("定性").to_numpy()
    decimals = (g["decimals"].to_numpy(dtype=np.int64) if "decimals" in g.columns
                else np.full(len(g), _MAX_DECIMALS, dtype=np.int64))

    def number(values: Any) -> pd.Series:
        v = np.asarray(values, dtype=float)
        return pd.Series(np.where(np.isfinite(v), v, np.nan), index=idx).astype(object).where(np.isfinite(v), None)

    def needed(col: str, grade_col: str | None = None) -> pd.Series:
        shown = number(_needed_at(g[col], lower, decimals))
        grade = g[grade_col].astype(object).where(g[grade_col].notna(), "") if grade_col else pd.Series("", index=idx, dtype=object)
        return pd.Series(np.where(is_grade, grade.where(grade != "", None), shown), index=idx, dtype=object)

    value = pd.Series(np.where(is_grade, g["text_value"].astype(object).where(g["text_value"].notna(), None),
                               number(g["value"])), index=idx, dtype=object)
    value = value.where(~g["status"].isin(["missing", "unscored"]).to_numpy() | is_grade, None)
    for_full = needed("value_for_full", "grade_for_full")
    for_full = for_full.where(~(method.eq("扣分").to_numpy() & g["value_for_full"].notna().to_numpy()), 0.0)
    table = pd.DataFrame({
        "指标代码": g["indicator_code"], "指标名称": g["name"], "计分方法": g["method"],
        "计量单位": g["measure_unit"].astype(object).fillna(""), "实际完成值": value,
        "得分": g["score"], "满分": g["full_score"], "基本分": g["base_score"],
        "达到基本分需": needed("value_for_base", "grade_for_base"),
        "达到满分需": for_full,
        "升一位需": needed("value_for_next_rank"),
        "距满分差（分）": g["points_to_full"], "可增加总分": g["points_at_stake"], "说明": g["sentence"],
    })
    if unit_code is None:
        table.insert(0, "单位名称", g["unit_name"])
        table.insert(0, "单位代码", g["unit_code"])
    return table


_VALUE_HEADERS = ["实际完成值", "达到基本分需", "达到满分需", "升一位需"]


def sheet_rows_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """gap_sheet_rows' value columns as the texts a terminal shows (0.7142 stays 0.7142, 8 → 8.00)."""
    out = table.copy()
    for column in _VALUE_HEADERS:
        if column in out.columns:
            out[column] = out[column].map(lambda v: "" if v is None or (isinstance(v, float) and v != v)
                                          else (_show_one(float(v)) if isinstance(v, (int, float)) else str(v)))
    return out


# --------------------------------------------------------------------------- changes


_CHANGE = re.compile(r"^\s*([A-Za-z0-9_-]{1,32})\s*[:：]\s*([^=＝\s]+)\s*[=＝]\s*(.+?)\s*$")


def parse_changes(items: list[str]) -> dict[tuple[str, str], Any]:
    """["XZ01:A01=8.5", "XZ01:C1=优"] → {("XZ01", "A01"): 8.5, ("XZ01", "C1"): "优"}.

    Plain numbers (full-width digits too) become floats; anything else stays text: a grade
    for 定性, or a number with its unit (8.5亿元, 85%) that simulate reads with the
    indicator's 计量单位. Malformed items raise KaoheError listing each one.
    """
    changes: dict[tuple[str, str], Any] = {}
    problems: list[str] = []
    for item in items:
        match = _CHANGE.match(str(item))
        if not match:
            problems.append(f"「{item}」格式不对，应写成 单位代码:指标代码=值，例如 XZ01:A01=8.5")
            continue
        unit, code, raw = match.groups()
        if (unit, code) in changes:
            problems.append(f"「{item}」重复设定了 {unit} 的指标 {code}")
            continue
        text = unicodedata.normalize("NFKC", raw).strip()
        try:
            number = float(text)
            changes[(unit, code)] = number if math.isfinite(number) else text
        except ValueError:
            changes[(unit, code)] = text
    if problems:
        raise KaoheError("模拟测算的设定值有误：\n" + "\n".join("  " + p for p in problems))
    return changes


# --------------------------------------------------------------------------- simulation


SIM_TOTAL_COLUMNS = ["unit_code", "unit_name", "group", "total_before", "total_after", "total_delta", "rank_before",
                     "rank_after", "rank_delta", "grade_before", "grade_after", "grade_changed"]
SIM_SCORE_COLUMNS = ["unit_code", "unit_name", "indicator_code", "name", "changed", "value_before", "value_after",
                     "score_before", "score_after", "score_delta"]


@dataclass
class SimulationResult:
    """Before/after of a what-if run. `totals` has one row per unit (rank_delta > 0 = moved up);
    `scores` lists the set values and every indicator score that moved (group-relative
    methods move the peers too)."""

    before: Any  # pipeline.Results
    after: Any
    totals: pd.DataFrame
    scores: pd.DataFrame


def _display_values(frame: pd.DataFrame) -> pd.Series:
    text = frame["text_value"].astype(object).where(frame["text_value"].notna(), "").astype(str)
    number = _show(_num(frame, "value"), frame.index).where(_num(frame, "value").notna(), "")
    return pd.Series(np.where(text.str.strip() != "", text, number), index=frame.index, dtype=object)


def _apply_changes(scheme: Any, values: pd.DataFrame, changes: dict[tuple[str, str], Any]) -> pd.DataFrame:
    from .validate import parse_value

    assigned = scheme.assignments()
    assigned = assigned.assign(unit_code=assigned["unit_code"].astype(object),
                               indicator_code=assigned["indicator_code"].astype(object))
    wanted = pd.DataFrame([(u, i, v) for (u, i), v in changes.items()], columns=["unit_code", "indicator_code", "new"])
    wanted = wanted.astype({"unit_code": object, "indicator_code": object, "new": object})
    joined = wanted.merge(assigned[["unit_code", "indicator_code", "method", "exempt", "tier_table", "measure_unit"]],
                          on=["unit_code", "indicator_code"], how="left")
    units = set(scheme.units["unit_code"].astype(str))
    grades = scheme.tier_tables[scheme.tier_tables["level"].fillna("").astype(str).str.strip() != ""]
    problems: list[str] = []
    numbers: dict[tuple[str, str], float] = {}
    for row in joined.itertuples(index=False):  # a handful of user-typed settings, not a scoring path
        where = f"{row.unit_code}:{row.indicator_code}"
        if row.unit_code not in units:
            problems.append(f"{where}：没有单位代码 {row.unit_code}")
        elif not isinstance(row.method, str):
            problems.append(f"{where}：指标 {row.indicator_code} 不存在或不适用于该单位")
        elif bool(row.exempt):
            problems.append(f"{where}：该单位此指标不考核，无需模拟")
        elif row.method == "定性":
            levels = grades.loc[grades["tier_table"].astype(object).eq(row.tier_table), "level"].astype(str).str.strip()
            if str(row.new).strip() not in set(levels):
                problems.append(f"{where}：定性指标应填等级（{'、'.join(levels)}），不能是「{row.new}」")
        elif isinstance(row.new, str):
            parsed = parse_value(row.new, row.measure_unit if isinstance(row.measure_unit, str) else "")
            if parsed.problem is not None or parsed.text is not None:
                problems.append(f"{where}：「{row.new}」不是数字")
            else:
                numbers[(row.unit_code, row.indicator_code)] = parsed.value
    if problems:
        raise KaoheError("无法模拟测算：\n" + "\n".join("  " + p for p in problems))

    is_grade = joined["method"].eq("定性")
    parsed_new = [numbers.get((u, i), v) for u, i, v in zip(joined["unit_code"], joined["indicator_code"], joined["new"])]
    joined["new"] = pd.Series(parsed_new, index=joined.index, dtype=object)
    new = pd.DataFrame({
        "unit_code": joined["unit_code"], "indicator_code": joined["indicator_code"],
        "value": pd.to_numeric(joined["new"].where(~is_grade), errors="coerce").astype(float),
        "text_value": joined["new"].where(is_grade).map(lambda v: str(v).strip() if isinstance(v, str) else None)
        .astype(object),
    })
    values = values.copy()
    key = pd.MultiIndex.from_frame(values[["unit_code", "indicator_code"]].astype(object))
    hit = key.isin(pd.MultiIndex.from_frame(new[["unit_code", "indicator_code"]]))
    lookup = new.set_index(["unit_code", "indicator_code"])
    values["value"] = values["value"].astype(float)
    values["text_value"] = values["text_value"].astype(object)
    values.loc[hit, "value"] = lookup["value"].reindex(key[hit]).to_numpy()
    values.loc[hit, "text_value"] = lookup["text_value"].reindex(key[hit]).to_numpy()
    values.loc[hit, "unscored"] = False
    present = pd.MultiIndex.from_frame(new[["unit_code", "indicator_code"]]).isin(key)
    added = new.loc[~present].assign(evidence="", note="模拟测算", file="", sheet="", cell="", unscored=False)
    if len(added):
        values = pd.concat([values, added.reindex(columns=values.columns)], ignore_index=True)
    return values


def simulate(results_or_frames: Any, changes: dict[tuple[str, str], Any]) -> SimulationResult:
    """Re-score with some values changed; `results_or_frames` is pipeline.Results or (scheme, validated).

    Unknown units, indicators that do not apply, exempt pairs, text for numeric indicators
    and unknown grades raise KaoheError with every problem listed.
    """
    from . import pipeline

    if isinstance(results_or_frames, tuple):
        scheme, validated = results_or_frames
        before = pipeline.score_period(scheme, validated)
    else:
        before = results_or_frames
        scheme, validated = before.scheme, before.validated
    changed = replace(validated, values=_apply_changes(scheme, validated.values, changes))
    after = pipeline.score_period(scheme, changed)

    b = before.ranked[["unit_code", "unit_name", "group", "total", "rank", "grade"]]
    a = after.ranked[["unit_code", "total", "rank", "grade"]]
    totals = b.merge(a, on="unit_code", suffixes=("_before", "_after"))
    totals["total_delta"] = round_half_up(totals["total_after"] - totals["total_before"])
    totals["rank_delta"] = totals["rank_before"] - totals["rank_after"]
    totals["grade_changed"] = totals["grade_before"].astype(object) != totals["grade_after"].astype(object)

    cols = ["unit_code", "indicator_code", "value", "text_value", "score"]
    sb = before.scored[["unit_name", "name"] + cols]
    sa = after.scored[cols]
    scores = sb.merge(sa, on=["unit_code", "indicator_code"], suffixes=("_before", "_after"))
    pairs = pd.MultiIndex.from_tuples(list(changes)) if changes else pd.MultiIndex.from_arrays([[], []])
    scores["changed"] = pd.MultiIndex.from_frame(scores[["unit_code", "indicator_code"]].astype(object)).isin(pairs)
    sb_, sa_ = scores["score_before"], scores["score_after"]
    moved = ~((sb_ == sa_) | (sb_.isna() & sa_.isna()))
    scores["value_before"] = _display_values(scores.rename(columns={"value_before": "value", "text_value_before": "text_value"}))
    scores["value_after"] = _display_values(scores.rename(columns={"value_after": "value", "text_value_after": "text_value"}))
    scores["score_delta"] = round_half_up(sa_.fillna(0.0) - sb_.fillna(0.0))
    scores = scores[scores["changed"] | moved].sort_values(["changed", "unit_code", "indicator_code"],
                                                           ascending=[False, True, True])
    return SimulationResult(before, after, totals[SIM_TOTAL_COLUMNS].reset_index(drop=True),
                            scores[SIM_SCORE_COLUMNS].reset_index(drop=True))


def simulation_rows(sim: SimulationResult, only_changed: bool = True) -> pd.DataFrame:
    """Totals before/after with Chinese headers (console table); only units whose total, rank or grade moved."""
    t = sim.totals
    if only_changed:
        t = t[(t["total_delta"] != 0) | (t["rank_delta"] != 0) | t["grade_changed"]]
    return pd.DataFrame({
        "单位代码": t["unit_code"], "单位名称": t["unit_name"], "考核类别": t["group"],
        "原总分": t["total_before"], "模拟总分": t["total_after"], "变化": t["total_delta"],
        "原排名": t["rank_before"], "模拟排名": t["rank_after"],
        "原等次": t["grade_before"], "模拟等次": t["grade_after"],
    }).reset_index(drop=True)
