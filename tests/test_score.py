"""Scoring engine: every method pinned with hand-computed values, both directions."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaohe_excel.scoring.score import (
    METHODS,
    attainment_ratio,
    compute_totals,
    round_half_up,
    score_adjustments,
    score_indicators,
    signed_gap,
)

NAN = float("nan")

TIERS = pd.DataFrame({
    "tier_table": ["T", "T", "T", "Q", "Q", "Q", "Q", "YN", "YN"],
    "lower": [0.8, 0.9, 1.0, NAN, NAN, NAN, NAN, NAN, NAN],
    "level": ["", "", "", "优", "良", "中", "差", "是", "否"],
    "share": [0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.2, 1.0, 0.0],
})


def row(unit: str, method: str, value: float = NAN, *, group: str = "乡镇", indicator: str = "I1", **params) -> dict:
    base = dict(
        unit_code=unit, unit_name=f"单位{unit}", group=group, indicator_code=indicator, category="经济发展",
        subcategory="", name="指标", measure_unit="", points=10.0, method=method, direction="higher",
        base=NAN, target=NAN, full=NAN, floor=NAN, base_share=NAN, cap=NAN, step=NAN, tier_table=None,
        source="self", missing_rule="normalize", exempt=False, order=1, value=value, text_value=None,
        unscored=False,
    )
    base.update(params)
    return base


def score_rows(*rows: dict) -> pd.DataFrame:
    return score_indicators(pd.DataFrame(list(rows)), TIERS)


def one(method: str, value: float, **params) -> float:
    return float(score_rows(row("A", method, value, **params))["score"].iloc[0])


def group_scores(method: str, values: list[float], **params) -> list[float]:
    rows = [row(chr(65 + i), method, v, **params) for i, v in enumerate(values)]
    return score_rows(*rows)["score"].tolist()


# --------------------------------------------------------------------------- rounding

def test_round_half_up_calculator_values():
    # 2 − (87.325 − 82.2) × 0.2 = 2 − 1.025 = 0.975 → 0.98 (binary gives 0.97499999…)
    assert round_half_up(2 - (87.325 - 82.2) * 0.2) == 0.98
    assert round_half_up(0.975) == 0.98
    assert round_half_up(1.005) == 1.01
    assert round_half_up(2.675) == 2.68
    assert round_half_up(-0.975) == -0.98  # away from zero
    assert round_half_up(2.5, 0) == 3.0
    assert round_half_up(-2.5, 0) == -3.0
    assert round_half_up(1.25, 1) == 1.3
    assert round_half_up(1.234) == 1.23
    assert math.copysign(1.0, round_half_up(-0.001)) == 1.0  # no "-0.00"
    assert math.isnan(round_half_up(NAN))


def test_round_half_up_series_keeps_index():
    s = pd.Series([0.125, NAN, 3.14159], index=["a", "b", "c"])
    out = round_half_up(s)
    assert list(out.index) == ["a", "b", "c"]
    assert out["a"] == 0.13 and math.isnan(out["b"]) and out["c"] == 3.14


def test_mirroring_helpers():
    assert attainment_ratio(6.0, 8.0, "higher") == pytest.approx(0.75)
    assert attainment_ratio(0.4, 0.5, "lower") == pytest.approx(1.25)  # 0.5 / 0.4
    assert attainment_ratio(0.0, 8.0, "higher") == 0.0
    assert attainment_ratio(0.0, 8.0, "lower") == np.inf
    assert attainment_ratio(0.0, 0.0, "higher") == 1.0
    assert signed_gap(18.0, 20.0, "higher") == -2.0
    assert signed_gap(47.0, 45.0, "lower") == -2.0


def test_registry_has_every_method():
    assert set(METHODS) == {"完成率", "基本满分", "功效系数", "阶梯", "差额扣分", "排名", "相对最优", "定性", "扣分"}


# --------------------------------------------------------------------------- 完成率

@pytest.mark.parametrize("value, params, expected", [
    (6.0, dict(target=8.0), 7.5),                      # 10 × 6/8
    (8.0, dict(target=8.0), 10.0),                     # exactly at target
    (10.0, dict(target=8.0), 10.0),                    # default cap 1
    (10.0, dict(target=8.0, cap=1.2), 12.0),           # 10 × min(1.25, 1.2)
    (9.0, dict(target=8.0, cap=1.2), 11.25),           # 10 × 1.125
    (0.0, dict(target=8.0), 0.0),                      # x ≤ 0 gives 0
    (-3.0, dict(target=8.0), 0.0),
    (0.625, dict(target=0.5, direction="lower"), 8.0),  # 10 × 0.5/0.625
    (0.4, dict(target=0.5, direction="lower"), 10.0),   # 0.5/0.4 = 1.25 capped at 1
    (0.4, dict(target=0.5, direction="lower", cap=1.2), 12.0),
    (0.0, dict(target=0.5, direction="lower"), 10.0),   # zero consumption is the best case
])
def test_completion(value, params, expected):
    assert one("完成率", value, **params) == expected


# --------------------------------------------------------------------------- 基本满分

@pytest.mark.parametrize("value, params, expected", [
    (8.2, {}, 18.0),        # above 满分值
    (8.0, {}, 18.0),        # exactly 满分值
    (7.82, {}, 10.8),       # exactly 基本值: 18 × 0.6
    (7.91, {}, 14.4),       # 18 × (0.6 + 0.4 × 0.09/0.18) = 18 × 0.8
    (3.91, {}, 5.4),        # below: 18 × 0.6 × 3.91/7.82 = 18 × 0.3
    (0.0, {}, 0.0),
    (-1.0, {}, 0.0),
    (7.91, dict(base_share=0.5), 13.5),  # 18 × (0.5 + 0.5 × 0.5)
])
def test_base_full_higher(value, params, expected):
    assert one("基本满分", value, points=18.0, base=7.82, full=8.0, **params) == expected


def test_base_full_uses_target_when_full_is_empty():
    # 18 × (0.6 + 0.4 × (7.91 − 7.82)/(8 − 7.82)) = 14.4
    assert one("基本满分", 7.91, points=18.0, base=7.82, target=8.0) == 14.4


@pytest.mark.parametrize("value, expected", [
    (7.0, 10.0),    # better than 满分值 8
    (8.0, 10.0),    # exactly 满分值
    (9.0, 8.0),     # 10 × (0.6 + 0.4 × (10 − 9)/(10 − 8))
    (10.0, 6.0),    # exactly 基本值: 10 × 0.6
    (12.5, 4.8),    # worse than 基本值: 10 × 0.6 × 10/12.5
])
def test_base_full_lower(value, expected):
    assert one("基本满分", value, base=10.0, full=8.0, direction="lower") == expected


def test_base_full_explanation_has_numbers():
    text = score_rows(row("A", "基本满分", 7.91, points=18.0, base=7.82, full=8.0))["explanation"].iloc[0]
    assert text == "基本满分法：完成值7.91，基本值7.82，满分值8，得分 18×(0.6+0.4×(7.91−7.82)/(8−7.82)) = 14.40"


# --------------------------------------------------------------------------- 功效系数

@pytest.mark.parametrize("value, expected", [
    (5.81, 58.73),   # 100 × (0.6 + 0.4 × (5.81 − 6)/(12 − 6)) = 100 × 0.587333…
    (6.0, 60.0),     # exactly 不允许值
    (9.0, 80.0),     # 100 × (0.6 + 0.4 × 0.5)
    (12.0, 100.0),   # exactly 满分值
    (15.0, 100.0),   # capped at 1
    (-9.0, 0.0),     # 0.6 + 0.4 × (−15/6) = −0.4 → 0
])
def test_efficacy_thresholds(value, expected):
    assert one("功效系数", value, points=100.0, full=12.0, floor=6.0) == expected


@pytest.mark.parametrize("value, expected", [
    (3.5, 8.0),   # 10 × (0.6 + 0.4 × (5 − 3.5)/(5 − 2))
    (1.0, 10.0),
    (2.0, 10.0),
    (5.0, 6.0),
])
def test_efficacy_lower(value, expected):
    assert one("功效系数", value, full=2.0, floor=5.0, direction="lower") == expected


def test_efficacy_group_best_and_worst():
    # best 30, worst 10: 10 → 6, 20 → 10 × (0.6 + 0.4 × 0.5) = 8, 30 → 10
    assert group_scores("功效系数", [10.0, 20.0, 30.0]) == [6.0, 8.0, 10.0]
    # 反向: best 10, worst 30
    assert group_scores("功效系数", [10.0, 20.0, 30.0], direction="lower") == [10.0, 8.0, 6.0]
    # everyone equal → everyone P
    assert group_scores("功效系数", [7.0, 7.0]) == [10.0, 10.0]


def test_group_relative_ignores_missing_exempt_unscored_and_other_groups():
    rows = [
        row("A", "功效系数", 10.0), row("B", "功效系数", 20.0), row("C", "功效系数", 30.0),
        row("D", "功效系数", 100.0, unscored=True),
        row("E", "功效系数", 0.0, exempt=True),
        row("F", "功效系数", NAN),
        row("G", "功效系数", 500.0, group="部门"),
    ]
    out = score_rows(*rows).set_index("unit_code")
    assert out.loc[["A", "B", "C"], "score"].tolist() == [6.0, 8.0, 10.0]
    assert out.loc["G", "score"] == 10.0  # alone in its group


# --------------------------------------------------------------------------- 阶梯

@pytest.mark.parametrize("value, direction, expected", [
    (95.0, "higher", 8.0),    # r 0.95 → tier 0.9 → 10 × 0.8
    (100.0, "higher", 10.0),  # r 1 exactly
    (80.0, "higher", 6.0),    # r 0.8 exactly the lowest tier
    (79.0, "higher", 0.0),    # below every tier
    (120.0, "higher", 10.0),
    (105.0, "lower", 8.0),    # r 100/105 = 0.952 → 0.8
    (125.0, "lower", 6.0),    # r 0.8
    (90.0, "lower", 10.0),    # r 1.11
])
def test_tiered(value, direction, expected):
    assert one("阶梯", value, target=100.0, tier_table="T", direction=direction) == expected



@pytest.mark.parametrize("value, target, direction, expected", [
    (9.45, 10.5, "higher", 8.0),   # r = 9.45/10.5 = 0.9 exactly on a calculator (0.8999… in binary) → tier 0.9
    (44.8, 56.0, "higher", 6.0),   # r = 0.8 exactly (0.7999… in binary) → the lowest tier, not 0
    (0.875, 0.7, "lower", 6.0),    # 反向 r = 0.7/0.875 = 0.8 exactly → tier 0.8
])
def test_tiered_ratio_on_a_lower_bound_reaches_it(value, target, direction, expected):
    assert one("阶梯", value, target=target, tier_table="T", direction=direction) == expected

# --------------------------------------------------------------------------- 差额扣分

@pytest.mark.parametrize("value, params, expected", [
    (18.0, dict(points=1.0, target=20.0, step=0.1), 0.8),    # 1 − 2 × 0.1
    (20.0, dict(points=1.0, target=20.0, step=0.1), 1.0),
    (25.0, dict(points=1.0, target=20.0, step=0.1), 1.0),
    (5.0, dict(points=1.0, target=20.0, step=0.1), 0.0),     # 1 − 1.5 floored
    (47.0, dict(points=2.0, target=45.0, step=0.5, direction="lower"), 1.0),  # 每超1岁扣0.5分
    (44.0, dict(points=2.0, target=45.0, step=0.5, direction="lower"), 2.0),
])
def test_shortfall(value, params, expected):
    assert one("差额扣分", value, **params) == expected


def test_shortfall_group_mean_is_unrounded():
    # mean of 1, 2, 2 = 5/3; unit A: 5 − 3 × (5/3 − 1) = 3.00 (a rounded mean 1.67 would give 2.99)
    assert group_scores("差额扣分", [1.0, 2.0, 2.0], points=5.0, step=3.0) == [3.0, 5.0, 5.0]


# --------------------------------------------------------------------------- 排名

def test_ranking_with_step_and_ties():
    # ranks 1, 2, 2, 4, 5 → 60, 57, 57, 51, 48
    assert group_scores("排名", [50.0, 40.0, 40.0, 30.0, 20.0], points=60.0, step=3.0) == [60.0, 57.0, 57.0, 51.0, 48.0]
    # 反向: 20 best; 40s share position 3
    assert group_scores("排名", [50.0, 40.0, 40.0, 30.0, 20.0], points=60.0, step=3.0, direction="lower") == \
        [48.0, 54.0, 54.0, 57.0, 60.0]
    # floored at 0: 5 − 2 × 3 < 0
    assert group_scores("排名", [3.0, 2.0, 1.0], points=5.0, step=3.0) == [5.0, 2.0, 0.0]


def test_ranking_linear():
    # n = 5, b 0.6: P − (k−1)/4 × 10 × 0.4 → k1 10, k2 9, k4 7, k5 6
    assert group_scores("排名", [50.0, 40.0, 40.0, 30.0, 20.0]) == [10.0, 9.0, 9.0, 7.0, 6.0]
    assert group_scores("排名", [50.0]) == [10.0]  # n = 1
    # a unit without a value is not counted in n: still k/4 with 5 valued units
    out = group_scores("排名", [50.0, 40.0, 40.0, 30.0, 20.0, NAN])
    assert out == [10.0, 9.0, 9.0, 7.0, 6.0, 0.0]


# --------------------------------------------------------------------------- 相对最优

def test_relative_best():
    assert group_scores("相对最优", [5.0, 8.0, 10.0]) == [5.0, 8.0, 10.0]        # 10 × x/10
    assert group_scores("相对最优", [5.0, 8.0, 10.0], direction="lower") == [10.0, 6.25, 5.0]  # 10 × 5/x
    assert group_scores("相对最优", [0.0, 0.0]) == [10.0, 10.0]                   # all at the best
    assert group_scores("相对最优", [0.0, 4.0], direction="lower") == [10.0, 0.0]  # 10 × 0/4


# --------------------------------------------------------------------------- 定性, 扣分

@pytest.mark.parametrize("grade, table, expected", [
    ("良", "Q", 8.0), ("差", "Q", 2.0), (" 优 ", "Q", 10.0), ("是", "YN", 10.0), ("否", "YN", 0.0),
])
def test_qualitative(grade, table, expected):
    assert float(score_rows(row("A", "定性", text_value=grade, tier_table=table))["score"].iloc[0]) == expected


def test_qualitative_unknown_grade_scores_zero():
    out = score_rows(row("A", "定性", text_value="极好", tier_table="Q"))
    assert out["score"].iloc[0] == 0.0 and out["status"].iloc[0] == "scored"
    assert "不在档次表" in out["explanation"].iloc[0]


@pytest.mark.parametrize("count, expected", [(0.0, 10.0), (3.0, 4.0), (5.0, 0.0), (6.0, 0.0)])
def test_deduction(count, expected):
    assert one("扣分", count, step=2.0) == expected  # 10 − count × 2, floored


# --------------------------------------------------------------------------- statuses

def test_missing_unscored_and_exempt_normalize():
    out = score_rows(
        row("A", "完成率", NAN, target=8.0),
        row("B", "完成率", 4.0, target=8.0, unscored=True),
        row("C", "完成率", 4.0, target=8.0, exempt=True),
        row("D", "定性", NAN, tier_table="Q", text_value="  "),
    ).set_index("unit_code")
    assert out.loc["A", ["score", "points_available", "status"]].tolist() == [0.0, 10.0, "missing"]
    assert math.isnan(out.loc["B", "score"]) and out.loc["B", "points_available"] == 10.0
    assert out.loc["B", "status"] == "unscored" and "数据有误未计分" in out.loc["B", "explanation"]
    assert math.isnan(out.loc["C", "score"]) and out.loc["C", "points_available"] == 0.0
    assert out.loc["C", "status"] == "exempt"
    assert out.loc["D", "status"] == "missing"


def test_exempt_mean_uses_printed_scores():
    # completion with P 10 and target 10 scores x itself: 2.005 prints 2.01, 2.0048 prints 2.00.
    # mean of printed (2.01 + 2.00)/2 = 2.005 → 2.01 (the raw mean 2.0049 would give 2.00)
    out = score_rows(
        row("A", "完成率", 2.005, target=10.0),
        row("B", "完成率", 2.0048, target=10.0),
        row("E", "完成率", NAN, target=10.0, exempt=True, missing_rule="mean"),
    ).set_index("unit_code")
    assert out.loc["E", ["score", "points_available", "status"]].tolist() == [2.01, 10.0, "exempt_mean"]


def test_exempt_mean_peers():
    # peers: A 6, B missing (0); C unscored, D exempt and the other group are left out → (6 + 0)/2 = 3
    out = score_rows(
        row("A", "完成率", 6.0, target=10.0),
        row("B", "完成率", NAN, target=10.0),
        row("C", "完成率", 9.0, target=10.0, unscored=True),
        row("D", "完成率", 9.0, target=10.0, exempt=True),
        row("E", "完成率", NAN, target=10.0, exempt=True, missing_rule="mean"),
        row("F", "完成率", 10.0, target=10.0, group="部门"),
    ).set_index("unit_code")
    assert out.loc["E", "score"] == 3.0


def test_index_is_preserved():
    frame = pd.DataFrame([row("A", "扣分", 1.0, step=2.0), row("B", "扣分", 2.0, step=2.0)], index=[7, 3])
    out = score_indicators(frame, TIERS)
    assert list(out.index) == [7, 3] and out.loc[3, "score"] == 6.0


# --------------------------------------------------------------------------- adjustments

CATALOGUE = pd.DataFrame({
    "item_code": ["B1", "B2", "D1", "V1", "V2"],
    "kind": ["bonus", "bonus", "deduction", "veto", "veto"],
    "name": ["市级表彰", "创新经验推广", "媒体曝光", "安全事故", "环保违法"],
    "step": [1.0, 0.5, 0.3, NAN, NAN],
    "item_cap": [1.5, NAN, NAN, NAN, NAN],
    "needs_evidence": [True, True, False, False, False],
})


def claims(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit_code", "item_code", "count"])


def test_score_adjustments_sums_caps_and_vetoes():
    out = score_adjustments(
        claims(("A", "B1", 1), ("A", "B1", 1), ("A", "B2", 3), ("A", "D1", 2), ("B", "V1", 1), ("B", "X9", 1)),
        CATALOGUE,
    ).set_index(["unit_code", "item_code"])
    assert out.loc[("A", "B1"), "count"] == 2.0
    assert out.loc[("A", "B1"), "amount"] == 1.5    # 2 × 1 = 2 capped at 1.5
    assert "单项上限" in out.loc[("A", "B1"), "explanation"]
    assert out.loc[("A", "B2"), "amount"] == 1.5    # 3 × 0.5
    assert out.loc[("A", "D1"), "amount"] == 0.6    # 2 × 0.3 (binary 0.6000000000000001)
    assert out.loc[("B", "V1"), ["kind", "amount"]].tolist() == ["veto", 0.0]
    assert ("B", "X9") not in out.index


def meta(total_mode="raw", bonus_cap=None, veto_effect="no_excellent"):
    return SimpleNamespace(total_mode=total_mode, bonus_cap=bonus_cap, veto_effect=veto_effect)


UNITS = pd.DataFrame({"unit_code": ["A", "B", "C", "D"], "unit_name": ["甲", "乙", "丙", "丁"],
                      "group": ["乡镇", "乡镇", "乡镇", "部门"]})


def scored(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit_code", "category", "score", "points_available"])


SCORED = scored(
    ("A", "共性", 18.33, 20.0), ("A", "个性", 40.5, 50.0),
    ("B", "共性", 10.0, 20.0), ("B", "个性", NAN, 50.0),     # unscored: counts 0, points stay
    ("C", "共性", 15.0, 20.0), ("C", "个性", NAN, 0.0),      # exempt under 归一化
    ("D", "工作实绩", 0.1, 60.0), ("D", "工作实绩", 0.2, 0.0),
)


def test_totals_raw_with_bonus_cap_and_deduction():
    adj = score_adjustments(claims(("A", "B1", 2), ("A", "B2", 3), ("A", "D1", 2)), CATALOGUE)
    out = compute_totals(SCORED, adj, UNITS, meta(bonus_cap=2.0)).set_index("unit_code")
    # A: 18.33 + 40.5 = 58.83; bonus 1.5 + 1.5 = 3 capped at 2; deduction 0.6 → 60.23
    assert out.loc["A", ["indicator_total", "points_available", "bonus", "deduction", "total"]].tolist() == \
        [58.83, 70.0, 2.0, 0.6, 60.23]
    assert out.loc["D", "indicator_total"] == 0.3  # 0.1 + 0.2 without float noise
    assert list(out.columns) == ["unit_name", "group", "indicator_total", "points_available", "bonus",
                                 "deduction", "vetoed", "veto_items", "veto_effect", "total"]


def test_totals_no_bonus_cap():
    adj = score_adjustments(claims(("A", "B1", 2), ("A", "B2", 3)), CATALOGUE)
    out = compute_totals(SCORED, adj, UNITS, meta()).set_index("unit_code")
    assert out.loc["A", "bonus"] == 3.0 and out.loc["A", "total"] == 61.83  # 58.83 + 1.5 + 1.5


def test_totals_percent():
    out = compute_totals(SCORED, None, UNITS, meta(total_mode="percent")).set_index("unit_code")
    assert out.loc["A", "indicator_total"] == 84.04  # 58.83 × 100/70 = 84.0428…
    assert out.loc["B", "indicator_total"] == 14.29  # 10 × 100/70 = 14.2857…
    assert out.loc["C", "indicator_total"] == 75.0   # 15 × 100/20: the exempt 个性 is left out


def test_totals_vetoes():
    adj = score_adjustments(claims(("B", "V1", 1), ("B", "V2", 2), ("C", "V1", 0)), CATALOGUE)
    zero = compute_totals(SCORED, adj, UNITS, meta(veto_effect="zero")).set_index("unit_code")
    assert zero.loc["B", ["vetoed", "veto_items", "total"]].tolist() == [True, "安全事故、环保违法", 0.0]
    assert not zero.loc["C", "vetoed"] and zero.loc["C", "total"] == 15.0  # a count of 0 is no veto
    keep = compute_totals(SCORED, adj, UNITS, meta(veto_effect="no_excellent")).set_index("unit_code")
    assert keep.loc["B", ["vetoed", "total"]].tolist() == [True, 10.0]


WEIGHTED = scored(
    ("A", "共性", 7.77, 10.0), ("A", "个性", 45.55, 50.0),
    ("B", "共性", 8.0, 10.0), ("B", "个性", NAN, 0.0),
    ("D", "工作实绩", 50.0, 60.0), ("D", "班子评价", 30.0, 40.0),
)
WEIGHTS = pd.DataFrame({"category": ["共性", "个性", "工作实绩", "班子评价"], "weight": [30.0, 70.0, 60.0, 40.0],
                        "group": ["", "", "部门", "部门"]})


@pytest.mark.parametrize("mode", ["raw", "percent"])
def test_totals_weights(mode):
    out = compute_totals(WEIGHTED, None, UNITS, meta(total_mode=mode), WEIGHTS).set_index("unit_code")
    assert out.loc["A", "indicator_total"] == 87.08  # 30 × 0.777 + 70 × 0.911 = 23.31 + 63.77
    assert out.loc["B", "indicator_total"] == 80.0   # only 共性: 30 × 0.8 rescaled × 100/30
    # 部门 uses its own rows only: 60 × 50/60 + 40 × 30/40 = 50 + 30
    assert out.loc["D", "indicator_total"] == 80.0
    assert out.loc["C", "indicator_total"] == 0.0    # nothing scored


def test_totals_fraction_weights():
    weights = WEIGHTS.assign(weight=WEIGHTS["weight"] / 100)
    raw = compute_totals(WEIGHTED, None, UNITS, meta(), weights).set_index("unit_code")
    assert raw.loc["A", "indicator_total"] == 0.87  # 0.8708 on the weights' own scale
    pct = compute_totals(WEIGHTED, None, UNITS, meta(total_mode="percent"), weights).set_index("unit_code")
    assert pct.loc["A", "indicator_total"] == 87.08


# --------------------------------------------------------------------------- properties

finite = st.floats(min_value=-50, max_value=500, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.5, max_value=200, allow_nan=False, allow_infinity=False)
share = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def method_case(draw, method: str):
    direction = "lower" if method == "扣分" else draw(st.sampled_from(["higher", "lower"]))
    lo, hi = sorted([draw(positive), draw(positive)])
    hi = hi + 1.0  # strictly apart
    good, bad = (hi, lo) if direction == "higher" else (lo, hi)
    params = dict(
        points=draw(st.floats(min_value=1, max_value=100)), direction=direction,
        target=draw(positive), base=bad, full=good, floor=bad, base_share=draw(share),
        cap=draw(st.sampled_from([NAN, 1.2])), tier_table="T", step=draw(st.floats(min_value=0, max_value=5)),
    )
    if method in ("功效系数", "差额扣分") and draw(st.booleans()):
        params.update(full=NAN, floor=NAN, target=NAN)  # group-derived thresholds
    if method == "排名" and draw(st.booleans()):
        params["step"] = NAN
    others = draw(st.lists(finite, min_size=0, max_size=3))
    return params, draw(finite), draw(st.floats(min_value=0.01, max_value=100)), others


def _both_scores(method, params, value, better, others):
    # two groups with identical other units, scored in one call: unit A at value vs at better
    rows = []
    for group, v in (("G0", value), ("G1", better)):
        rows.append(row("A", method, v, group=group, **params))
        rows += [row(f"O{i}", method, o, group=group, **params) for i, o in enumerate(others)]
    out = score_rows(*rows)
    first = out[out["unit_code"] == "A"]["score_raw"].tolist()
    return first[0], first[1]


@pytest.mark.parametrize("method", [m for m in METHODS if m != "定性"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_scores_bounded_and_monotone(method, data):
    params, value, delta, others = data.draw(method_case(method))
    better = value + delta if params["direction"] == "higher" else value - delta
    s0, s1 = _both_scores(method, params, value, better, others)
    cap = params["cap"] if method == "完成率" and not math.isnan(params["cap"]) else 1.0
    for s in (s0, s1):
        assert -1e-9 <= s <= params["points"] * cap + 1e-9
    assert s1 >= s0 - 1e-9


@settings(max_examples=30, deadline=None)
@given(grade=st.sampled_from(["优", "良", "中", "差", "未知"]), points=st.floats(min_value=1, max_value=100))
def test_qualitative_bounded(grade, points):
    s = float(score_rows(row("A", "定性", text_value=grade, tier_table="Q", points=points))["score_raw"].iloc[0])
    assert 0.0 <= s <= points


def test_missing_parameter_scores_zero_with_a_reason():
    out = score_rows(row("A", "完成率", 5.0))  # 目标值 empty
    assert out["score"].iloc[0] == 0.0 and "评分参数缺失" in out["explanation"].iloc[0]


def test_shortfall_explanation_when_target_met():
    text = score_rows(row("A", "差额扣分", 25.0, points=1.0, target=20.0, step=0.1))["explanation"].iloc[0]
    assert text == "差额扣分法：完成值25，目标值20，达到目标值，不扣分，得分 1.00"


# --------------------------------------------------------------------------- explanation texts

from kaohe_excel.scoring.explain import format_numbers as _format, plain as _plain  # noqa: E402  (the vectorized writer must match the scalar one)


@pytest.mark.parametrize("value, decimals, text", [
    (12.34, 4, "12.34"), (12.0, 4, "12"), (0.5, 4, "0.5"), (-1.25, 4, "-1.25"),
    (0.00004, 4, "0"),            # rounds to 0.0000
    (-0.00004, 4, "0"),           # never "-0"
    (0.00005, 4, "0.0001"),       # half up
    (2.675, 2, "2.68"),           # 2.675 is 2.67499… in binary; the calculator says 2.68
    (-0.001, 2, "0.00"),
    (3.0, 2, "3.00"),
    (1.05, 1, "1.1"),
    (NAN, 4, "—"), (math.inf, 4, "∞"), (-math.inf, 2, "-∞"),
    (12345678901.5, 2, "12345678901.50"),  # a billion or more: written by Python
])
def test_format_writes_numbers_as_a_person_does(value, decimals, text):
    assert _format([value], pd.RangeIndex(1), decimals).tolist() == [text]


def test_format_many_distinct_numbers():
    values = np.arange(-10000, 10000) / 8  # 20,000 distinct values: written without hashing
    four = _format(values, pd.RangeIndex(len(values)), 4)
    two = _format(values, pd.RangeIndex(len(values)), 2)
    # position 10000 + k holds k/8: 1/8 = 0.125, 3/8 = 0.375, −1/8, −10000/8 = −1250
    assert [four[10001], four[10003], four[9999], four[0], four[10000]] == ["0.125", "0.375", "-0.125", "-1250", "0"]
    assert [two[10001], two[10003], two[9999], two[0]] == ["0.13", "0.38", "-0.13", "-1250.00"]  # half away from 0
    assert four.tolist() == [_plain(round_half_up(v, 4), 4) for v in values]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**7, 10**7).map(lambda i: i / 1000)),
                min_size=1, max_size=40), st.sampled_from([1, 2, 4]))
def test_format_matches_the_scalar_writer(values, decimals):
    expected = [_plain(round_half_up(v, decimals), decimals) for v in values]
    assert _format(values, pd.RangeIndex(len(values)), decimals).tolist() == expected


def test_explanations_in_row_order_across_statuses_and_directions():
    out = score_rows(
        row("A", "完成率", NAN, target=8.0),
        row("B", "完成率", 6.0, target=8.0),                       # 6/8 = 0.75, 10 × 0.75 = 7.5
        row("C", "完成率", 4.0, target=8.0, exempt=True),
        row("D", "完成率", 0.625, target=0.5, direction="lower"),  # 0.5/0.625 = 0.8, 10 × 0.8 = 8
        row("E", "完成率", 4.0, target=8.0, unscored=True),
        row("F", "完成率", 5.0),                                   # no 目标值
    )
    assert out["explanation"].tolist() == [
        "未填报实际完成值，得0分",
        "完成率法：完成值6，目标值8，完成比例（完成值/目标值）0.75，上限系数1，得分 10×0.75 = 7.50",
        "不考核，不计入应得分，按已有项归一化",
        "完成率法（反向）：完成值0.625，目标值0.5，完成比例（目标值/完成值）0.8，上限系数1，得分 10×0.8 = 8.00",
        "数据有误未计分（待核实后补评）",
        "完成率法：完成值5，目标值—，完成比例（完成值/目标值）—，上限系数1，得分 10×— = —（评分参数缺失，得0分）",
    ]


def test_unnamed_tier_table_keeps_the_sentence():
    out = score_rows(row("A", "定性", text_value="优"),
                     row("B", "阶梯", 9.0, target=10.0, indicator="I2"))  # 9/10 = 0.9, no table to look up
    assert out["explanation"].tolist() == ["定性评价：等级「优」，不在档次表「」中，得0分",
                                           "阶梯法：完成值9，目标值10，完成比例0.9，未达到档次表「」最低档，得0分"]
    assert out["score"].tolist() == [0.0, 0.0]
