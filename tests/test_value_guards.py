"""Nothing a mistake or a unit can do changes a score without an error (issue 12, values).

Each case starts from the tool's own templates, filled in tmp_path, then changes one
thing the way Excel or a unit would (a % cell format, a hidden column or row, a doubled
header, swapped codes, an absurd number). Expected outcomes are worked out by hand from
the scheme below.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import small_scheme_sheets, write_workbook
from inbox_helpers import _header, fill_assessment, fill_unit, value_cell
from kaohe_excel.scoring import score
from kaohe_excel.jobs.pipeline import score_period
from kaohe_excel.base.read_rows import _Layout
from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates
from kaohe_excel.inputs.validate import parse_value, validate
from kaohe_excel.base.number_format import INVISIBLE, PERCENT, SCALED, format_kind, hides_text
from kaohe_excel.base.xlsx_meta import Formatted, Withheld

TOWNS = {"T01": "东城镇", "T02": "西山乡", "T03": "南湖镇", "T04": "北岭乡", "T05": "中和镇"}
DEPARTMENTS = {"D01": "发改局", "D02": "财政局"}
FILES = {code: f"{code}_{name}.xlsx" for code, name in {**TOWNS, **DEPARTMENTS}.items()}
# A1 亿元 完成率 目标100 (T02: 80); A2 亿元 基本满分 8/10; C2 吨标准煤/万元 反向 目标0.5;
# A3 城镇化率 % 差额扣分 without a target (the group mean is the target); A4 安全生产事故 起 扣分 2/起.
TOWN_VALUES = {
    "T01": {"A1": 95, "A2": 9, "C2": 0.45, "A3": 58.2, "A4": 1},
    "T02": {"A1": 85, "A2": 7, "C2": 0.6, "A3": 60, "A4": 0},
    "T03": {"A1": 90, "A2": 10, "C2": 0.5, "A3": 55, "A4": 2},
    "T04": {"A1": 70, "A2": 8, "C2": 0.55, "A3": 52, "A4": 0},
    "T05": {"A1": 100, "A2": 9.5, "C2": 0.4, "A3": 50, "A4": 1},
}
UNIT_VALUES = {**TOWN_VALUES, "D01": {"C2": 0.5}}
ASSESSED = {(u, "B1"): 90 for u in [*TOWNS, *DEPARTMENTS]} | {(u, "C1"): "良" for u in [*TOWNS, *DEPARTMENTS]}


def scheme_sheets() -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    units = sheets["单位"]
    extra_units = pd.DataFrame({
        "单位代码": ["T03", "T04", "T05"], "单位名称": ["南湖镇", "北岭乡", "中和镇"], "考核类别": ["乡镇"] * 3,
        "联系人": ["甲", "乙", "丙"], "邮箱": ["t03@example.gov.cn", "t04@example.gov.cn", "t05@example.gov.cn"]})
    sheets["单位"] = pd.concat([units.iloc[:2], extra_units, units.iloc[2:]], ignore_index=True)
    indicators = sheets["指标"]
    extra = pd.DataFrame({
        "指标代码": ["A3", "A4"], "一级指标": ["人民生活", "社会安全"], "指标名称": ["城镇化率", "安全生产事故"],
        "计量单位": ["%", "起"], "适用类别": ["乡镇", "乡镇"], "分值": [10, 10], "计分方法": ["差额扣分", "扣分"],
        "方向": ["正向", "正向"], "每项分值": [0.5, 2], "数据来源": ["自报", "自报"], "牵头单位": ["统计局", "应急局"],
        "评分说明": ["不低于平均值得满分，每低1个百分点扣0.5分", "每起扣2分"]})
    sheets["指标"] = pd.concat([indicators, extra], ignore_index=True)
    return sheets


@pytest.fixture(scope="module")
def scheme(tmp_path_factory):
    return load_scheme(write_workbook(tmp_path_factory.mktemp("scheme") / "scheme.xlsx", scheme_sheets()))


@pytest.fixture
def inbox(tmp_path, scheme):
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_templates(scheme, folder)
    write_assessment_workbook(scheme, folder)
    for unit, values in UNIT_VALUES.items():
        fill_unit(folder / FILES[unit], values)
    fill_assessment(folder / "评定表.xlsx", ASSESSED)
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def check(scheme, inbox):
    """validate, asserting the inbox is left byte for byte as it was."""
    before = digest(inbox)
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert digest(inbox) == before
    return validated


def issues(validated, code: str) -> list[tuple]:
    table = validated.issues_table
    found = table[table["code"] == code]
    return [tuple(r) for r in found[["severity", "file", "sheet", "cell", "unit", "indicator"]].itertuples(index=False)]


def value_row(validated, unit: str, code: str):
    return validated.values.set_index(["unit_code", "indicator_code"]).loc[(unit, code)]


def scores(scheme, validated) -> pd.DataFrame:
    scored = score_period(scheme, validated).scored
    return scored.set_index(["unit_code", "indicator_code"])


def edit(path: Path, sheet_name: str, change) -> None:
    workbook = load_workbook(path)
    change(workbook[sheet_name])
    workbook.save(path)


def set_format(path: Path, address: str, value: float, number_format: str, sheet: str = "填报") -> None:
    def change(ws):
        ws[address].value = value
        ws[address].number_format = number_format
    edit(path, sheet, change)


def assessment_cell(path: Path, unit: str, code: str, column: str = "评定值") -> str:
    ws = load_workbook(path)["评定"]
    header_row, columns = _header(ws, ["单位代码", "指标代码", column])
    for r in range(header_row + 1, ws.max_row + 1):
        if (ws.cell(r, columns["单位代码"]).value, ws.cell(r, columns["指标代码"]).value) == (unit, code):
            return ws.cell(r, columns[column]).coordinate
    raise AssertionError((unit, code))


def row_of(address: str) -> int:
    return int("".join(ch for ch in address if ch.isdigit()))


def test_clean_inbox_of_this_scheme_has_no_errors(scheme, inbox):
    validated = check(scheme, inbox)
    assert validated.error_count == 0, validated.issues_table.to_string()
    assert value_row(validated, "T01", "A3")["value"] == 58.2


# ---------------------------------------------------------------- 1. % formats

def test_percent_format_on_a_percent_indicator_reads_the_shown_percentage(scheme, inbox):
    # Typing "58.2%" in Excel stores 0.582 with a 0.0% format; A3 has no target (group mean),
    # so the old check said nothing and 0.582 was scored against a mean of about 45.
    path = inbox / FILES["T01"]
    cell = value_cell(path, "A3")
    set_format(path, cell, 0.582, "0.0%")
    validated = check(scheme, inbox)
    assert validated.error_count == 0
    assert value_row(validated, "T01", "A3")["value"] == pytest.approx(58.2)
    assert issues(validated, "number_format") == [("警告", FILES["T01"], "填报", cell, "T01", "A3")]
    message = validated.issues_table.query("code == 'number_format'").iloc[0]["message"]
    assert "58.2%" in message and "已按 58.2 读取" in message


def test_percent_format_on_an_assessed_percent_indicator(scheme, inbox):
    path = inbox / "评定表.xlsx"
    cell = assessment_cell(path, "T02", "B1")
    set_format(path, cell, 0.9, "0%", sheet="评定")
    validated = check(scheme, inbox)
    assert value_row(validated, "T02", "B1")["value"] == pytest.approx(90)
    assert issues(validated, "number_format") == [("警告", "评定表.xlsx", "评定", cell, "T02", "B1")]
    assert issues(validated, "percent_scale") == []  # read as 90, not "0.9 未乘100"


def test_percent_format_on_a_non_percent_indicator_is_an_error_and_not_scored(scheme, inbox):
    path = inbox / FILES["T01"]
    cell = value_cell(path, "A1")  # 亿元
    set_format(path, cell, 0.95, "0.00%")
    validated = check(scheme, inbox)
    assert issues(validated, "number_format") == [("错误", FILES["T01"], "填报", cell, "T01", "A1")]
    assert "亿元" in validated.issues_table.query("code == 'number_format'").iloc[0]["message"]
    assert bool(value_row(validated, "T01", "A1")["unscored"])
    scored = scores(scheme, validated)
    assert scored.loc[("T01", "A1"), "status"] == "unscored"
    assert scored.loc[("T02", "A1"), "score"] == pytest.approx(40.0)  # 85/80 capped at 1 × 40: unchanged


def test_percent_format_shown_above_100_percent_is_ambiguous(scheme, inbox):
    # 58.2 typed, then the column formatted as %: Excel shows 5820.0%; 58.2 or 5820 cannot be told
    path = inbox / FILES["T03"]
    cell = value_cell(path, "A3")
    set_format(path, cell, 58.2, "0.0%")
    validated = check(scheme, inbox)
    assert issues(validated, "number_format") == [("错误", FILES["T03"], "填报", cell, "T03", "A3")]
    assert bool(value_row(validated, "T03", "A3")["unscored"])


@pytest.mark.parametrize("code, kind", [("0.0%", PERCENT), ("0%;[Red]-0%", PERCENT), ('0"%"', ""), ("#,##0.00", ""),
                                         ("0.0,,", SCALED), ('#,##0,"千"', SCALED), (";;;", INVISIBLE), ("General", ""),
                                         ("@", ""), ('0.00\\%', "")])
def test_format_kinds(code, kind):
    assert format_kind(code) == kind


@pytest.mark.parametrize("code, hidden", [(";;;", True), ('0;0;0;"完成"', True), ("0.0;-0.0;0;", True), ("0;-0;0;@", False),
                                           ('0;0;0;"说明："@', False), ("0.00", False), ("@", False), ("General", False),
                                           ('0;0;0;"a;@"', True)])
def test_formats_that_hide_or_replace_a_typed_text(code, hidden):
    # the 4th section is the text's: without @ the text is not shown, or shown as the section's own words
    assert hides_text(code) is hidden


def test_a_text_value_the_format_hides_is_an_error_not_scored(scheme, inbox):
    # "85" typed as text in A1 with ;;; shows an empty cell; the office cannot see what is scored
    path = inbox / FILES["T01"]
    cell = value_cell(path, "A1")
    set_format(path, cell, "85", ";;;")
    validated = check(scheme, inbox)
    assert issues(validated, "number_format") == [("错误", FILES["T01"], "填报", cell, "T01", "A1")]
    assert bool(value_row(validated, "T01", "A1")["unscored"])


def test_a_scaled_format_is_an_error(scheme, inbox):
    path = inbox / FILES["T02"]
    cell = value_cell(path, "A2")
    set_format(path, cell, 7000, "0,")  # shows 7
    validated = check(scheme, inbox)
    assert issues(validated, "number_format") == [("错误", FILES["T02"], "填报", cell, "T02", "A2")]
    assert bool(value_row(validated, "T02", "A2")["unscored"])


# ---------------------------------------------------------------- 2. implausible and non-finite

@pytest.mark.parametrize("typed", ["1e400", "-1e400"])
def test_text_beyond_float_range_is_an_error(scheme, inbox, typed):
    path = inbox / FILES["T01"]
    fill_unit(path, {"A1": typed})
    validated = check(scheme, inbox)
    assert issues(validated, "non_finite_value") == [("错误", FILES["T01"], "填报", value_cell(path, "A1"), "T01", "A1")]
    scored = scores(scheme, validated)
    assert scored.loc[("T01", "A1"), "status"] == "unscored"
    assert all(math.isfinite(v) for v in scored["score"].dropna())


@pytest.mark.parametrize("code, value", [("A1", 1e308), ("C2", -1e308), ("A2", 1.1e19)])
def test_absurd_magnitudes_are_errors(scheme, inbox, code, value):
    path = inbox / FILES["T01"]
    fill_unit(path, {code: value})
    validated = check(scheme, inbox)
    assert issues(validated, "implausible_value") == [("错误", FILES["T01"], "填报", value_cell(path, code), "T01", code)]
    assert bool(value_row(validated, "T01", code)["unscored"])


def test_a_huge_value_cannot_zero_its_peers(tmp_path, scheme, inbox):
    # 相对最优-like harm: A3 (差额扣分 against the group mean) with 1e308 would lift the mean
    # to ~2e307 and every peer would lose all 10 points. The mean of the others stays the target.
    fill_unit(inbox / FILES["T01"], {"A3": 1e308})
    validated = check(scheme, inbox)
    assert len(issues(validated, "implausible_value")) == 1
    scored = scores(scheme, validated)
    # mean of T02..T05 = (60 + 55 + 52 + 50) / 4 = 54.25; T05: 10 − (54.25 − 50) × 0.5 = 7.875 → 7.88
    assert scored.loc[("T05", "A3"), "score"] == pytest.approx(7.88)
    assert scored.loc[("T02", "A3"), "score"] == pytest.approx(10.0)


def test_wrong_unit_three_orders_of_magnitude_from_the_target(scheme, inbox):
    # A2 in 亿元 with 基本值 8 / 满分值 10: 23000 is 2,300 × 满分值 (typed in 万元)
    path = inbox / FILES["T02"]
    fill_unit(path, {"A2": 23000})
    validated = check(scheme, inbox)
    assert issues(validated, "implausible_value") == [("错误", FILES["T02"], "填报", value_cell(path, "A2"), "T02", "A2")]
    assert "数量级" in validated.issues_table.query("code == 'implausible_value'").iloc[0]["message"]


@pytest.mark.parametrize("code, value", [("A1", 5000), ("A2", 999), ("C2", 400), ("A1", 0)])
def test_large_but_possible_values_are_scored(scheme, inbox, code, value):
    # 50 × A1's target; under the 1,000 floor; 800 × C2's target but under the floor
    fill_unit(inbox / FILES["T01"], {code: value})
    validated = check(scheme, inbox)
    assert issues(validated, "implausible_value") == []
    assert not bool(value_row(validated, "T01", code)["unscored"])


def test_a_value_four_orders_of_magnitude_from_its_group_is_an_error(scheme, inbox):
    # A3 has no target: only the group rule applies. Median of |50, 52, 55, 58.2, 5e7| = 55.
    path = inbox / FILES["T02"]
    fill_unit(path, {"A3": 5e7})
    validated = check(scheme, inbox)
    assert issues(validated, "implausible_value") == [("错误", FILES["T02"], "填报", value_cell(path, "A3"), "T02", "A3")]
    assert "中位数（55）" in validated.issues_table.query("code == 'implausible_value'").iloc[0]["message"]
    assert scores(scheme, validated).loc[("T02", "A3"), "status"] == "unscored"


def test_fractional_count_of_incidents_is_an_error(scheme, inbox):
    path = inbox / FILES["T01"]
    fill_unit(path, {"A4": 1.5})
    validated = check(scheme, inbox)
    assert issues(validated, "invalid_count") == [("错误", FILES["T01"], "填报", value_cell(path, "A4"), "T01", "A4")]
    assert bool(value_row(validated, "T01", "A4")["unscored"])


def test_absurd_claim_counts_are_errors(scheme, inbox):
    fill_assessment(inbox / "评定表.xlsx", {}, claims=[{"单位代码": "T01", "项目代码": "K1", "数量": 1e308}])
    fill_unit(inbox / FILES["T02"], {}, claims=[{"项目代码": "J1", "数量": "1e400", "佐证材料": "文件1"}])
    validated = check(scheme, inbox)
    assert [i[:2] + (i[4],) for i in issues(validated, "implausible_value")] == [("错误", "评定表.xlsx", "T01")]
    assert [i[:2] + (i[4],) for i in issues(validated, "invalid_count")] == [("错误", FILES["T02"], "T02")]
    assert validated.claims.empty


@pytest.mark.parametrize("typed", ["٩٥", "۹۵", "९५", "٩٥٫٠"])
def test_digits_of_other_scripts_are_read_with_a_warning(scheme, inbox, typed):
    path = inbox / FILES["T01"]
    fill_unit(path, {"A1": typed})
    validated = check(scheme, inbox)
    assert validated.error_count == 0
    assert value_row(validated, "T01", "A1")["value"] == 95
    assert issues(validated, "normalized_value") == [("警告", FILES["T01"], "填报", value_cell(path, "A1"), "T01", "A1")]


def test_parse_value_never_returns_a_non_finite_number():
    for text in ["1e400", "-1e999", "1E+309%"]:
        parsed = parse_value(text, "%")
        assert parsed.problem is not None and parsed.problem[0].value == "non_finite_value"
    assert parse_value(float("inf")).problem[0].value == "non_finite_value"


def test_scoring_leaves_an_infinite_value_unscored():
    # defence in depth: even if an inf got past validation it never becomes a score
    frame = pd.DataFrame({
        "unit_code": ["U1", "U2"], "indicator_code": ["X", "X"], "group": ["g", "g"], "method": ["相对最优", "相对最优"],
        "direction": ["higher", "higher"], "points": [10.0, 10.0], "value": [math.inf, 50.0], "text_value": [None, None],
        "unscored": [False, False], "exempt": [False, False]})
    scored = score.score_indicators(frame, None)
    assert list(scored["status"]) == ["unscored", "scored"]
    assert scored["score"].iloc[1] == pytest.approx(10.0)
    claims = pd.DataFrame({"unit_code": ["U1"], "item_code": ["K1"], "count": [math.inf]})
    catalogue = pd.DataFrame({"item_code": ["K1"], "kind": ["deduction"], "name": ["负面舆情"], "step": [1.0], "item_cap": [math.nan]})
    assert math.isfinite(score.score_adjustments(claims, catalogue)["amount"].iloc[0])


# ---------------------------------------------------------------- 3. what the office sees

def _column_of(path: Path, header: str, sheet: str = "填报") -> tuple[int, str]:
    ws = load_workbook(path)[sheet]
    header_row, columns = _header(ws, [header])
    return header_row, ws.cell(header_row, columns[header]).column_letter


def test_hidden_second_value_column_is_an_error_and_nothing_is_scored(scheme, inbox):
    # The visible column shows 50; a hidden copy headed 实际完成值 before it holds 95 (what was scored).
    path = inbox / FILES["T01"]
    header_row, value_letter = _column_of(path, "实际完成值")
    ws_columns = load_workbook(path)["填报"].max_column
    from openpyxl.utils import get_column_letter
    extra = get_column_letter(ws_columns + 1)

    def change(ws):
        ws[f"{extra}{header_row}"] = "实际完成值"
        for r in range(header_row + 1, ws.max_row + 1):
            if ws[f"{value_letter}{r}"].value is not None:
                ws[f"{extra}{r}"] = 50
        ws.column_dimensions[value_letter].hidden = True
    edit(path, "填报", change)
    validated = check(scheme, inbox)
    assert issues(validated, "duplicate_column") == [("错误", FILES["T01"], "填报", f"{extra}{header_row}", "", "")]
    assert issues(validated, "hidden_cells") == [("错误", FILES["T01"], "填报", f"{value_letter}{header_row}", "", "")]
    message = validated.issues_table.query("code == 'duplicate_column'").iloc[0]["message"]
    assert "请使用考核办下发的模板重新填报" in message
    mine = validated.values[validated.values["file"] == FILES["T01"]]
    assert mine["unscored"].all() and len(mine) == 5
    assert (scores(scheme, validated).loc["T01", "status"].loc[["A1", "A2", "A3", "A4", "C2"]] == "unscored").all()


def test_hidden_column_in_the_table_is_an_error(scheme, inbox):
    path = inbox / FILES["T02"]
    header_row, letter = _column_of(path, "备注")
    edit(path, "填报", lambda ws: setattr(ws.column_dimensions[letter], "hidden", True))
    validated = check(scheme, inbox)
    assert issues(validated, "hidden_cells") == [("错误", FILES["T02"], "填报", f"{letter}{header_row}", "", "")]
    assert validated.values[validated.values["file"] == FILES["T02"]]["unscored"].all()
    assert not validated.values[validated.values["file"] == FILES["T01"]]["unscored"].any()


def test_hidden_row_is_an_error_at_its_cell(scheme, inbox):
    path = inbox / FILES["T01"]
    cell = value_cell(path, "A2")
    row = row_of(cell)
    edit(path, "填报", lambda ws: setattr(ws.row_dimensions[row], "hidden", True))
    validated = check(scheme, inbox)
    assert issues(validated, "hidden_cells") == [("错误", FILES["T01"], "填报", cell, "T01", "A2")]
    assert bool(value_row(validated, "T01", "A2")["unscored"])
    assert not bool(value_row(validated, "T01", "A1")["unscored"])


def test_hidden_row_in_the_assessment_workbook(scheme, inbox):
    path = inbox / "评定表.xlsx"
    cell = assessment_cell(path, "T03", "B1")
    row = row_of(cell)
    edit(path, "评定", lambda ws: setattr(ws.row_dimensions[row], "hidden", True))
    validated = check(scheme, inbox)
    assert issues(validated, "hidden_cells") == [("错误", "评定表.xlsx", "评定", cell, "T03", "B1")]
    assert bool(value_row(validated, "T03", "B1")["unscored"])


def test_doubled_header_in_the_assessment_workbook(scheme, inbox):
    path = inbox / "评定表.xlsx"
    ws = load_workbook(path)["评定"]
    header_row, columns = _header(ws, ["单位代码", "评定值"])
    from openpyxl.utils import get_column_letter
    extra = f"{get_column_letter(ws.max_column + 1)}{header_row}"
    edit(path, "评定", lambda sheet: sheet.__setitem__(extra, "评定值"))
    validated = check(scheme, inbox)
    assert issues(validated, "duplicate_column") == [("错误", "评定表.xlsx", "评定", extra, "", "")]
    assessed = validated.values[validated.values["file"] == "评定表.xlsx"]
    assert len(assessed) == 14 and assessed["unscored"].all()


def test_swapped_indicator_codes_are_errors_and_not_scored(scheme, inbox):
    # A1 (地区生产总值, target 100) and A2 (固定资产投资, 基本值 8) rows with their codes swapped:
    # 95 would be scored as 固定资产投资 and 9 as 地区生产总值.
    path = inbox / FILES["T01"]
    a1, a2 = value_cell(path, "A1"), value_cell(path, "A2")
    ws = load_workbook(path)["填报"]
    header_row, columns = _header(ws, ["指标代码", "指标名称"])
    code_letter = ws.cell(header_row, columns["指标代码"]).column_letter
    name_letter = ws.cell(header_row, columns["指标名称"]).column_letter
    row1, row2 = row_of(a1), row_of(a2)

    def change(sheet):
        sheet[f"{code_letter}{row1}"], sheet[f"{code_letter}{row2}"] = "A2", "A1"
    edit(path, "填报", change)
    validated = check(scheme, inbox)
    found = sorted(issues(validated, "code_name_mismatch"))
    assert found == sorted([("错误", FILES["T01"], "填报", f"{name_letter}{row1}", "T01", "A2"),
                            ("错误", FILES["T01"], "填报", f"{name_letter}{row2}", "T01", "A1")])
    assert bool(value_row(validated, "T01", "A1")["unscored"]) and bool(value_row(validated, "T01", "A2")["unscored"])
    scored = scores(scheme, validated)
    assert scored.loc[("T01", "A1"), "status"] == scored.loc[("T01", "A2"), "status"] == "unscored"


def test_assessment_row_whose_unit_name_contradicts_its_code(scheme, inbox):
    path = inbox / "评定表.xlsx"
    cell = assessment_cell(path, "T02", "B1", column="单位名称")
    edit(path, "评定", lambda ws: ws.__setitem__(cell, "东城镇"))
    validated = check(scheme, inbox)
    assert issues(validated, "code_name_mismatch") == [("错误", "评定表.xlsx", "评定", cell, "T02", "B1")]
    assert bool(value_row(validated, "T02", "B1")["unscored"])


def test_markers_survive_the_process_pool():
    # results cross a process boundary when the inbox is large
    for marker in (Formatted(0.582, PERCENT, "0.0%"), Withheld(95.0, None), _Layout("填报", {"实际完成值": (1, 11)}, 6)):
        copy = pickle.loads(pickle.dumps(marker))
        assert copy.__class__ is marker.__class__
    copy = pickle.loads(pickle.dumps(Formatted(0.582, PERCENT, "0.0%")))
    assert float(copy) == 0.582 and copy.kind == PERCENT and copy.code == "0.0%"
    assert pickle.loads(pickle.dumps(_Layout("填报", {}, 6))).header_row == 6


def test_run_with_absurd_numbers_writes_only_finite_workbooks(tmp_path, scheme, inbox):
    # "1e400" used to crash run (OverflowError) or write <v>INF</v>, and then 汇总表 would not open
    import zipfile
    from datetime import date

    from kaohe_excel.jobs.pipeline import run

    fill_unit(inbox / FILES["T01"], {"A1": "1e400", "A3": 1e308})
    fill_unit(inbox / FILES["T02"], {"C2": -1e308})
    before = digest(inbox)
    outcome = run(inbox, scheme.path, out_root=tmp_path / "outputs", allow_errors=True, issued_on=date(2025, 1, 20),
                  template_dir=tmp_path / "none", workers=1)
    assert digest(inbox) == before
    workbooks = [p for p in outcome.folder.rglob("*.xlsx") if "inputs" not in p.parts]
    assert workbooks
    for path in workbooks:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.startswith("xl/worksheets/"):
                    xml = archive.read(member).lower()
                    assert b"<v>inf" not in xml and b"<v>-inf" not in xml and b"<v>nan" not in xml, (path.name, member)
    scored = outcome.results.scored.set_index(["unit_code", "indicator_code"])
    assert scored.loc[("T01", "A1"), "status"] == scored.loc[("T01", "A3"), "status"] == scored.loc[("T02", "C2"), "status"] == "unscored"
    assert scored.loc[("T05", "A3"), "score"] == pytest.approx(7.88)  # the peers of T01 keep their scores
