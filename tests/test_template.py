import dataclasses
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from kaohe_excel.samples.county import build_sample_scheme
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates

FILL_HEADERS = ["序号", "指标代码", "一级指标", "二级指标", "指标名称", "计量单位", "分值", "计分方法",
                "基本值", "目标值", "满分值", "实际完成值", "佐证材料", "备注", "评分说明"]
INPUT_HEADERS = {"实际完成值", "佐证材料", "备注"}

# Self-reported indicators per group in the sample scheme, read off its 指标 sheet:
# towns A01 A02 A04 A05 A06 B01 B02 B03 C02 D01 D02 + common F03 F04 F06 F07.
TOWN_CODES = ["A01", "A02", "A04", "A05", "A06", "B01", "B02", "B03", "C02", "D01", "D02", "F03", "F04", "F06", "F07"]
ECON_CODES = ["A11", "A12", "A13", "B11", "F03", "F04", "F06", "F07"]
PARTY_CODES = ["B21", "F03", "F04", "F06", "F07", "F21", "F22"]


@pytest.fixture(scope="module")
def scheme(tmp_path_factory):
    path = build_sample_scheme(tmp_path_factory.mktemp("scheme") / "scheme.xlsx")
    return load_scheme(path)


@pytest.fixture(scope="module")
def out(scheme, tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    paths = write_templates(scheme, folder, units=["XZ01", "XZ04", "XZ10", "JJ01", "DQ01"])
    write_assessment_workbook(scheme, folder)
    return folder, paths


def _table(sheet, first="指标代码"):
    """Header row number, header texts and the data rows as {header: cell}."""
    for row in sheet.iter_rows(min_row=1, max_row=30):
        texts = [c.value for c in row]
        if first in texts:
            header_row = row[0].row
            headers = [t for t in texts if t is not None]
            break
    rows = []
    for row in sheet.iter_rows(min_row=header_row + 1):
        record = {h: c for h, c in zip(headers, row)}
        if record[first].value is None:
            break
        rows.append(record)
    return header_row, headers, rows


def _validation_of(sheet, cell):
    found = [dv for dv in sheet.data_validations.dataValidation if cell.coordinate in dv.sqref]
    assert len(found) == 1, f"{cell.coordinate}: {len(found)} validations"
    return found[0]


def test_one_file_per_unit_with_code_and_name(out):
    folder, paths = out
    assert [p.name for p in paths] == ["XZ01_城关镇.xlsx", "XZ04_白马乡.xlsx", "XZ10_云岭乡.xlsx",
                                       "JJ01_县发展和改革局.xlsx", "DQ01_县委组织部.xlsx"]
    assert (folder / "评定表.xlsx").is_file()


def test_fill_sheet_header_row_and_header_block(out, scheme):
    workbook = load_workbook(out[0] / "XZ01_城关镇.xlsx")
    assert workbook.sheetnames == ["填报", "加扣分", "_kaohe"]
    sheet = workbook["填报"]
    header_row, headers, _ = _table(sheet)
    assert headers == FILL_HEADERS
    block = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2).value for r in range(2, header_row)}
    assert block["考核名称"] == "清源县2024年度乡镇和县直部门目标责任考核"
    assert block["考核周期"] == "2024"
    assert block["单位代码"] == "XZ01"
    assert block["单位名称"] == "城关镇"
    assert sheet["A1"].value == "清源县2024年度乡镇和县直部门目标责任考核填报表"


@pytest.mark.parametrize("file, codes", [
    ("XZ01_城关镇.xlsx", TOWN_CODES),
    ("XZ10_云岭乡.xlsx", [c for c in TOWN_CODES if c != "A06"]),  # 目标分解: XZ10 不考核 A06
    ("JJ01_县发展和改革局.xlsx", ECON_CODES),
    ("DQ01_县委组织部.xlsx", PARTY_CODES),
])
def test_each_unit_gets_only_its_groups_self_reported_indicators(out, file, codes):
    sheet = load_workbook(out[0] / file)["填报"]
    _, _, rows = _table(sheet)
    assert [r["指标代码"].value for r in rows] == codes
    assert [r["序号"].value for r in rows] == list(range(1, len(codes) + 1))


def test_unit_targets_override_the_indicator_defaults(out):
    rows = {r["指标代码"].value: r for r in _table(load_workbook(out[0] / "XZ04_白马乡.xlsx")["填报"])[2]}
    # 目标分解 for XZ04: A01 目标值 6.3 (default 12), A02 基本值 0.3 / 满分值 0.4 (default 0.6 / 0.8).
    assert rows["A01"]["目标值"].value == pytest.approx(6.3)
    assert rows["A02"]["基本值"].value == pytest.approx(0.3)
    assert rows["A02"]["满分值"].value == pytest.approx(0.4)
    # No override: the 指标 default (B01 目标值 98).
    assert rows["B01"]["目标值"].value == 98
    town = {r["指标代码"].value: r for r in _table(load_workbook(out[0] / "XZ01_城关镇.xlsx")["填报"])[2]}
    assert town["A01"]["目标值"].value == 32


def test_only_input_cells_are_unlocked_and_sheets_protected(out):
    workbook = load_workbook(out[0] / "XZ01_城关镇.xlsx")
    sheet = workbook["填报"]
    header_row, _, rows = _table(sheet)
    assert sheet.protection.sheet is True
    assert workbook["加扣分"].protection.sheet is True
    for record in rows:
        for header, cell in record.items():
            assert cell.protection.locked is (header not in INPUT_HEADERS), (header, cell.coordinate)
            if header in INPUT_HEADERS:
                assert cell.fill.fgColor.rgb.endswith("FFFF99")
    for r in range(1, header_row + 1):
        assert sheet.cell(row=r, column=1).protection.locked is True
        assert sheet.cell(row=r, column=2).protection.locked is True


def test_value_validations_follow_the_indicator(out, scheme):
    sheet = load_workbook(out[0] / "XZ01_城关镇.xlsx")["填报"]
    rows = {r["指标代码"].value: r for r in _table(sheet)[2]}
    gdp = _validation_of(sheet, rows["A01"]["实际完成值"])
    assert gdp.type == "decimal"
    assert gdp.promptTitle == "A01 地区生产总值"
    assert gdp.prompt.startswith("以县下达的目标任务为准。")
    assert not gdp.prompt.startswith("填百分数数值")
    percent = _validation_of(sheet, rows["C02"]["实际完成值"])  # 计量单位 %
    assert percent.type == "decimal"
    assert percent.prompt.startswith("填百分数数值，如85.3表示85.3%")
    assert "按年度民生实事项目完成比例计分" in percent.prompt
    yes_no = _validation_of(sheet, rows["F06"]["实际完成值"])  # 定性 with the 是否 table
    assert yes_no.type == "list"
    assert yes_no.formula1 == '"是,否"'
    for dv in sheet.data_validations.dataValidation:
        assert len(dv.promptTitle or "") <= 32 and len(dv.prompt or "") <= 255
    assert not [dv for dv in sheet.data_validations.dataValidation if "M" in str(dv.sqref) or "N" in str(dv.sqref)]


def test_long_descriptions_are_cut_to_excels_limits(scheme, tmp_path):
    indicators = scheme.indicators.copy()
    indicators.loc[indicators["indicator_code"] == "A01", "description"] = "很长的说明" * 80  # 400 characters
    indicators.loc[indicators["indicator_code"] == "A01", "name"] = "名称" * 30
    long_scheme = dataclasses.replace(scheme, indicators=indicators)
    path = write_templates(long_scheme, tmp_path, units=["XZ02"])[0]
    sheet = load_workbook(path)["填报"]
    rows = {r["指标代码"].value: r for r in _table(sheet)[2]}
    dv = _validation_of(sheet, rows["A01"]["实际完成值"])
    assert len(dv.prompt) == 255 and len(dv.promptTitle) == 32


def test_claim_sheet_dropdown_counts_and_reference_list(out):
    sheet = load_workbook(out[0] / "XZ01_城关镇.xlsx")["加扣分"]
    header_row = next(c.row for c in sheet["A"] if c.value == "项目代码")
    assert [sheet.cell(row=header_row, column=c).value for c in range(1, 6)] == ["项目代码", "项目名称", "数量", "事项说明", "佐证材料"]
    first, last = sheet.cell(row=header_row + 1, column=1), sheet.cell(row=header_row + 20, column=1)
    assert first.protection.locked is False and last.protection.locked is False
    assert sheet.cell(row=header_row + 21, column=1).protection.locked is True
    code_check = _validation_of(sheet, first)
    assert code_check.type == "list"
    # The list points at the reference codes: the four bonus items JF01–JF04, never the deductions.
    ref = code_check.formula1.replace("$", "")
    column, start, end = ref[0], int(ref.split(":")[0][1:]), int(ref.split(":")[1][1:])
    assert [sheet[f"{column}{r}"].value for r in range(start, end + 1)] == ["JF01", "JF02", "JF03", "JF04"]
    assert sheet[f"{column}{start}"].protection.locked is True
    count_check = _validation_of(sheet, sheet.cell(row=header_row + 1, column=3))
    assert (count_check.type, count_check.operator, count_check.formula1) == ("whole", "greaterThanOrEqual", "0")


def test_hidden_meta_sheet(out, scheme):
    workbook = load_workbook(out[0] / "XZ10_云岭乡.xlsx")
    meta_sheet = workbook["_kaohe"]
    assert meta_sheet.sheet_state == "hidden"
    meta = {row[0]: row[1] for row in meta_sheet.iter_rows(min_row=2, values_only=True)}
    assert meta["文件类型"] == "单位填报表"
    assert meta["考核周期"] == "2024"
    assert meta["单位代码"] == "XZ10"
    assert meta["方案指纹"] == scheme.fingerprint and len(meta["方案指纹"]) == 64
    assert meta["指标代码"] == ",".join(c for c in TOWN_CODES if c != "A06")


def test_print_setup(out):
    sheet = load_workbook(out[0] / "XZ01_城关镇.xlsx")["填报"]
    header_row = _table(sheet)[0]
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows.replace("$", "") == f"{header_row}:{header_row}"


def test_file_names_are_made_safe(scheme, tmp_path):
    units = scheme.units.copy()
    units.loc[units["unit_code"] == "XZ02", "unit_name"] = '青石/镇:"新"?'
    odd = dataclasses.replace(scheme, units=units)
    path = write_templates(odd, tmp_path / "out", units=["XZ02"])[0]
    assert path.parent == tmp_path / "out"
    assert path.name == "XZ02_青石_镇__新__.xlsx"


def test_assessment_workbook_rows(out, scheme):
    workbook = load_workbook(out[0] / "评定表.xlsx")
    assert workbook.sheetnames == ["评定", "加扣分", "_kaohe"]
    sheet = workbook["评定"]
    _, headers, rows = _table(sheet, "单位代码")
    assert headers[:8] == ["单位代码", "单位名称", "指标代码", "指标名称", "计量单位", "目标值", "评定值", "说明"]
    # 评定 indicators: towns A03 C01 C03 D03 D04 E01 E03, departments A14 (经济) / B22 (党群),
    # all groups E02 E04 F01 F02 (F05 comes from the 民主测评 ballots). 10 towns × 11 − XZ01 exempt
    # from D04 = 109, 6 经济 × 5 = 30, 5 党群 × 5 = 25 → 164 rows, each unit × indicator once.
    pairs = [(r["单位代码"].value, r["指标代码"].value) for r in rows]
    assert len(pairs) == 164 and len(set(pairs)) == 164
    assert not any(code == "F05" for _, code in pairs)
    assert ("XZ01", "D04") not in pairs and ("XZ02", "D04") in pairs
    assert ("JJ01", "A14") in pairs and ("JJ01", "A03") not in pairs
    by_pair = {(r["单位代码"].value, r["指标代码"].value): r for r in rows}
    assert by_pair[("DQ01", "B22")]["目标值"].value == 95
    assert by_pair[("DQ01", "B22")]["评定值"].protection.locked is False
    assert by_pair[("DQ01", "B22")]["单位代码"].protection.locked is True
    grade = _validation_of(sheet, by_pair[("XZ01", "C03")]["评定值"])
    assert grade.type == "list" and grade.formula1 == '"优,良,中,差"'
    claims = workbook["加扣分"]
    header_row = next(c.row for c in claims["A"] if c.value == "单位代码")
    assert [claims.cell(row=header_row, column=c).value for c in range(1, 6)] == ["单位代码", "项目代码", "数量", "事项说明", "佐证材料"]
    meta = {row[0]: row[1] for row in workbook["_kaohe"].iter_rows(min_row=2, values_only=True)}
    assert workbook["_kaohe"].sheet_state == "hidden"
    assert meta["文件类型"] == "评定表" and "单位代码" not in meta


def test_generation_is_byte_identical(scheme, tmp_path):
    first = write_templates(scheme, tmp_path / "a", units=["XZ03"])[0].read_bytes()
    second = write_templates(scheme, tmp_path / "b", units=["XZ03"])[0].read_bytes()
    assert first == second


def test_template_converts_to_pdf(out, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed; PDF rendering not checked")
    source = out[0] / "XZ01_城关镇.xlsx"
    done = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                           "--outdir", str(tmp_path), str(source)], capture_output=True, timeout=120)
    pdf = tmp_path / "XZ01_城关镇.pdf"
    assert done.returncode == 0, done.stderr
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
