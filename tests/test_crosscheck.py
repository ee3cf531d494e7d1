"""口径核对: a unit's self-report against its lead department's verified value (核定值)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import make_inbox, small_scheme_sheets, write_workbook
from kaohe_excel.inputs import crosscheck
from kaohe_excel.base import origin
from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_lead_workbooks
from kaohe_excel.inputs.validate import validate

LEAD_STATS = "核定表_统计局.xlsx"
LEAD_DEV = "核定表_发改局.xlsx"


@pytest.fixture
def scheme(small_scheme_path):
    return load_scheme(small_scheme_path)


def self_values(rows: list[tuple]) -> pd.DataFrame:
    """Validated.values from (unit, indicator, value[, unscored]) tuples; the cell says which row it was."""
    records = []
    for index, row in enumerate(rows):
        unit, code, value = row[:3]
        unscored = row[3] if len(row) > 3 else False
        text = value if isinstance(value, str) else None
        number = math.nan if text is not None or value is None else float(value)
        records.append({"unit_code": unit, "indicator_code": code, "value": number, "text_value": text,
                        "evidence": "", "note": "", "file": f"{unit}.xlsx", "sheet": "填报", "cell": f"L{8 + index}",
                        "unscored": unscored})
    return pd.DataFrame(records)


def verified_values(rows: list[tuple]) -> pd.DataFrame:
    """Validated.verified from (unit, indicator, value, lead) tuples; value None = the row was left blank."""
    records = []
    for index, (unit, code, value, lead) in enumerate(rows):
        text = value if isinstance(value, str) else None
        number = math.nan if text is not None or value is None else float(value)
        records.append({"unit_code": unit, "indicator_code": code, "verified_value": number, "verified_text": text,
                        "lead_unit": lead, "note": "", "file": f"核定表_{lead}.xlsx", "sheet": "核定",
                        "cell": f"G{4 + index}"})
    return pd.DataFrame(records, columns=crosscheck.VERIFIED_COLUMNS)


def by_pair(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(["unit_code", "indicator_code"])


# ---------------------------------------------------------------- reconcile

def test_agreement_within_tolerance_scores_the_verified_value(scheme):
    values = self_values([("T01", "A1", 100), ("T02", "A1", 80)])
    verified = verified_values([("T01", "A1", 100.4, "统计局"), ("T02", "A1", 80, "统计局")])
    scored, checks = crosscheck.reconcile(values, verified, scheme)
    row = by_pair(checks).loc[("T01", "A1")]
    # (100 - 100.4) / 100.4 = -0.003984 → 0.40% ≤ 0.5%
    assert row["status"] == "一致"
    assert row["relative_difference"] == pytest.approx(-0.4 / 100.4)
    assert by_pair(checks).loc[("T02", "A1"), "status"] == "一致"
    taken = by_pair(scored).loc[("T01", "A1")]
    assert taken["value"] == 100.4 and taken["value_source"] == "核定"
    assert (taken["file"], taken["sheet"], taken["cell"]) == (LEAD_STATS, "核定", "G4")


def test_disagreement_beyond_tolerance_is_listed_and_verified_scored(scheme):
    values = self_values([("T01", "A1", 95), ("T02", "A1", 85)])
    verified = verified_values([("T01", "A1", 95, "统计局"), ("T02", "A1", 80, "统计局")])
    scored, checks = crosscheck.reconcile(values, verified, scheme)
    row = by_pair(checks).loc[("T02", "A1")]
    # 85 - 80 = 5; 5 / 80 = 0.0625 > 0.005
    assert row["status"] == "不一致"
    assert (row["self_value"], row["verified_value"], row["difference"]) == (85, 80, 5)
    assert row["relative_difference"] == pytest.approx(0.0625)
    assert (row["self_file"], row["self_cell"], row["lead_file"], row["lead_cell"], row["lead_unit"]) == (
        "T02.xlsx", "L9", LEAD_STATS, "G5", "统计局")
    assert row["unit_name"] == "西山乡" and row["name"] == "地区生产总值"
    assert by_pair(scored).loc[("T02", "A1"), "value"] == 80
    assert by_pair(scored).loc[("T02", "A1"), "value_source"] == "核定"


def test_tolerance_boundary_and_per_indicator_tolerance(scheme):
    values = self_values([("T01", "A1", 100.5), ("T02", "A1", 80.5)])
    verified = verified_values([("T01", "A1", 100, "统计局"), ("T02", "A1", 80, "统计局")])
    _, checks = crosscheck.reconcile(values, verified, scheme)
    # 0.5 / 100 = 0.005 is "不超过" 0.5%; 0.5 / 80 = 0.00625 is beyond it
    assert list(checks["status"]) == ["一致", "不一致"]
    _, wider = crosscheck.reconcile(values, verified, scheme, tolerances={"A1": 0.01})
    assert list(wider["status"]) == ["一致", "一致"]
    _, tighter = crosscheck.reconcile(values, verified, scheme, tolerance_default=0.001)
    assert list(tighter["status"]) == ["不一致", "不一致"]


def test_missing_lead_value_is_listed_and_self_value_scored(scheme):
    values = self_values([("T01", "A2", 9), ("T02", "A2", 7), ("T01", "C2", 0.45)])
    # 发改局 sent its workbook: C2 filled for T01, A2 left blank for T01 and nothing for T02.
    verified = verified_values([("T01", "A2", None, "发改局"), ("T01", "C2", 0.45, "发改局")])
    scored, checks = crosscheck.reconcile(values, verified, scheme)
    table = by_pair(checks)
    assert table.loc[("T01", "A2"), "status"] == "缺少核定值"
    assert table.loc[("T02", "A2"), "status"] == "缺少核定值"
    assert table.loc[("T01", "A2"), "self_value"] == 9 and math.isnan(table.loc[("T01", "A2"), "verified_value"])
    assert table.loc[("T01", "C2"), "status"] == "一致"
    mine = by_pair(scored).loc[("T01", "A2")]
    assert (mine["value"], mine["value_source"], mine["file"]) == (9, "自报", "T01.xlsx")


def test_missing_self_value_scores_the_verified_value(scheme):
    values = self_values([("T01", "A1", None, True)])  # an error left the unit's value unscored
    verified = verified_values([("T01", "A1", 96, "统计局"), ("T02", "A1", 78, "统计局")])
    scored, checks = crosscheck.reconcile(values, verified, scheme)
    table = by_pair(checks)
    assert table.loc[("T01", "A1"), "status"] == "缺少自报值"
    assert table.loc[("T02", "A1"), "status"] == "缺少自报值"  # T02 sent nothing at all
    rows = by_pair(scored)
    assert (rows.loc[("T01", "A1"), "value"], bool(rows.loc[("T01", "A1"), "unscored"])) == (96, False)
    assert rows.loc[("T02", "A1"), "value"] == 78 and rows.loc[("T02", "A1"), "value_source"] == "核定"


def test_indicators_without_a_lead_workbook_are_not_checked(scheme):
    values = self_values([("T01", "A1", 95), ("T01", "A2", 9)])
    scored, checks = crosscheck.reconcile(values, verified_values([("T01", "A1", 95, "统计局")]), scheme)
    assert list(checks["indicator_code"]) == ["A1"]  # 发改局 sent nothing: A2 is not checked
    assert list(scored["value_source"]) == ["核定", "自报"]
    untouched, empty = crosscheck.reconcile(values, None, scheme)
    assert empty.empty and list(untouched["value"]) == [95, 9]
    assert list(untouched["value_source"]) == ["自报", "自报"]


def test_grades_are_compared_as_text(scheme):
    values = self_values([("T01", "C1", "优"), ("T02", "C1", "良")])
    verified = verified_values([("T01", "C1", "优", "组织部"), ("T02", "C1", "中", "组织部")])
    scored, checks = crosscheck.reconcile(values, verified, scheme)
    assert list(checks["status"]) == ["一致", "不一致"]
    assert by_pair(scored).loc[("T02", "C1"), "text_value"] == "中"


# ---------------------------------------------------------------- county totals

def test_county_total_check(scheme):
    values = self_values([("T01", "A1", 95.4), ("T02", "A1", 80), ("T01", "A2", 9), ("T02", "A2", 99, True)])
    result = crosscheck.county_total_check(values, {"A1": 175, "A2": 12, "C2": 1.0}, 0.005, scheme=scheme)
    table = result.set_index("indicator_code")
    # A1: 95.4 + 80 = 175.4; 0.4 / 175 = 0.002286 ≤ 0.005
    assert table.loc["A1", "unit_sum"] == pytest.approx(175.4) and table.loc["A1", "status"] == "一致"
    assert table.loc["A1", "unit_count"] == 2 and table.loc["A1", "name"] == "地区生产总值"
    # A2: only T01's 9 counts (T02's value is unscored); 9 - 12 = -3; -3 / 12 = -0.25
    assert table.loc["A2", "unit_sum"] == 9 and table.loc["A2", "difference"] == -3
    assert table.loc["A2", "relative_difference"] == pytest.approx(-0.25) and table.loc["A2", "status"] == "不一致"
    assert table.loc["C2", "status"] == "缺少单位数据"
    tight = crosscheck.county_total_check(values, {"A1": 175}, {"A1": 0.001})
    assert tight.iloc[0]["status"] == "不一致"  # 0.002286 > 0.001
    rows = crosscheck.total_sheet_rows(result)
    assert list(rows.iloc[1][["各单位合计", "全县总量", "相对差异（%）", "核对结果"]]) == [9, 12, -25.0, "不一致"]


# ---------------------------------------------------------------- rows for the workbooks

def test_sheet_rows_put_problems_first_with_both_figures(scheme):
    values = self_values([("T01", "A1", 95), ("T02", "A1", 85), ("T01", "A2", 9)])
    verified = verified_values([("T01", "A1", 95, "统计局"), ("T02", "A1", 80, "统计局"), ("T02", "A2", 7, "发改局")])
    _, checks = crosscheck.reconcile(values, verified, scheme)
    rows = crosscheck.crosscheck_sheet_rows(checks)
    assert list(rows.columns) == crosscheck.SHEET_HEADERS
    assert list(rows["核对结果"]) == ["不一致", "缺少核定值", "缺少自报值", "一致"]
    first = rows.iloc[0]
    # 5 / 80 = 6.25%
    assert (first["单位代码"], first["自报值"], first["核定值"], first["差额（自报−核定）"], first["相对差异（%）"]) == (
        "T02", 85, 80, 5, 6.25)
    assert first["计分采用"] == "核定值" and first["容差（%）"] == 0.5
    assert first["核定位置"] == f"{LEAD_STATS} / 核定!G5" and first["自报位置"] == "T02.xlsx / 填报!L9"
    assert "6.25%" in first["说明"] and "超过容差 0.5%" in first["说明"]
    unit = crosscheck.unit_crosscheck_rows(checks, "T02")
    assert list(unit["指标代码"]) == ["A1", "A2"] and list(unit["核对结果"]) == ["不一致", "缺少自报值"]
    assert list(unit.columns) == crosscheck.UNIT_HEADERS
    assert crosscheck.unit_crosscheck_rows(checks, "D02").empty
    assert list(crosscheck.crosscheck_sheet_rows(checks.iloc[0:0]).columns) == crosscheck.SHEET_HEADERS


# ---------------------------------------------------------------- lead workbooks

def _lead_table(path: Path):
    workbook = load_workbook(path)
    sheet = workbook["核定"]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "单位代码")
    headers = [c.value for c in sheet[header_row] if c.value is not None]
    rows = [{h: sheet.cell(r, i + 1) for i, h in enumerate(headers)}
            for r in range(header_row + 1, sheet.max_row + 1) if sheet.cell(r, 1).value is not None]
    return workbook, sheet, headers, rows


def test_one_lead_workbook_per_department_with_only_its_indicators(scheme, tmp_path):
    paths = write_lead_workbooks(scheme, tmp_path / "out")
    # 考核办 and 组织部 lead only 评定 indicators (B1, C1): no workbook for them.
    assert [p.name for p in paths] == [LEAD_STATS, LEAD_DEV]
    _, sheet, headers, rows = _lead_table(paths[0])
    assert headers == ["单位代码", "单位名称", "指标代码", "指标名称", "计量单位", "目标值", "核定值", "说明"]
    # A1 applies to the towns; T02's target is decomposed to 80.
    assert [(r["单位代码"].value, r["指标代码"].value, r["目标值"].value) for r in rows] == [("T01", "A1", 100), ("T02", "A1", 80)]
    _, _, _, dev_rows = _lead_table(paths[1])
    # A2 for the towns; C2 for 乡镇 and 部门 except D02 (不考核).
    assert [(r["单位代码"].value, r["指标代码"].value) for r in dev_rows] == [
        ("T01", "A2"), ("T02", "A2"), ("T01", "C2"), ("T02", "C2"), ("D01", "C2")]
    assert sheet.protection.sheet is True
    for row in rows:
        for header, cell in row.items():
            assert cell.protection.locked is (header not in ("核定值", "说明")), (header, cell.coordinate)


def test_lead_workbook_meta_sheet(scheme, tmp_path):
    path = write_lead_workbooks(scheme, tmp_path)[1]
    workbook = load_workbook(path)
    meta_sheet = workbook["_kaohe"]
    assert meta_sheet.sheet_state == "hidden"
    meta = {row[0]: row[1] for row in meta_sheet.iter_rows(min_row=2, values_only=True)}
    assert meta["文件类型"] == "牵头单位核定表" and meta["牵头单位"] == "发改局"
    assert (meta["考核名称"], meta["考核周期"], meta["方案指纹"]) == ("测试县2024年度考核", "2024", scheme.fingerprint)
    assert meta["指标代码"] == "A2,C2"


def test_lead_file_name_is_safe(tmp_path):
    sheets = small_scheme_sheets()
    sheets["指标"].loc[0, "牵头单位"] = "统计局/调查队"
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    paths = write_lead_workbooks(scheme, tmp_path / "out")
    assert paths[0].name == "核定表_统计局_调查队.xlsx" and paths[0].parent == tmp_path / "out"


# ---------------------------------------------------------------- end to end: read + validate a filled lead workbook

def fill_lead(path: Path, values: dict[tuple[str, str], object], notes: dict[tuple[str, str], str] | None = None,
              extra_rows: list[tuple[str, str, object]] = ()) -> Path:
    """Type 核定值 (and 说明) by (unit_code, indicator_code); `extra_rows` are appended below the table."""
    workbook = load_workbook(path)
    sheet = workbook["核定"]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "单位代码")
    columns = {sheet.cell(header_row, c).value: c for c in range(1, sheet.max_column + 1)}
    last = header_row
    for r in range(header_row + 1, sheet.max_row + 1):
        key = (sheet.cell(r, columns["单位代码"]).value, sheet.cell(r, columns["指标代码"]).value)
        if key[0] is None:
            continue
        last = r
        if key in values:
            sheet.cell(r, columns["核定值"]).value = values[key]
        if notes and key in notes:
            sheet.cell(r, columns["说明"]).value = notes[key]
    for offset, (unit, code, value) in enumerate(extra_rows, start=1):
        sheet.cell(last + offset, columns["单位代码"]).value = unit
        sheet.cell(last + offset, columns["指标代码"]).value = code
        sheet.cell(last + offset, columns["核定值"]).value = value
    workbook.save(path)
    return path


def lead_cell(path: Path, unit_code: str, indicator_code: str) -> str:
    _, _, _, rows = _lead_table(path)
    row = next(r for r in rows if (r["单位代码"].value, r["指标代码"].value) == (unit_code, indicator_code))
    return row["核定值"].coordinate


def test_filled_lead_workbooks_read_validate_and_reconcile(scheme, tmp_path):
    inbox = make_inbox(tmp_path / "inbox", scheme)  # T01 A1 95, T02 A1 85, A2 9/7, C2 0.45/0.6/0.5
    stats, dev = write_lead_workbooks(scheme, inbox)
    fill_lead(stats, {("T01", "A1"): 95.3, ("T02", "A1"): "80亿元"}, notes={("T02", "A1"): "按统计年报口径"})
    fill_lead(dev, {("T01", "C2"): 0.45, ("D01", "C2"): 0.52})  # A2 and T02's C2 left blank
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert validated.error_count == 0, validated.issues_table.to_string()
    submissions = validated.submissions.set_index("file")
    assert submissions.loc[LEAD_STATS, "kind"] == "牵头单位核定表" and submissions.loc[LEAD_DEV, "unit_name"] == "发改局"
    verified = by_pair(validated.verified)
    assert list(validated.verified.columns) == crosscheck.VERIFIED_COLUMNS
    assert len(verified) == 2 + 5  # every row of both workbooks, blank ones as NaN
    assert verified.loc[("T02", "A1"), "verified_value"] == 80  # "80亿元" normalized (with a warning)
    assert verified.loc[("T02", "A1"), "note"] == "按统计年报口径"
    assert (verified.loc[("T01", "A1"), "file"], verified.loc[("T01", "A1"), "cell"]) == (LEAD_STATS, lead_cell(stats, "T01", "A1"))
    assert math.isnan(verified.loc[("T01", "A2"), "verified_value"])
    assert len(validated.values) == 7 + 8  # the units' and the office's values are untouched

    scored, checks = crosscheck.reconcile(validated.values, validated.verified, scheme)
    table = by_pair(checks)
    # T01 A1: (95 - 95.3) / 95.3 = -0.31% → 一致; T02 A1: 5 / 80 = 6.25% → 不一致
    assert table.loc[("T01", "A1"), "status"] == "一致"
    assert table.loc[("T02", "A1"), "status"] == "不一致"
    # T01 C2 0.45 = 0.45; D01 C2: (0.5 - 0.52) / 0.52 = -3.85% → 不一致; A2 and T02 C2 blank → 缺少核定值
    assert table.loc[("T01", "C2"), "status"] == "一致" and table.loc[("D01", "C2"), "status"] == "不一致"
    assert sorted(checks.loc[checks["status"] == "缺少核定值", "indicator_code"] + checks.loc[checks["status"] == "缺少核定值", "unit_code"]) == [
        "A2T01", "A2T02", "C2T02"]
    rows = by_pair(scored)
    assert (rows.loc[("T02", "A1"), "value"], rows.loc[("T02", "A1"), "value_source"]) == (80, "核定")
    assert (rows.loc[("T02", "A2"), "value"], rows.loc[("T02", "A2"), "value_source"]) == (7, "自报")
    assert rows.loc[("T01", "B1"), "value_source"] == "自报"  # 评定 values pass through untouched


def test_lead_workbook_rows_the_department_does_not_lead_are_errors(scheme, tmp_path):
    inbox = make_inbox(tmp_path / "inbox", scheme)
    stats, dev = write_lead_workbooks(scheme, inbox)
    dev.unlink()
    fill_lead(stats, {("T01", "A1"): 95}, extra_rows=[("X99", "A1", 1), ("T01", "A2", 9), ("T01", "Z9", 3)])
    validated = validate(scheme, read_inbox(inbox, workers=1))
    table = validated.issues_table
    mine = table[table["file"] == LEAD_STATS].set_index("code")
    assert set(mine.index) == {"unknown_unit", "not_applicable_indicator", "unknown_indicator"}
    assert (mine.loc["unknown_unit", "unit"], mine.loc["unknown_unit", "severity"]) == ("X99", "错误")
    # A2 is led by 发改局, not 统计局
    assert mine.loc["not_applicable_indicator", "indicator"] == "A2" and "发改局" in mine.loc["not_applicable_indicator", "message"]
    assert mine.loc["unknown_indicator", "indicator"] == "Z9"
    assert list(validated.verified["indicator_code"]) == ["A1", "A1"]  # T01 filled, T02 blank


def test_lead_workbook_bad_value_and_foreign_department(scheme, tmp_path):
    inbox = make_inbox(tmp_path / "inbox", scheme)
    stats, dev = write_lead_workbooks(scheme, inbox)
    fill_lead(stats, {("T01", "A1"): "约九十五"})
    workbook = load_workbook(dev)
    meta = workbook["_kaohe"]
    next(row for row in meta.iter_rows() if row[0].value == "牵头单位")[1].value = "农业局"
    # signed as the office would have issued it (for a department that leads nothing now)
    identity = {row[0].value: row[1].value for row in meta.iter_rows(min_row=2)}
    next(row for row in meta.iter_rows() if row[0].value == origin.CODE_ROW)[1].value = origin.sign(origin.find_key(), identity)
    workbook.save(dev)
    validated = validate(scheme, read_inbox(inbox, workers=1))
    table = validated.issues_table
    bad = table[table["code"] == "not_a_number"]
    assert list(bad["cell"]) == [lead_cell(stats, "T01", "A1")] and "核定值" in bad.iloc[0]["message"]
    assert math.isnan(by_pair(validated.verified).loc[("T01", "A1"), "verified_value"])
    rejected = table[(table["file"] == LEAD_DEV)]
    assert list(rejected["code"]) == ["not_our_template"] and "农业局" in rejected.iloc[0]["message"]
    assert set(validated.verified["lead_unit"]) == {"统计局"}


# ---------------------------------------------------------------- through `kaohe run`

def test_run_scores_verified_values_and_lists_the_crosscheck(scheme, tmp_path):
    from datetime import date

    from kaohe_excel.jobs.pipeline import run

    inbox = make_inbox(tmp_path / "inbox", scheme)  # T01 A1 95, T02 A1 85
    stats, _dev = write_lead_workbooks(scheme, inbox)
    fill_lead(stats, {("T01", "A1"): 97, ("T02", "A1"): 85})
    outcome = run(inbox, scheme.path, out_root=tmp_path / "out", issued_on=date(2025, 1, 15))
    scores = pd.read_csv(outcome.folder / "scores.csv", encoding="utf-8-sig", dtype={"单位代码": str})
    score = scores.set_index(["单位代码", "指标代码"])["得分"]
    # 完成率, P 40: T01 scored on the verified 97 against target 100 → 40×0.97 = 38.80 (its own 95 would give 38.00);
    # T02 85 against its 目标分解 target 80 → capped at 40.00
    assert score[("T01", "A1")] == pytest.approx(38.80)
    assert score[("T02", "A1")] == pytest.approx(40.00)
    summary = load_workbook(outcome.folder / "汇总表.xlsx")
    assert "口径核对" in summary.sheetnames
    texts = [[c.value for c in row] for row in summary["口径核对"].iter_rows()]
    t01 = next(row for row in texts if "T01" in row and "A1" in row)
    assert "不一致" in t01  # |95 − 97| / 97 = 2.06% > 0.5%
    feedback = load_workbook(outcome.folder / "反馈" / "T01_东城镇.xlsx")
    assert "口径核对" in feedback.sheetnames
    flat = [c.value for row in feedback["口径核对"].iter_rows() for c in row]
    assert "T02" not in flat and "西山乡" not in flat


def test_run_checks_the_units_sum_against_the_county_total(tmp_path):
    from datetime import date

    from kaohe_excel.jobs.pipeline import run

    sheets = small_scheme_sheets()
    sheets["指标"]["全县总量"] = [190, None, None, None, None]  # A1: towns report 95 + 85 = 180
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    inbox = make_inbox(tmp_path / "inbox", scheme)
    outcome = run(inbox, scheme.path, out_root=tmp_path / "out", issued_on=date(2025, 1, 15))
    sheet = load_workbook(outcome.folder / "汇总表.xlsx")["口径核对"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    a1 = next(row for row in rows if "A1" in row)
    # 180 − 190 = −10, −5.26% of the county figure: beyond the 0.5% tolerance
    assert 180 in a1 and 190 in a1 and -10 in a1
    assert "不一致" in a1
