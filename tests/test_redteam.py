"""Red team: broken, forged and hostile files a unit (or a mistake) may return. Every file must
either be scored exactly as the office sees it in Excel/WPS, or give an 错误 naming file, sheet and
cell (or a 警告 that says what was assumed).

Each case starts from the tool's own templates of the small scheme (conftest.py), filled in
tmp_path, then changes one thing with openpyxl or in the sheet's XML. Expected scores are worked
out by hand: T01 has A1 = 95 (完成率, 目标值 100, 40 points → 38), A2 = 9 (基本满分 8/10, 20 points,
0.6 → 16), C2 = 0.45 (反向, 目标值 0.5 → 10); 评定 B1 = 92 (→ 20), C1 = 优 (→ 10): total 94 (原始分).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.styles import Color, Font, PatternFill

from conftest import make_inbox, small_scheme_sheets, write_workbook
from inbox_helpers import _header, fill_unit, value_cell
from kaohe_excel.jobs.pipeline import read_and_validate, score_period
from kaohe_excel.outputs.rating_template import write_rating_workbooks
from kaohe_excel.inputs.read import ReadLimits
from kaohe_excel.inputs.zip_parts import sheet_parts as _sheet_parts
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.base.number_format import INVISIBLE, OTHER, ROUNDED, shown_as

T01, T02, D01 = "T01_东城镇.xlsx", "T02_西山乡.xlsx", "D01_发改局.xlsx"
VALUES = {"T01": {"A1": 95, "A2": 9, "C2": 0.45}, "T02": {"A1": 85, "A2": 7, "C2": 0.6}, "D01": {"C2": 0.5}}
FILES = {"T01": T01, "T02": T02, "D01": D01}
ASSESSED = {("T01", "B1"): 92, ("T02", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
            ("T01", "C1"): "优", ("T02", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优"}


@pytest.fixture(scope="module")
def scheme(tmp_path_factory):
    return load_scheme(write_workbook(tmp_path_factory.mktemp("scheme") / "scheme.xlsx", small_scheme_sheets()))


@pytest.fixture
def inbox(tmp_path, scheme):
    return make_inbox(tmp_path / "inbox", scheme, VALUES, ASSESSED)


def outcome(scheme, inbox):
    validated = read_and_validate(scheme, inbox)
    results = score_period(scheme, validated)
    return validated, results


def found(validated, code: str) -> list[tuple]:
    table = validated.issues_table
    rows = table[table["code"] == code]
    return [tuple(r) for r in rows[["severity", "file", "sheet", "cell", "unit", "indicator"]].itertuples(index=False)]


def message(validated, code: str) -> str:
    table = validated.issues_table
    return " ".join(table.loc[table["code"] == code, "message"])


def scored(results, unit: str, code: str):
    return results.scored.set_index(["unit_code", "indicator_code"]).loc[(unit, code)]


def total(results, unit: str) -> float:
    return float(results.ranked.set_index("unit_code").loc[unit, "total"])


def rewrite_part(path: Path, part: str, change) -> None:
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            target.writestr(info.filename, change(data) if info.filename == part else data)


def sheet_part(path: Path, sheet: str = "填报") -> str:
    with zipfile.ZipFile(path) as archive:
        return _sheet_parts(archive, ReadLimits())[0][sheet]


def set_cell_xml(path: Path, address: str, attributes: str, body: str, sheet: str = "填报") -> None:
    """Replace one cell's XML, the way a hand-edited (or forged) file holds it."""
    def change(xml: bytes) -> bytes:
        new, count = re.subn(rb'<c r="%s"[^>]*?(?:/>|>.*?</c>)' % address.encode(),
                             f'<c r="{address}" {attributes}>{body}</c>'.encode(), xml, count=1, flags=re.S)
        assert count == 1
        return new
    rewrite_part(path, sheet_part(path, sheet), change)


def style_cell(path: Path, address: str, value=None, number_format: str | None = None, font=None, fill=None) -> None:
    workbook = load_workbook(path)
    cell = workbook["填报"][address]
    if value is not None:
        cell.value = value
    if number_format is not None:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    workbook.save(path)


# ---------------------------------------------------------------- formulas and their cached results

def test_a_cached_result_its_formula_does_not_give_is_an_error(scheme, inbox):
    # Excel recalculates on opening (the template asks for it): the office sees 55, the file says 100
    cell = value_cell(inbox / T01, "A1")
    set_cell_xml(inbox / T01, cell, 's="9"', "<f>50+5</f><v>100</v>")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_mismatch") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert "55" in message(validated, "formula_mismatch") and "100" in message(validated, "formula_mismatch")
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_formula_of_cells_is_recomputed_from_the_sheet(scheme, inbox):
    # J8 is the 目标值 100: =J8*0+55 is 55 whatever the file cached; =J8-5 is the 95 it cached
    a1, a2 = value_cell(inbox / T01, "A1"), value_cell(inbox / T01, "A2")
    target = value_cell(inbox / T01, "A1", "目标值")
    set_cell_xml(inbox / T01, a1, 's="9"', f"<f>{target}*0+55</f><v>100</v>")
    set_cell_xml(inbox / T01, a2, 's="9"', f"<f>({target}-82)/2+2.5%*20</f><v>7</v>")  # (100-82)/2 + 0.5 = 9.5
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_mismatch") == [("错误", T01, "填报", a1, "T01", "A1"), ("错误", T01, "填报", a2, "T01", "A2")]
    assert "9.5" in message(validated, "formula_mismatch")


def test_a_formula_whose_cache_is_right_scores_as_shown(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    target = value_cell(inbox / T01, "A1", "目标值")
    set_cell_xml(inbox / T01, cell, 's="9"', f"<f>${target[0]}${target[1:]}-5</f><v>95</v>")
    validated, results = outcome(scheme, inbox)
    assert validated.error_count == 0 and not found(validated, "formula_unchecked")
    assert scored(results, "T01", "A1")["score"] == 38.0 and total(results, "T01") == 94.0


def test_a_formula_the_tool_cannot_recompute_is_read_with_a_warning_naming_the_value(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    set_cell_xml(inbox / T01, cell, 's="9"', "<f>ROUND(SUM(J8:K8)*0.95,2)</f><v>95</v>")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_unchecked") == [("警告", T01, "填报", cell, "T01", "A1")]
    text = message(validated, "formula_unchecked")
    assert "=ROUND(SUM(J8:K8)*0.95,2)" in text and "95" in text
    assert validated.error_count == 0 and scored(results, "T01", "A1")["score"] == 38.0


def test_a_grade_from_a_lookup_formula_is_read_with_a_warning(scheme, inbox):
    # the office fills 评定值 by VLOOKUP: the cached grade 优 is read, the 警告 names formula and grade
    path = inbox / "评定表.xlsx"
    ws = load_workbook(path)["评定"]
    header_row, columns = _header(ws, ["单位代码", "指标代码", "评定值"])
    cell = next(ws.cell(r, columns["评定值"]).coordinate for r in range(header_row + 1, ws.max_row + 1)
                if (ws.cell(r, columns["单位代码"]).value, ws.cell(r, columns["指标代码"]).value) == ("T01", "C1"))
    set_cell_xml(path, cell, 't="str"', "<f>VLOOKUP(A5,Sheet2!A:B,2,0)</f><v>优</v>", sheet="评定")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_unchecked") == [("警告", "评定表.xlsx", "评定", cell, "", "")]
    assert "「优」" in message(validated, "formula_unchecked") and validated.error_count == 0
    assert scored(results, "T01", "C1")["score"] == 10.0


def test_a_formula_linking_another_workbook_is_an_error(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    set_cell_xml(inbox / T01, cell, 's="9"', "<f>[1]Sheet1!A1</f><v>100</v>")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_unchecked") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert "外部链接" in message(validated, "formula_unchecked")
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_claim_count_whose_formula_gives_another_number_is_an_error(scheme, inbox):
    fill_unit(inbox / T01, {}, claims=[{"项目代码": "J1", "数量": 1, "佐证材料": "省政府文件"}])
    ws = load_workbook(inbox / T01)["加扣分"]
    header_row, columns = _header(ws, ["项目代码", "数量"])
    cell = ws.cell(header_row + 1, columns["数量"]).coordinate
    set_cell_xml(inbox / T01, cell, "", "<f>1+0</f><v>2</v>", sheet="加扣分")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "formula_mismatch") == [("错误", T01, "加扣分", cell, "T01", "")]
    assert total(results, "T01") == 94.0  # no bonus


# ---------------------------------------------------------------- number formats that show another number

@pytest.mark.parametrize("code, typed, shown", [
    ('[<95]"95";0', 50, "95"),  # below 95 shows the words "95"
    ('"95"', 50, "95"),  # every number shows as 95
    ('[<=100]0;"超"', 120, "超"),  # above 100 shows a word
    ("0;0", -5, "5"),  # negative numbers shown without the minus sign
])
def test_a_format_that_shows_other_words_or_digits_is_an_error(scheme, inbox, code, typed, shown):
    cell = value_cell(inbox / T01, "A1")
    style_cell(inbox / T01, cell, typed, code)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "number_format") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert f"显示为「{shown}」" in message(validated, "number_format")
    assert scored(results, "T01", "A1")["status"] == "unscored"


@pytest.mark.parametrize("code, typed", [('0.0"0"', 9.5), ("[White]0", 95), ("0;-0;;@", 0), ("#,###", 0)])
def test_a_format_that_hides_the_number_or_adds_digits_is_an_error(scheme, inbox, code, typed):
    cell = value_cell(inbox / T01, "A1")
    style_cell(inbox / T01, cell, typed, code)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "number_format") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_format_with_fewer_decimals_warns_what_is_shown_and_what_is_scored(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    style_cell(inbox / T01, cell, 89.6, "0")  # the cell shows 90
    validated, results = outcome(scheme, inbox)
    assert found(validated, "number_format") == [("警告", T01, "填报", cell, "T01", "A1")]
    assert "显示为 90" in message(validated, "number_format") and "89.6" in message(validated, "number_format")
    assert scored(results, "T01", "A1")["score"] == 35.84  # 40 × 89.6 / 100


@pytest.mark.parametrize("code, typed, score", [("0.00", 95.5, 38.2), ("#,##0;-#,##0;\"-\"", 0, 0.0), ("0;[Red]0", -5, 0.0),
                                                ('0" 亿元"', 95, 38.0)])
def test_formats_that_show_the_number_as_stored_change_nothing(scheme, inbox, code, typed, score):
    cell = value_cell(inbox / T01, "A1")
    style_cell(inbox / T01, cell, typed, code)
    validated, results = outcome(scheme, inbox)
    assert not found(validated, "number_format")
    assert scored(results, "T01", "A1")["score"] == score


@pytest.mark.parametrize("code, value, expected", [
    ("0", 89.5, (ROUNDED, "90")), ("0.0", 0.45, (ROUNDED, "0.5")), ("# ?/4", 95.3, (ROUNDED, "95 1/4")),
    ("# ?/?", 95.5, None), ("#,##0.00", 1234.5, None), ("[>50]0", -30, (OTHER, "30")), ("0;(0)", -5, None),
    ("#.##", 0, (INVISIBLE, "")), ("General", 3.3, None), ("@", 3, None)])
def test_what_a_format_shows(code, value, expected):
    # as LibreOffice renders them (soffice --convert-to csv of the formatted cells)
    assert shown_as(code, value) == expected


# ---------------------------------------------------------------- cells nobody can see

@pytest.mark.parametrize("font, fill", [
    (Font(color="FFFFFFFF"), PatternFill()), (Font(color="FFFFFF99"), None), (Font(size=1), None),
    (Font(name="Wingdings"), None),  # 95 drawn as two symbols
    (Font(color=Color(theme=4)), PatternFill("solid", fgColor=Color(theme=4))),  # one theme colour for both
])
def test_a_font_nobody_can_see_is_an_error(scheme, inbox, font, fill):
    # the template's input cells are filled FFFF99: a font of that colour (or white on no fill) is invisible
    cell = value_cell(inbox / T01, "A1")
    style_cell(inbox / T01, cell, font=font, fill=fill)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "invisible_cell") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_value_under_a_merged_range_is_an_error(scheme, inbox):
    # F8:L8 shows only F8 (亿元); L8 keeps 95 in the file, which Excel does not show
    cell = value_cell(inbox / T01, "A1")
    unit_cell = value_cell(inbox / T01, "A1", "计量单位")
    rewrite_part(inbox / T01, sheet_part(inbox / T01), lambda xml: xml.replace(
        b"</mergeCells>", f'<mergeCell ref="{unit_cell}:{cell}"/></mergeCells>'.encode()))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "hidden_cells") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert f"{unit_cell}:{cell}" in message(validated, "hidden_cells")
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_cell_written_twice_in_the_file_is_an_error(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    rewrite_part(inbox / T01, sheet_part(inbox / T01), lambda xml: re.sub(
        rb'(<c r="%s"[^>]*>.*?</c>)' % cell.encode(), rb'\1<c r="%s" t="n"><v>50</v></c>' % cell.encode(), xml, count=1))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "malformed_cell") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_rich_text_with_a_white_run_is_an_error(scheme, inbox):
    # "5" and a white "5": the office reads 5, the tool would read 55
    cell = value_cell(inbox / T01, "A1")
    set_cell_xml(inbox / T01, cell, 's="9" t="inlineStr"',
                 '<is><r><t>5</t></r><r><rPr><color rgb="FFFFFFFF"/></rPr><t>5</t></r></is>')
    validated, results = outcome(scheme, inbox)
    assert found(validated, "invisible_cell") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_shared_string_with_a_superscript_run_is_an_error(scheme, inbox):
    # Excel keeps typed text in sharedStrings.xml: "9" and a superscript "5" look like 9⁵, read as 95
    path = inbox / T01
    cell = value_cell(path, "A1")
    set_cell_xml(path, cell, 's="9" t="s"', "<v>1</v>")
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">'
               '<si><t>x</t></si><si><r><t>9</t></r><r><rPr><vertAlign val="superscript"/></rPr><t>5</t></r></si></sst>')
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            if name == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/'
                                    b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
            target.writestr(name, data)
        target.writestr("xl/sharedStrings.xml", strings)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "invisible_cell") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def add_conditional_format(path: Path, address: str, rule: str, dxf: str) -> None:
    rewrite_part(path, "xl/styles.xml", lambda xml: xml.replace(b"</styleSheet>", f'<dxfs count="1">{dxf}</dxfs></styleSheet>'.encode()))
    rewrite_part(path, sheet_part(path), lambda xml: xml.replace(
        b"<dataValidations", f'<conditionalFormatting sqref="{address}">{rule}</conditionalFormatting><dataValidations'.encode(), 1))


LESS_THAN_95 = '<cfRule type="cellIs" dxfId="0" priority="1" operator="lessThan"><formula>95</formula></cfRule>'
SHOW_95 = '<dxf><numFmt numFmtId="200" formatCode="&quot;95&quot;"/></dxf>'


@pytest.mark.parametrize("typed, code", [(50, "number_format"), (95, None)])
def test_a_conditional_number_format_is_judged_on_the_value_it_applies_to(scheme, inbox, typed, code):
    # below 95 the cell shows the words "95": 50 is not what the office sees, 95 is
    cell = value_cell(inbox / T01, "A1")
    add_conditional_format(inbox / T01, cell, LESS_THAN_95, SHOW_95)
    style_cell(inbox / T01, cell, typed)
    validated, results = outcome(scheme, inbox)
    if code is None:
        assert validated.error_count == 0 and scored(results, "T01", "A1")["score"] == 38.0
    else:
        assert found(validated, code) == [("错误", T01, "填报", cell, "T01", "A1")]
        assert "条件格式" in message(validated, code) and scored(results, "T01", "A1")["status"] == "unscored"


@pytest.mark.parametrize("rule, dxf, code", [
    ('<cfRule type="expression" dxfId="0" priority="1"><formula>TRUE</formula></cfRule>',
     '<dxf><font><color rgb="FFFFFFFF"/></font></dxf>', "invisible_cell"),  # white text whenever it applies
    ('<cfRule type="dataBar" priority="1"><dataBar showValue="0"><cfvo type="min"/><cfvo type="max"/>'
     '<color rgb="FF638EC6"/></dataBar></cfRule>', "<dxf/>", "number_format"),  # a bar without the number
])
def test_a_conditional_format_that_hides_the_value_is_an_error(scheme, inbox, rule, dxf, code):
    cell = value_cell(inbox / T01, "A1")
    add_conditional_format(inbox / T01, cell, rule, dxf)
    validated, results = outcome(scheme, inbox)
    assert found(validated, code) == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_conditional_fill_colour_changes_nothing(scheme, inbox):
    cell = value_cell(inbox / T01, "A1")
    add_conditional_format(inbox / T01, cell, LESS_THAN_95.replace("lessThan", "lessThanOrEqual"),
                           '<dxf><fill><patternFill><bgColor rgb="FFFF0000"/></patternFill></fill></dxf>')
    validated, results = outcome(scheme, inbox)
    assert validated.error_count == 0 and total(results, "T01") == 94.0


TEXT_BOX = ('<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><xdr:twoCellAnchor>'
            '<xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>'
            '<xdr:to><xdr:col>{end}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{end_row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
            '<xdr:sp><xdr:nvSpPr><xdr:cNvPr id="2" name="文本框 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr><xdr:spPr>'
            '<a:solidFill><a:srgbClr val="FFFF99"/></a:solidFill></xdr:spPr><xdr:txBody><a:bodyPr/><a:p><a:r><a:t>50</a:t></a:r>'
            '</a:p></xdr:txBody></xdr:sp><xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>')


def add_drawing(path: Path, first: tuple[int, int], last: tuple[int, int]) -> None:
    """A text box from cell `first` to the cell before `last` (0-based row, column), filled like an input cell."""
    part = sheet_part(path)
    folder, _, base = part.rpartition("/")
    drawing = TEXT_BOX.format(row=first[0], col=first[1], end_row=last[0], end=last[1])
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            if name == part:
                data = re.sub(rb"(</sheetData>.*?)(</worksheet>)", lambda m: m.group(1).replace(b"<tableParts", b"<drawing r:id=\"rIdDr\"/><tableParts")
                              if b"<tableParts" in m.group(1) else m.group(1) + b'<drawing r:id="rIdDr"/>' + m.group(2), data, flags=re.S)
                data = data.replace(b"<worksheet ", b'<worksheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ', 1)
            elif name == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/drawings/drawing1.xml" '
                                    b'ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/></Types>')
            target.writestr(name, data)
        target.writestr(f"{folder}/_rels/{base}.rels",
                        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdDr" '
                        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing" Target="../drawings/drawing1.xml"/>'
                        '</Relationships>')
        target.writestr("xl/drawings/drawing1.xml", drawing)


def test_a_text_box_over_an_input_cell_is_an_error(scheme, inbox):
    # a yellow text box saying 50 lies exactly over the 95 typed in A1's cell
    path = inbox / T01
    cell = value_cell(path, "A1")
    workbook = load_workbook(path)
    at = workbook["填报"][cell]
    add_drawing(path, (at.row - 1, at.column - 1), (at.row, at.column))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "hidden_cells") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert "文本框" in message(validated, "hidden_cells")
    assert scored(results, "T01", "A1")["status"] == "unscored"
    assert scored(results, "T01", "A2")["score"] == 16.0  # the row below is not covered


def test_a_text_box_beside_the_table_changes_nothing(scheme, inbox):
    path = inbox / T01
    add_drawing(path, (0, 16), (3, 18))  # columns Q:R, right of the table
    validated, results = outcome(scheme, inbox)
    assert validated.error_count == 0 and total(results, "T01") == 94.0


def test_a_shared_string_type_without_its_index_is_an_error(scheme, inbox):
    # t="s" with an inline text: calamine reads 55, Excel calls the cell damaged
    cell = value_cell(inbox / T01, "A1")
    set_cell_xml(inbox / T01, cell, 's="9" t="s"', "<is><t>55</t></is>")
    validated, results = outcome(scheme, inbox)
    assert found(validated, "malformed_cell") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_row_hidden_with_single_quoted_attributes_is_still_hidden(scheme, inbox):
    # XML allows either quote; calamine and Excel read row 8 as hidden either way
    cell = value_cell(inbox / T01, "A1")
    row = cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    rewrite_part(inbox / T01, sheet_part(inbox / T01), lambda xml: re.sub(
        rb'<row r="%s"[^>]*>' % row.encode(), b"<row r='%s' ht='18' customHeight='1' hidden='1'>" % row.encode(), xml, count=1))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "hidden_cells") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_cell_written_unusually_is_judged_like_any_other(scheme, inbox):
    # a lower-case reference with the style first (calamine reads it as the input cell) keeps its ;;; format
    path = inbox / T01
    cell = value_cell(path, "A1")
    style_cell(path, cell, 95, ";;;")
    rewrite_part(path, sheet_part(path), lambda xml: re.sub(
        rb'<c r="%s"( s="[0-9]+")' % cell.encode(), lambda m: b"<c" + m.group(1) + b' r="' + cell.lower().encode() + b'"', xml, count=1))
    assert cell.lower().encode() in zipfile.ZipFile(path).read(sheet_part(path))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "number_format") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


@pytest.mark.parametrize("number_format, font", [(';;;"A1"', None), (None, Font(color="FFFFFFFF"))])
def test_an_indicator_code_shown_as_another_code_is_an_error(scheme, inbox, number_format, font):
    # A2's code cell shows "A1" (or nothing): the office reads two A1 rows, or a row without a code
    path = inbox / T01
    code_cell = value_cell(path, "A2", "指标代码")
    workbook = load_workbook(path)
    cell = workbook["填报"][code_cell]
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "code_name_mismatch") == [("错误", T01, "填报", value_cell(path, "A2"), "T01", "A2")]
    assert code_cell in message(validated, "code_name_mismatch")
    assert scored(results, "T01", "A2")["status"] == "unscored" and scored(results, "T01", "A1")["score"] == 38.0


def test_a_style_written_in_single_quotes_keeps_its_format(scheme, inbox):
    # s='n' is the same style as s="n" to calamine and Excel: the ;;; format still hides the 95
    path = inbox / T01
    cell = value_cell(path, "A1")
    style_cell(path, cell, 95, ";;;")
    rewrite_part(path, sheet_part(path), lambda xml: re.sub(
        rb'<c r="%s" s="([0-9]+)"' % cell.encode(), rb"<c r='%s' s='\1'" % cell.encode(), xml, count=1))
    validated, results = outcome(scheme, inbox)
    assert found(validated, "number_format") == [("错误", T01, "填报", cell, "T01", "A1")]
    assert scored(results, "T01", "A1")["status"] == "unscored"


# ---------------------------------------------------------------- which sheet the office sees

@pytest.mark.parametrize("state, words", [("hidden", "被隐藏"), ("veryHidden", "深度隐藏")])
def test_a_table_on_a_hidden_sheet_is_an_error(scheme, inbox, state, words):
    # the visible sheet shows A1 = 50; the real 填报 (read first by its name) is hidden with 95
    path = inbox / T01
    workbook = load_workbook(path)
    shown = workbook["填报"]
    shown.title = "Sheet1"
    hidden = workbook.copy_worksheet(shown)
    hidden.title = "填报"
    hidden.sheet_state = state
    shown[value_cell(inbox / T02, "A1")] = 50  # same layout in every unit's template
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert [row[:3] for row in found(validated, "hidden_sheet")] == [("错误", T01, "填报")]
    assert words in message(validated, "hidden_sheet")
    assert set(results.scored.loc[results.scored["unit_code"] == "T01"].set_index("indicator_code").loc[
        ["A1", "A2", "C2"], "status"]) == {"unscored"}
    assert total(results, "T01") == 30.0  # only the office's B1 and C1


def test_a_second_visible_copy_of_the_table_with_other_values_is_an_error(scheme, inbox):
    path = inbox / T01
    workbook = load_workbook(path)
    copy = workbook.copy_worksheet(workbook["填报"])
    copy.title = "填报(修改)"
    copy[value_cell(path, "A1")] = 50
    workbook.move_sheet(copy, offset=-workbook.index(copy))  # the tab the office sees on opening
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert [row[:3] for row in found(validated, "duplicate_table")] == [("错误", T01, "填报")]
    assert "填报(修改)" in message(validated, "duplicate_table")
    assert scored(results, "T01", "A1")["status"] == "unscored"


def test_a_second_visible_copy_with_the_same_values_changes_nothing(scheme, inbox):
    path = inbox / T01
    workbook = load_workbook(path)
    workbook.copy_worksheet(workbook["填报"]).title = "备份"
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert validated.error_count == 0 and total(results, "T01") == 94.0


def test_claims_on_a_hidden_sheet_are_an_error_and_not_added(scheme, inbox):
    path = inbox / T01
    fill_unit(path, {}, claims=[{"项目代码": "J1", "数量": 2, "佐证材料": "省政府文件"}])
    workbook = load_workbook(path)
    workbook["加扣分"].sheet_state = "hidden"
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert [row[:3] for row in found(validated, "hidden_sheet")] == [("错误", T01, "加扣分")]
    assert total(results, "T01") == 94.0  # 2 × 2 = 4 points (capped at 3) not added


def test_a_claim_for_another_unit_in_a_units_file_is_an_error(scheme, inbox):
    path = inbox / T01
    workbook = load_workbook(path)
    ws = workbook["加扣分"]
    header_row, columns = _header(ws, ["项目代码", "数量"])
    extra = ws.max_column + 1
    ws.cell(header_row, extra).value = "单位代码"
    ws.cell(header_row + 1, columns["项目代码"]).value = "J1"
    ws.cell(header_row + 1, columns["数量"]).value = 1
    ws.cell(header_row + 1, columns["佐证材料"]).value = "省政府文件"
    ws.cell(header_row + 1, extra).value = "T02"
    cell = ws.cell(header_row + 1, extra).coordinate
    workbook.save(path)
    validated, results = outcome(scheme, inbox)
    assert found(validated, "unit_mismatch") == [("错误", T01, "加扣分", cell, "T01", "")]
    assert total(results, "T01") == 94.0 and total(results, "T02") == 86.39  # T02 claims nothing either


# ---------------------------------------------------------------- typed texts

def test_a_number_in_e_notation_typed_as_text_is_read_with_a_warning(scheme, inbox):
    fill_unit(inbox / T01, {"A1": "9.5e1"})  # the cell shows the text 9.5e1
    validated, results = outcome(scheme, inbox)
    assert found(validated, "normalized_value") == [("警告", T01, "填报", value_cell(inbox / T01, "A1"), "T01", "A1")]
    assert "科学计数法" in message(validated, "normalized_value")
    assert scored(results, "T01", "A1")["score"] == 38.0


# ---------------------------------------------------------------- 测评

GRADES = "优秀=100、称职=80、基本称职=60、不称职=0"


@pytest.fixture
def rated(tmp_path):
    sheets = small_scheme_sheets()
    row = {c: None for c in sheets["指标"].columns}
    row.update({"指标代码": "R1", "一级指标": "班子和队伍建设", "指标名称": "民主测评", "适用类别": "全部", "分值": 10,
                "计分方法": "完成率", "方向": "正向", "目标值": 100, "数据来源": "测评", "牵头单位": "考核办"})
    sheets["指标"] = pd.concat([sheets["指标"], pd.DataFrame([row])], ignore_index=True)
    sheets["测评"] = pd.DataFrame({"测评代码": ["M1"], "测评名称": ["民主测评"], "指标代码": ["R1"], "评价方式": ["等级"],
                                 "等级分值": [GRADES], "满分": [None], "去极值人数": [None], "每票优秀上限": [None],
                                 "全同无效": ["是"], "参评率下限": [None]})
    sheets["测评人"] = pd.DataFrame({"测评代码": ["M1", "M1"], "测评人类别": ["干部职工", "服务对象"], "权重": [50, 50],
                                  "应参评人数": [4, 10], "评价对象": ["全部", "部门"], "收集方式": ["纸质票", "汇总"]})
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    inbox = tmp_path / "inbox"
    write_rating_workbooks(scheme, inbox)
    return scheme, inbox


def fill_sheet(path: Path, sheet: str, rows: list[list[object]], first_col: int) -> None:
    workbook = load_workbook(path)
    ws = workbook[sheet]
    for r, values in enumerate(rows, start=4):
        for c, value in enumerate(values, start=first_col):
            ws.cell(r, c).value = value
    workbook.save(path)


def rating_values(validated) -> dict[str, float]:
    values = validated.values
    return values[values["indicator_code"] == "R1"].set_index("unit_code")["value"].to_dict()


def test_a_paper_ballot_typed_twice_under_another_number_is_warned(rated):
    scheme, inbox = rated
    fill_sheet(inbox / "测评录入表_M1_干部职工.xlsx", "测评录入", [
        [1, "优秀", "称职", "称职", "基本称职"],
        [2, "称职", "基本称职", "优秀", "称职"],
        [3, "优秀", "称职", "称职", "基本称职"],  # ballot 1 again
    ], first_col=1)
    fill_sheet(inbox / "测评汇总表_M1_服务对象.xlsx", "测评汇总", [[5, 3, 2, 0], [2, 4, 3, 1]], first_col=3)
    validated = read_and_validate(scheme, inbox)
    assert found(validated, "rating_identical_ballots") == [("警告", "测评录入表_M1_干部职工.xlsx", "", "", "", "")]
    assert "票号 1、3" in message(validated, "rating_identical_ballots")
    # both are counted (the warning says so): T01 (100 + 80 + 100) / 3 = 93.33
    assert rating_values(validated)["T01"] == 93.33


def test_a_tally_with_more_votes_than_raters_is_an_error(rated):
    scheme, inbox = rated
    fill_sheet(inbox / "测评录入表_M1_干部职工.xlsx", "测评录入", [
        [1, "优秀", "称职", "称职", "基本称职"], [2, "称职", "基本称职", "优秀", "称职"]], first_col=1)
    path = inbox / "测评汇总表_M1_服务对象.xlsx"
    fill_sheet(path, "测评汇总", [[50, 3, 2, 0], [2, 4, 3, 1]], first_col=3)  # D01: 55 votes of 10 raters
    validated = read_and_validate(scheme, inbox)
    ws = load_workbook(path)["测评汇总"]
    cell = next(c.coordinate for row in ws.iter_rows() for c in row if c.value == "D01")
    assert found(validated, "rating_tally_excess") == [("错误", path.name, "测评汇总", cell, "D01", "")]
    # D01 keeps the paper ballots only: (80 + 100) / 2 = 90; D02 both: 0.5 × 70 + 0.5 × (2×100+4×80+3×60)/10 = 70
    assert rating_values(validated)["D01"] == 90.0 and rating_values(validated)["D02"] == 70.0


def test_an_entry_table_on_a_hidden_sheet_counts_nothing(rated):
    scheme, inbox = rated
    path = inbox / "测评录入表_M1_干部职工.xlsx"
    fill_sheet(path, "测评录入", [[1, "优秀", "优秀", "优秀", "优秀"], [2, "优秀", "称职", "优秀", "优秀"]], first_col=1)
    workbook = load_workbook(path)
    visible = workbook.copy_worksheet(workbook["测评录入"])
    visible.title = "录入"
    for r in (4, 5):
        for c in range(2, 6):
            visible.cell(r, c).value = "称职"
    workbook["测评录入"].sheet_state = "hidden"
    workbook.save(path)
    fill_sheet(inbox / "测评汇总表_M1_服务对象.xlsx", "测评汇总", [[5, 3, 2, 0], [2, 4, 3, 1]], first_col=3)
    validated = read_and_validate(scheme, inbox)
    assert [row[:3] for row in found(validated, "hidden_sheet")] == [("错误", path.name, "测评录入")]
    assert "T01" not in rating_values(validated)  # towns are rated by 干部职工 only: no valid mark
