"""What Excel shows that calamine does not say: number formats and hidden rows/columns.

calamine gives a cell's stored value; a unit who typed "58.2%" sees 58.2% but the cell
stores 0.582 with a percent format, and a hidden column or row is read like any other.
This module scans the XML parts with a few byte searches (no XML parser): styles.xml
once per file, the table's sheet once, and only the cells the tables use. It knows
nothing of zip files or of the scheme; read.py hands it the parts' bytes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# Built-in number formats that show a percentage (ECMA-376 18.8.30); the others that
# calamine does not already turn into dates show the number as stored.
_BUILTIN_PERCENT = {9: "0%", 10: "0.00%"}

_CELL_XFS = re.compile(rb'<(?:\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>', re.S)
_XF = re.compile(rb'<(?:\w+:)?xf\b([^>]*)>')
_NUM_FMT = re.compile(rb'<(?:\w+:)?numFmt\b([^>]*)>')
_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_ROW_TAG = re.compile(rb'<(?:\w+:)?row\b([^>]*)>')
_COL_TAG = re.compile(rb'<(?:\w+:)?col\b([^>]*)>')
_CELL_TAG = re.compile(rb'<(?:\w+:)?c\s([^>]*)>')
_REFERENCE = re.compile(rb'\br\s*=\s*"([A-Z]{1,3})([0-9]{1,7})"')
_STYLE = re.compile(rb'\bs\s*=\s*"([0-9]{1,6})"')

# Parts of a format code that never show a digit: quoted text, escaped characters,
# [colours]/[conditions], and the padding of _x and *x.
_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
# A thousands separator after the last digit placeholder divides the shown number by
# 1,000 per comma ("0.0,," shows 1234567 as 1.2).
_SCALING = re.compile(r'[0#?.],+(?=[^0#?]*$)')

PERCENT = "percent"
SCALED = "scaled"
INVISIBLE = "invisible"


def format_kind(code: str) -> str:
    """How a number format changes what a person sees: PERCENT (×100 and a %), SCALED
    (divided by 1,000 per trailing comma), INVISIBLE (";;;": the number is not shown), or ""."""
    if not code or code.lower() == "general":
        return ""
    sections = _LITERALS.sub("", code).split(";")
    if len(sections) >= 3 and not any(s.strip() for s in sections[:3]):
        return INVISIBLE
    positive = sections[0]
    if "%" in positive:
        return PERCENT
    if _SCALING.search(positive):
        return SCALED
    return ""


_QUOTED = re.compile(r'"[^"]*"|\\.')


def hides_text(code: str) -> bool:
    """Whether a format shows a typed text otherwise: its 4th (text) section has no @, so the text
    is not shown (";;;") or replaced by the section's own characters (';;;"优秀"' shows 优秀 for any text)."""
    if not code or ";" not in code:
        return False
    sections = _QUOTED.sub("x", code).split(";")
    return len(sections) >= 4 and "@" not in sections[3]


def special_styles(styles_xml: bytes) -> dict[int, tuple[str, str]]:
    """Cell style index (the s="n" of a cell) -> (format_kind, format code) for the styles
    whose number format changes what is shown (a number, or a text: `hides_text`); empty for
    the usual workbook."""
    formats = dict(_BUILTIN_PERCENT)
    for tag in _NUM_FMT.findall(styles_xml):
        attributes = dict(_ATTRIBUTE.findall(tag))
        try:
            number = int(attributes.get(b"numFmtId", b""))
        except ValueError:
            continue
        formats[number] = html.unescape(attributes.get(b"formatCode", b"").decode("utf-8", "replace"))
    block = _CELL_XFS.search(styles_xml)
    if block is None:
        return {}
    special = {}
    for index, tag in enumerate(_XF.findall(block.group(1))):
        attributes = dict(_ATTRIBUTE.findall(tag))
        try:
            number = int(attributes.get(b"numFmtId", b"0"))
        except ValueError:
            continue
        code = formats.get(number, "")
        kind = format_kind(code)
        if kind or hides_text(code):  # kind "": numbers show as typed, a text does not
            special[index] = (kind, code)
    return special


@dataclass
class SheetView:
    """What the scan found on one sheet (0-based rows and columns)."""

    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)
    formats: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)  # (row, col) -> (kind, code)


def _column_index(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + (byte - 64)
    return number - 1


def _hidden(attributes: dict, size_name: bytes, smallest: float) -> bool:
    if attributes.get(b"hidden", b"").lower() in (b"1", b"true"):
        return True
    try:  # a row 0.5 points high or a column 0.1 characters wide is as hidden as hidden
        return float(attributes.get(size_name, b"99")) < smallest
    except ValueError:
        return False


def scan_sheet(xml: bytes, styles: dict[int, tuple[str, str]], cells: set[tuple[int, int]]) -> SheetView:
    """Hidden rows and columns of the sheet, and the special formats of the given cells."""
    view = SheetView()
    # Three byte searches decide whether rows and columns need looking at (they almost never
    # do; a regex alternation is ten times slower); the space keeps fitToHeight="0" out.
    if b"hidden" in xml or b' ht="0' in xml or b' width="0' in xml:
        for tag in _ROW_TAG.findall(xml):
            attributes = dict(_ATTRIBUTE.findall(tag))
            if _hidden(attributes, b"ht", 1.0):
                try:
                    view.hidden_rows.add(int(attributes.get(b"r", b"0")) - 1)
                except ValueError:
                    pass
        for tag in _COL_TAG.findall(xml):
            attributes = dict(_ATTRIBUTE.findall(tag))
            if _hidden(attributes, b"width", 0.5):
                try:
                    first, last = int(attributes.get(b"min", b"0")), int(attributes.get(b"max", b"0"))
                except ValueError:
                    continue
                view.hidden_columns.update(range(max(first, 1) - 1, min(last, 16384)))
    if styles and cells:
        wanted = {str(s).encode() for s in styles}
        for tag in _CELL_TAG.findall(xml):
            style = _STYLE.search(tag)
            if style is None or style.group(1) not in wanted:
                continue
            reference = _REFERENCE.search(tag)
            if reference is None:
                continue
            place = (int(reference.group(2)) - 1, _column_index(reference.group(1)))
            if place in cells:
                view.formats[place] = styles[int(style.group(1))]
    return view


class Formatted(float):
    """A typed number whose cell format shows it otherwise (58.2% for 0.582); validation
    decides what the unit meant."""

    __slots__ = ("kind", "code")

    def __new__(cls, value: float, kind: str, code: str):
        self = super().__new__(cls, value)
        self.kind = kind
        self.code = code
        return self

    def __reduce__(self):
        return Formatted, (float(self), self.kind, self.code)


class Withheld:
    """An input cell that is not scored because the office cannot see what it holds (a
    hidden row or column, a doubled header). `problem` is (IssueCode value, message) when
    validation must still report it at the cell; None when the reader already did."""

    __slots__ = ("value", "problem")

    def __init__(self, value: object, problem: tuple[str, str] | None = None):
        self.value = value
        self.problem = problem

    def __getstate__(self):
        return self.value, self.problem

    def __setstate__(self, state) -> None:
        self.value, self.problem = state

    def __str__(self) -> str:  # "is something typed here" stays answerable
        return "" if self.value is None else str(self.value)
