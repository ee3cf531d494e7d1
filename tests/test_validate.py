"""Validation: each broken variant of a filled inbox gives the exact issue, file and cell."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import FILES, make_inbox, small_scheme_sheets, UNIT_VALUES, write_workbook
from inbox_helpers import fill_assessment, fill_unit, value_cell
from kaohe_excel.base import origin
from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_templates
from kaohe_excel.inputs.validate import parse_value, validate


@pytest.fixture
def scheme(small_scheme_path):
    return load_scheme(small_scheme_path)


@pytest.fixture
def inbox(tmp_path, scheme):
    return make_inbox(tmp_path / "inbox", scheme)


def run_validation(scheme, inbox):
    return validate(scheme, read_inbox(inbox, workers=1))


def issues_with(validated, code):
    table = validated.issues_table
    return table[table["code"] == code]


def test_clean_inbox_has_no_errors_and_all_values(scheme, inbox):
    validated = run_validation(scheme, inbox)
    assert validated.error_count == 0, validated.issues_table.to_string()
    # 3 + 3 + 1 self-reported values, 8 assessed values
    assert len(validated.values) == 7 + 8
    row = validated.values.set_index(["unit_code", "indicator_code"]).loc[("T02", "A1")]
    assert row["value"] == 85
    assert row["file"] == FILES["T02"]
    assert row["cell"] == value_cell(inbox / FILES["T02"], "A1")
    assert list(validated.missing_units["unit_code"]) == []


def test_inbox_is_never_modified(scheme, inbox):
    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(inbox.rglob("*")) if p.is_file()}

    before = digest()
    run_validation(scheme, inbox)
    assert digest() == before


def test_missing_value_names_the_cell(scheme, inbox):
    fill_unit(inbox / FILES["T01"], {"A2": None})
    validated = run_validation(scheme, inbox)
    found = issues_with(validated, "missing_value")
    assert len(found) == 1
    issue = found.iloc[0]
    assert (issue["file"], issue["sheet"], issue["cell"], issue["unit"], issue["indicator"], issue["severity"]) == (
        FILES["T01"], "填报", value_cell(inbox / FILES["T01"], "A2"), "T01", "A2", "错误")
    assert "未填写" in issue["message"]


def test_not_a_number_is_an_error(scheme, inbox):
    fill_unit(inbox / FILES["T01"], {"A1": "约九十五"})
    found = issues_with(run_validation(scheme, inbox), "not_a_number")
    assert list(found["cell"]) == [value_cell(inbox / FILES["T01"], "A1")]
    assert "不是数字" in found.iloc[0]["message"]


@pytest.mark.parametrize("typed, expected", [("９５", 95.0), ("95亿元", 95.0), (" 95 ", 95.0), ("1,095.5", 1095.5)])
def test_typed_numbers_are_normalized_with_a_warning(scheme, inbox, typed, expected):
    fill_unit(inbox / FILES["T01"], {"A1": typed})
    validated = run_validation(scheme, inbox)
    assert validated.error_count == 0
    assert validated.values.set_index(["unit_code", "indicator_code"]).loc[("T01", "A1"), "value"] == expected
    warned = issues_with(validated, "normalized_value")
    assert list(warned["cell"]) == [value_cell(inbox / FILES["T01"], "A1")]
    assert warned.iloc[0]["severity"] == "警告"


def test_percent_typed_as_fraction_is_warned(scheme, inbox):
    fill_assessment(inbox / "评定表.xlsx", {("T01", "B1"): 0.92})
    validated = run_validation(scheme, inbox)
    found = issues_with(validated, "percent_scale")
    assert len(found) == 1 and found.iloc[0]["unit"] == "T01" and "未乘100" in found.iloc[0]["message"]


def test_percent_text_reads_as_percent_points():
    assert parse_value("85.3%", "%").value == pytest.approx(85.3)
    assert parse_value("85%", "").value == pytest.approx(0.85)
    assert parse_value("8200万元", "亿元").problem is not None


def test_negative_count_is_out_of_range(tmp_path):
    sheets = small_scheme_sheets()
    sheets["指标"].loc[0, "计量单位"] = "件"
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    inbox = make_inbox(tmp_path / "inbox", scheme)
    fill_unit(inbox / FILES["T01"], {"A1": -3})
    found = issues_with(run_validation(scheme, inbox), "out_of_range")
    assert list(found["cell"]) == [value_cell(inbox / FILES["T01"], "A1")]
    assert found.iloc[0]["severity"] == "错误"


def test_invalid_grade_for_qualitative(scheme, inbox):
    fill_assessment(inbox / "评定表.xlsx", {("D01", "C1"): "很好"})
    found = issues_with(run_validation(scheme, inbox), "invalid_grade")
    assert len(found) == 1 and found.iloc[0]["unit"] == "D01" and "优" in found.iloc[0]["message"]


def test_missing_submission(scheme, inbox):
    (inbox / FILES["T02"]).unlink()
    validated = run_validation(scheme, inbox)
    found = issues_with(validated, "missing_submission")
    assert list(found["unit"]) == ["T02"]
    assert list(validated.missing_units["unit_code"]) == ["T02"]


def test_two_files_for_one_unit(scheme, inbox):
    shutil.copyfile(inbox / FILES["T01"], inbox / "T01_东城镇(最终版).xlsx")
    found = issues_with(run_validation(scheme, inbox), "duplicate_submission")
    assert len(found) == 1
    assert found.iloc[0]["unit"] == "T01"
    assert "T01_东城镇" in found.iloc[0]["message"]


def _set_meta(path: Path, key: str, value: str) -> None:
    """An identity as the office could have issued it (re-signed), e.g. for a unit since dropped."""
    workbook = load_workbook(path)
    sheet = workbook["_kaohe"]
    for row in sheet.iter_rows():
        if row[0].value == key:
            row[1].value = value
    meta = {row[0].value: row[1].value for row in sheet.iter_rows(min_row=2)}
    for row in sheet.iter_rows():
        if row[0].value == origin.CODE_ROW:
            row[1].value = origin.sign(origin.find_key(), meta)
    workbook.save(path)


def _set_header(path: Path, label: str, value: str) -> str:
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    for row in sheet.iter_rows(max_row=10):
        for cell in row:
            if cell.value == label:
                target = sheet.cell(cell.row, cell.column + 1)
                target.value = value
                workbook.save(path)
                return target.coordinate
    raise AssertionError(label)


def test_unknown_unit_code(scheme, inbox):
    _set_meta(inbox / FILES["T01"], "单位代码", "T99")
    address = _set_header(inbox / FILES["T01"], "单位代码", "T99")
    found = issues_with(run_validation(scheme, inbox), "unknown_unit")
    assert len(found) == 1 and found.iloc[0]["file"] == FILES["T01"]
    assert (found.iloc[0]["sheet"], found.iloc[0]["cell"]) == ("填报", address)


def test_header_unit_code_differing_from_template_owner(scheme, inbox):
    address = _set_header(inbox / FILES["T01"], "单位代码", "T02")
    found = issues_with(run_validation(scheme, inbox), "unit_mismatch")
    assert list(found["cell"]) == [address]


def test_template_of_another_period_is_rejected(tmp_path, scheme, inbox):
    sheets = small_scheme_sheets()
    sheets["方案"].loc[1, "值"] = "2023"
    old_scheme = load_scheme(write_workbook(tmp_path / "old.xlsx", sheets))
    old = tmp_path / "old"
    write_templates(old_scheme, old, units=["T01"])
    fill_unit(old / FILES["T01"], UNIT_VALUES["T01"])
    shutil.copyfile(old / FILES["T01"], inbox / FILES["T01"])
    validated = run_validation(scheme, inbox)
    found = issues_with(validated, "other_period")
    assert list(found["file"]) == [FILES["T01"]]
    assert "本期模板" in found.iloc[0]["message"]
    assert "T01" in set(validated.missing_units["unit_code"])


def test_template_of_another_scheme_is_rejected(tmp_path, scheme, inbox):
    sheets = small_scheme_sheets()
    sheets["方案"].loc[0, "值"] = "别的县2024年度考核"
    other = load_scheme(write_workbook(tmp_path / "other.xlsx", sheets))
    folder = tmp_path / "other"
    write_templates(other, folder, units=["T01"])
    shutil.copyfile(folder / FILES["T01"], inbox / FILES["T01"])
    assert list(issues_with(run_validation(scheme, inbox), "other_scheme")["file"]) == [FILES["T01"]]


def test_earlier_edit_with_same_rows_is_accepted_with_warning(tmp_path, scheme, inbox):
    sheets = small_scheme_sheets()
    sheets["指标"].loc[0, "评分说明"] = "旧版说明（有错别字）"
    earlier = load_scheme(write_workbook(tmp_path / "earlier.xlsx", sheets))
    folder = tmp_path / "earlier"
    write_templates(earlier, folder, units=["T01"])
    fill_unit(folder / FILES["T01"], UNIT_VALUES["T01"])
    shutil.copyfile(folder / FILES["T01"], inbox / FILES["T01"])
    validated = run_validation(scheme, inbox)
    assert validated.error_count == 0
    assert list(issues_with(validated, "earlier_scheme_edit")["file"]) == [FILES["T01"]]


def test_earlier_edit_with_changed_rows_is_rejected(tmp_path, scheme, inbox):
    sheets = small_scheme_sheets()
    sheets["指标"].loc[1, "适用类别"] = "部门"  # A2 no longer applied to towns then
    earlier = load_scheme(write_workbook(tmp_path / "earlier.xlsx", sheets))
    folder = tmp_path / "earlier"
    write_templates(earlier, folder, units=["T01"])
    shutil.copyfile(folder / FILES["T01"], inbox / FILES["T01"])
    assert list(issues_with(run_validation(scheme, inbox), "scheme_changed")["file"]) == [FILES["T01"]]


def _row_of(path: Path, code: str) -> int:
    return int("".join(ch for ch in value_cell(path, code) if ch.isdigit()))


def test_deleted_row_and_edited_code(scheme, inbox):
    path = inbox / FILES["T01"]
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    sheet.protection.sheet = False
    code_column = value_cell(path, "A1", "指标代码").rstrip("0123456789")
    sheet[f"{code_column}{_row_of(path, 'A1')}"] = "A9"  # code edited
    sheet.delete_rows(_row_of(path, "C2"))  # row deleted
    workbook.save(path)
    validated = run_validation(scheme, inbox)
    unknown = issues_with(validated, "unknown_indicator")
    assert list(unknown["cell"]) == [f"{code_column}{_row_of(inbox / FILES['T02'], 'A1')}"]
    assert "A9" in unknown.iloc[0]["message"]
    missing = issues_with(validated, "missing_indicator")
    assert set(missing["indicator"]) == {"A1", "C2"}


def test_claims_unknown_item_and_missing_evidence(scheme, inbox):
    fill_unit(inbox / FILES["T01"], {}, claims=[
        {"项目代码": "J1", "数量": 1, "事项说明": "获省级表彰"},  # J1 needs evidence
        {"项目代码": "X7", "数量": 1},
        {"项目代码": "K1", "数量": 1},  # a deduction: only the office records it
    ])
    validated = run_validation(scheme, inbox)
    assert len(issues_with(validated, "missing_evidence")) == 1
    assert len(issues_with(validated, "unknown_adjustment")) == 1
    assert len(issues_with(validated, "adjustment_not_claimable")) == 1
    assert validated.claims.empty


def test_valid_claim_is_kept(scheme, inbox):
    fill_unit(inbox / FILES["T01"], {}, claims=[{"项目代码": "J1", "数量": 2, "佐证材料": "省政府〔2024〕5号"}])
    validated = run_validation(scheme, inbox)
    assert validated.error_count == 0
    assert validated.claims[["unit_code", "item_code", "count"]].values.tolist() == [["T01", "J1", 2.0]]


@pytest.mark.parametrize("content, code", [
    (b"", "empty_file"),
    (b"PK\x03\x04this is not really a zip", "unreadable_file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 600, "encrypted_file"),
    (b"just some text, renamed to xlsx", "unreadable_file"),
    (b"<html><table><tr><td>1</td></tr></table></html>", "not_a_spreadsheet"),
])
def test_unreadable_files_cost_one_issue_each(scheme, inbox, content, code):
    (inbox / "坏文件.xlsx").write_bytes(content)
    validated = run_validation(scheme, inbox)
    found = issues_with(validated, code)
    assert list(found["file"]) == ["坏文件.xlsx"]
    assert found.iloc[0]["severity"] == "错误"
    # the other files are still read
    assert len(validated.values) == 15


def test_truncated_template_is_unreadable(scheme, inbox):
    data = (inbox / FILES["T01"]).read_bytes()
    (inbox / FILES["T01"]).write_bytes(data[: len(data) // 2])
    found = issues_with(run_validation(scheme, inbox), "unreadable_file")
    assert list(found["file"]) == [FILES["T01"]]


def test_foreign_workbook_is_not_our_template(scheme, inbox):
    write_workbook(inbox / "随便一个表.xlsx", {"Sheet1": small_scheme_sheets()["单位"]})
    found = issues_with(run_validation(scheme, inbox), "not_our_template")
    assert list(found["file"]) == ["随便一个表.xlsx"]


def test_lock_files_and_other_documents(scheme, inbox):
    (inbox / "~$T01_东城镇.xlsx").write_bytes(b"\x00owner")
    (inbox / "说明.pdf").write_bytes(b"%PDF-1.4 ...")
    validated = run_validation(scheme, inbox)
    # not a unit file; T01 itself is in the inbox, so someone has it open: a warning, not an error
    assert list(validated.issues_table.loc[validated.issues_table["file"] == "~$T01_东城镇.xlsx", "code"]) == ["file_open_elsewhere"]
    skipped = issues_with(validated, "not_a_spreadsheet")
    assert list(skipped["file"]) == ["说明.pdf"] and skipped.iloc[0]["severity"] == "警告"
    assert validated.error_count == 0


def test_missing_assessment_workbook(scheme, inbox):
    (inbox / "评定表.xlsx").unlink()
    assert len(issues_with(run_validation(scheme, inbox), "missing_assessment")) == 1


def test_edited_target_is_warned_and_ignored(scheme, inbox):
    path = inbox / FILES["T01"]
    workbook = load_workbook(path)
    target_cell = value_cell(path, "A1", "目标值")
    workbook["填报"][target_cell] = 50
    workbook.save(path)
    found = issues_with(run_validation(scheme, inbox), "edited_locked_cell")
    assert list(found["cell"]) == [target_cell]


def test_office_may_record_fractional_counts_but_units_claim_whole_items(scheme, inbox):
    # 0.5 points lost upstream, charged per point: the office records 0.5
    fill_assessment(inbox / "评定表.xlsx", {}, claims=[{"单位代码": "T01", "项目代码": "K1", "数量": 0.5}])
    fill_unit(inbox / FILES["T02"], {}, claims=[{"项目代码": "J1", "数量": 1.5, "佐证材料": "文件"}])
    validated = run_validation(scheme, inbox)
    assert validated.claims[["unit_code", "item_code", "count", "recorded_by"]].values.tolist() == [["T01", "K1", 0.5, "office"]]
    found = issues_with(validated, "invalid_count")
    assert list(found["unit"]) == ["T02"] and "正整数" in found.iloc[0]["message"]


def test_rows_for_assessed_or_foreign_indicators_in_a_unit_file(scheme, inbox):
    """A template made elsewhere may list 评定 indicators too; only typed values there matter."""
    path = inbox / FILES["T01"]
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    header_row = next(r for r in range(1, 30) if sheet.cell(r, 2).value == "指标代码")
    columns = {sheet.cell(header_row, c).value: c for c in range(1, sheet.max_column + 1)}
    last = sheet.max_row
    sheet.cell(last + 1, columns["指标代码"]).value = "B1"  # 评定 indicator, left blank: ignored silently
    sheet.cell(last + 2, columns["指标代码"]).value = "C1"  # 评定 indicator with a typed grade: warning
    sheet.cell(last + 2, columns["实际完成值"]).value = "优"
    workbook.save(path)
    validated = run_validation(scheme, inbox)
    assert validated.error_count == 0
    found = issues_with(validated, "not_applicable_indicator")
    assert list(found["indicator"]) == ["C1"] and found.iloc[0]["severity"] == "警告"
    assert found.iloc[0]["cell"] == sheet.cell(last + 2, columns["实际完成值"]).coordinate
