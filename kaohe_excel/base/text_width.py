"""How wide a text shows: the one rule every layout uses (column widths, row heights, title lines).

East Asian wide (W) and full-width (F) characters take two columns, every other character one.
With `ambiguous_wide` the ambiguous ones (A: “ ” — … ① and the like) take two as well, as a Chinese
font sets them in a document title.
"""

from __future__ import annotations

import unicodedata

import numpy as np

_WIDE = "WF"
_WIDE_WITH_AMBIGUOUS = "WFA"


def is_wide(ch: str, ambiguous_wide: bool = False) -> bool:
    """Whether one character takes two columns."""
    return unicodedata.east_asian_width(ch) in (_WIDE_WITH_AMBIGUOUS if ambiguous_wide else _WIDE)


def display_width(text: object, ambiguous_wide: bool = False) -> int:
    """Columns str(text) takes, every character counted (a newline too: split lines first)."""
    wide = _WIDE_WITH_AMBIGUOUS if ambiguous_wide else _WIDE
    return sum(2 if unicodedata.east_asian_width(ch) in wide else 1 for ch in str(text))


# Which code points display_widths has looked up, and which of them are wide (filled as texts bring them).
_KNOWN: np.ndarray | None = None
_WIDE_POINTS: np.ndarray | None = None


def display_widths(texts: list[str]) -> np.ndarray:
    """display_width of every text (all str; the ambiguous ones narrow) as an int array, fast for many
    texts: each distinct character is looked up once per process and the texts are counted together."""
    global _KNOWN, _WIDE_POINTS
    if len(texts) <= 8:  # a few texts: measured one by one sooner than numpy is set up
        return np.array([display_width(text) for text in texts], dtype=np.int64)
    if _KNOWN is None:
        _KNOWN, _WIDE_POINTS = np.zeros(0x110000, dtype=bool), np.zeros(0x110000, dtype=bool)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    new = codes[~_KNOWN[codes]]
    if new.size:
        for point in np.unique(new).tolist():
            _WIDE_POINTS[point] = is_wide(chr(point))
        _KNOWN[new] = True
    wide = np.concatenate(([0], np.cumsum(_WIDE_POINTS[codes], dtype=np.int64)))
    ends = np.cumsum(lengths)
    return lengths + wide[ends] - wide[ends - lengths]
