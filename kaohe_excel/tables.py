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
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    return _CONTROL.sub("", text).strip()


def header_key(value: object) -> str:
    """A header cell compared without any white space ("实际\\n完成值" == "实际完成值")."""
    return _SPACES.sub("", clean_text(value))


def column_letter(index: int) -> str:
    """0-based column index to Excel letters: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


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

    Header texts are matched without white space; extra columns are ignored.
    Returns None when no such row exists.
    """
    wanted = list(required) + [name for name in optional if name not in required]
    for index, row in enumerate(rows[:scan_rows]):
        keys = {}
        for col, cell in enumerate(row):
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
