"""How wide a text shows: the one rule every layout uses (column widths, row heights, title lines).

East Asian wide (W) and full-width (F) characters take two columns, every other character one.
With `ambiguous_wide` the ambiguous ones (A: “ ” — … ① and the like) take two as well, as a Chinese
font sets them in a document title.
"""

from __future__ import annotations

import unicodedata

_WIDE = "WF"
_WIDE_WITH_AMBIGUOUS = "WFA"


def is_wide(ch: str, ambiguous_wide: bool = False) -> bool:
    """Whether one character takes two columns."""
    return unicodedata.east_asian_width(ch) in (_WIDE_WITH_AMBIGUOUS if ambiguous_wide else _WIDE)


def display_width(text: object, ambiguous_wide: bool = False) -> int:
    """Columns str(text) takes, every character counted (a newline too: split lines first)."""
    wide = _WIDE_WITH_AMBIGUOUS if ambiguous_wide else _WIDE
    return sum(2 if unicodedata.east_asian_width(ch) in wide else 1 for ch in str(text))
