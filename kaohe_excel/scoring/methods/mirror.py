"""What every scoring method shares: parameters as numbers, mirroring (反向) and peers.

反向 (direction "lower") is never a separate code path: methods are written once with
`attainment_ratio` and `signed_gap`, and group best/worst are computed on value × `sign`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.scoring.explain import Text, where

DEFAULT_BASE_SHARE = 0.6
DEFAULT_CAP = 1.0


def is_lower(direction: Any) -> np.ndarray:
    # compared in the column's own dtype: converting a million strings to objects first costs more than scoring
    series = direction if isinstance(direction, pd.Series) else pd.Series(direction)
    return series.eq("lower").fillna(False).to_numpy(dtype=bool)


def attainment_ratio(x: Any, t: Any, direction: Any) -> np.ndarray:
    """x / t for 正向, t / x for 反向; 1 when x == t.

    A non-positive value is the worst case for 正向 (ratio 0) and the best case for 反向
    (ratio inf, later capped); a non-positive reference makes any better value inf and
    any worse value 0, so the ratio never decreases as the value improves.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    lower = is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        higher_ratio = np.select(
            [x == t, t <= 0, x <= 0],
            [1.0, np.where(x > t, np.inf, 0.0), 0.0],
            default=x / t,
        )
        lower_ratio = np.select(
            [x == t, t <= 0, x <= 0],
            [1.0, np.where(x < t, np.inf, 0.0), np.inf],
            default=t / x,
        )
    out = np.where(lower, lower_ratio, higher_ratio)
    return np.where(np.isnan(x) | np.isnan(t), np.nan, out)


def signed_gap(x: Any, t: Any, direction: Any) -> np.ndarray:
    """How far x is better than t: x − t for 正向, t − x for 反向."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    lower = is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
    return np.where(lower, t - x, x - t)


def sign(rows: pd.DataFrame) -> np.ndarray:
    """+1 for 正向, −1 for 反向: `value * sign` is "bigger is better" for every row."""
    return np.where(is_lower(rows["direction"]), -1.0, 1.0)


def num(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[column], errors="coerce").astype(float)


def base_share(rows: pd.DataFrame) -> pd.Series:
    return num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)


# A unit's peers for group-relative methods: same 考核类别, same indicator.
PEER_KEYS = ["group", "indicator_code"]
PEER = "_peer"  # score_indicators gives methods the peer keys as one code column too (one key groups faster)


def peers(rows: pd.DataFrame) -> Any:
    """The groupby key of a row's peers."""
    return rows[PEER].to_numpy() if PEER in rows.columns else [rows[k] for k in PEER_KEYS]


def group_extreme(rows: pd.DataFrame, x: pd.Series, best: bool) -> pd.Series:
    """Best (or worst) value among the rows of the same group and indicator, mirrored by direction."""
    s = sign(rows)
    key = pd.Series(x.to_numpy() * s, index=rows.index)
    grouped = key.groupby(peers(rows), dropna=False)
    return grouped.transform("max" if best else "min") * s


def dir_note(rows: pd.DataFrame) -> Text:
    return where(is_lower(rows["direction"]), "（反向）", "")
