"""What Excel shows that calamine does not say: number formats and hidden rows/columns.

calamine gives a cell's stored value; a unit who typed "58.2%" sees 58.2% but the cell
stores 0.582 with a percent format, and a hidden column or row is read like any other.
This module scans the XML parts with a few byte searches (no XML parser): styles.xml
once per file, the table's sheet once, and only the cells the tables use. It knows
nothing of zip files or of the scheme; read.py hands it the parts' bytes. What a number
format shows of a value is number_format's rule.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Callable

from kaohe_excel.base.tables import column_number
from kaohe_excel.base.number_format import (
    BUILTIN_NUMBERS,
    FONT_HIDDEN,
    condition_holds,
    format_kind,
    hides_text,
    shown_as,
    shows_numbers,
)

_CELL_XFS = re.compile(rb'<(?:\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>', re.S)
_XF = re.compile(rb'<(?:\w+:)?xf\b([^>]*)>')
_NUM_FMT = re.compile(rb'<(?:\w+:)?numFmt\b([^>]*)>')
_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')  # either quote: XML allows both
_ROW_TAG = re.compile(rb'<(?:\w+:)?row\b([^>]*)>')
_COL_TAG = re.compile(rb'<(?:\w+:)?col\b([^>]*)>')
_CELL_TAG = re.compile(rb'<(?:\w+:)?c\s([^>]*)>')
_REFERENCE = re.compile(rb'\br\s*=\s*["\']\s*([A-Za-z]{1,3})([0-9]{1,7})\s*["\']')  # calamine reads r="l8" as L8
_STYLE = re.compile(rb'\bs\s*=\s*["\']\s*([0-9]{1,6})\s*["\']')


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    """A tag's attributes, whichever quotes they are written in."""
    return {name: double if double or not single else single for name, double, single in _ATTRIBUTE.findall(tag)}


def special_styles(styles_xml: bytes) -> dict[int, tuple[str, str]]:
    """Cell style index (the s="n" of a cell) -> (format_kind or FONT_HIDDEN, format code) for the
    styles that may show a cell otherwise than it is stored: a number format other than General
    (what it shows depends on the value: `shown_as`), a text format (`hides_text`), or a font the
    office cannot see (`FONT_HIDDEN`). Empty for the usual workbook."""
    formats = dict(BUILTIN_NUMBERS)
    for tag in _NUM_FMT.findall(styles_xml):
        attributes = _attrs((tag))
        try:
            number = int(attributes.get(b"numFmtId", b""))
        except ValueError:
            continue
        formats[number] = html.unescape(attributes.get(b"formatCode", b"").decode("utf-8", "replace"))
    block = _CELL_XFS.search(styles_xml)
    special = Styles()
    if b"<dxf" in styles_xml or b":dxf" in styles_xml:
        special.dxfs = _differential_formats(styles_xml, formats)
    if block is None:
        return special
    fonts = fills = None
    for index, tag in enumerate(_XF.findall(block.group(1))):
        attributes = _attrs((tag))
        try:
            number = int(attributes.get(b"numFmtId", b"0"))
        except ValueError:
            number = 0
        code = formats.get(number, "")
        kind = format_kind(code)
        if fonts is None and attributes.get(b"fontId", b"0") != b"0":
            fonts, fills = _blocks(styles_xml, b"font"), _blocks(styles_xml, b"fill")
        if fonts is not None and _unseen(fonts, fills, attributes):
            special[index] = (FONT_HIDDEN, code)
        elif kind or hides_text(code) or shows_numbers(code):
            special[index] = (kind, code)
    return special


class Styles(dict):
    """special_styles' answer, with `dxfs`: the conditional formats' (number format or "", font unseen)."""

    def __init__(self):
        super().__init__()
        self.dxfs: list[tuple[str, bool]] = []


_DXF_BLOCK = re.compile(rb'<(?:\w+:)?dxf\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?dxf>)', re.S)


def _differential_formats(styles_xml: bytes, formats: dict[int, str]) -> list[tuple[str, bool]]:
    outer = re.search(rb'<(?:\w+:)?dxfs\b[^>]*>(.*?)</(?:\w+:)?dxfs>', styles_xml, re.S)
    found = []
    for match in _DXF_BLOCK.finditer(outer.group(1) if outer else b""):
        body = match.group(1) or b""
        code = ""
        number = _NUM_FMT.search(body)
        if number is not None:
            attributes = _attrs((number.group(1)))
            code = html.unescape(attributes.get(b"formatCode", b"").decode("utf-8", "replace"))
            if not code:
                try:
                    code = formats.get(int(attributes.get(b"numFmtId", b"0")), "")
                except ValueError:
                    code = ""
        font = _FONT_BLOCK.search(body)
        colour = _COLOR.search(font.group(1) or b"") if font else None
        text = _colour(_attrs((colour.group(1)))) if colour else None
        fill = _FG_COLOR.search(body) or re.search(rb'<(?:\w+:)?bgColor\b([^>]*)>', body)
        background = _colour(_attrs((fill.group(1)))) if fill else None
        found.append((code, text is not None and (text == _WHITE_RGB or text == background)))
    return found


_FONT_BLOCK = re.compile(rb'<(?:\w+:)?font\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?font>)', re.S)
_FILL_BLOCK = re.compile(rb'<(?:\w+:)?fill\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?fill>)', re.S)
_COLOR = re.compile(rb'<(?:\w+:)?color\b([^>]*)>')
_FG_COLOR = re.compile(rb'<(?:\w+:)?fgColor\b([^>]*)>')
_PATTERN = re.compile(rb'<(?:\w+:)?patternFill\b([^>]*)>')
_SIZE = re.compile(rb'<(?:\w+:)?sz\b[^>]*?\bval\s*=\s*"([^"]*)"')
_WHITE_RGB = "FFFFFF"


def _blocks(styles_xml: bytes, name: bytes) -> list[bytes]:
    """The bodies of the <fonts> or <fills> entries, in index order."""
    outer = re.search(rb'<(?:\w+:)?%ss\b[^>]*>(.*?)</(?:\w+:)?%ss>' % (name, name), styles_xml, re.S)
    if outer is None:
        return []
    pattern = _FONT_BLOCK if name == b"font" else _FILL_BLOCK
    return [match.group(1) or b"" for match in pattern.finditer(outer.group(1))]


def _colour(attributes: dict) -> str | None:
    """A colour as 6 hex digits where the file says it plainly (rgb, white by theme or index)."""
    rgb = attributes.get(b"rgb")
    if rgb:
        return rgb.decode("ascii", "replace")[-6:].upper()
    if attributes.get(b"theme") == b"0" or attributes.get(b"indexed") in (b"1", b"9"):
        return _WHITE_RGB  # the theme's first colour (lt1, the window background) and the palette's white
    return None


def _colour_key(attributes: dict) -> tuple | None:
    """A colour as written (rgb, theme with tint, palette index), for telling two colours are the same."""
    if attributes.get(b"rgb"):
        return ("rgb", attributes[b"rgb"].decode("ascii", "replace")[-6:].upper())
    if attributes.get(b"theme") is not None:
        return ("theme", attributes[b"theme"].strip(), attributes.get(b"tint", b"0").strip())
    if attributes.get(b"indexed") is not None:
        return ("indexed", attributes[b"indexed"].strip())
    return None


# Fonts that draw digits and letters as pictures: 95 typed in Wingdings shows two symbols.
_SYMBOL_FONTS = (b"wingdings", b"webdings", b"symbol", b"marlett")
_FONT_NAME = re.compile(rb'<(?:\w+:)?name\b[^>]*?val\s*=\s*["\']([^"\']*)["\']')


def _tiny(block: bytes) -> bool:
    """A font (or a rich-text run) under 3 points: its text cannot be read on screen or on paper."""
    size = _SIZE.search(block)
    try:
        return size is not None and float(size.group(1)) < 3
    except ValueError:
        return False


def _unseen(fonts: list[bytes], fills: list[bytes], attributes: dict) -> bool:
    """Whether a style's text cannot be seen: its font has the colour of its fill (white on no
    fill), is smaller than 3 points, or draws symbols instead of digits (Wingdings …)."""
    try:
        font = fonts[int(attributes.get(b"fontId", b"0"))]
        fill = fills[int(attributes.get(b"fillId", b"0"))] if fills else b""
    except (ValueError, IndexError):
        return False
    if _tiny(font):
        return True
    name = _FONT_NAME.search(font)
    if name is not None and name.group(1).strip().lower().startswith(_SYMBOL_FONTS):
        return True
    colour = _COLOR.search(font)
    font_colour = _attrs(colour.group(1)) if colour else {}
    text = _colour(font_colour)
    pattern = _PATTERN.search(fill)
    kind = _attrs((pattern.group(1))).get(b"patternType", b"none") if pattern else b"none"
    if kind == b"none":
        return text == _WHITE_RGB
    if kind != b"solid":
        return False  # a pattern (gray125 …) shows through
    background = _FG_COLOR.search(fill)
    if background is None:
        return False
    fill_colour = _attrs(background.group(1))
    if text is not None and _colour(fill_colour) == text:
        return True
    key = _colour_key(font_colour)
    return key is not None and key == _colour_key(fill_colour)  # the same theme colour (and tint) for both


@dataclass
class SheetView:
    """What the scan found on one sheet (0-based rows and columns)."""

    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)
    formats: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)  # (row, col) -> (kind, code)
    # the given cells under a merged range that is not theirs to show: (row, col) -> (range, its top-left)
    covered: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # given cells holding a formula -> its text
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # every formula cell of the sheet
    duplicates: set[tuple[int, int]] = field(default_factory=set)  # given cells written twice in the XML
    unseen_runs: set[tuple[int, int]] = field(default_factory=set)  # given cells whose rich text hides a part
    malformed: set[tuple[int, int]] = field(default_factory=set)  # given cells of a shared-string type without its index
    overlaid: dict[tuple[int, int], str] = field(default_factory=dict)  # given cells under a picture or shape -> what
    # given cells under conditional formats that may change what shows: (row, col) -> rules (`conditional_effect`)
    conditional: dict[tuple[int, int], list[tuple]] = field(default_factory=dict)


def _column_index(letters: bytes) -> int:
    return column_number(letters) - 1  # 0-based, as the grid


def _hidden(attributes: dict, size_name: bytes, smallest: float) -> bool:
    if attributes.get(b"hidden", b"").strip().lower() in (b"1", b"true"):
        return True
    try:  # a row 0.5 points high or a column 0.1 characters wide is as hidden as hidden
        return float(attributes.get(size_name, b"99")) < smallest
    except ValueError:
        return False


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref\s*=\s*"([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"')
_CELL_BODY = re.compile(rb'<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)', re.S)
_FORMULA_TAG = re.compile(rb'<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)', re.S)
_MERGE_AREA_LIMIT = 200_000


def _place(reference: bytes) -> tuple[int, int] | None:
    found = re.fullmatch(rb"\s*([A-Za-z]{1,3})([0-9]{1,7})\s*", reference)
    return (int(found.group(2)) - 1, _column_index(found.group(1))) if found else None


def _inside(cells, first_row: int, last_row: int, first_col: int, last_col: int) -> list[tuple[int, int]]:
    """The given cells within a range (a set of places, or a grid of rows x columns)."""
    rows, cols = getattr(cells, "rows", None), getattr(cells, "cols", None)
    if rows is not None and cols is not None:
        return [(r, c) for r in rows if first_row <= r <= last_row for c in cols if first_col <= c <= last_col]
    if (last_row - first_row + 1) * (last_col - first_col + 1) <= _MERGE_AREA_LIMIT:
        return [(r, c) for r in range(first_row, last_row + 1) for c in range(first_col, last_col + 1) if (r, c) in cells]
    return [(r, c) for r, c in cells if first_row <= r <= last_row and first_col <= c <= last_col]


# a row height or column width that may be below what shows (ht="0.5", ht='.5', width=" 0"): then look
_SMALL_SIZES = (re.compile(rb'ht\s*=\s*["\']\s*[-+]?[0.]'), re.compile(rb'width\s*=\s*["\']\s*[-+]?[0.]'))


def _may_hide(xml: bytes) -> bool:
    """Whether a row or column may be hidden: the word hidden, or a height or width attribute below 1
    (a literal search; "right="0.4"" of the page margins is told apart by the byte before it)."""
    if b"hidden" in xml:
        return True
    for pattern in _SMALL_SIZES:
        for match in pattern.finditer(xml):
            if match.start() > 0 and xml[match.start() - 1:match.start()] in (b" ", b"\t", b"\n", b"\r"):
                return True
    return False


def scan_sheet(xml: bytes, styles: dict[int, tuple[str, str]], cells,
               hidden_strings: Callable[[], set[int]] | None = None,
               related: Callable[[str], bytes | None] | None = None) -> SheetView:
    """Hidden rows and columns of the sheet, and for the given cells (a set of (row, col)): their
    special formats, the merged ranges that cover them, their formulas, whether one is written
    twice (calamine keeps the last, Excel calls the file damaged), and whether its text has a part
    nobody sees as typed (`hidden_runs`; `hidden_strings()` gives the shared strings that do), and
    whether a picture or shape of the sheet's drawing lies over it (`related(relationship id)` gives
    the drawing part's bytes)."""
    view = SheetView()
    # Three byte searches decide whether rows and columns need looking at (they almost never
    # do; a regex alternation is ten times slower); the space keeps fitToHeight="0" out.
    if _may_hide(xml):
        for tag in _ROW_TAG.findall(xml):
            attributes = _attrs((tag))
            if _hidden(attributes, b"ht", 1.0):
                try:
                    view.hidden_rows.add(int(attributes.get(b"r", b"0")) - 1)
                except ValueError:
                    pass
        for tag in _COL_TAG.findall(xml):
            attributes = _attrs((tag))
            if _hidden(attributes, b"width", 0.5):
                try:
                    first, last = int(attributes.get(b"min", b"0")), int(attributes.get(b"max", b"0"))
                except ValueError:
                    continue
                view.hidden_columns.update(range(max(first, 1) - 1, min(last, 16384)))
    if not cells:
        return view
    if styles:
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
    _input_cells(xml, cells, view, hidden_strings)
    # merges, conditional formats and the drawing are written after the cells: look at that tail only
    tail = xml[max(0, xml.rfind(b"sheetData>")):]
    if b"mergeCell" in tail:
        for match in _MERGE_REF.finditer(tail):
            first_col, last_col = _column_index(match.group(1)), _column_index(match.group(3))
            first_row, last_row = int(match.group(2)) - 1, int(match.group(4)) - 1
            span = b"%s%s:%s%s" % match.group(1, 2, 3, 4)
            top_left = b"%s%s" % match.group(1, 2)
            for place in _inside(cells, first_row, last_row, first_col, last_col):
                if place != (first_row, first_col):
                    view.covered[place] = (span.decode(), top_left.decode())
    if related is not None and b"drawing" in tail:
        for tag in _DRAWING_TAG.findall(tail):
            rel_id = next((v for k, v in _attrs(tag).items() if k.endswith(b":id")), b"")
            drawing = related(rel_id.decode("utf-8", "replace")) if rel_id else None
            for what, first_row, first_col, last_row, last_col in _anchors(drawing or b""):
                for place in _inside(cells, first_row, last_row, first_col, last_col):
                    view.overlaid.setdefault(place, what)
    if b"onditionalFormatting" in tail:
        _conditional(tail, getattr(styles, "dxfs", []), cells, view)
    return view


_COLUMN_PATTERNS: dict[tuple[str, ...], re.Pattern] = {}


def _cell_pattern(letters: tuple[str, ...]) -> re.Pattern:
    """The cells of the given columns, written the usual way (<c r="L8" …>): a literal search."""
    pattern = _COLUMN_PATTERNS.get(letters)
    if pattern is None:
        if len(_COLUMN_PATTERNS) > 256:
            _COLUMN_PATTERNS.clear()
        alternatives = "|".join(letters).encode()
        pattern = _COLUMN_PATTERNS[letters] = re.compile(
            rb'<c r="(%s)([0-9]{1,7})"([^>]*?)(?:/>|>(.*?)</c>)' % alternatives, re.S)
    return pattern


def _input_cells(xml: bytes, cells, view: SheetView, hidden_strings) -> None:
    """One pass over the given cells' XML: written twice, a formula, a shared-string type without its
    index, a rich text hiding a part. Only the cells of the given columns are looked at, with a
    literal search, unless the sheet is written unusually (then every cell, the slow way)."""
    cells = getattr(cells, "inputs", cells)  # a caller may ask for formats of more cells than it scores
    columns = getattr(cells, "cols", None)
    rows = getattr(cells, "rows", None)
    if columns is None:
        columns = {c for _, c in cells}
    letters = tuple(sorted({_letters(c) for c in columns}))
    if 0 < len(letters) <= 8:
        index = {letter.encode(): _column_index(letter.encode()) for letter in letters}
        seen = _judge_cells((((int(digits) - 1, index[letter]), attributes, body)
                             for letter, digits, attributes, body in _cell_pattern(letters).findall(xml)),
                            cells, view, hidden_strings)
        # every given cell written the usual way was seen: done; else some is written otherwise
        # (attributes reordered, r='l8', a prefix) or not at all: the slow scan decides
        expected = len(rows) * len(columns) if rows is not None else len(cells)
        if len(seen) == expected:
            if view.formulas:
                _formula_cells(xml, view)
            return
        for found in (view.duplicates, view.malformed, view.formulas, view.unseen_runs):
            found.clear()
    _judge_cells((((int(r.group(2)) - 1, _column_index(r.group(1))), m.group(1), m.group(2)) for m in _CELL_BODY.finditer(xml)
                  if (r := _REFERENCE.search(b" " + m.group(1))) is not None), cells, view, hidden_strings)
    if view.formulas:  # a formula refers to cells: which of them are formulas themselves (never recomputed)
        _formula_cells(xml, view)


def _judge_cells(matches, cells, view: SheetView, hidden_strings) -> set[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    shared_hidden = None
    for place, attributes, body in matches:
        if place not in cells:
            continue
        if place in seen:
            view.duplicates.add(place)
        seen.add(place)
        kind = b"n"  # only the shared-string and inline-string types matter here
        if b"s'" in attributes or b's"' in attributes or b"nlineStr" in attributes:
            found = _TYPE.search(b" " + attributes)
            kind = found.group(1) if found else b"n"
        body = body or b""
        if kind == b"s" and _SHARED_INDEX.match(body) is None:
            view.malformed.add(place)
        if b"f" in body:
            formula = _FORMULA_TAG.search(body)
            if formula is not None:
                shared = b"t=" in formula.group(1) and formula.group(2) is None
                view.formulas[place] = "" if shared else html.unescape((formula.group(2) or b"").decode("utf-8", "replace"))
        if kind == b"inlineStr" and b"rPr" in body and _hides_a_run(body):
            view.unseen_runs.add(place)
        elif kind == b"s" and hidden_strings is not None:
            if shared_hidden is None:
                shared_hidden = hidden_strings()
            index = _SHARED_INDEX.match(body)
            if shared_hidden and index is not None and int(index.group(1)) in shared_hidden:
                view.unseen_runs.add(place)
    return seen


def _formula_cells(xml: bytes, view: SheetView) -> None:
    """Every formula cell of the sheet (a formula referring to one is never recomputed)."""
    for match in _CELL_BODY.finditer(xml):
        body = match.group(2)
        reference = _REFERENCE.search(b" " + match.group(1)) if body and b"f" in body else None
        if reference is not None and _FORMULA_TAG.search(body):
            view.formula_cells.add((int(reference.group(2)) - 1, _column_index(reference.group(1))))


def _letters(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_SHARED_INDEX = re.compile(rb'\s*<(?:\w+:)?v>\s*([0-9]+)\s*<')


_CF_BLOCK = re.compile(rb'<(?:\w+:)?conditionalFormatting\b([^>]*)>(.*?)</(?:\w+:)?conditionalFormatting>', re.S)
_CF_RULE = re.compile(rb'<(?:\w+:)?cfRule\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?cfRule>)', re.S)
_CF_SQREF = re.compile(rb'<(?:\w+:)?sqref>(.*?)</(?:\w+:)?sqref>', re.S)
_CF_FORMULA = re.compile(rb'<(?:\w+:)?(?:formula|f)>(.*?)</(?:\w+:)?(?:formula|f)>', re.S)
_RANGE = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Z]{1,3})\$?([0-9]{1,7}))?")
_NO_VALUE = re.compile(rb'<(?:\w+:)?(?:dataBar|iconSet)\b[^>]*?showValue\s*=\s*"(?:0|false)"')
_OPERATORS = {"lessThan": "<", "lessThanOrEqual": "<=", "greaterThan": ">", "greaterThanOrEqual": ">=",
              "equal": "=", "notEqual": "<>", "between": "between", "notBetween": "notBetween"}
NO_VALUE = "数据条或图标集设置为只显示图形、不显示数值"


def _conditional(xml: bytes, dxfs: list[tuple[str, bool]], cells, view: SheetView) -> None:
    """The conditional formats over the given cells whose effect may change what shows: a data bar or
    icon set without the value, or a rule whose format is a number format or a font nobody sees."""
    for block in _CF_BLOCK.finditer(xml):
        attributes = _attrs((block.group(1)))
        sqref = attributes.get(b"sqref", b"")
        inner = _CF_SQREF.search(block.group(2))
        if inner is not None:
            sqref = inner.group(1)
        rules = []
        for rule in _CF_RULE.finditer(block.group(2)):
            body = rule.group(2) or b""
            rule_attributes = _attrs((rule.group(1)))
            if _NO_VALUE.search(body):
                rules.append(("hide", None, NO_VALUE, False))
                continue
            try:
                code, unseen = dxfs[int(rule_attributes.get(b"dxfId", b""))]
            except (ValueError, IndexError):
                continue
            if not unseen and not shows_numbers(code):
                continue
            condition = None
            if rule_attributes.get(b"type") == b"cellIs":
                operator = _OPERATORS.get(rule_attributes.get(b"operator", b"").decode("ascii", "replace"))
                try:
                    limits = [float(html.unescape(f.decode("utf-8", "replace"))) for f in _CF_FORMULA.findall(body)]
                except ValueError:
                    limits = []
                if operator and limits:
                    condition = (operator, limits)
            rules.append(("format", condition, code, unseen))
        if not rules:
            continue
        for part in sqref.decode("ascii", "replace").split():
            found = _RANGE.fullmatch(part)
            if found is None:
                continue
            first_col, first_row = _column_index(found.group(1).encode()), int(found.group(2)) - 1
            last_col = _column_index(found.group(3).encode()) if found.group(3) else first_col
            last_row = int(found.group(4)) - 1 if found.group(4) else first_row
            for place in _inside(cells, first_row, last_row, first_col, last_col):
                view.conditional.setdefault(place, []).extend(rules)


def conditional_effect(rules: list[tuple], value: object) -> tuple[str, str] | None:
    """What the first conditional format that applies to `value` does to it: ("font", "") a font nobody
    sees, ("hide", why) the number not shown, ("format", code) another number format; None: nothing.
    A rule whose condition cannot be decided here (a formula, top 10 …) is taken to apply."""
    number = float(value) if value.__class__ in (float, int) else None
    for kind, condition, code, unseen in rules:
        if kind == "hide":
            if number is not None:
                return "hide", code
            continue
        if condition is not None:
            if number is None:
                continue
            operator, limits = condition
            low, high = (min(limits[:2]), max(limits[:2])) if len(limits) > 1 else (limits[0], limits[0])
            holds = (low <= number <= high if operator == "between" else not low <= number <= high
                     if operator == "notBetween" else condition_holds((operator, limits[0]), number))
            if not holds:
                continue
        if unseen:
            return "font", ""
        if number is not None and shown_as(code, number) is not None:
            return "format", code
    return None


_TYPE = re.compile(rb'\st\s*=\s*["\']([^"\']*)["\']')
_DRAWING_TAG = re.compile(rb'<(?:\w+:)?drawing\b([^>]*)>')
_ANCHOR = re.compile(rb'<(?:\w+:)?(twoCellAnchor|oneCellAnchor|absoluteAnchor)\b[^>]*>(.*?)</(?:\w+:)?\1>', re.S)
_MARKER = re.compile(rb'<(?:\w+:)?(from|to)>(.*?)</(?:\w+:)?\1>', re.S)
_MARKER_PART = re.compile(rb'<(?:\w+:)?(col|row|colOff|rowOff)>\s*(-?[0-9]+)\s*<')
_EXTENT = re.compile(rb'<(?:\w+:)?ext\b[^>]*?\bcx\s*=\s*"([0-9]+)"[^>]*?\bcy\s*=\s*"([0-9]+)"')
_POSITION = re.compile(rb'<(?:\w+:)?pos\b[^>]*?\bx\s*=\s*"([0-9]+)"[^>]*?\by\s*=\s*"([0-9]+)"')
# Excel's default cell size in EMU (8.43 characters ≈ 64 px wide, 15 points high): a one-cell or
# absolute anchor's extent is turned into cells with it (an estimate that errs towards covering).
_COLUMN_EMU, _ROW_EMU = 609_600, 190_500


def _anchors(drawing: bytes) -> list[tuple[str, int, int, int, int]]:
    """(what, first row, first column, last row, last column) of every picture, shape or chart the
    drawing places; 0-based and inclusive."""
    found = []
    for kind, body in _ANCHOR.findall(drawing):
        what = "图片" if re.search(rb"<(?:\w+:)?pic\b", body) else "图形或文本框" if re.search(
            rb"<(?:\w+:)?(?:sp|grpSp|cxnSp)\b", body) else "图表或其他对象"
        markers = {name: dict(_MARKER_PART.findall(part)) for name, part in _MARKER.findall(body)}
        start = markers.get(b"from", {})
        try:
            if kind == b"absoluteAnchor":
                position = _POSITION.search(body)
                x, y = (int(position.group(1)), int(position.group(2))) if position else (0, 0)
                first_col, first_row = x // _COLUMN_EMU, y // _ROW_EMU
            else:
                first_col, first_row = int(start.get(b"col", 0)), int(start.get(b"row", 0))
            if kind == b"twoCellAnchor":
                end = markers.get(b"to", {})
                last_col, last_row = int(end.get(b"col", first_col)), int(end.get(b"row", first_row))
                if int(end.get(b"colOff", 1)) == 0 and last_col > first_col:
                    last_col -= 1  # ends at the left edge of its last column
                if int(end.get(b"rowOff", 1)) == 0 and last_row > first_row:
                    last_row -= 1
            else:
                extent = _EXTENT.search(body)
                width, height = (int(extent.group(1)), int(extent.group(2))) if extent else (0, 0)
                last_col = first_col + max(0, -(-width // _COLUMN_EMU) - 1)
                last_row = first_row + max(0, -(-height // _ROW_EMU) - 1)
        except ValueError:
            continue
        found.append((what, max(0, first_row), max(0, first_col), min(last_row, 1_048_575), min(last_col, 16_383)))
    return found
_STRING_ITEM = re.compile(rb'<(?:\w+:)?si\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?si>)', re.S)
_RUN_PROPERTIES = re.compile(rb'<(?:\w+:)?rPr\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?rPr>)', re.S)
_VERT_ALIGN = re.compile(rb'<(?:\w+:)?vertAlign\b[^>]*?val\s*=\s*"(superscript|subscript)"')
_STRIKE = re.compile(rb'<(?:\w+:)?strike\b([^>]*)>')


def _hides_a_run(body: bytes) -> bool:
    """Whether a rich text's runs show a part otherwise than it is read: a run in white, smaller than
    3 points, struck through, or raised/lowered (5 and a superscript 5 read as 55)."""
    for properties in _RUN_PROPERTIES.finditer(body):
        run = properties.group(1) or b""
        if _VERT_ALIGN.search(run):
            return True
        strike = _STRIKE.search(run)
        if strike is not None and _attrs((strike.group(1))).get(b"val", b"1") not in (b"0", b"false"):
            return True
        if _tiny(run):
            return True
        colour = _COLOR.search(run)
        if colour is not None and _colour(_attrs((colour.group(1)))) == _WHITE_RGB:
            return True
    return False


def hidden_runs(shared_strings_xml: bytes) -> set[int]:
    """Indices of the shared strings whose rich text hides a part (`_hides_a_run`); empty when none has runs."""
    if b"rPr" not in shared_strings_xml:
        return set()
    return {index for index, item in enumerate(_STRING_ITEM.finditer(shared_strings_xml))
            if item.group(1) and b"rPr" in item.group(1) and _hides_a_run(item.group(1))}


class Formatted(float):
    """A typed number whose cell format shows it otherwise (58.2% for 0.582), or a formula's cached
    result (kind FORMULA, code the formula); validation decides what the unit meant."""

    __slots__ = ("kind", "code", "shown")

    def __new__(cls, value: float, kind: str, code: str, shown: str = ""):
        self = super().__new__(cls, value)
        self.kind = kind
        self.code = code
        self.shown = shown  # what the cell shows, where that is known (OTHER, ROUNDED)
        return self

    def __reduce__(self):
        return Formatted, (float(self), self.kind, self.code, self.shown)


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
