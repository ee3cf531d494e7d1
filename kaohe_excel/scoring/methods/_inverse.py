"""What the methods' inverses (the gap analysis: the value needed for base and full score) share.

Values are handled in "key" space (value × sign, sign −1 for 反向 and for counts) so bigger is
always better. Group-relative methods assume the other units' values stay as they are ("others
fixed"): `peer_stats` gives per row statistics of the *other* scored units of its cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# A tiny tolerance for "share ≥ b" comparisons on parsed decimals (0.6 typed vs 0.6 computed).
EPS = 1e-9

# the columns an inverse returns
NEEDED = ["base_score", "full_score", "key_base", "key_full", "key_next", "grade_for_base", "grade_for_full",
           "base_always", "full_always"]



@dataclass
class Peers:
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


def peer_stats(rows: pd.DataFrame, key: pd.Series, peer_ok: pd.Series) -> tuple[pd.DataFrame, Peers]:
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
    peers = Peers(keys=keys, end=end, count=end - start, at_least=end - first_at_least, above=above, own=own,
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



@dataclass
class Ctx:
    key: pd.Series  # value × sign for every row
    sign: pd.Series
    stats: pd.DataFrame
    peers: Peers
    pos: pd.Series  # row position (for the peers' per-row arrays)
    tier_tables: pd.DataFrame


def blank(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: np.nan for c in NEEDED}, index=rows.index)
    out["grade_for_base"] = pd.Series("", index=rows.index, dtype=object)
    out["grade_for_full"] = pd.Series("", index=rows.index, dtype=object)
    out["base_always"] = False
    out["full_always"] = False
    return out


def ratio_keys(t: pd.Series, ratio: Any, sign: pd.Series) -> np.ndarray:
    """Key of the value whose attainment ratio against t is `ratio`: x = r·t (正向), t/r (反向)."""
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(sign > 0, ratio * t, t / ratio)
    value = np.where((t > 0) & (ratio > 0), value, np.nan)
    return value * sign

