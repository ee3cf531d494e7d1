"""Make untrusted text (unit names, notes, evidence, file names) inert in our outputs.

Workbooks need no helper here: report.py writes every text cell with xlsxwriter's
`write_string`, which never turns text into a formula, URL or number.
"""

from __future__ import annotations

import math
import re
import unicodedata

# OWASP "CSV injection": a spreadsheet opening the file evaluates cells starting with these.
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates, U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def csv_safe(value: object) -> object:
    """Prefix `'` to text a spreadsheet would evaluate; numbers and plain numeric text pass unchanged."""
    if not isinstance(value, str) or not value.startswith(_CSV_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_unquote(value: object) -> object:
    """Undo `csv_safe` when reading back one of our own csv files."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_CSV_TRIGGERS):
        return value[1:]
    return value


def xml_safe(value: object) -> str:
    """Text with the characters XML 1.0 forbids removed (None/NaN become "")."""
    if _is_missing(value):
        return ""
    return _XML_ILLEGAL.sub("", str(value))


def safe_filename(text: object, max_len: int = 80) -> str:
    """One harmless file-name component on Windows, macOS and Linux (never a path)."""
    name = "" if _is_missing(text) else unicodedata.normalize("NFC", str(text))
    name = _XML_ILLEGAL.sub("", name)
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    # "..", "..." would otherwise survive as a name that means "parent" on some tools.
    name = re.sub(r"\.{2,}", "_", name)
    name = name.strip().rstrip(". ")
    if name.split(".")[0].strip().upper() in _RESERVED_NAMES:
        name = "_" + name
    if len(name) > max_len:
        name = name[:max_len].rstrip(". ")
    return name or "_"


# --------------------------------------------------------------------------- xlsxwriter

def _looks_like_rich_xml(text: object) -> bool:
    return isinstance(text, str) and text.startswith("<r>") and text.endswith("</r>")


try:
    import xlsxwriter
    from xlsxwriter.worksheet import Worksheet as _Worksheet

    class InertWorksheet(_Worksheet):
        """xlsxwriter copies a string that starts with <r> and ends with </r> into the file as raw
        rich-text XML; such a unit name would inject XML. It is written as three escaped runs instead,
        which Excel shows as exactly the same text."""

        def write_string(self, row, col, string, cell_format=None):
            if _looks_like_rich_xml(string):
                # xlsxwriter wants three fragments or more; each one is escaped on its own
                runs = [string[:1], string[1:2], string[2:]] + ([cell_format] if cell_format is not None else [])
                return self.write_rich_string(row, col, *runs)
            return super().write_string(row, col, string, cell_format)

    class InertWorkbook(xlsxwriter.Workbook):
        """A Workbook whose sheets never let a cell's text act as XML (see InertWorksheet)."""

        def add_worksheet(self, name=None, worksheet_class=None):
            return super().add_worksheet(name, worksheet_class or InertWorksheet)
except ImportError:  # pragma: no cover - xlsxwriter is a dependency
    pass
