"""The explanation-text engine: numbers and sentences for a million rows at once.

Explanations are built column-wise. A number is turned into text once per distinct value (a
parameter repeats on every row of an indicator); a sentence (`Text`) is a list of pieces
(literal text or per-row codes into a piece's own texts) joined once, in C++, by pyarrow;
sentence alternatives (`where`, `pick`: np.select of old) are joined only on the rows that take
them. Public API: `f` (a figure, 4 decimals trimmed), `fs` (a score, 2 decimals), `words` (a text
column), `where`, `pick`, `Text.array`, `series`; `format_numbers` and `show_numbers` write
plain number columns; `round_half_up` is the one rounding rule (四舍五入).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kaohe_excel.inputs.number_text import rounded_text, two_to_four


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


# --------------------------------------------------------------------------- formatting

STR = pa.large_string()
STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str"
_JOIN_ROWS = 65536
_EXACT = 1e9  # below this, rint(v · 10^d) is the exact decimal a rounded float prints as


plain = rounded_text  # the reference number_texts must equal (number_text owns it)


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, STR)


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


def number_texts(values: np.ndarray, decimals: int) -> pa.Array:
    """`plain` of each value after rounding, vectorized: the same text, byte for byte."""
    rounded = round_half_up(values, decimals)
    with np.errstate(invalid="ignore"):
        exact = np.abs(rounded) < _EXACT  # NaN and ±inf are not
    # the integer rint(v · 10^d) of a rounded v holds exactly the digits f"{v:.{d}f}" prints
    keys = np.rint(np.where(exact, rounded, 0.0) * 10.0**decimals).astype(np.int64)
    text = _digit_texts(keys, decimals)
    if not exact.all():  # NaN, ±inf and numbers of a billion or more: Python writes those few
        odd = ~exact
        text = pc.replace_with_mask(text, pa.array(odd), pa.array([plain(v, decimals) for v in rounded[odd].tolist()], STR))
    return text


class Piece:
    """Per-row text as codes into `texts` (codes None: one text per row)."""

    __slots__ = ("codes", "texts")

    def __init__(self, codes: np.ndarray | None, texts: pa.Array):
        self.codes, self.texts = codes, texts

    def rows(self, rows: np.ndarray | None) -> np.ndarray:
        if self.codes is None:
            return np.arange(len(self.texts)) if rows is None else rows
        return self.codes if rows is None else self.codes[rows]


def number_piece(values: Any, decimals: int) -> Piece:
    values = np.asarray(values, dtype=float).reshape(-1)
    n = len(values)
    if n > 8192 and len(np.unique(values[:: n // 2048][:2048])) > 2000:
        return Piece(None, number_texts(values, decimals))  # mostly distinct: hashing would not pay
    # parameters repeat on every row of an indicator: round and write each distinct value once
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return Piece(codes, number_texts(np.asarray(distinct, dtype=float), decimals))


def text_piece(values: Any) -> Piece:
    """Per-row strings (missing → "") as one piece."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return Piece(codes, pa.array(["" if missing_as_none(v) is None else str(v) for v in distinct], STR))


def missing_as_none(value: Any) -> Any:
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


def assemble(n: int, parts: list) -> pa.ChunkedArray:
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
                    vocabulary.append(pa.array([item], STR))
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
    return pa.chunked_array(chunks, type=STR)


class Text:
    """Sentences for n rows: alternatives (rows mask or None for all, pieces); `+` distributes over them."""

    __slots__ = ("n", "alternatives")

    def __init__(self, n: int, alternatives: list):
        self.n, self.alternatives = n, alternatives

    @staticmethod
    def of(n: int, piece: Any) -> "Text":
        return piece if isinstance(piece, Text) else Text(n, [(None, [piece])])

    def __add__(self, other: Any) -> "Text":
        other = Text.of(self.n, other)
        out = []
        for mask_a, pieces_a in self.alternatives:
            for mask_b, pieces_b in other.alternatives:
                mask = mask_b if mask_a is None else mask_a if mask_b is None else mask_a & mask_b
                if mask is None or mask.any():
                    out.append((mask, pieces_a + pieces_b))
        return Text(self.n, out)

    def __radd__(self, other: Any) -> "Text":
        return Text.of(self.n, other) + self

    def restricted(self, mask: np.ndarray) -> "Text":
        return Text(self.n, [(mask if m is None else m & mask, pieces) for m, pieces in self.alternatives])

    def parts(self, rows: np.ndarray | None = None) -> list:
        """For `assemble`: each alternative on its rows (mapped through `rows`, the rows these n are)."""
        out = []
        for mask, pieces in self.alternatives:
            local = np.arange(self.n) if mask is None else np.flatnonzero(mask)
            out.append((local if rows is None else rows[local], local, pieces))
        return out

    def array(self) -> pa.ChunkedArray:
        """The n sentences, in row order (large_string chunks)."""
        return assemble(self.n, self.parts())


def f(values: Any) -> Text:
    values = np.asarray(values, dtype=float).reshape(-1)
    return Text.of(len(values), number_piece(values, 4))


def fs(values: Any) -> Text:
    values = np.asarray(values, dtype=float).reshape(-1)
    return Text.of(len(values), number_piece(values, 2))


def format_numbers(values: Any, index: pd.Index, decimals: int) -> pd.Series:
    """Numbers as text (`plain`), one object Series aligned on index."""
    piece = number_piece(values, decimals)
    text = piece.texts if piece.codes is None else piece.texts.take(pa.array(piece.codes))
    return pd.Series(text.to_numpy(zero_copy_only=False), index=index, dtype=object)


def where(mask: Any, a: Any, b: Any) -> Text:
    mask = np.asarray(mask, dtype=bool)
    n = len(mask)
    return Text(n, Text.of(n, a).restricted(mask).alternatives + Text.of(n, b).restricted(~mask).alternatives)


def pick(conditions: list[Any], choices: list[Any], default: Any = "") -> Text:
    """First condition that holds picks its sentence (np.select), the rest take `default`."""
    out = default
    for cond, choice in zip(reversed(conditions), reversed(choices)):
        out = where(cond, choice, out)
    return out


def words(values: Any) -> Text:
    """A text column as sentence pieces (missing → "")."""
    return Text.of(len(values), text_piece(values))


def series(text: Text, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(text.array(), dtype=STR_DTYPE), index=index)


def arrow(texts: pd.Series) -> pa.Array:
    array = pa.array(texts.astype(STR_DTYPE).fillna("").array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(STR)


def constant(mask: np.ndarray, text: str) -> list:
    rows = np.flatnonzero(mask)
    return [(rows, rows, [text])]



# --------------------------------------------------------------------------- plain number columns
# The gap analysis and simulation write needed values with at least 2 and at most 4 decimals.


def per_distinct(values: Any, text: Callable[[float], str]) -> np.ndarray:
    """`text` of each value, called once per distinct float: a column repeats few values.

    Distinct by bit pattern, so −0.0 and 0.0 keep their own text as before.
    """
    arr = np.ascontiguousarray(values, dtype=float).reshape(-1)
    bits, inverse = np.unique(arr.view(np.int64), return_inverse=True)
    return np.array([text(v) for v in bits.view(float).tolist()], dtype=object)[inverse]


show_one = two_to_four  # number_text owns it


CENTS = re.compile(r"(\.\d\d)\d+$")


def show_numbers(values: Any, index: pd.Index, cents: bool = False) -> pd.Series:
    """Numbers with at least 2 and at most 4 decimals (8 → 8.00, 0.4545 → 0.4545); cents: cut to 2."""
    arr = round_half_up(np.asarray(values, dtype=float).reshape(-1), 4)
    text = (lambda v: CENTS.sub(r"\1", show_one(v))) if cents else show_one
    return pd.Series(per_distinct(arr, text), index=index, dtype=object)


def show_counts(values: Any, index: pd.Index) -> pd.Series:
    return pd.Series(per_distinct(values, lambda v: "—" if v != v else str(int(v))), index=index, dtype=object)
