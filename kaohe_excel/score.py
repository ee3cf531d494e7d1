"""Indicator scores, adjustment (加扣分) amounts and unit totals.

Pure functions: DataFrames in, DataFrames out, no I/O. Every method is applied to all
rows that use it at once (boolean masks, groupby), never unit by unit. 反向 (direction
"lower") is handled by mirroring through `attainment_ratio` and `signed_gap`, so each
method is written once. docs/methods.md lists the methods and their formulas.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_BASE_SHARE = 0.6
DEFAULT_CAP = 1.0

Method = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


# --------------------------------------------------------------------------- rounding


def round_half_up(x: Any, digits: int = 2) -> Any:
    """四舍五入 of the exact decimal value: 0.975 -> 0.98, -0.975 -> -0.98.

    Binary noise is removed first (round the scaled value to 6 places), so a value a
    calculator shows as ...5 always rounds away from zero. Accepts a scalar, an array
    or a Series (index kept); NaN stays NaN.
    """
    factor = 10.0**digits
    if isinstance(x, pd.Series):
        return pd.Series(round_half_up(x.to_numpy(dtype=float, na_value=np.nan), digits), index=x.index, name=x.name)
    arr = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(arr * factor, 6)
        out = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor + 0.0  # + 0.0 turns -0.0 into 0.0
    if np.ndim(out) == 0:
        return float(out)
    return out


# --------------------------------------------------------------------------- mirroring


def _is_lower(direction: Any) -> np.ndarray:
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
    lower = _is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
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
    lower = _is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
    return np.where(lower, t - x, x - t)


def _sign(rows: pd.DataFrame) -> np.ndarray:
    """+1 for 正向, −1 for 反向: `value * sign` is "bigger is better" for every row."""
    return np.where(_is_lower(rows["direction"]), -1.0, 1.0)


# --------------------------------------------------------------------------- formatting
# Explanations are built for a million rows at once. A number is turned into text once per
# distinct value (a parameter repeats on every row of an indicator); a sentence is a list of
# pieces (literal text or per-row codes into a piece's own texts) joined once, in C++, by
# pyarrow; sentence alternatives (np.select of old) are joined only on the rows that take them.

_STR = pa.large_string()
_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str"
_JOIN_ROWS = 65536
_EXACT = 1e9  # below this, rint(v · 10^d) is the exact decimal a rounded float prints as


def _plain(v: float, decimals: int) -> str:
    """An already rounded float as a person writes it (4 decimals: trailing zeros trimmed); NaN → —."""
    if v != v:
        return "—"
    if v in (math.inf, -math.inf):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.{decimals}f}"
    if decimals == 4:  # person-style: trailing zeros trimmed
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _STR)


def _digit_texts(keys: np.ndarray, decimals: int) -> pa.Array:
    """Each integer key k written as k / 10^decimals with that many decimals (4: trailing zeros
    trimmed, no dot left alone), |k| < 10^18. Digits are laid out in a byte matrix and the
    unused cells squeezed out: several times faster than formatting with pyarrow casts."""
    n = len(keys)
    magnitude = np.abs(keys)
    whole, fraction = np.divmod(magnitude, 10**decimals)
    whole_width = len(str(int(whole.max()))) if n else 1
    whole_digits = np.searchsorted(10 ** np.arange(1, whole_width, dtype=np.int64), whole, side="right") + 1
    if decimals == 4:  # person-style: trailing zeros trimmed
        zeros = sum((fraction % 10**p == 0).astype(np.int64) for p in range(1, 5))
        fraction_digits = 4 - zeros
    else:
        fraction_digits = np.full(n, decimals, dtype=np.int64)
    width = 1 + whole_width + 1 + decimals  # sign, whole part, dot, fraction
    cells = np.empty((n, width), dtype=np.uint8)
    keep = np.empty((n, width), dtype=bool)
    cells[:, 0], keep[:, 0] = ord("-"), keys < 0
    rest = whole
    for column in range(whole_width, 0, -1):  # units digit in the last whole column
        rest, digit = np.divmod(rest, 10)
        cells[:, column] = digit + ord("0")
        keep[:, column] = whole_width - column < whole_digits
    cells[:, whole_width + 1], keep[:, whole_width + 1] = ord("."), fraction_digits > 0
    rest = fraction
    for place in range(decimals, 0, -1):
        rest, digit = np.divmod(rest, 10)
        cells[:, whole_width + 1 + place] = digit + ord("0")
        keep[:, whole_width + 1 + place] = place <= fraction_digits
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep[:, 0] + whole_digits + (fraction_digits > 0) + fraction_digits, out=offsets[1:])
    data = cells[keep]
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _number_texts(values: np.ndarray, decimals: int) -> pa.Array:
    """`_plain` of each value after rounding, vectorized: the same text, byte for byte."""
    rounded = round_half_up(values, decimals)
    with np.errstate(invalid="ignore"):
        exact = np.abs(rounded) < _EXACT  # NaN and ±inf are not
    # the integer rint(v · 10^d) of a rounded v holds exactly the digits f"{v:.{d}f}" prints
    keys = np.rint(np.where(exact, rounded, 0.0) * 10.0**decimals).astype(np.int64)
    text = _digit_texts(keys, decimals)
    if not exact.all():  # NaN, ±inf and numbers of a billion or more: Python writes those few
        odd = ~exact
        text = pc.replace_with_mask(text, pa.array(odd), pa.array([_plain(v, decimals) for v in rounded[odd].tolist()], _STR))
    return text


class _Piece:
    """Per-row text as codes into `texts` (codes None: one text per row)."""

    __slots__ = ("codes", "texts")

    def __init__(self, codes: np.ndarray | None, texts: pa.Array):
        self.codes, self.texts = codes, texts

    def rows(self, rows: np.ndarray | None) -> np.ndarray:
        if self.codes is None:
            return np.arange(len(self.texts)) if rows is None else rows
        return self.codes if rows is None else self.codes[rows]


def _number_piece(values: Any, decimals: int) -> _Piece:
    values = np.asarray(values, dtype=float).reshape(-1)
    n = len(values)
    if n > 8192 and len(np.unique(values[:: n // 2048][:2048])) > 2000:
        return _Piece(None, _number_texts(values, decimals))  # mostly distinct: hashing would not pay
    # parameters repeat on every row of an indicator: round and write each distinct value once
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return _Piece(codes, _number_texts(np.asarray(distinct, dtype=float), decimals))


def _text_piece(values: Any) -> _Piece:
    """Per-row strings (missing → "") as one piece."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return _Piece(codes, pa.array(["" if _missing_as_none(v) is None else str(v) for v in distinct], _STR))


def _missing_as_none(value: Any) -> Any:
    return None if not isinstance(value, str) and pd.isna(value) else value


def _compact(pieces: list, rows: np.ndarray) -> list:
    """One sentence alternative on `rows` as few pieces per row: literals (str) and [codes on rows, texts].

    Literals fold into a neighbour's texts and neighbouring pieces with few texts merge into
    one (all their combinations), while those texts stay far fewer than the rows: parameters
    repeat on every row of an indicator, so most of a sentence costs nothing per row.
    """
    size = len(rows)
    items: list = []
    for piece in pieces:
        if not isinstance(piece, str):
            if len(piece.texts) != 1:
                items.append([piece.rows(rows), piece.texts])
                continue
            piece = piece.texts[0].as_py()
        if piece == "":
            continue
        if items and isinstance(items[-1], str):
            items[-1] += piece
        else:
            items.append(piece)
    few = max(64, size // 8)
    for k, item in enumerate(items):  # literals into a neighbour
        if not isinstance(item, str):
            continue
        near = [j for j in (k + 1, k - 1) if 0 <= j < len(items) and not isinstance(items[j], str)]
        if not near:
            continue
        j = min(near, key=lambda j: len(items[j][1]))
        if len(items[j][1]) > few:
            continue
        pair = (_lit(item), items[j][1]) if j > k else (items[j][1], _lit(item))
        items[j] = [items[j][0], pc.binary_join_element_wise(*pair, _lit(""))]
        items[k] = ""
    out: list = []
    for item in items:  # neighbouring pieces into their combinations
        if isinstance(item, str):
            if item:
                out.append(item)
            continue
        if out and not isinstance(out[-1], str) and len(out[-1][1]) * len(item[1]) <= few:
            (codes_a, texts_a), (codes_b, texts_b) = out[-1], item
            na, nb = len(texts_a), len(texts_b)
            texts = pc.binary_join_element_wise(texts_a.take(pa.array(np.repeat(np.arange(na), nb))),
                                                texts_b.take(pa.array(np.tile(np.arange(nb), na))), _lit(""))
            out[-1] = [codes_a * nb + codes_b, texts]
        else:
            out.append(item)
    return out


def _assemble(n: int, parts: list) -> pa.ChunkedArray:
    """n sentences from parts (rows, piece_rows, pieces): on `rows` the row-wise concatenation of
    `pieces`, whose codes are read at `piece_rows`. Parts do not overlap; rows of none read "".

    Every piece becomes indices into one vocabulary; one take and one list join build all rows.
    """
    count = np.zeros(n, dtype=np.int64)
    live = []
    for rows, piece_rows, pieces in parts:
        if len(rows):
            items = _compact(pieces, piece_rows)
            count[rows] = len(items)
            live.append((rows, items))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    vocabulary: list[pa.Array] = []
    size = 0
    index = np.empty(int(offsets[-1]), dtype=np.int32)
    literal_at: dict[str, int] = {}
    for rows, items in live:
        start = offsets[rows]
        for j, item in enumerate(items):
            if isinstance(item, str):
                if item not in literal_at:
                    literal_at[item] = size
                    vocabulary.append(pa.array([item], _STR))
                    size += 1
                index[start + j] = literal_at[item]
            else:
                index[start + j] = item[0] + size
                vocabulary.append(item[1])
                size += len(item[1])
    if not vocabulary:
        return pa.chunked_array([pa.repeat(_lit(""), n)])
    vocabulary_array = pa.concat_arrays(vocabulary)
    chunks = []
    for first in range(0, n, _JOIN_ROWS):  # in blocks: the pieces of a block stay in cache until joined
        last = min(first + _JOIN_ROWS, n)
        start, stop = offsets[first], offsets[last]
        values = vocabulary_array.take(pa.array(index[start:stop]))
        lists = pa.LargeListArray.from_arrays(pa.array(offsets[first:last + 1] - start), values)
        chunks.append(pc.binary_join(lists, _lit("")))
    return pa.chunked_array(chunks, type=_STR)


class _Text:
    """Sentences for n rows: alternatives (rows mask or None for all, pieces); `+` distributes over them."""

    __slots__ = ("n", "alternatives")

    def __init__(self, n: int, alternatives: list):
        self.n, self.alternatives = n, alternatives

    @staticmethod
    def of(n: int, piece: Any) -> "_Text":
        return piece if isinstance(piece, _Text) else _Text(n, [(None, [piece])])

    def __add__(self, other: Any) -> "_Text":
        other = _Text.of(self.n, other)
        out = []
        for mask_a, pieces_a in self.alternatives:
            for mask_b, pieces_b in other.alternatives:
                mask = mask_b if mask_a is None else mask_a if mask_b is None else mask_a & mask_b
                if mask is None or mask.any():
                    out.append((mask, pieces_a + pieces_b))
        return _Text(self.n, out)

    def __radd__(self, other: Any) -> "_Text":
        return _Text.of(self.n, other) + self

    def restricted(self, mask: np.ndarray) -> "_Text":
        return _Text(self.n, [(mask if m is None else m & mask, pieces) for m, pieces in self.alternatives])

    def parts(self, rows: np.ndarray | None = None) -> list:
        """For `_assemble`: each alternative on its rows (mapped through `rows`, the rows these n are)."""
        out = []
        for mask, pieces in self.alternatives:
            local = np.arange(self.n) if mask is None else np.flatnonzero(mask)
            out.append((local if rows is None else rows[local], local, pieces))
        return out

    def array(self) -> pa.ChunkedArray:
        """The n sentences, in row order (large_string chunks)."""
        return _assemble(self.n, self.parts())


def _f(values: Any) -> _Text:
    values = np.asarray(values, dtype=float).reshape(-1)
    return _Text.of(len(values), _number_piece(values, 4))


def _fs(values: Any) -> _Text:
    values = np.asarray(values, dtype=float).reshape(-1)
    return _Text.of(len(values), _number_piece(values, 2))


def _format(values: Any, index: pd.Index, decimals: int) -> pd.Series:
    """Numbers as text (`_plain`), one object Series aligned on index."""
    piece = _number_piece(values, decimals)
    text = piece.texts if piece.codes is None else piece.texts.take(pa.array(piece.codes))
    return pd.Series(text.to_numpy(zero_copy_only=False), index=index, dtype=object)


def _where(mask: Any, a: Any, b: Any) -> _Text:
    mask = np.asarray(mask, dtype=bool)
    n = len(mask)
    return _Text(n, _Text.of(n, a).restricted(mask).alternatives + _Text.of(n, b).restricted(~mask).alternatives)


def _pick(conditions: list[Any], choices: list[Any], default: Any = "") -> _Text:
    """First condition that holds picks its sentence (np.select), the rest take `default`."""
    out = default
    for cond, choice in zip(reversed(conditions), reversed(choices)):
        out = _where(cond, choice, out)
    return out


def _t(values: Any) -> _Text:
    """A text column as sentence pieces (missing → "")."""
    return _Text.of(len(values), _text_piece(values))


def _dir_note(rows: pd.DataFrame) -> _Text:
    return _where(_is_lower(rows["direction"]), "（反向）", "")


def _series(text: _Text, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(text.array(), dtype=_STR_DTYPE), index=index)


# --------------------------------------------------------------------------- parameters


def _num(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[column], errors="coerce").astype(float)


def _base_share(rows: pd.DataFrame) -> pd.Series:
    return _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)


# A unit's peers for group-relative methods: same 考核类别, same indicator.
PEER_KEYS = ["group", "indicator_code"]
_PEER = "_peer"  # score_indicators gives methods the peer keys as one code column too (one key groups faster)


def _peers(rows: pd.DataFrame) -> Any:
    """The groupby key of a row's peers."""
    return rows[_PEER].to_numpy() if _PEER in rows.columns else [rows[k] for k in PEER_KEYS]


def _method(sentences: Callable[[pd.DataFrame, pd.DataFrame], tuple[Any, _Text]]) -> Method:
    """A registry entry from a function giving (score, sentences); `score_indicators` calls
    `.sentences` itself, so that all methods' explanations are joined in one pass."""
    @functools.wraps(sentences)
    def method(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
        score, text = sentences(rows, tier_tables)
        return pd.DataFrame({"score_raw": np.asarray(score, dtype=float), "explanation": _series(text, rows.index)},
                            index=rows.index)
    method.sentences = sentences  # type: ignore[attr-defined]
    return method


# --------------------------------------------------------------------------- methods


@_method
def completion(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """完成率: P · min(ratio, cap), ratio = x/目标值 (反向 目标值/x)."""
    P, x, t = _num(rows, "points"), _num(rows, "value"), _num(rows, "target")
    cap = _num(rows, "cap").fillna(DEFAULT_CAP)
    r = attainment_ratio(x, t, rows["direction"])
    used = np.clip(r, 0, cap)
    score = P * used
    ratio_text = _where(_is_lower(rows["direction"]), "目标值/完成值", "完成值/目标值")
    text = ("完成率法" + _dir_note(rows) + "：完成值" + _f(x) + "，目标值" + _f(t) + "，完成比例（"
            + ratio_text + "）" + _f(r) + "，上限系数" + _f(cap) + "，得分 " + _f(P) + "×"
            + _f(used) + " = " + _fs(score))
    return score, text


@_method
def base_full(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """基本满分: 满分值 reached → P; between → P·(b+(1−b)·progress); below 基本值 → P·b·ratio."""
    d = rows["direction"]
    P, x, base = _num(rows, "points"), _num(rows, "value"), _num(rows, "base")
    full = _num(rows, "full").fillna(_num(rows, "target"))  # 满分值 left empty: the target is the full mark
    b = _base_share(rows)
    at_full = signed_gap(x, full, d) >= 0
    at_base = signed_gap(x, base, d) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = signed_gap(x, base, d) / signed_gap(full, base, d)
    below = b * np.clip(attainment_ratio(x, base, d), 0, 1)
    share = np.select([at_full, at_base], [1.0, b + (1 - b) * progress], default=below)
    bad = np.isnan(x) | np.isnan(base) | np.isnan(full)
    score = np.where(bad, np.nan, P * np.clip(share, 0, 1))
    lower = _is_lower(d)
    fb, fx, ff, fP, fbase, fscore = _f(b), _f(x), _f(full), _f(P), _f(base), _fs(score)
    head = "基本满分法" + _dir_note(rows) + "：完成值" + fx + "，基本值" + fbase + "，满分值" + ff + "，"
    mid_frac = _where(lower, "(" + fbase + "−" + fx + ")/(" + fbase + "−" + ff + ")",
                      "(" + fx + "−" + fbase + ")/(" + ff + "−" + fbase + ")")
    low_frac = _where(lower, fbase + "/" + fx, fx + "/" + fbase)
    text = head + _pick([at_full, at_base], [
        "达到满分值，得满分 " + fscore,
        "得分 " + fP + "×(" + fb + "+" + _f(1 - b) + "×" + mid_frac + ") = " + fscore,
    ], default="未达基本值，得分 " + fP + "×" + fb + "×" + low_frac + " = " + fscore)
    return score, text


def _group_extreme(rows: pd.DataFrame, x: pd.Series, best: bool) -> pd.Series:
    """Best (or worst) value among the rows of the same group and indicator, mirrored by direction."""
    sign = _sign(rows)
    key = pd.Series(x.to_numpy() * sign, index=rows.index)
    grouped = key.groupby(_peers(rows), dropna=False)
    return grouped.transform("max" if best else "min") * sign


@_method
def efficacy(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """功效系数: P · clip(c + (1−c)·(x−不允许值)/(满分值−不允许值), 0, 1); empty thresholds → group best/worst."""
    d = rows["direction"]
    P, x, c = _num(rows, "points"), _num(rows, "value"), _base_share(rows)
    full_given, floor_given = _num(rows, "full"), _num(rows, "floor")
    full = full_given.fillna(_group_extreme(rows, x, best=True))
    floor = floor_given.fillna(_group_extreme(rows, x, best=False))
    span = signed_gap(full, floor, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_coef = c + (1 - c) * signed_gap(x, floor, d) / span
    # equal thresholds (e.g. every unit of the group reported the same value): reaching them earns P
    coef = np.where(span > 0, raw_coef, np.where(signed_gap(x, full, d) >= 0, 1.0, 0.0))
    used = np.clip(coef, 0, 1)
    score = P * used
    lower = _is_lower(d)
    fx, ff, fl, fscore = _f(x), _f(full), _f(floor), _fs(score)
    frac = _where(lower, "(" + fl + "−" + fx + ")/(" + fl + "−" + ff + ")",
                  "(" + fx + "−" + fl + ")/(" + ff + "−" + fl + ")")
    src = _where(full_given.isna() | floor_given.isna(), "（取本类别最优值、最差值）", "")
    clip_note = _where(np.isclose(used, coef), "", "，系数限定在0～1")
    formula = _pick([span > 0], [
        _f(P) + "×(" + _f(c) + "+" + _f(1 - c) + "×" + frac + ")" + clip_note + " = " + fscore],
        default="满分值与不允许值相同，" + _where(coef >= 1, "得满分 ", "得 ") + fscore)
    text = ("功效系数法" + _dir_note(rows) + "：完成值" + fx + "，满分值" + ff + "，不允许值" + fl + src
            + "，得分 " + formula)
    return score, text


@_method
def tiered(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """阶梯: ratio r = x/目标值 (反向 目标值/x); the highest tier with 下限 ≤ r gives P·得分比例."""
    P, x, t = _num(rows, "points"), _num(rows, "value"), _num(rows, "target")
    r = pd.Series(attainment_ratio(x, t, rows["direction"]), index=rows.index)
    tiers = tier_tables.loc[tier_tables["lower"].notna() & tier_tables["tier_table"].notna(),
                            ["tier_table", "lower", "share"]].astype({"lower": float, "share": float})
    ratio = r.to_numpy()
    lower_hit, share = np.full(len(rows), np.nan), np.zeros(len(rows))
    codes, names = pd.factorize(rows["tier_table"])
    for code, name in enumerate(names):  # per tier table (a scheme has a handful), never per unit
        table = tiers[tiers["tier_table"].astype(object) == name].sort_values("lower", kind="stable")
        lowers = table["lower"].to_numpy()
        shares = table["share"].ffill().to_numpy()  # an empty 得分比例 keeps the one below it
        at = np.flatnonzero((codes == code) & ~np.isnan(ratio))
        pos = np.searchsorted(lowers, ratio[at], side="right") - 1  # the highest tier with 下限 ≤ r
        hit = pos >= 0
        lower_hit[at[hit]] = lowers[pos[hit]]
        share[at[hit]] = shares[pos[hit]]
    share = np.nan_to_num(share, nan=0.0)
    score = np.where(r.isna(), np.nan, P * share)
    fshare = _f(share)
    text = ("阶梯法" + _dir_note(rows) + "：完成值" + _f(x) + "，目标值" + _f(t) + "，完成比例"
            + _f(r) + "，" + _pick([~np.isnan(lower_hit)], [
                "达到下限" + _f(lower_hit) + "的档次（得分比例" + fshare + "），得分 " + _f(P)
                + "×" + fshare + " = " + _fs(score)],
                default="未达到档次表「" + _t(rows["tier_table"]) + "」最低档，得0分"))
    return score, text


@_method
def shortfall(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """差额扣分: P − (shortfall against 目标值)·每项分值, floored at 0; empty 目标值 → group mean."""
    P, x, step = _num(rows, "points"), _num(rows, "value"), _num(rows, "step")
    t_given = _num(rows, "target")
    mean = x.groupby(_peers(rows), dropna=False).transform("mean")
    t = t_given.fillna(mean)
    gap = np.clip(-signed_gap(x, t, rows["direction"]), 0, None)
    charged = gap * step
    score = np.clip(P - charged, 0, None)
    lower = _is_lower(rows["direction"])
    word = _where(lower, "超出", "差")
    src = _where(t_given.isna(), "（本类别平均值）", "")
    fgap, fcharged, fscore = _f(gap), _f(charged), _fs(score)
    text = ("差额扣分法" + _dir_note(rows) + "：完成值" + _f(x) + "，目标值" + _f(t) + src + "，"
            + _pick([gap <= 0], ["达到目标值，不扣分，得分 " + fscore],
                    default=(word + fgap + "，扣 " + fgap + "×" + _f(step) + " = " + fcharged + "分，得分 max(0, "
                             + _f(P) + "−" + fcharged + ") = " + fscore)))
    return score, text


@_method
def ranking(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """排名: position k among the group (ties share the better k); P − (k−1)·每项分值, or linear P → P·b."""
    idx = rows.index
    P, x, step, b = _num(rows, "points"), _num(rows, "value"), _num(rows, "step"), _base_share(rows)
    key = pd.Series(x.to_numpy() * _sign(rows), index=idx)
    peers = _peers(rows)
    k = key.groupby(peers, dropna=False).rank(method="min", ascending=False)
    n = key.groupby(peers, dropna=False).transform("count")
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.where(n > 1, P - (k - 1) / (n - 1) * P * (1 - b), P)
    by_step = np.clip(P - (k - 1) * step, 0, None)
    has_step = step.notna().to_numpy()
    score = np.where(has_step, by_step, linear)
    fk, fn, fP, fscore = _f(k), _f(n), _f(P), _fs(score)
    text = ("排名法" + _dir_note(rows) + "：完成值" + _f(x) + "，本类别第" + fk + "名（共" + fn + "个单位），得分 "
            + _pick([has_step, (n <= 1).to_numpy()], [
                "max(0, " + fP + "−(" + fk + "−1)×" + _f(step) + ") = " + fscore,
                "仅一个单位，得满分 " + fscore],
                default=fP + "−(" + fk + "−1)/(" + fn + "−1)×" + fP + "×(1−" + _f(b) + ") = " + fscore))
    return score, text


@_method
def relative_best(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """相对最优: P · x / 最优值 (反向 P · 最优值 / x), the best among the group."""
    P, x = _num(rows, "points"), _num(rows, "value")
    best = _group_extreme(rows, x, best=True)
    used = np.clip(attainment_ratio(x, best, rows["direction"]), 0, 1)
    score = P * used
    fx, fb, fP = _f(x), _f(best), _f(P)
    frac = _where(_is_lower(rows["direction"]), fb + "/" + fx, fx + "/" + fb)
    text = ("相对最优法" + _dir_note(rows) + "：完成值" + fx + "，本类别最优值" + fb + "，得分 " + fP + "×" + frac
            + " = " + _fs(score))
    return score, text


def _grade_text(rows: pd.DataFrame) -> np.ndarray:
    """The grade as typed (stripped); a grade row given as a number shows that number."""
    if "text_value" in rows:
        codes, typed = pd.factorize(rows["text_value"])  # strip each distinct text once
        stripped = pd.Series(np.asarray(typed, dtype=object), dtype=object).astype(_STR_DTYPE).str.strip()
        text = np.append(stripped.to_numpy(dtype=object), "")[codes]  # missing (code −1) → ""
    else:
        text = np.array([""], dtype=object)[np.zeros(len(rows), dtype=np.int64)]
    value = _num(rows, "value")
    from_value = (text == "") & value.notna().to_numpy()
    if from_value.any():
        text[from_value] = _format(value[from_value], value.index[from_value], 4).to_numpy()
    return text


@_method
def qualitative(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """定性: the grade maps through its 档次表 to P·得分比例; an unknown grade scores 0."""
    P = _num(rows, "points")
    levels = tier_tables.loc[tier_tables["level"].fillna("").astype(str).str.strip() != "",
                             ["tier_table", "level", "share"]].copy()
    levels["level"] = levels["level"].astype(str).str.strip()
    levels = levels.astype({"tier_table": object, "level": object, "share": float})
    levels = levels.drop_duplicates(["tier_table", "level"])
    lookup = {(_missing_as_none(t), level): share for t, level, share in levels.itertuples(index=False)}
    # look up each distinct (table, grade) pair once
    table_codes, tables = pd.factorize(rows["tier_table"], use_na_sentinel=False)
    grade_codes, grades = pd.factorize(_grade_text(rows))
    pair_codes, pairs = pd.factorize(table_codes.astype(np.int64) * len(grades) + grade_codes)
    pair_share = np.array([lookup.get((_missing_as_none(tables[p // len(grades)]), grades[p % len(grades)]), np.nan)
                           for p in pairs.tolist()], dtype=float)
    share = pair_share[pair_codes] if len(pairs) else np.full(len(rows), np.nan)
    known = ~np.isnan(share)
    score = P * np.nan_to_num(share, nan=0.0)
    table = _Text.of(len(rows), _Piece(table_codes, pa.array(
        ["" if _missing_as_none(t) is None else str(t) for t in tables], _STR)))
    grade = _Text.of(len(rows), _Piece(grade_codes, pa.array([str(g) for g in grades], _STR)))
    fshare = _f(share)
    text = "定性评价：等级「" + grade + "」，" + _pick([known], [
        "档次表「" + table + "」得分比例" + fshare + "，得分 " + _f(P) + "×" + fshare + " = " + _fs(score)],
        default="不在档次表「" + table + "」中，得0分")
    return score, text


@_method
def deduction(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, _Text]:
    """扣分: x incidents, P − x·每项分值, floored at 0 (扣完为止). A count is always 反向 by nature."""
    P, x, step = _num(rows, "points"), _num(rows, "value"), _num(rows, "step")
    charged = np.clip(x, 0, None) * step
    score = np.clip(P - charged, 0, None)
    fcharged = _f(charged)
    text = ("扣分法：发生" + _f(x) + "次（项），每次扣" + _f(step) + "分，共扣" + fcharged
            + "分，得分 max(0, " + _f(P) + "−" + fcharged + ") = " + _fs(score))
    return score, text


METHODS: dict[str, Method] = {
    "完成率": completion,
    "基本满分": base_full,
    "功效系数": efficacy,
    "阶梯": tiered,
    "差额扣分": shortfall,
    "排名": ranking,
    "相对最优": relative_best,
    "定性": qualitative,
    "扣分": deduction,
}

# Methods whose score depends on the other units of the group (for documentation and reports).
GROUP_RELATIVE = frozenset({"功效系数", "差额扣分", "排名", "相对最优"})


# --------------------------------------------------------------------------- indicator scores

SCORE_COLUMNS = ["score_raw", "score", "points_available", "status", "explanation"]
METHOD_INPUTS = ["points", "value", "text_value", "target", "base", "full", "floor", "base_share", "cap", "step",
                 "tier_table", "direction", "group", "indicator_code"]


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    col = frame[column]
    if col.dtype == bool:
        return col
    return col.astype(object).where(col.notna(), False).astype(bool)


def _has_value(frame: pd.DataFrame, is_grade: np.ndarray | None = None) -> np.ndarray:
    numeric = _num(frame, "value").notna().to_numpy(dtype=bool)
    if is_grade is None:
        is_grade = frame["method"].eq("定性").fillna(False).to_numpy(dtype=bool)
    if "text_value" not in frame.columns:
        return numeric
    # only grade rows can count a text value: strip those few, not every row
    candidates = np.flatnonzero(is_grade & frame["text_value"].notna().to_numpy(dtype=bool))
    text = np.zeros(len(frame), dtype=bool)
    tv = frame["text_value"].take(candidates)
    text[candidates] = tv.astype(_STR_DTYPE).str.strip().ne("").to_numpy(dtype=bool)
    return numeric | text


def _method_inputs(out: pd.DataFrame) -> pd.DataFrame:
    """The columns methods read; direction as higher/lower codes (methods only test it for
    "lower") and the peer keys as one code column as well."""
    work = out[[c for c in METHOD_INPUTS if c in out.columns]]
    cheap: dict[str, Any] = {"direction": pd.Categorical.from_codes(
        _is_lower(out["direction"]).astype(np.int8), categories=["higher", "lower"])}
    if all(k in work.columns for k in PEER_KEYS):
        # 0 stands for a missing name: one more set of peers, as with groupby(dropna=False)
        group, indicator = (pd.factorize(work[k])[0].astype(np.int64) + 1 for k in PEER_KEYS)
        cheap[_PEER] = group * (indicator.max(initial=0) + 1) + indicator
    return work.assign(**cheap)


class _Rows:
    """One method's rows of the inputs, each column taken when the method first reads it.

    Offers what methods use of their DataFrame (rows[column], column in rows.columns,
    column in rows, rows.index, len(rows)): a method reads five or six of the inputs, and
    taking all of them for a million rows costs more than most methods do.
    """

    def __init__(self, frame: pd.DataFrame, positions: np.ndarray):
        self._frame, self._positions, self._taken = frame, positions, {}
        self.columns = frame.columns
        self.index = pd.RangeIndex(len(positions))

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self._taken:
            values = self._frame[column].array.take(self._positions)
            self._taken[column] = pd.Series(values, index=self.index, name=column)
        return self._taken[column]


def _arrow(texts: pd.Series) -> pa.Array:
    array = pa.array(texts.astype(_STR_DTYPE).fillna("").array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(_STR)


def _constant(mask: np.ndarray, text: str) -> list:
    rows = np.flatnonzero(mask)
    return [(rows, rows, [text])]


def score_indicators(frame: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """Score every unit × indicator row; adds score_raw, score, points_available, status, explanation.

    Group-relative methods see only the rows of their group that have a value and are
    neither exempt nor unscored.
    """
    original_index = frame.index
    out = frame.reset_index(drop=True)  # copy-on-write: the caller's frame is never touched
    if "tier_table" not in out.columns:
        out["tier_table"] = np.nan
    if "direction" not in out.columns:
        out["direction"] = "higher"
    tier_tables = tier_tables if tier_tables is not None else pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    points = _num(out, "points").fillna(0.0)
    exempt = _flag(out, "exempt")
    # defence in depth: validation reports a non-finite value, scoring must never carry one
    unscored = (_flag(out, "unscored") | np.isinf(_num(out, "value"))) & ~exempt
    mean_rule = out["missing_rule"].eq("mean").fillna(False).astype(bool) if "missing_rule" in out.columns else exempt & False
    method_codes, method_names = pd.factorize(out["method"])
    grade_code = [k for k, m in enumerate(method_names) if m == "定性"]
    has_value = _has_value(out, method_codes == (grade_code[0] if grade_code else -2))

    # masks as numpy arrays, methods looked up by factorized code: per-method masks over a
    # million rows must not cost a string comparison each
    is_exempt_mean = (exempt & mean_rule).to_numpy(dtype=bool)
    is_exempt = exempt.to_numpy(dtype=bool) & ~is_exempt_mean
    is_unscored = unscored.to_numpy(dtype=bool) & ~is_exempt_mean & ~is_exempt
    is_missing = ~has_value & ~is_exempt_mean & ~is_exempt & ~is_unscored
    scored = ~(is_exempt_mean | is_exempt | is_unscored | is_missing)
    status_code = np.zeros(len(out), dtype=np.int8)
    for code, rows in enumerate([is_exempt_mean, is_exempt, is_unscored, is_missing], start=1):
        status_code[rows] = code
    # taking from a small object array: np.full of a million objects is several times slower
    status = pd.Series(np.array(["scored", "exempt_mean", "exempt", "unscored", "missing"], dtype=object)[status_code],
                       index=out.index, dtype=object)
    score_raw_np = np.full(len(out), np.nan)
    parts: list = []  # explanation pieces of every row, joined once at the end
    known = np.zeros(len(out), dtype=bool)
    # methods see only the columns they use: taking every text column of the frame per method is the slow part
    work = _method_inputs(out)
    for name, fn in METHODS.items():  # one pass per method, never per unit
        matches = [k for k, m in enumerate(method_names) if m == name]
        if not matches:
            continue
        mask = scored & (method_codes == matches[0])
        known |= method_codes == matches[0]
        if mask.any():
            positions = np.flatnonzero(mask)
            if hasattr(fn, "sentences"):
                raw, text = fn.sentences(_Rows(work, positions), tier_tables)
                raw = np.asarray(raw, dtype=float)
            else:  # a registry entry written as a plain DataFrame function
                res = fn(work.take(positions), tier_tables)
                raw = res["score_raw"].to_numpy(dtype=float)
                text = _Text.of(len(positions), _Piece(None, _arrow(res["explanation"])))
            raw = np.where(np.isinf(raw), np.nan, raw)  # an infinite score must never reach a workbook
            score_raw_np[mask] = raw
            text = text + _where(np.isnan(raw), "（评分参数缺失，得0分）", "")
            parts += text.parts(positions)
    score_raw = pd.Series(score_raw_np, index=out.index)
    unknown = scored & ~known
    if unknown.any():
        parts += ("未知计分方法「" + _t(out.loc[unknown, "method"]) + "」，得0分").parts(np.flatnonzero(unknown))
    score_raw[scored & score_raw.isna().to_numpy()] = 0.0

    score_raw[is_missing] = 0.0
    parts += _constant(is_missing, "未填报实际完成值，得0分")
    parts += _constant(is_unscored, "数据有误未计分（待核实后补评）")
    parts += _constant(is_exempt, "不考核，不计入应得分，按已有项归一化")

    score = round_half_up(score_raw)
    points_available = points.where(~is_exempt, 0.0)

    # 均值: the mean of the printed scores of the group's non-exempt units on that indicator
    mean_rows = pd.Series(is_exempt_mean, index=out.index)
    if mean_rows.any():
        peer_score = score.where(~exempt)
        group_mean = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("mean")
        n_peers = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("count")
        ok = mean_rows & group_mean.notna()
        score_raw[ok] = group_mean[ok]
        score[ok] = round_half_up(group_mean[ok])
        if ok.any():
            parts += ("不考核，按本类别" + _f(n_peers[ok]) + "个单位平均分得分 " + _fs(group_mean[ok])).parts(
                np.flatnonzero(ok.to_numpy()))
        alone = mean_rows & group_mean.isna()
        status[alone] = "exempt"
        points_available[alone] = 0.0
        parts += _constant(alone.to_numpy(), "不考核，本类别无其他单位可取平均分，按已有项归一化")
    explanation = pd.Series(pd.arrays.ArrowStringArray(_assemble(len(out), parts), dtype=_STR_DTYPE), index=out.index)

    out["score_raw"] = score_raw
    out["score"] = score
    out["points_available"] = points_available
    out["status"] = status
    out["explanation"] = explanation
    out.index = original_index
    return out


# --------------------------------------------------------------------------- adjustments

ADJUSTMENT_COLUMNS = ["unit_code", "item_code", "name", "kind", "count", "step", "item_cap", "amount", "explanation"]
_KIND_ZH = {"bonus": "加分", "deduction": "扣分", "veto": "一票否决"}


def score_adjustments(claims: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Per unit × item: count × 每项分值, capped by 单项上限 (counts of one item are summed first).

    Claims naming an item not in the catalogue are dropped (validation reports them).
    Veto rows keep their count and have amount 0.
    """
    if claims is None or claims.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("unit_code", "item_code", "name", "kind", "explanation")
                                          else float) for c in ADJUSTMENT_COLUMNS})
    counts = (claims.assign(count=pd.to_numeric(claims["count"], errors="coerce").replace([np.inf, -np.inf], np.nan)
                            .fillna(0.0).astype(float))
              .groupby(["unit_code", "item_code"], sort=False, as_index=False)["count"].sum())
    cat = catalogue[["item_code", "kind", "name", "step", "item_cap"]].copy()
    cat["step"] = pd.to_numeric(cat["step"], errors="coerce").astype(float)
    cat["item_cap"] = pd.to_numeric(cat["item_cap"], errors="coerce").astype(float)
    out = counts.merge(cat.drop_duplicates("item_code"), on="item_code", how="inner")
    raw = out["count"] * out["step"].fillna(0.0)
    capped = raw.clip(upper=out["item_cap"].where(out["item_cap"].notna(), np.inf))
    is_veto = out["kind"].astype(object).eq("veto")
    out["amount"] = round_half_up(capped.where(~is_veto, 0.0))
    kind_zh = out["kind"].astype(object).map(_KIND_ZH).fillna("")
    cap_note = _where((raw > capped + 1e-9).to_numpy(),
                      "（单项上限" + _f(out["item_cap"]) + "分，按" + _fs(out["amount"]) + "分计）", "")
    name, count = _t(out["name"]), _f(out["count"])
    text = _pick([is_veto.to_numpy(dtype=bool)], ["一票否决：" + name + "（" + count + "项）"],
                 default=_t(kind_zh) + "：" + name + " " + count + "项×" + _f(out["step"]) + "分 = " + _fs(raw) + "分"
                 + cap_note)
    out["explanation"] = pd.Series(text.array().to_numpy(zero_copy_only=False), index=out.index, dtype=object)
    return out[ADJUSTMENT_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- totals

TOTAL_COLUMNS = ["unit_code", "unit_name", "group", "indicator_total", "points_available", "bonus", "deduction",
                 "vetoed", "veto_items", "veto_effect", "total"]
# a unit hit by several vetoes takes the strongest effect
VETO_STRENGTH = {"no_excellent": 1, "fail": 2, "zero": 3}
_VETO_BY_STRENGTH = np.array(["", "no_excellent", "fail", "zero"], dtype=object)


def _effective_weights(weights: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """[group, category, weight]: a group with rows of its own uses only those, others the rows without a group."""
    w = weights.copy()
    w["group"] = w["group"].astype(object).where(w["group"].notna(), "").astype(str).str.strip()
    w["weight"] = pd.to_numeric(w["weight"], errors="coerce").fillna(0.0).astype(float)
    w["category"] = w["category"].astype(object)
    present = pd.DataFrame({"group": pd.unique(groups.astype(object))})
    specific = w[w["group"] != ""][["group", "category", "weight"]]
    generic = present[~present["group"].isin(specific["group"])].merge(
        w[w["group"] == ""][["category", "weight"]], how="cross")
    return pd.concat([specific, generic], ignore_index=True)


def _weighted_total(scored: pd.DataFrame, units: pd.DataFrame, weights: pd.DataFrame, percent: bool) -> pd.Series:
    by_cat = (scored.assign(score=scored["score"].fillna(0.0))
              .groupby(["unit_code", "category"], as_index=False)[["score", "points_available"]].sum())
    unit_groups = units[["unit_code", "group"]].astype({"unit_code": object, "group": object})
    eff = _effective_weights(weights, unit_groups["group"])
    full_sum = eff.groupby("group")["weight"].sum()
    frame = (unit_groups.merge(eff, on="group", how="inner")
             .merge(by_cat.astype({"unit_code": object, "category": object}), on=["unit_code", "category"], how="left"))
    frame = frame[frame["points_available"].fillna(0.0) > 0]  # a category the unit was not assessed on is dropped
    frame = frame.assign(part=frame["weight"] * frame["score"] / frame["points_available"])
    agg = frame.groupby("unit_code").agg(part=("part", "sum"), present=("weight", "sum"), group=("group", "first"))
    full = agg["group"].map(full_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = agg["part"] * full / agg["present"]  # rescale the remaining weights to the full weight sum
        if percent:
            value = value * 100.0 / full
    value = value.where(agg["present"] > 0, 0.0)
    return value.reindex(units["unit_code"].astype(object)).fillna(0.0)


def _sum_by_unit(scored: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Column sums per unit_code (index: the codes as objects; a missing score counts 0)."""
    # grouping by factorized codes: a million unit codes as Python objects cost more than the sums
    ids, uniques = pd.factorize(scored["unit_code"])
    values = pd.DataFrame({c: scored[c].fillna(0.0).to_numpy() if c == "score" else scored[c].to_numpy()
                           for c in columns})
    present = ids >= 0
    if not present.all():
        values, ids = values[present], ids[present]
    per_unit = values.groupby(ids).sum()
    per_unit.index = pd.Index(np.asarray(uniques, dtype=object)[per_unit.index.to_numpy()], dtype=object)
    return per_unit


def compute_totals(scored: pd.DataFrame, adjustment_scores: pd.DataFrame, units: Any, meta: Any = None,
                   weights: pd.DataFrame | None = None, catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit: indicator_total (raw, 百分制 or weighted), bonus, deduction, veto, total.

    `units` is the scheme's units frame (or a Scheme, whose units, meta, weights and 加扣分
    catalogue are then used); `meta` needs total_mode, bonus_cap and veto_effect. A veto
    item's own 否决效果 (catalogue column veto_effect) overrides the 方案 value; veto_effect
    is each vetoed unit's strongest effect ("" when not vetoed).
    """
    if hasattr(units, "units") and hasattr(units, "meta"):
        scheme = units
        units, meta = scheme.units, scheme.meta
        weights = getattr(scheme, "weights", None) if weights is None else weights
        catalogue = getattr(scheme, "adjustments", None) if catalogue is None else catalogue
    units = units[["unit_code", "unit_name", "group"]].reset_index(drop=True)
    codes = units["unit_code"].astype(object)
    percent = getattr(meta, "total_mode", "raw") == "percent"

    sums = _sum_by_unit(scored, ["score", "points_available"]).reindex(codes).fillna(0.0)
    points_available = round_half_up(sums["points_available"].to_numpy())
    if weights is not None and len(weights):
        indicator_total = round_half_up(_weighted_total(scored, units, weights, percent).to_numpy())
    elif percent:
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(points_available > 0, sums["score"].to_numpy() * 100.0 / points_available, 0.0)
        indicator_total = round_half_up(scaled)
    else:
        indicator_total = round_half_up(sums["score"].to_numpy())

    adj = adjustment_scores if adjustment_scores is not None else pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    adj = adj.assign(unit_code=adj["unit_code"].astype(object), kind=adj["kind"].astype(object),
                     amount=pd.to_numeric(adj["amount"], errors="coerce").fillna(0.0).astype(float),
                     count=pd.to_numeric(adj["count"], errors="coerce").fillna(0.0).astype(float))
    bonus_sum = adj[adj["kind"].eq("bonus")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    deduction_sum = adj[adj["kind"].eq("deduction")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    bonus_cap = getattr(meta, "bonus_cap", None)
    bonus = bonus_sum.to_numpy()
    if bonus_cap is not None and not (isinstance(bonus_cap, float) and math.isnan(bonus_cap)):
        bonus = np.minimum(bonus, float(bonus_cap))
    bonus = round_half_up(bonus)
    deduction_total = round_half_up(deduction_sum.to_numpy())
    vetoes = adj[adj["kind"].eq("veto") & (adj["count"] > 0)]
    veto_items = (vetoes.groupby("unit_code")["name"].agg(lambda names: "、".join(pd.unique(names.astype(str))))
                  .reindex(codes).fillna("").astype(object))
    vetoed = veto_items.ne("").to_numpy()
    default_effect = getattr(meta, "veto_effect", None) or "no_excellent"
    own = pd.Series(dtype=object)
    if catalogue is not None and "veto_effect" in catalogue.columns:
        own = catalogue.drop_duplicates("item_code").set_index("item_code")["veto_effect"].astype(object)
    item_effect = vetoes["item_code"].astype(object).map(own).astype(object).fillna("") if "item_code" in vetoes.columns \
        else pd.Series("", index=vetoes.index, dtype=object)
    strength = item_effect.where(item_effect != "", default_effect).map(VETO_STRENGTH).fillna(1).astype(int)
    strongest = strength.groupby(vetoes["unit_code"]).max().reindex(codes).fillna(0).astype(int).to_numpy()
    veto_effect = _VETO_BY_STRENGTH[np.where(vetoed, np.maximum(strongest, 1), 0)]

    total = round_half_up(indicator_total + bonus - deduction_total)
    total = np.where(veto_effect == "zero", 0.0, total)
    return pd.DataFrame({
        "unit_code": units["unit_code"], "unit_name": units["unit_name"], "group": units["group"],
        "indicator_total": indicator_total, "points_available": points_available, "bonus": bonus,
        "deduction": deduction_total, "vetoed": vetoed, "veto_items": veto_items.to_numpy(),
        "veto_effect": veto_effect, "total": total,
    })[TOTAL_COLUMNS]
