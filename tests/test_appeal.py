"""复核 (appeals): the 复核登记表 is validated cell by cell, its 调整 decisions are scored, and
the summary shows every figure that moved. Expected figures are computed by hand below."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import small_scheme_sheets, write_workbook
from inbox_helpers import fill_assessment, fill_unit
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs.appeal_template import write_appeal_workbook
from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates
from kaohe_excel.inputs.validate import validate

UNIT_VALUES = {"T01": {"A1": 95, "A2": 9, "C2": 0.45}, "T02": {"A1": 85, "A2": 7, "C2": 0.6}, "D01": {"C2": 0.5}}
ASSESSED = {("T01", "B1"): 92, ("T02", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
            ("T01", "C1"): "优", ("T02", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优"}
FILES = {"T01": "T01_东城镇.xlsx", "T02": "T02_西山乡.xlsx", "D01": "D01_发改局.xlsx"}
COLUMNS = ["单位代码", "指标代码", "项目代码", "申请事项", "复核结论", "复核值", "复核说明"]


@pytest.fixture
def scheme(tmp_path):
    sheets = small_scheme_sheets()
    # B1 群众满意度 scored against the group's best: an appeal on one unit moves its peers.
    sheets["指标"].loc[sheets["指标"]["指标代码"] == "B1", "计分方法"] = "相对最优"
    return load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))


def make_inbox(folder: Path, scheme, appeals: list[dict] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_templates(scheme, folder)
    write_assessment_workbook(scheme, folder)
    for unit, values in UNIT_VALUES.items():
        claims = [{"项目代码": "J1", "数量": 1, "佐证材料": "省政府文件〔2024〕3号"}] if unit == "T01" else None
        fill_unit(folder / FILES[unit], values, claims=claims)
    fill_assessment(folder / "评定表.xlsx", ASSESSED)
    if appeals is not None:
        fill_appeals(write_appeal_workbook(scheme, folder), appeals)
    return folder


def fill_appeals(path: Path, rows: list[dict]) -> Path:
    workbook = load_workbook(path)
    sheet = workbook["复核"]
    assert [sheet.cell(3, c).value for c in range(1, 8)] == COLUMNS
    for r, row in enumerate(rows, start=4):
        for key, value in row.items():
            sheet.cell(r, COLUMNS.index(key) + 1).value = value
    workbook.save(path)
    return path


def appeal(unit, conclusion, indicator=None, item=None, value=None, note="经核实"):
    return {"单位代码": unit, "指标代码": indicator, "项目代码": item, "申请事项": "申请复核",
            "复核结论": conclusion, "复核值": value, "复核说明": note}


def scored(scheme, inbox):
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert validated.error_count == 0, validated.issues_table.to_string()
    return pipeline.score_period(scheme, validated)


def score_of(results, unit, code):
    s = results.scored
    return float(s.loc[(s["unit_code"] == unit) & (s["indicator_code"] == code), "score"].iloc[0])


def total_of(results, unit):
    return float(results.ranked.set_index("unit_code").loc[unit, "total"])


def test_relative_best_appeal_moves_the_peer_who_did_not_appeal(tmp_path, scheme):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("D02", "调整", indicator="B1", value=95)])
    results = scored(scheme, inbox)
    # 部门: D01 90, D02 85→95. Before: D01 20×90/90 = 20, D02 20×85/90 = 18.89.
    # After: D02 20×95/95 = 20, D01 20×90/95 = 18.947… → 18.95.
    assert score_of(results, "D02", "B1") == 20.0
    assert score_of(results, "D01", "B1") == 18.95
    # D01 total: B1 + C1 中 10×0.6=6 + C2 反向 0.5 at target 0.5 → 10; D02: B1 + C1 优 10.
    assert total_of(results, "D01") == pytest.approx(34.95)
    assert total_of(results, "D02") == pytest.approx(30.0)
    changes = results.appeal_changes
    got = set(zip(changes["unit_code"], changes["what"], changes["before"], changes["after"]))
    assert got == {("D01", "指标得分：群众满意度", "20.00", "18.95"), ("D01", "总分", "36.00", "34.95"),
                   ("D02", "指标得分：群众满意度", "18.89", "20.00"), ("D02", "总分", "28.89", "30.00")}


def test_keep_appeal_changes_nothing(tmp_path, scheme):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("T01", "维持", indicator="A1", value=120)])
    results = scored(scheme, inbox)
    assert score_of(results, "T01", "A1") == 38.0  # 40 × 95/100, the reported value stays
    assert list(results.appeals["conclusion"]) == ["维持"]
    assert results.appeal_changes.empty


def test_adjusting_a_bonus_count_to_zero_removes_it(tmp_path, scheme):
    before = scored(scheme, make_inbox(tmp_path / "plain", scheme, None))
    assert float(before.ranked.set_index("unit_code").loc["T01", "bonus"]) == 2.0  # J1: 1 × 2 分
    results = scored(scheme, make_inbox(tmp_path / "inbox", scheme, [appeal("T01", "调整", item="J1", value=0)]))
    assert float(results.ranked.set_index("unit_code").loc["T01", "bonus"]) == 0.0
    assert total_of(results, "T01") == pytest.approx(total_of(before, "T01") - 2)
    row = results.appeal_changes[(results.appeal_changes["unit_code"] == "T01") & (results.appeal_changes["what"] == "总分")]
    assert len(row) == 1


def test_each_bad_row_is_an_error_at_its_cell(tmp_path, scheme):
    rows = [
        appeal("X99", "维持", indicator="A1"),                       # A4 unknown unit
        appeal("T01", "维持", indicator="A1", item="J1"),            # B5 both
        appeal("T01", "维持"),                                       # B6 neither
        appeal("T01", "维持", indicator="Z9"),                       # B7 unknown indicator
        appeal("T01", "维持", item="Q9"),                            # C8 unknown item
        appeal("D01", "维持", indicator="A1"),                       # B9 A1 applies to 乡镇 only
        appeal("T01", "同意", indicator="A2"),                       # E10 conclusion
        appeal("T01", "调整", indicator="C2"),                       # F11 no 复核值
        appeal("T01", "调整", indicator="C1", value="很好"),          # F12 not a grade
        appeal("T02", "维持", indicator="A1"),
        appeal("T02", "维持", indicator="A1"),                       # A14 duplicate
    ]
    inbox = make_inbox(tmp_path / "inbox", scheme, rows)
    validated = validate(scheme, read_inbox(inbox, workers=1))
    issues = validated.issues_table
    errors = issues[(issues["severity"] == "错误") & (issues["file"] == "复核登记表.xlsx")]
    got = set(zip(errors["cell"], errors["code"]))
    assert got == {("A4", "unknown_unit"), ("B5", "invalid_appeal"), ("B6", "invalid_appeal"),
                   ("B7", "unknown_indicator"), ("C8", "unknown_adjustment"), ("B9", "not_applicable_indicator"),
                   ("E10", "invalid_appeal"), ("F11", "missing_value"), ("F12", "invalid_grade"),
                   ("A14", "duplicate_appeal")}
    assert list(validated.appeals["unit_code"]) == ["T02"]  # only the first T02 row is usable


def test_second_appeal_workbook_is_an_error_and_none_is_used(tmp_path, scheme):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("D02", "调整", indicator="B1", value=95)])
    shutil.copyfile(inbox / "复核登记表.xlsx", inbox / "复核登记表(1).xlsx")
    validated = validate(scheme, read_inbox(inbox, workers=1))
    issues = validated.issues_table
    assert (issues["code"] == "duplicate_submission").sum() == 1
    assert validated.appeals.empty


def test_unsigned_appeal_workbook_is_rejected(tmp_path, scheme):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("D02", "调整", indicator="B1", value=95)])
    workbook = load_workbook(inbox / "复核登记表.xlsx")
    meta = workbook["_kaohe"]
    for row in meta.iter_rows():
        if row[0].value == "校验码":
            row[1].value = "0" * 64
    workbook.save(inbox / "复核登记表.xlsx")
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert (validated.issues_table["code"] == "origin_forged").sum() == 1
    assert validated.appeals.empty


def test_run_writes_the_appeal_sheets_and_leaves_the_inbox_alone(tmp_path, scheme):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("D02", "调整", indicator="B1", value=95, note="补充测评样本")])
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    outcome = pipeline.run(inbox, scheme.path, out_root=tmp_path / "out", issued_on=date(2025, 1, 10))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()} == digests
    summary = next(p for p in outcome.files if p.name.startswith("汇总表") or "汇总" in p.name)
    book = load_workbook(summary)
    assert "复核" in book.sheetnames and "复核前后对比" in book.sheetnames
    appeals = [[c.value for c in row] for row in book["复核"].iter_rows(min_row=3)]
    assert any("D02" in row and "调整" in row and "95" in row for row in appeals)
    changed = [[c.value for c in row] for row in book["复核前后对比"].iter_rows(min_row=3)]
    assert ["D01", "发改局", "部门", "指标得分：群众满意度", "20.00", "18.95"] in changed
    feedback = next(p for p in outcome.files if p.name.startswith("D02_") and p.parent.name != "inputs")
    assert "复核" in load_workbook(feedback).sheetnames
    other = next(p for p in outcome.files if p.name.startswith("T01_") and p.parent.name != "inputs")
    assert "复核" not in load_workbook(other).sheetnames
    import json
    manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["appeals"][0]["unit_code"] == "D02" and manifest["appeals"][0]["value"] == 95


def _register_issues(scheme, inbox):
    validated = validate(scheme, read_inbox(inbox, workers=1))
    issues = validated.issues_table
    return validated, issues[issues["file"] == "复核登记表.xlsx"]


@pytest.mark.parametrize(("value", "code"), [
    (250000, "implausible_value"),   # 2,500 × T01's A1 target of 100 亿元: a slip of the unit or of a key
    ("1e400", "non_finite_value"),   # no number at all
    ("九十五", "not_a_number"),
])
def test_an_adjusted_value_gets_the_checks_a_reported_one_gets(tmp_path, scheme, value, code):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("T01", "调整", indicator="A1", value=value)])
    validated, issues = _register_issues(scheme, inbox)
    errors = issues[issues["severity"] == "错误"]
    assert list(zip(errors["cell"], errors["code"])) == [("F4", code)], issues.to_string()
    assert "复核值" in errors.iloc[0]["message"] and "地区生产总值" in errors.iloc[0]["message"]
    assert validated.appeals.empty  # the decision is not applied…
    results = pipeline.score_period(scheme, validated)
    assert score_of(results, "T01", "A1") == 38.0  # …so T01 keeps 40 × 95/100


def test_an_adjusted_value_with_an_error_stops_the_run(tmp_path, scheme):
    from typer.testing import CliRunner
    from kaohe_excel.cli import app

    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("T01", "调整", indicator="A1", value=250000)])
    result = CliRunner().invoke(app, ["check", str(inbox), "--scheme", str(tmp_path / "scheme.xlsx"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output


def test_an_adjusted_share_typed_as_a_ratio_is_warned_like_a_units(tmp_path, scheme):
    # B1 群众满意度 is in %, target 90: 0.85 is most likely 85% typed as a ratio
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("D02", "调整", indicator="B1", value=0.85)])
    validated, issues = _register_issues(scheme, inbox)
    assert list(zip(issues["severity"], issues["code"], issues["cell"])) == [("警告", "percent_scale", "F4")]
    assert "是否未乘100" in issues.iloc[0]["message"]


@pytest.mark.parametrize(("item", "value", "code"), [
    ("J1", 1.5, "invalid_count"),        # a 加分 item is counted in whole items
    ("J1", -1, "invalid_count"),
    ("K1", 5000, "implausible_value"),   # over 1,000 incidents in a period
    ("K1", "1e400", "invalid_count"),
    ("K1", None, "invalid_count"),       # 调整 without a 复核值
])
def test_an_adjusted_item_count_gets_the_count_checks(tmp_path, scheme, item, value, code):
    inbox = make_inbox(tmp_path / "inbox", scheme, [appeal("T01", "调整", item=item, value=value)])
    validated, issues = _register_issues(scheme, inbox)
    errors = issues[issues["severity"] == "错误"]
    assert list(zip(errors["cell"], errors["code"])) == [("F4", code)], issues.to_string()
    assert validated.appeals.empty


def test_a_sane_adjusted_value_and_a_fractional_deduction_count_are_applied(tmp_path, scheme):
    rows = [appeal("T01", "调整", indicator="A1", value=98), appeal("T02", "调整", item="K1", value=1.5)]
    results = scored(scheme, make_inbox(tmp_path / "inbox", scheme, rows))
    assert score_of(results, "T01", "A1") == 39.2  # 40 × 98/100
    # the office may record a fraction of a 扣分 item: 1.5 × 1 分
    assert float(results.ranked.set_index("unit_code").loc["T02", "deduction"]) == 1.5
