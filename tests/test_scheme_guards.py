"""Scheme authoring slips: each one is either read the one way it can mean (percent or ratio,
the score checked by hand) or is a scheme error naming sheet, Excel row and column."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import small_scheme_sheets, write_workbook
from kaohe_excel.base.errors import SchemeInvalid
from kaohe_excel.scheme.workbook import (
    BASE_SHARE_RULE,
    CAP_RULE,
    LOWER_RULE,
    QUOTA_RULE,
    TIER_SHARE_RULE,
    TOLERANCE_RULE,
    WEIGHT_RULE,
    load_scheme,
    read_share,
)
from kaohe_excel.scoring.score import compute_totals, score_indicators


def small() -> dict[str, pd.DataFrame]:
    """The small scheme of conftest with object columns, so any cell can take a text or a number."""
    return {name: frame.astype(object) for name, frame in small_scheme_sheets().items()}


def problems_of(tmp_path, sheets) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "bad.xlsx", sheets))
    return caught.value.problems


def the_problem(tmp_path, sheets, text: str) -> tuple[str, int | None, str]:
    problems = problems_of(tmp_path, sheets)
    matches = [p for p in problems if text in p[2]]
    assert len(matches) == 1, problems
    return matches[0]


def score_of(scheme, values: dict[tuple[str, str], object]) -> pd.DataFrame:
    """Score the scheme's assignments with the given values (a str is a 定性 grade)."""
    frame = scheme.assignments()
    frame = frame[[key in values for key in zip(frame["unit_code"], frame["indicator_code"])]].copy()
    typed = [values[key] for key in zip(frame["unit_code"], frame["indicator_code"])]
    frame["value"] = [math.nan if isinstance(v, str) else float(v) for v in typed]
    frame["text_value"] = [v if isinstance(v, str) else None for v in typed]
    frame["unscored"] = False
    return score_indicators(frame, scheme.tier_tables).set_index(["unit_code", "indicator_code"])


def with_tiers(sheets, rows: list[tuple]) -> dict:
    """Append tier rows (档次表, 下限, 等级, 得分比例) after the four 定性 rows (Excel rows 2–5)."""
    extra = pd.DataFrame(rows, columns=["档次表", "下限", "等级", "得分比例"])
    sheets["档次表"] = pd.concat([sheets["档次表"].astype(object), extra.astype(object)], ignore_index=True)
    return sheets


def tiered_a1(sheets, rows: list[tuple]) -> dict:
    """A1 (40 points, target 100 for T01) scored 阶梯 by the tier table 阶梯 given as (下限, 得分比例) rows."""
    sheets["指标"].loc[0, "计分方法"] = "阶梯"
    sheets["指标"].loc[0, "档次表"] = "阶梯"
    return with_tiers(sheets, [("阶梯", lower, None, share) for lower, share in rows])


# ---------------------------------------------------------------- the one percent-or-ratio rule

@pytest.mark.parametrize("rule, written, ratio", [
    (TIER_SHARE_RULE, "80%", 0.8),
    (TIER_SHARE_RULE, "８０％", 0.8),
    (TIER_SHARE_RULE, 0.8, 0.8),
    (TIER_SHARE_RULE, 80, 0.8),
    (TIER_SHARE_RULE, "80", 0.8),
    (TIER_SHARE_RULE, 1.2, 1.2),  # an over-completion tier written as a ratio
    (BASE_SHARE_RULE, 60, 0.6),  # only meaningful as percent
    (BASE_SHARE_RULE, 1, 1.0),
    (CAP_RULE, 1.2, 1.2),
    (CAP_RULE, 120, 1.2),
    (CAP_RULE, "120%", 1.2),
    (LOWER_RULE, 90, 0.9),
    (LOWER_RULE, 1.2, 1.2),
    (QUOTA_RULE, "20%", 0.2),
    (QUOTA_RULE, 20, 0.2),
    (WEIGHT_RULE, 30, 0.3),
    (WEIGHT_RULE, 0.3, 0.3),
    (WEIGHT_RULE, 0, 0.0),
])
def test_share_read_as_percent_or_ratio(rule, written, ratio):
    reading = read_share(written, rule)
    assert reading.error == ""
    assert reading.value == pytest.approx(ratio)


@pytest.mark.parametrize("rule, written, text", [
    (BASE_SHARE_RULE, 2, "无法确定含义"),  # 2 is neither a share of 1 nor a credible 2%
    (BASE_SHARE_RULE, 150, "无法确定含义"),
    (BASE_SHARE_RULE, "150%", "应在 0%–100% 之间"),
    (BASE_SHARE_RULE, -0.1, "应在 0%–100% 之间"),
    (CAP_RULE, 0.5, "不小于 100%"),
    (CAP_RULE, 50, "读作 50%"),
    (CAP_RULE, 4, "无法确定含义"),
    (QUOTA_RULE, "1.5", "无法确定含义"),
    (TIER_SHARE_RULE, "1e400", "应为数字"),
    (TIER_SHARE_RULE, float("inf"), "应为数字"),
    (TIER_SHARE_RULE, "nan", "应为数字"),
    (TIER_SHARE_RULE, "八成", "应为数字"),
    (TIER_SHARE_RULE, True, "应为数字"),
    (TOLERANCE_RULE, 1, "不小于 0% 且小于 100%"),
])
def test_share_that_cannot_be_read_is_an_error(rule, written, text):
    reading = read_share(written, rule)
    assert math.isnan(reading.value)
    assert text in reading.error


# ---------------------------------------------------------------- 档次表

def test_tier_lower_written_as_percent_scores_like_the_ratio(tmp_path):
    # T01: 95 of target 100 → ratio 0.95 → tier 90% → 40 × 0.8 = 32; T02: 70 of 80 → 0.875 → tier 80% → 40 × 0.6 = 24
    values = {("T01", "A1"): 95, ("T02", "A1"): 70}
    expected = {"T01": 32.0, "T02": 24.0}
    for name, rows in {"percent": [(100, 100), (90, 80), (80, 60)],
                       "ratio": [(1, 1), (0.9, 0.8), (0.8, 0.6)],
                       "percent text": [("100%", "100%"), ("90%", "80%"), ("80%", "60%")]}.items():
        scheme = load_scheme(write_workbook(tmp_path / f"{name}.xlsx", tiered_a1(small(), rows)))
        scored = score_of(scheme, values)
        assert {u: scored.loc[(u, "A1"), "score"] for u in expected} == expected, name


@pytest.mark.parametrize("shares", [[1, 0.8, 0.6, 0.3], [100, 80, 60, 30], ["100%", "80%", "60%", "30%"]])
def test_qualitative_shares_as_ratio_or_percent(tmp_path, shares):
    sheets = small()
    sheets["档次表"]["得分比例"] = shares
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    # C1 定性, P 10: 良 → 10 × 0.8 = 8; 差 → 10 × 0.3 = 3
    scored = score_of(scheme, {("T01", "C1"): "良", ("T02", "C1"): "差"})
    assert [scored.loc[(u, "C1"), "score"] for u in ("T01", "T02")] == [8.0, 3.0]


def test_tier_table_in_excel_percent_format_reads_as_shown(tmp_path):
    path = write_workbook(tmp_path / "s.xlsx", tiered_a1(small(), [(1, 1), (0.9, 0.8), (0.8, 0.6)]))
    workbook = load_workbook(path)
    for row in workbook["档次表"].iter_rows(min_row=6, max_row=8, min_col=2, max_col=4):
        for cell in row:
            cell.number_format = "0%"  # Excel shows 100%, 90% …; the cell holds 1, 0.9 …
    workbook.save(path)
    scored = score_of(load_scheme(path), {("T01", "A1"): 95})
    assert scored.loc[("T01", "A1"), "score"] == 32.0


def test_tier_lower_mixing_ratio_and_percent_is_an_error_at_the_odd_row(tmp_path):
    sheets = tiered_a1(small(), [(1, 1), (90, 0.8), (80, 0.6)])  # Excel rows 6, 7, 8
    sheet, row, text = the_problem(tmp_path, sheets, "请统一写成比例")
    assert (sheet, row) == ("档次表", 6)
    assert "「下限」（B列）写 1" in text and "档次表「阶梯」" in text and "90、80" in text


def test_tier_share_mixing_ratio_and_percent_is_an_error(tmp_path):
    sheets = tiered_a1(small(), [(1, 100), (0.9, 80), (0.8, 0.6)])
    sheet, row, text = the_problem(tmp_path, sheets, "请统一写成比例")
    assert (sheet, row) == ("档次表", 8)
    assert "「得分比例」（D列）写 0.6" in text


def test_tier_share_falling_as_the_lower_rises_is_an_error(tmp_path):
    sheets = tiered_a1(small(), [(1, 0.6), (0.9, 0.8), (0.8, 0.5)])  # rows 6, 7, 8
    sheet, row, text = the_problem(tmp_path, sheets, "不应越低")
    assert (sheet, row) == ("档次表", 6)
    assert "下限 100% 的「得分比例」（D列）60%低于下限 90% 的 80%" in text


def test_duplicate_tier_lower_and_duplicate_level_are_errors(tmp_path):
    sheets = tiered_a1(small(), [(1, 1), (0.9, 0.8), (0.9, 0.6)])
    sheets["档次表"].loc[1, "等级"] = "优"  # row 3 repeats 优 of row 2
    problems = problems_of(tmp_path, sheets)
    assert [(p[0], p[1]) for p in problems if "重复" in p[2]] == [("档次表", 3), ("档次表", 8)]


def test_tier_share_empty_or_junk_is_an_error(tmp_path):
    sheets = tiered_a1(small(), [(1, 1), (0.9, "八成"), (0.8, None)])
    problems = problems_of(tmp_path, sheets)
    assert ("档次表", 7) in [(p[0], p[1]) for p in problems if "应为数字" in p[2] and "「八成」" in p[2]]
    assert ("档次表", 8) in [(p[0], p[1]) for p in problems if "「得分比例」（D列）不能为空" in p[2]]


def test_qualitative_with_a_table_without_levels_and_tiered_naming_a_missing_table(tmp_path):
    sheets = tiered_a1(small(), [(1, 1), (0.9, 0.8)])
    sheets["指标"].loc[3, "档次表"] = "阶梯"  # C1 (定性, row 5) now names a table of 下限 only
    sheet, row, _text = the_problem(tmp_path, sheets, "没有「等级」，不能用于定性法")
    assert (sheet, row) == ("指标", 5)
    sheets = small()
    sheets["指标"].loc[0, "计分方法"] = "阶梯"
    sheets["指标"].loc[0, "档次表"] = "完成率阶梯"
    sheet, row, _text = the_problem(tmp_path, sheets, "档次表「完成率阶梯」在「档次表」工作表中不存在")
    assert (sheet, row) == ("指标", 2)


# ---------------------------------------------------------------- 指标 share parameters

@pytest.mark.parametrize("written", [0.6, 60, "60%"])
def test_base_share_as_ratio_or_percent_gives_the_same_score(tmp_path, written):
    sheets = small()
    sheets["指标"].loc[1, "基本分比例"] = written
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    # A2 基本满分, base 8 full 10, P 20: x 9 → 20 × (0.6 + 0.4 × (9 − 8)/(10 − 8)) = 16
    assert score_of(scheme, {("T01", "A2"): 9}).loc[("T01", "A2"), "score"] == 16.0


@pytest.mark.parametrize("written", [1.2, 120, "120%"])
def test_cap_as_ratio_or_percent_gives_the_same_score(tmp_path, written):
    sheets = small()
    sheets["指标"].loc[0, "上限系数"] = written
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    # A1 完成率, P 40, target 100: 130 → min(1.3, 1.2) × 40 = 48
    assert score_of(scheme, {("T01", "A1"): 130}).loc[("T01", "A1"), "score"] == 48.0


@pytest.mark.parametrize("column, written, letter, text", [
    ("基本分比例", 2, "M", "写 2 无法确定含义"),
    ("上限系数", 0.8, "N", "应不小于 100%"),
    ("上限系数", "五成", "N", "应为数字"),
])
def test_share_parameter_that_cannot_be_meant_is_an_error(tmp_path, column, written, letter, text):
    sheets = small()
    sheets["指标"][column] = sheets["指标"][column].astype(object)
    method_row = 1 if column == "基本分比例" else 0  # A2 is 基本满分, A1 完成率
    sheets["指标"].loc[method_row, column] = written
    sheet, row, message = the_problem(tmp_path, sheets, text)
    assert (sheet, row) == ("指标", method_row + 2)
    assert f"「{column}」（{letter}列）" in message


# ---------------------------------------------------------------- numbers anywhere

@pytest.mark.parametrize("sheet, column, index, written, row, letter", [
    ("指标", "目标值", 0, "1e400", 2, "J"),
    ("指标", "基本值", 1, "inf", 3, "I"),
    ("指标", "满分值", 1, "nan", 3, "K"),
    ("指标", "分值", 2, "二十", 4, "F"),
    ("指标", "每项分值", 2, True, 4, "O"),
    ("目标分解", "目标值", 0, "八十", 2, "D"),  # would silently fall back to the 指标 target 100
    ("加扣分", "单项上限", 0, "四分", 2, "E"),
    ("加扣分", "每项分值", 1, "1e999", 3, "D"),
    ("等次", "最低分", 1, "八十", 3, "B"),
])
def test_a_number_that_is_not_one_is_an_error_at_its_cell(tmp_path, sheet, column, index, written, row, letter):
    sheets = small()
    sheets[sheet][column] = sheets[sheet][column].astype(object)
    sheets[sheet].loc[index, column] = written
    problems = problems_of(tmp_path, sheets)
    matches = [p for p in problems if f"「{column}」（{letter}列）应为数字" in p[2]]
    assert [(p[0], p[1]) for p in matches] == [(sheet, row)], problems


def test_meta_numbers_and_duplicate_items(tmp_path):
    sheets = small()
    meta = sheets["方案"]
    sheets["方案"] = pd.concat([meta, pd.DataFrame({"项目": ["整改分数线", "优秀比例上限"], "值": ["八十五", "30%"]})],
                              ignore_index=True)  # Excel rows 12 and 13; 优秀比例上限 is already on row 9
    problems = problems_of(tmp_path, sheets)
    assert ("方案", 12) in [(p[0], p[1]) for p in problems if "「整改分数线」应为数字" in p[2]]
    assert ("方案", 13) in [(p[0], p[1]) for p in problems if "「优秀比例上限」重复填写（第9行已有）" in p[2]]


@pytest.mark.parametrize("written, quota", [("50%", 0.5), (0.5, 0.5), (50, 0.5)])
def test_excellent_quota_as_ratio_or_percent(tmp_path, written, quota):
    sheets = small()
    sheets["方案"].loc[7, "值"] = written
    assert load_scheme(write_workbook(tmp_path / "s.xlsx", sheets)).meta.excellent_quota == pytest.approx(quota)


def test_excellent_quota_that_cannot_be_meant(tmp_path):
    sheets = small()
    sheets["方案"].loc[7, "值"] = 1.5
    sheet, row, text = the_problem(tmp_path, sheets, "「优秀比例上限」写 1.5 无法确定含义")
    assert (sheet, row) == ("方案", 9)


def test_negative_item_cap_and_negative_step(tmp_path):
    sheets = small()
    sheets["加扣分"].loc[0, "单项上限"] = -1
    sheets["指标"]["每项分值"] = [None, None, None, None, -1]  # C2 完成率 would not use it either
    sheets["指标"]["计分方法"] = ["完成率", "基本满分", "完成率", "定性", "扣分"]
    problems = problems_of(tmp_path, sheets)
    assert ("加扣分", 2) in [(p[0], p[1]) for p in problems if "「单项上限」（E列）不能为负数" in p[2]]
    assert ("指标", 6) in [(p[0], p[1]) for p in problems if "「每项分值」（O列）不能为负数" in p[2]]


# ---------------------------------------------------------------- 等次

def test_grades_not_decreasing_is_an_error_at_the_row(tmp_path):
    sheets = small()
    sheets["等次"]["最低分"] = [95, 96, 60, 0]
    sheet, row, text = the_problem(tmp_path, sheets, "从高到低")
    assert (sheet, row) == ("等次", 3)
    assert "等次「良好」的「最低分」（B列）96不低于上一等次「优秀」的 95" in text


def test_equal_grade_thresholds_and_duplicate_grades_are_errors(tmp_path):
    sheets = small()
    sheets["等次"]["最低分"] = [90, 90, 60, 0]
    assert the_problem(tmp_path, sheets, "从高到低")[:2] == ("等次", 3)
    sheets = small()
    sheets["等次"]["等次"] = ["优秀", "良好", "良好", "不合格"]
    assert the_problem(tmp_path, sheets, "等次「良好」重复")[:2] == ("等次", 4)


def test_grades_without_a_zero_floor_are_an_error(tmp_path):
    sheets = small()
    sheets["等次"] = pd.DataFrame({"等次": ["优秀", "良好", "合格"], "最低分": [90, 80, 60]})
    sheet, row, text = the_problem(tmp_path, sheets, "最低分为 0")
    assert (sheet, row) == ("等次", 4)
    assert "最低的等次「合格」的「最低分」（B列）为 60" in text


# ---------------------------------------------------------------- 权重

TOWN_WEIGHTS = [("经济发展", 50), ("社会发展", 20), ("班子和队伍建设", 20), ("环境资源", 10)]
DEPT_WEIGHTS = [("社会发展", 50), ("班子和队伍建设", 30), ("环境资源", 20)]


def with_weights(sheets, rows: list[tuple]) -> dict:
    sheets["权重"] = pd.DataFrame(rows, columns=["一级指标", "权重", "考核类别"]).astype(object)
    return sheets


def both_groups(scale=lambda w: w) -> list[tuple]:
    return ([(c, scale(w), "乡镇") for c, w in TOWN_WEIGHTS]
            + [(c, scale(w), "部门") for c, w in DEPT_WEIGHTS])


@pytest.mark.parametrize("scale", [lambda w: w, lambda w: w / 100, lambda w: f"{w}%"], ids=["percent", "ratio", "text"])
def test_weights_as_percent_or_ratio_give_the_same_total(tmp_path, scale):
    sheets = with_weights(small(), both_groups(scale))
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    # D01: B1 72 of 90 → 16 of 20 (0.8); C1 良 → 8 of 10 (0.8); C2 反向 0.5 of target 0.5 → 10 of 10 (1)
    # weighted: 50 × 0.8 + 30 × 0.8 + 20 × 1 = 84, on the 100 scale whether the weights were written 50 or 0.5
    scored = score_of(scheme, {("D01", "B1"): 72, ("D01", "C1"): "良", ("D01", "C2"): 0.5})
    totals = compute_totals(scored.reset_index(), None, scheme).set_index("unit_code")
    assert totals.loc["D01", "indicator_total"] == 84.0


def test_weights_for_one_group_only_is_an_error_naming_the_other(tmp_path):
    sheets = with_weights(small(), [(c, w, "乡镇") for c, w in TOWN_WEIGHTS])
    sheet, row, text = the_problem(tmp_path, sheets, "考核类别「部门」没有权重")
    assert (sheet, row) == ("权重", None)
    assert "全为 0" in text


def test_weights_not_summing_to_100_is_an_error(tmp_path):
    rows = both_groups()
    rows[0] = ("经济发展", 40, "乡镇")  # towns now 90
    sheet, row, text = the_problem(tmp_path, with_weights(small(), rows), "应为 100%")
    assert (sheet, row) == ("权重", 2)
    assert "考核类别「乡镇」的权重合计为 90%" in text


def test_weights_mixing_ratio_and_percent_is_an_error(tmp_path):
    rows = both_groups()
    rows[1] = ("社会发展", 0.2, "乡镇")  # row 3
    sheet, row, text = the_problem(tmp_path, with_weights(small(), rows), "请统一写成比例")
    assert (sheet, row) == ("权重", 3)
    assert "「权重」（B列）写 0.2（按比例即 20%），而考核类别「乡镇」的其他权重行写 50、20、10（按百分数）" in text


def test_category_without_weight_and_weight_without_indicators(tmp_path):
    rows = [r for r in both_groups() if not (r[0] == "环境资源" and r[2] == "乡镇")]
    rows[0] = ("经济发展", 60, "乡镇")  # towns still sum to 100 without 环境资源
    sheet, row, text = the_problem(tmp_path, with_weights(small(), rows), "不计入总分")
    assert (sheet, row) == ("权重", 2)
    assert "一级指标「环境资源」有适用于考核类别「乡镇」的指标" in text
    generic = [(c, w, None) for c, w in TOWN_WEIGHTS]  # rows without 考核类别 apply to 部门 too
    sheet, row, text = the_problem(tmp_path, with_weights(small(), generic), "无处计分")
    assert (sheet, row) == ("权重", 2)
    assert "一级指标「经济发展」在考核类别「部门」中没有任何适用指标" in text


# ---------------------------------------------------------------- 指标 and 单位 wording and methods

@pytest.mark.parametrize("column, index, written, row, text", [
    ("方向", 0, "正相", 2, "「方向」只能是 正向 或 反向，现为「正相」"),
    ("数据来源", 2, "评议", 4, "「数据来源」只能是 自报、评定、测评 或 平时，现为「评议」"),
    ("计分方法", 0, "完成比例", 2, "计分方法「完成比例」未知"),
    ("档次表", 0, "定性", 2, "使用完成率法，不使用「档次表」（P列）"),
    ("上限系数", 1, 1.2, 3, "使用基本满分法，不使用「上限系数」（N列）"),
    ("不允许值", 0, 50, 2, "使用完成率法，不使用「不允许值」（L列）"),
    ("每项分值", 0, 1, 2, "使用完成率法，不使用「每项分值」（O列）"),
])
def test_unknown_word_or_a_parameter_the_method_ignores(tmp_path, column, index, written, row, text):
    sheets = small()
    sheets["指标"][column] = sheets["指标"][column].astype(object)
    sheets["指标"].loc[index, column] = written
    assert the_problem(tmp_path, sheets, text)[:2] == ("指标", row)


def test_efficacy_with_full_equal_to_floor(tmp_path):
    sheets = small()
    sheets["指标"]["计分方法"] = ["功效系数", "基本满分", "完成率", "定性", "完成率"]
    sheets["指标"]["满分值"] = [90, 10, None, None, None]
    sheets["指标"]["不允许值"] = [90, None, None, None, None]
    assert the_problem(tmp_path, sheets, "满分值」应大于「不允许值」")[:2] == ("指标", 2)


def test_group_named_all_or_with_a_separator_is_an_error(tmp_path):
    sheets = small()
    sheets["单位"]["考核类别"] = ["乡镇", "乡镇", "县直、部门", "县直、部门"]
    sheets["指标"]["适用类别"] = ["乡镇", "乡镇", "全部", "全部", "乡镇"]
    problems = problems_of(tmp_path, sheets)
    assert [(p[0], p[1]) for p in problems if "类别名称不能" in p[2]] == [("单位", 4), ("单位", 5)]


def test_unit_target_slips(tmp_path):
    sheets = small()
    sheets["目标分解"].loc[0, "不允许值"] = 50  # T02's A1 is 完成率: a 不允许值 would be ignored
    sheet, row, text = the_problem(tmp_path, sheets, "不使用「不允许值」（F列）")
    assert (sheet, row) == ("目标分解", 2)
    sheets = small()
    sheets["指标"]["计分方法"] = ["功效系数", "基本满分", "完成率", "定性", "完成率"]
    sheets["目标分解"].loc[0, "满分值"] = 120  # T02 gets a 满分值 but A1 has no 不允许值 to go with it
    sheet, row, text = the_problem(tmp_path, sheets, "须同时填写或同时留空")
    assert (sheet, row) == ("目标分解", 2)
    assert "单位「T02」的指标「A1」（功效系数法）" in text


def test_veto_item_with_points_is_an_error(tmp_path):
    sheets = small()
    sheets["加扣分"].loc[2, "每项分值"] = 10  # F1 否决
    sheet, row, text = the_problem(tmp_path, sheets, "是否决项目，不计分值")
    assert (sheet, row) == ("加扣分", 4)


def test_applies_to_all_plus_a_group_is_an_error(tmp_path):
    sheets = small()
    sheets["指标"].loc[4, "适用类别"] = "全部、乡镇"
    assert the_problem(tmp_path, sheets, "含“全部”又列了类别")[:2] == ("指标", 6)
