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


# The characters measured so far by display_widths, and of them the wide ones as a str.translate
# table that deletes them: a text's width is then 2 * len - len(text without its wide characters).
_SEEN: set[str] = set()
_DELETE_WIDE: dict[int, None] = {}


def display_widths(texts: list[str]) -> list[int]:
    """display_width of every text (all str; the ambiguous ones narrow), fast for many texts: each
    distinct character is looked up once per process and every text is measured in C."""
    new = set("".join(texts)) - _SEEN
    for ch in new:
        if is_wide(ch):
            _DELETE_WIDE[ord(ch)] = None
    _SEEN.update(new)
    table = _DELETE_WIDE
    return [2 * len(t) - len(t.translate(table)) for t in texts]
