"""Input cells that calamine returned empty, looked at again in the sheet's XML: a formula
without a cached result (the file was never recalculated) and an error value (#DIV/0!) are put
back as what they are, and a cell hidden under a merge is named."""

from __future__ import annotations

import re

from kaohe_excel.base.issues import IssueCode, warning
from kaohe_excel.base.read_rows import FormulaWithoutValue, Row
from kaohe_excel.base.tables import clean_text, column_number
from kaohe_excel.inputs.zip_parts import ATTRIBUTE, part_bytes, sheet_parts, xml_text, zip_of

_CELL_BODY = re.compile(rb'<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)', re.S)
_FORMULA = re.compile(rb'<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)', re.S)
_VALUE = re.compile(rb'<(?:\w+:)?v\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?v>)', re.S)
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
_ADDRESS = re.compile(r"([A-Z]+)([0-9]+)")


def empty_scored_cells(result, kind) -> list[tuple[Row, str]]:
    """The rows whose scored input (InputKind.scored) is empty, with that column."""
    names = kind.scored
    empty = []
    for records in (result.rows, result.claims):
        for row in records:
            for name in names:
                found = row.layout.columns.get(name)
                if found is not None:
                    value = row.values[found[0]]
                    if value.__class__ is not float and not clean_text(value):  # a number is never empty
                        empty.append((row, name))
    return empty


def resolve_empty_inputs(data: bytes, result, limits, kind) -> None:
    """calamine returns formulas without a cached result and error values (#DIV/0!) as
    empty cells. Only when an input cell came back empty, look at that sheet's XML and
    put back what is really there; also say when the cell is hidden under a merge."""
    empty = kind.empty_cells(result) if kind.empty_cells else empty_scored_cells(result, kind)
    if not empty:
        return
    by_sheet: dict[str, dict[str, tuple[Row, str]]] = {}
    for row, name in empty:
        by_sheet.setdefault(row.layout.sheet, {})[row[name].cell] = (row, name)
    if True:
        archive = zip_of(data)
        parts, _ = sheet_parts(archive, limits)
        for sheet, cells in by_sheet.items():
            part = parts.get(sheet)
            if part is None:
                continue
            xml = part_bytes(archive, archive.getinfo(part), limits)
            # most sheets hold no formula and no error value: then no empty cell needs a look
            for match in _CELL_BODY.finditer(xml) if b"<f" in xml or b":f" in xml or b't="e"' in xml else ():
                attributes = dict(ATTRIBUTE.findall(match.group(1)))
                address = attributes.get(b"r", b"").decode("ascii", "replace")
                found = cells.get(address)
                if found is None:
                    continue
                row, name = found
                body = match.group(2) or b""
                value = _VALUE.search(body)
                value_text = xml_text(value.group(1)) if value and value.group(1) else ""
                if attributes.get(b"t") == b"e" and value_text:
                    row.set(name, value_text)  # validate reports it as error_value
                elif not value_text and attributes.get(b"t") != b"str" and _FORMULA.search(body):
                    # no cached result (tools such as openpyxl write an empty <v/>); a text
                    # formula (t="str") with an empty result is simply empty
                    formula = _FORMULA.search(body).group(1)
                    row.set(name, FormulaWithoutValue("=" + xml_text(formula)[:80] if formula else ""))
            _report_merges(xml, sheet, cells, result)


def _report_merges(xml: bytes, sheet: str, cells: dict[str, object], result) -> None:
    for match in _MERGE.finditer(xml):
        first_col, first_row = column_number(match.group(1)), int(match.group(2))
        last_col, last_row = column_number(match.group(3)), int(match.group(4))
        covered = []
        for address in cells:
            parts = _ADDRESS.fullmatch(address)
            if not parts:
                continue
            col, row = column_number(parts.group(1).encode()), int(parts.group(2))
            if first_col <= col <= last_col and first_row <= row <= last_row and (col, row) != (first_col, first_row):
                covered.append(address)
        if covered:
            span = f"{match.group(1).decode()}{first_row}:{match.group(3).decode()}{last_row}"
            top_left = f"{match.group(1).decode()}{first_row}"
            result.issues.append(warning(
                IssueCode.missing_value,
                f"单元格 {span} 被合并，只读取到左上角 {top_left} 的值，{'、'.join(covered)} 视为未填写；请取消合并后逐行填写",
                file=result.name, sheet=sheet, cell=covered[0]))
