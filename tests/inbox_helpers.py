"""Fill generated templates the way a unit would, with openpyxl, for reader and validation tests."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook


def _header(sheet, required: list[str]) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=60):
        texts = {str(c.value).strip(): c.column for c in row if c.value is not None}
        if all(name in texts for name in required):
            return row[0].row, texts
    raise AssertionError(f"header {required} not found in {sheet.title}")


def value_cell(path: Path, indicator_code: str, column: str = "实际完成值") -> str:
    """A1 address of a unit template's input cell for one indicator."""
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    header_row, columns = _header(sheet, ["指标代码", column])
    for row in range(header_row + 1, sheet.max_row + 1):
        if sheet.cell(row, columns["指标代码"]).value == indicator_code:
            return sheet.cell(row, columns[column]).coordinate
    raise AssertionError(indicator_code)


def fill_unit(path: Path, values: dict[str, object], evidence: dict[str, str] | None = None,
              claims: list[dict[str, object]] | None = None, edits: dict[str, object] | None = None) -> Path:
    """Type values into 实际完成值 by indicator code; `edits` sets arbitrary cells (A1 → value) on 填报."""
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    header_row, columns = _header(sheet, ["指标代码", "实际完成值"])
    for row in range(header_row + 1, sheet.max_row + 1):
        code = sheet.cell(row, columns["指标代码"]).value
        if code in values:
            sheet.cell(row, columns["实际完成值"]).value = values[code]
        if evidence and code in evidence:
            sheet.cell(row, columns["佐证材料"]).value = evidence[code]
    for address, value in (edits or {}).items():
        sheet[address] = value
    if claims:
        claim_sheet = workbook["加扣分"]
        claim_row, claim_columns = _header(claim_sheet, ["项目代码", "数量"])
        for offset, claim in enumerate(claims, start=1):
            for key, value in claim.items():
                claim_sheet.cell(claim_row + offset, claim_columns[key]).value = value
    workbook.save(path)
    return path


def fill_assessment(path: Path, values: dict[tuple[str, str], object], claims: list[dict[str, object]] | None = None) -> Path:
    """Fill 评定表: values keyed by (unit_code, indicator_code); office claims on 加扣分."""
    workbook = load_workbook(path)
    sheet = workbook["评定"]
    header_row, columns = _header(sheet, ["单位代码", "指标代码", "评定值"])
    for row in range(header_row + 1, sheet.max_row + 1):
        key = (sheet.cell(row, columns["单位代码"]).value, sheet.cell(row, columns["指标代码"]).value)
        if key in values:
            sheet.cell(row, columns["评定值"]).value = values[key]
    if claims:
        claim_sheet = workbook["加扣分"]
        claim_row, claim_columns = _header(claim_sheet, ["单位代码", "项目代码", "数量"])
        for offset, claim in enumerate(claims, start=1):
            for key, value in claim.items():
                claim_sheet.cell(claim_row + offset, claim_columns[key]).value = value
    workbook.save(path)
    return path
