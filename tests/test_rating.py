"""测评 (rater-based evaluation): ballots in, the unit's value and score out, computed by hand here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import fill_ballot, fill_paper, fill_tally, rating_sheets, write_workbook
from kaohe_excel.base.errors import SchemeInvalid
from kaohe_excel.jobs.pipeline import read_and_validate, score_period
from kaohe_excel.outputs.rating_template import write_rating_workbooks
from kaohe_excel.scheme.workbook import load_scheme

UNITS = ["T01", "T02", "D01", "D02"]


@pytest.fixture
def rated(tmp_path: Path):
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", rating_sheets()))
    inbox = tmp_path / "inbox"
    paths = {p.name: p for p in write_rating_workbooks(scheme, inbox)}
    ballots = {  # T01, T02, D01, D02; the group's limit is floor(4 × 50%) = 2 优秀 per ballot
        1: ["优秀", None, "优秀", "基本称职"],  # 2 优秀: at the limit, valid; T02 abstains
        2: ["优秀", "优秀", "优秀", "称职"],  # 3 优秀: void
        3: ["称职", "称职", "称职", "称职"],  # all the same: void
        4: [None, None, None, None],  # blank
        5: ["称职", None, "优秀", "不称职"],  # 1 优秀: just under, valid
    }
    for number, marks in ballots.items():
        fill_ballot(paths[f"测评票_M1_县领导_{number}.xlsx"], marks)
    fill_paper(paths["测评录入表_M1_干部职工.xlsx"], [
        [1, "优秀", "称职", "称职", "称职"],
        [2, "称职", "基本称职", "称职", "不称职"],
        [3, "称职", "基本称职", "基本称职", None],
        [4, "基本称职", "优秀", "优秀", "称职"],
    ])
    fill_tally(paths["测评汇总表_M1_服务对象.xlsx"], [[6, 3, 1, 0], [0, 2, 1, 1]])  # D01, D02
    return scheme, inbox


def test_values_and_scores_by_hand(rated):
    scheme, inbox = rated
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    validated = read_and_validate(scheme, inbox)
    # 县领导 (valid ballots 1 and 5; 2 marks per unit ≤ 3: no trim):
    #   T01 (100+80)/2 = 90, T02 none, D01 (100+100)/2 = 100, D02 (60+0)/2 = 30
    # 干部职工 (4 paper ballots; more than 去极值人数 3 → drop one highest, one lowest):
    #   T01 100,80,80,60 → 80; T02 80,60,60,100 → 70; D01 80,80,60,100 → 80; D02 80,0,80 (exactly 3: no trim) → 53.333…
    # 服务对象 (汇总, 部门 only): D01 (6×100+3×80+1×60)/10 = 90; D02 (2×80+1×60+1×0)/4 = 55
    expected = {
        "T01": (0.2 * 90 + 0.4 * 80) / 0.6,  # 83.333… → 83.33
        "T02": 70.0,  # only 干部职工 rated it: weight renormalized
        "D01": 0.2 * 100 + 0.4 * 80 + 0.4 * 90,  # 88
        "D02": 0.2 * 30 + 0.4 * 160 / 3 + 0.4 * 55,  # 49.333… → 49.33
    }
    values = validated.values[validated.values["indicator_code"] == "R1"].set_index("unit_code")["value"]
    assert values.to_dict() == {"T01": 83.33, "T02": 70.0, "D01": 88.0, "D02": 49.33}
    assert all(abs(values[u] - round(v, 2)) < 1e-9 for u, v in expected.items())
    results = score_period(scheme, validated)
    scores = results.scored[results.scored["indicator_code"] == "R1"].set_index("unit_code")
    # 完成率 with 目标值 100: 10 × value / 100, half-up to 2 decimals
    assert scores["score"].to_dict() == {"T01": 8.33, "T02": 7.0, "D01": 8.8, "D02": 4.93}
    assert "干部职工 4 票有效，去掉最高 100、最低 60，均值 80" in scores.loc["T01", "explanation"]
    assert "县领导 无有效评价" in scores.loc["T02", "explanation"]
    issues = validated.issues_table
    void = issues[issues["code"] == "rating_void_ballot"]
    assert len(void) == 3  # ballots 2 (over the limit), 3 (all same), 4 (blank)
    assert void["file"].tolist() == ["测评票_M1_县领导_2.xlsx", "测评票_M1_县领导_3.xlsx", "测评票_M1_县领导_4.xlsx"]
    assert "超过每票优秀上限 2 个" in void["message"].iat[0]
    assert issues["code"].eq("rating_low_participation").sum() == 1  # 县领导 2 valid of 5 = 40% < 80%
    assert (issues["code"].eq("rating_group_absent") & issues["unit"].eq("T02")).sum() == 1
    # no output names a rater; the inbox is read byte for byte unchanged
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()} == digest


def test_mark_outside_grades_is_reported_at_its_cell(rated):
    scheme, inbox = rated
    fill_ballot(inbox / "测评票_M1_县领导_5.xlsx", ["称职", None, "很好", "不称职"])
    issues = read_and_validate(scheme, inbox).issues_table
    bad = issues[(issues["code"] == "invalid_grade")]
    assert bad[["file", "sheet", "cell", "unit", "severity"]].values.tolist() == [
        ["测评票_M1_县领导_5.xlsx", "测评票", "D6", "D01", "错误"]]


def test_duplicate_ballot_number_is_an_error(rated):
    scheme, inbox = rated
    fill_paper(inbox / "测评录入表_M1_干部职工.xlsx", [[1, "称职", "称职", "优秀", "称职"], [1, "称职", "称职", "优秀", "称职"],
                                                  [2, "称职", "称职", "优秀", "称职"], [3, "称职", "称职", "优秀", "称职"]])
    issues = read_and_validate(scheme, inbox).issues_table
    dup = issues[issues["code"] == "rating_duplicate_ballot"]
    assert len(dup) == 1 and dup["severity"].iat[0] == "错误" and "票号 1 出现了 2 次" in dup["message"].iat[0]


def test_unsigned_ballot_is_not_used(rated, tmp_path):
    scheme, inbox = rated
    path = inbox / "测评票_M1_县领导_1.xlsx"
    workbook = load_workbook(path)
    workbook["_kaohe"].cell(row=workbook["_kaohe"].max_row, column=2, value="0" * 64)
    workbook.save(path)
    issues = read_and_validate(scheme, inbox).issues_table
    assert ((issues["code"] == "origin_forged") & (issues["file"] == path.name)).sum() == 1


def test_score_mode_top_mark_and_trim(tmp_path):
    # 打分 out of 10: a mark ≥ 9 counts as top; 去极值人数 2
    sheets = rating_sheets(
        ratings={"测评代码": ["M1"], "测评名称": ["领导评价"], "指标代码": ["R1"], "评价方式": ["打分"], "等级分值": [None],
                 "满分": [10], "去极值人数": [2], "每票优秀上限": [1], "全同无效": ["否"], "参评率下限": [None]},
        raters={"测评代码": ["M1"], "测评人类别": ["县领导"], "权重": [1], "应参评人数": [4], "评价对象": ["全部"],
                "收集方式": ["纸质票"]})
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    inbox = tmp_path / "inbox"
    write_rating_workbooks(scheme, inbox)
    fill_paper(inbox / "测评录入表_M1_县领导.xlsx", [
        [1, 9, 8, 7, 6],  # one top mark (9): at the limit 1, valid
        [2, 9, 9, 5, 5],  # two top marks: void
        [3, 5, 8, 8, 8],
        [4, 10, 7, 6, 11],  # 11 is outside 0–10: an error at E7, the rest counts
    ])
    validated = read_and_validate(scheme, inbox)
    # T01: 9,5,10 → 3 > 2: drop 10 and 5 → 9 → 90 on the 100 scale
    # T02: 8,8,7 → drop 8,7 → 8 → 80; D01: 7,8,6 → 7 → 70; D02: 6,8 (2 = 去极值人数: no trim) → 7 → 70
    values = validated.values[validated.values["indicator_code"] == "R1"].set_index("unit_code")["value"].to_dict()
    assert values == {"T01": 90.0, "T02": 80.0, "D01": 70.0, "D02": 70.0}
    issues = validated.issues_table
    assert issues.loc[issues["code"] == "invalid_grade", "cell"].tolist() == ["E7"]


@pytest.mark.parametrize("change, text", [
    ({"权重": [20, 40, 30]}, "合计应为 100"),
    ({"收集方式": ["电子票", "纸质票", "汇总"], "评价对象": ["全部", "全部", "机关"]}, "「机关」不是单位表中的考核类别"),
])
def test_scheme_rater_problems(tmp_path, change, text):
    raters = {"测评代码": ["M1", "M1", "M1"], "测评人类别": ["县领导", "干部职工", "服务对象"], "权重": [20, 40, 40],
              "应参评人数": [5, 4, None], "评价对象": ["全部", "全部", "部门"], "收集方式": ["电子票", "纸质票", "汇总"]}
    raters.update(change)
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "scheme.xlsx", rating_sheets(raters=raters)))
    assert text in str(caught.value) or any(text in item[2] for item in caught.value.problems)


@pytest.mark.parametrize("trim", [0, 1])
def test_scheme_trim_count_that_would_drop_every_mark_is_an_error(tmp_path, trim):
    # 去极值人数 1: a unit with 2 valid marks has "more than 1" and would lose its highest and its
    # lowest, i.e. both, leaving no mean for a group whose weight still counts
    sheets = rating_sheets()
    sheets["测评"]["去极值人数"] = [trim]
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    assert any("去极值人数" in item[2] and "不小于2" in item[2] for item in caught.value.problems)
    sheets["测评"]["去极值人数"] = [2]
    assert load_scheme(write_workbook(tmp_path / "ok.xlsx", sheets)) is not None


def test_scheme_tally_with_scores_and_indicator_without_rating(tmp_path):
    sheets = rating_sheets(
        ratings={"测评代码": ["M1"], "测评名称": ["领导评价"], "指标代码": ["R1"], "评价方式": ["打分"], "等级分值": [None],
                 "满分": [100], "去极值人数": [None], "每票优秀上限": [None], "全同无效": [None], "参评率下限": [None]},
        raters={"测评代码": ["M1"], "测评人类别": ["服务对象"], "权重": [100], "应参评人数": [None], "评价对象": ["全部"],
                "收集方式": ["汇总"]})
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    assert any("只能用于等级评价" in item[2] for item in caught.value.problems)
    sheets = rating_sheets()
    del sheets["测评"], sheets["测评人"]
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "scheme2.xlsx", sheets))
    assert any("没有对应的测评" in item[2] for item in caught.value.problems)


def test_summary_sheets(rated, tmp_path):
    from kaohe_excel.outputs import report

    scheme, inbox = rated
    validated = read_and_validate(scheme, inbox)
    results = score_period(scheme, validated)
    path = report.write_summary(tmp_path / "汇总表.xlsx", scheme.meta, scheme.grades, results.scored, results.ranked,
                                results.adjustments, validated.values, validated.issues_table, validated.missing_units,
                                ratings=validated.ratings, scheme=scheme)
    workbook = load_workbook(path)
    rows = [[c for c in r] for r in workbook["测评结果"].iter_rows(values_only=True)]
    header = rows[1]
    d01 = [dict(zip(header, r)) for r in rows[2:] if r[1] == "D01"]
    assert {r["测评人类别"]: r["平均分"] for r in d01} == {"县领导": 100, "干部职工": 80, "服务对象": 90}
    assert {r["测评值"] for r in d01} == {88}
    checks = [[c for c in r] for r in workbook["测评票校验"].iter_rows(values_only=True)]
    leaders = [r for r in checks if r[1] == "县领导" and r[2] == "电子票"][0]
    assert leaders[3:9] == (5, 5, 2, 2, 1, "40.0%")[:6] or list(leaders[3:9]) == [5, 5, 2, 2, 1, "40.0%"]
    start = next(i for i, r in enumerate(checks) if "处理" in r)
    listed = [dict(zip(checks[start], r)) for r in checks[start + 1:] if r and r[0] == "M1"]
    assert [r["处理"] for r in listed] == ["作废（超过每票优秀上限）", "作废（全部评价相同）", "空白票"]


def test_run_archives_ballots_and_verify_rederives(rated, tmp_path):
    from kaohe_excel.jobs import pipeline

    scheme, inbox = rated
    out = tmp_path / "out"
    outcome = pipeline.run(inbox, scheme.path, out_root=out, allow_errors=True, workers=1,
                           template_dir=tmp_path / "no-templates")
    summary = load_workbook(outcome.folder / "汇总表.xlsx", read_only=True)
    assert {"测评结果", "测评票校验"} <= set(summary.sheetnames)
    archived = {p.name for p in outcome.folder.rglob("测评*.xlsx")}
    assert "测评票_M1_县领导_2.xlsx" in archived and "测评录入表_M1_干部职工.xlsx" in archived
    report = pipeline.verify_period(out, scheme.meta.period)
    assert report.ok, report.lines()


def test_unit_without_any_mark_is_missing(rated):
    scheme, inbox = rated
    (inbox / "测评录入表_M1_干部职工.xlsx").unlink()
    (inbox / "测评汇总表_M1_服务对象.xlsx").unlink()
    fill_ballot(inbox / "测评票_M1_县领导_1.xlsx", ["优秀", None, "优秀", None])
    fill_ballot(inbox / "测评票_M1_县领导_5.xlsx", ["称职", None, "优秀", None])
    validated = read_and_validate(scheme, inbox)
    issues = validated.issues_table
    missing = issues[(issues["code"] == "missing_value") & (issues["indicator"] == "R1")]
    assert sorted(missing["unit"]) == ["D02", "T02"] and set(missing["severity"]) == {"错误"}
    values = validated.values[validated.values["indicator_code"] == "R1"].set_index("unit_code")["value"].to_dict()
    assert values == {"T01": 90.0, "D01": 100.0}  # 县领导 alone: its mean is the value


# ---------------------------------------------------------------- silent paths closed (w-guard-rating)
# The fixture's values are T01 83.33, T02 70, D01 88, D02 49.33 (test_values_and_scores_by_hand).
# Rows: a 电子票 lists T01..D02 in rows 4..7 with the mark in D; the 纸质票 table has 票号 in A and
# T01..D02 in B..E, ballots in rows 4..7; the 汇总 table lists D01 (row 4) and D02 (row 5) with
# 优秀、称职、基本称职、不称职 in C..F.

def r1_values(validated) -> dict[str, float]:
    return validated.values[validated.values["indicator_code"] == "R1"].set_index("unit_code")["value"].to_dict()


def issues_of(validated, code: str) -> list[list]:
    issues = validated.issues_table
    return issues.loc[issues["code"] == code, ["severity", "file", "sheet", "cell"]].values.tolist()


def edit_sheet(path: Path, sheet: str, change) -> None:
    workbook = load_workbook(path)
    change(workbook[sheet])
    workbook.save(path)


def test_formula_mark_without_cached_value_is_an_error_not_an_abstention(rated):
    scheme, inbox = rated
    ballot = "测评票_M1_县领导_5.xlsx"
    # openpyxl stores a formula without its result, as a file never opened in Excel would be
    edit_sheet(inbox / ballot, "测评票", lambda sheet: sheet.__setitem__("D7", '=IF(1,"不称职","优秀")'))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "formula_without_value") == [["错误", ballot, "测评票", "D7"]]
    # the formula's mark is left out: 县领导 D02 = 60 (ballot 1 alone);
    # D02 = 0.2 × 60 + 0.4 × 160/3 + 0.4 × 55 = 55.333… → 55.33; the others unchanged
    assert r1_values(validated) == {"T01": 83.33, "T02": 70.0, "D01": 88.0, "D02": 55.33}


def test_formula_vote_count_is_an_error_and_the_units_counts_are_left_out(rated):
    scheme, inbox = rated
    tally = "测评汇总表_M1_服务对象.xlsx"
    edit_sheet(inbox / tally, "测评汇总", lambda sheet: sheet.__setitem__("C4", "=3+3"))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "formula_without_value") == [["错误", tally, "测评汇总", "C4"]]
    # D01 without 服务对象: (0.2 × 100 + 0.4 × 80) / 0.6 = 86.666… → 86.67 (not 0 votes for 优秀, which gave 82)
    assert r1_values(validated) == {"T01": 83.33, "T02": 70.0, "D01": 86.67, "D02": 49.33}


def test_two_paper_entry_tables_of_one_group_name_both_and_neither_counts(rated):
    scheme, inbox = rated
    first = inbox / "测评录入表_M1_干部职工.xlsx"
    second = inbox / "补录" / first.name
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())
    # the two halves of the group's ballots, in two tables: counting both would look like a whole set
    fill_paper(first, [[1, "优秀", "称职", "称职", "称职"], [2, "称职", "基本称职", "称职", "不称职"], [None] * 5, [None] * 5])
    fill_paper(second, [[3, "称职", "基本称职", "基本称职", None], [4, "基本称职", "优秀", "优秀", "称职"], [None] * 5, [None] * 5])
    validated = read_and_validate(scheme, inbox)
    issues = validated.issues_table
    twice = issues[issues["code"] == "duplicate_submission"]
    assert len(twice) == 1 and twice["severity"].iat[0] == "错误"
    assert first.name in twice["file"].iat[0] and "补录" in twice["file"].iat[0] and "其中的票均未计入" in twice["message"].iat[0]
    # without 干部职工: T01 = 县领导 90; T02 has no group left (missing, an error);
    # D01 = (0.2 × 100 + 0.4 × 90) / 0.6 = 93.333… → 93.33; D02 = (0.2 × 30 + 0.4 × 55) / 0.6 = 46.666… → 46.67
    assert r1_values(validated) == {"T01": 90.0, "D01": 93.33, "D02": 46.67}
    missing = issues[(issues["code"] == "missing_value") & (issues["indicator"] == "R1")]
    assert missing["unit"].tolist() == ["T02"]


def test_two_tally_tables_of_one_group_name_both_and_neither_counts(rated):
    scheme, inbox = rated
    first = inbox / "测评汇总表_M1_服务对象.xlsx"
    second = inbox / "第三方" / first.name
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())
    fill_tally(second, [[9, 1, 0, 0], [1, 1, 1, 1]])
    validated = read_and_validate(scheme, inbox)
    twice = validated.issues_table[validated.issues_table["code"] == "duplicate_submission"]
    assert len(twice) == 1 and first.name in twice["file"].iat[0] and "第三方" in twice["file"].iat[0]
    # without 服务对象: D01 = (20 + 0.4 × 80) / 0.6 = 86.666… → 86.67; D02 = (0.2 × 30 + 0.4 × 160/3) / 0.6 = 45.555… → 45.56
    assert r1_values(validated) == {"T01": 83.33, "T02": 70.0, "D01": 86.67, "D02": 45.56}


# 干部职工 without paper ballot 4 (row 7): T01 100,80,80 → 86.67 (3 marks = 去极值人数: no trim);
# T02 80,60,60 → 66.67; D01 80,80,60 → 73.33; D02 80,0 → 40. Weighted with 县领导 and 服务对象:
# T01 (0.2 × 90 + 0.4 × 260/3) / 0.6 = 87.777… → 87.78; T02 66.67;
# D01 0.2 × 100 + 0.4 × 220/3 + 0.4 × 90 = 85.333… → 85.33; D02 0.2 × 30 + 0.4 × 40 + 0.4 × 55 = 44
WITHOUT_PAPER_4 = {"T01": 87.78, "T02": 66.67, "D01": 85.33, "D02": 44.0}


@pytest.mark.parametrize("number, code, words", [
    (9, "rating_ballot_out_of_range", "不是 1–4 的整数（应参评人数 4）"),
    (0, "rating_ballot_out_of_range", "不是 1–4 的整数"),
    (2.5, "rating_ballot_out_of_range", "不是 1–4 的整数"),
    (None, "rating_ballot_number_missing", "请在 A7 填写这张纸质票上印的票号（1–4 的整数）"),
])
def test_paper_ballot_number_outside_the_range_or_blank_is_an_error_at_its_cell(rated, number, code, words):
    scheme, inbox = rated
    paper = "测评录入表_M1_干部职工.xlsx"
    edit_sheet(inbox / paper, "测评录入", lambda sheet: sheet.__setitem__("A7", number))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, code) == [["错误", paper, "测评录入", "A7"]]
    message = validated.issues_table.set_index("code").loc[code, "message"]
    assert words in message and "这张票未计入" in message
    assert issues_of(validated, "rating_duplicate_ballot") == []  # a missing number is not a duplicate
    assert r1_values(validated) == WITHOUT_PAPER_4


def test_score_marks_in_full_width_digits_or_with_fen_are_read_with_a_warning(tmp_path):
    sheets = rating_sheets(
        ratings={"测评代码": ["M1"], "测评名称": ["领导评价"], "指标代码": ["R1"], "评价方式": ["打分"], "等级分值": [None],
                 "满分": [10], "去极值人数": [2], "每票优秀上限": [1], "全同无效": ["否"], "参评率下限": [None]},
        raters={"测评代码": ["M1"], "测评人类别": ["县领导"], "权重": [1], "应参评人数": [4], "评价对象": ["全部"],
                "收集方式": ["纸质票"]})
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    inbox = tmp_path / "inbox"
    write_rating_workbooks(scheme, inbox)
    paper = "测评录入表_M1_县领导.xlsx"
    fill_paper(inbox / paper, [
        [1, "９", 8, 7, 6],  # full-width 9: one top mark, at the limit 1
        [2, 9, 9, 5, 5],  # two top marks: void
        [3, "5分", 8, 8, 8],
        [4, 10, 7, 6, "8%"],  # 8% of what: an error at E7, never a guess
    ])
    validated = read_and_validate(scheme, inbox)
    # as with plain numbers: T01 9,5,10 → 3 > 2: drop 10 and 5 → 9 → 90; T02 8,8,7 → 8 → 80;
    # D01 7,8,6 → 7 → 70; D02 6,8 (2 = 去极值人数: no trim) → 7 → 70
    assert r1_values(validated) == {"T01": 90.0, "T02": 80.0, "D01": 70.0, "D02": 70.0}
    issues = validated.issues_table
    normalized = issues[issues["code"] == "normalized_value"]
    assert normalized[["severity", "file", "sheet", "cell", "unit"]].values.tolist() == [
        ["警告", paper, "测评录入", "B4", "T01"], ["警告", paper, "测评录入", "B6", "T01"]]
    assert "已按 9 读取" in normalized["message"].iat[0] and "已按 5 读取" in normalized["message"].iat[1]
    assert issues.loc[issues["code"] == "invalid_grade", "cell"].tolist() == ["E7"]


def test_hidden_row_holding_a_mark_is_an_error_and_not_counted(rated):
    scheme, inbox = rated
    ballot = "测评票_M1_县领导_5.xlsx"
    edit_sheet(inbox / ballot, "测评票", lambda sheet: setattr(sheet.row_dimensions[7], "hidden", True))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "hidden_cells") == [["错误", ballot, "测评票", "D7"]]
    assert r1_values(validated) == {"T01": 83.33, "T02": 70.0, "D01": 88.0, "D02": 55.33}  # D02's 不称职 left out, as above


def test_hidden_column_in_a_ballot_leaves_the_whole_ballot_out(rated):
    scheme, inbox = rated
    ballot = "测评票_M1_县领导_1.xlsx"
    edit_sheet(inbox / ballot, "测评票", lambda sheet: setattr(sheet.column_dimensions["E"], "hidden", True))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "hidden_cells") == [["错误", ballot, "测评票", "E3"]]
    # 县领导 is ballot 5 alone: T01 80, T02 none, D01 100, D02 0
    # T01 (0.2 × 80 + 0.4 × 80) / 0.6 = 80; D01 20 + 32 + 36 = 88; D02 0 + 0.4 × 160/3 + 22 = 43.333… → 43.33
    assert r1_values(validated) == {"T01": 80.0, "T02": 70.0, "D01": 88.0, "D02": 43.33}
    void = validated.issues_table[validated.issues_table["code"] == "rating_void_ballot"]
    assert ballot not in void["file"].tolist()  # not reported as a blank ballot: it was never read


def test_hidden_paper_row_leaves_its_ballot_out(rated):
    scheme, inbox = rated
    paper = "测评录入表_M1_干部职工.xlsx"
    edit_sheet(inbox / paper, "测评录入", lambda sheet: setattr(sheet.row_dimensions[7], "hidden", True))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "hidden_cells") == [["错误", paper, "测评录入", "A7"]]
    assert r1_values(validated) == WITHOUT_PAPER_4


@pytest.mark.parametrize("count, code", [(-1, "invalid_count"), (2.5, "invalid_count"), ("1e400", "non_finite_value"),
                                         ("很多", "not_a_number")])
def test_tally_count_negative_fractional_or_not_finite_is_an_error_and_the_unit_row_is_left_out(rated, count, code):
    scheme, inbox = rated
    tally = "测评汇总表_M1_服务对象.xlsx"
    edit_sheet(inbox / tally, "测评汇总", lambda sheet: sheet.__setitem__("C4", count))
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, code) == [["错误", tally, "测评汇总", "C4"]]
    # D01's other counts are not averaged without its 优秀 (that would give 75 and D01 82):
    # D01 = (0.2 × 100 + 0.4 × 80) / 0.6 = 86.67
    assert r1_values(validated) == {"T01": 83.33, "T02": 70.0, "D01": 86.67, "D02": 49.33}


def test_score_mark_shown_in_percent_format_is_an_error_not_its_stored_number(tmp_path):
    sheets = rating_sheets(
        ratings={"测评代码": ["M1"], "测评名称": ["领导评价"], "指标代码": ["R1"], "评价方式": ["打分"], "等级分值": [None],
                 "满分": [10], "去极值人数": [None], "每票优秀上限": [None], "全同无效": ["否"], "参评率下限": [None]},
        raters={"测评代码": ["M1"], "测评人类别": ["县领导"], "权重": [1], "应参评人数": [2], "评价对象": ["全部"],
                "收集方式": ["纸质票"]})
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", sheets))
    inbox = tmp_path / "inbox"
    write_rating_workbooks(scheme, inbox)
    paper = inbox / "测评录入表_M1_县领导.xlsx"
    fill_paper(paper, [[1, 8, 8, 8, 8], [2, 0.9, 6, 6, 6]])
    edit_sheet(paper, "测评录入", lambda sheet: setattr(sheet["B5"], "number_format", "0%"))  # 0.9 shows as 90%
    validated = read_and_validate(scheme, inbox)
    assert issues_of(validated, "number_format") == [["错误", paper.name, "测评录入", "B5"]]
    # T01 keeps ballot 1 alone: 8 of 10 → 80 (not (8 + 0.9) / 2 → 44.5); the others (8 + 6) / 2 = 7 → 70
    assert r1_values(validated) == {"T01": 80.0, "T02": 70.0, "D01": 70.0, "D02": 70.0}


def test_a_mark_hidden_by_its_cell_format_is_an_error_and_not_counted(rated):
    """";;;" shows nothing, '0;0;0;"称职"' shows 称职 whatever was typed: the office would not see
    the mark that is counted. Each is an 错误 at its cell; that mark alone is left out."""
    scheme, inbox = rated
    ballot = "测评票_M1_县领导_1.xlsx"
    paper = "测评录入表_M1_干部职工.xlsx"
    edit_sheet(inbox / ballot, "测评票", lambda sheet: setattr(sheet["D4"], "number_format", ";;;"))  # T01 优秀
    edit_sheet(inbox / paper, "测评录入", lambda sheet: setattr(sheet["C5"], "number_format", '0;0;0;"称职"'))  # 票号2 T02 基本称职
    validated = read_and_validate(scheme, inbox)
    assert sorted(issues_of(validated, "number_format")) == sorted([["错误", ballot, "测评票", "D4"], ["错误", paper, "测评录入", "C5"]])
    # 县领导 T01: only ballot 5's 称职 → 80 (ballot 1 stays valid: 2 marks, 1 优秀); T01 = (0.2×80 + 0.4×80)/0.6 = 80
    # 干部职工 T02: 80 (票号1), 60 (票号3), 100 (票号4): 3 marks = 去极值人数, no trim → 80; only 干部职工 rated T02
    # D01 and D02 as in test_values_and_scores_by_hand
    assert r1_values(validated) == {"T01": 80.0, "T02": 80.0, "D01": 88.0, "D02": 49.33}
    hidden = validated.issues_table[validated.issues_table["code"] == "hidden_cells"]
    assert hidden.empty  # not reported as a hidden row: the paper ballot's other marks count
