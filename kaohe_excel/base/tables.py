"""Small helpers shared by the readers: finding a table by its header texts, cell
addresses, and turning what a person typed into a clean header or key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")
# C0 controls other than tab/newline are never meant (a bell pasted from a chat) and XML forbids them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: object) -> str:
    """Text of a cell with stray spaces trimmed and full-width forms folded (NFKC).

    >>> clean_text("  ＸＺ０１ ")
    'XZ01'
    """
    kind = value.__class__
    if kind is str:
        # Printable ASCII is already NFKC and has no controls: the common cell costs one strip.
        if value.isascii() and value.isprintable():
            return value.strip()
        return _clean_str(value)
    if kind is float:
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        if value.is_integer():
            value = int(value)
    return _clean_str(str(value))


def display_text(value: object) -> str:
    """Text shown to people (names, 评分说明, 事项说明, 佐证材料) exactly as written: trimmed and
    without control characters, but full-width punctuation （）；，：“” kept (no NFKC folding)."""
    if value.__class__ is str:
        if value.isascii() and value.isprintable():
            return value.strip()
        return _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    return clean_text(value)


# Reading folds the same few thousand texts (headers, names, evidence) in every file;
# only short texts are remembered, so a hostile file cannot grow the cache much.
_CACHE_TEXT_LENGTH = 64
_CACHE_ENTRIES = 50_000
_clean_cache: dict[str, str] = {}
_key_cache: dict[str, str] = {}


def _clean_str(text: str) -> str:
    cleaned = _clean_cache.get(text)
    if cleaned is None:
        cleaned = _CONTROL.sub("", unicodedata.normalize("NFKC", text)).strip()
        if len(text) <= _CACHE_TEXT_LENGTH:
            if len(_clean_cache) >= _CACHE_ENTRIES:
                _clean_cache.clear()
            _clean_cache[text] = cleaned
    return cleaned


def header_key(value: object) -> str:
    """A header cell compared without any white space ("实际\\n完成值" == "实际完成值")."""
    if value.__class__ is str:
        key = _key_cache.get(value)
        if key is None:
            key = _SPACES.sub("", clean_text(value))
            if len(value) <= _CACHE_TEXT_LENGTH:
                if len(_key_cache) >= _CACHE_ENTRIES:
                    _key_cache.clear()
                _key_cache[value] = key
        return key
    return _SPACES.sub("", clean_text(value))


def column_number(letters: bytes | str) -> int:
    """Excel letters to a 1-based column number: b"A" → 1, "AB" → 28 (either case)."""
    if isinstance(letters, str):
        letters = letters.encode("ascii")
    number = 0
    for byte in letters.upper():
        number = number * 26 + (byte - 64)
    return number


def column_letter(index: int) -> str:
    """0-based column index to Excel letters: 0 → A, 27 → AB."""
    if 0 <= index < len(_LETTERS):
        return _LETTERS[index]
    return _letters(index)


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LETTERS = [_letters(i) for i in range(702)]  # A .. ZZ: every address validation writes is a lookup


def cell_address(row: int, col: int) -> str:
    """0-based row/column to an A1 address."""
    return f"{column_letter(col)}{row + 1}"


@dataclass
class Table:
    """A table located in a sheet: which row holds the header, where each column is."""

    header_row: int  # 0-based
    columns: dict[str, int]  # header text -> 0-based column index

    def get(self, row: list, name: str) -> object:
        col = self.columns.get(name)
        if col is None or col >= len(row):
            return None
        return row[col]


def locate_table(rows: list[list], required: list[str], optional: list[str] = (), scan_rows: int = 30) -> Table | None:
    """Find the first row (within `scan_rows`) containing every required header text.

    Header texts are matched without white space; extra columns are ignored; only text
    cells can be headers.
    Returns None when no such row exists.
    """
    wanted = list(required) + [name for name in optional if name not in required]
    for index, row in enumerate(rows[:scan_rows]):
        keys = {}
        for col, cell in enumerate(row):
            if cell.__class__ is not str or not cell:  # a header is text; numbers and blanks never match
                continue
            key = header_key(cell)
            if key and key not in keys:
                keys[key] = col
        if all(name in keys for name in required):
            return Table(index, {name: keys[name] for name in wanted if name in keys})
    return None


def missing_headers(rows: list[list], required: list[str], scan_rows: int = 30) -> list[str]:
    """The required headers absent from the best-matching row, for a precise message."""
    best: list[str] = list(required)
    for row in rows[:scan_rows]:
        keys = {header_key(cell) for cell in row}
        absent = [name for name in required if name not in keys]
        if len(absent) < len(best):
            best = absent
    return best
