"""Gap analysis and simulation: every needed value is checked by re-scoring through score.py."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kaohe_excel.analysis import gap
from kaohe_excel.jobs import pipeline
from kaohe_excel.scoring import score
from kaohe_excel.analysis import simulate
from kaohe_excel.base.errors import KaoheError, PeriodNotFound
from kaohe_excel.scheme.workbook import load_scheme

TIERS = pd.DataFrame({
    "tier_table": ["阶", "阶", "阶", "等", "等", "等", "等"],
    "lower": [0.8, 0.9, 1.0, np.nan, np.nan, np.nan, np.nan],
    "level": ["", "", "", "优", "良", "中", "差"],
    "share": [0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.3],
})
PARAMS = ["base", "target", "full", "floor", "base_share", "cap", "step"]


def rows(method: str, values: list, direction: str = "higher", points: float = 10.0, **params) -> pd.DataFrame:
    """One indicator, one group, units U0..Un-1 (a str value is a 定性 grade)."""
    n = len(values)
    frame = pd.DataFrame({
        "unit_code": [f"U{i}" for i in range(n)], "unit_name": [f"单位{i}" for i in range(n)], "group": "乡镇",
        "indicator_code": "X1", "name": "测试指标", "category": "经济发展", "measure_unit": "亿元",
        "method": method, "direction": direction, "points": points,
        "value": [np.nan if isinstance(v, str) or v is None else float(v) for v in values],
        "text_value": pd.Series([v if isinstance(v, str) else None for v in values], dtype=object),
        "exempt": False, "unscored": False, "missing_rule": "normalize",
        "tier_table": params.pop("tier_table", np.nan),
    })
    for name in PARAMS:
        frame[name] = float(params.get(name, np.nan))
    return frame


def rescore(frame: pd.DataFrame, i: int, value) -> pd.Series:
    """Score row i after changing only its value (the others stay as they are)."""
    changed = frame.copy()
    if isinstance(value, str):
        changed.loc[i, "text_value"] = value
    else:
        changed.loc[i, "value"] = float(value)
    return score.score_indicators(changed, TIERS).loc[i]


def gap_of(frame: pd.DataFrame) -> pd.DataFrame:
    return gap.gap_table(score.score_indicators(frame, TIERS), TIERS).set_index("unit_code")


# (method, values, direction, points, params, expected {unit: (value_for_base, value_for_full)} by hand)
CASES = [
    # 完成率 target 8, cap 1.2: full at 8×1.2 = 9.6, base at 0.6×8 = 4.8
    ("完成率", [7.5, 9.0], "higher", 10, dict(target=8, cap=1.2), {"U0": (4.8, 9.6)}),
    # 反向 target 0.5: full at 0.5 (ratio 1), base where 0.5/x = 0.6 → x = 0.8333…
    ("完成率", [0.6, 0.4], "lower", 10, dict(target=0.5), {"U0": (0.5 / 0.6, 0.5)}),
    # 基本满分: base at 基本值 8, full at 满分值 10; 反向 mirrored
    ("基本满分", [7.0, 9.5], "higher", 20, dict(base=8, full=10, base_share=0.6), {"U0": (8, 10)}),
    ("基本满分", [1.2, 0.9], "lower", 20, dict(base=1.0, full=0.8), {"U0": (1.0, 0.8)}),
    # 功效系数 with thresholds: base (c·P) at 不允许值 6, full at 满分值 12
    ("功效系数", [5.81, 9.0], "higher", 100, dict(full=12, floor=6), {"U0": (6, 12)}),
    ("功效系数", [20.0, 12.0], "lower", 10, dict(full=10, floor=18), {"U0": (18, 10)}),
    # 功效系数, group best/worst: U0 needs the others' best 9; the base is always kept
    ("功效系数", [5.0, 9.0, 7.0], "higher", 10, {}, {"U0": (np.nan, 9), "U2": (np.nan, 9), "U1": (np.nan, 7)}),
    ("功效系数", [5.0, 9.0, 7.0], "lower", 10, {}, {"U1": (np.nan, 5), "U0": (np.nan, 7)}),
    # 阶梯 target 100: full at the 1.0 tier → 100, base at the 0.8 tier (share 0.6 ≥ b) → 80; 反向 100/0.8 = 125
    ("阶梯", [85.0, 95.0], "higher", 10, dict(target=100, tier_table="阶"), {"U0": (80, 100)}),
    ("阶梯", [120.0, 105.0], "lower", 10, dict(target=100, tier_table="阶"), {"U0": (125, 100)}),
    # 差额扣分 target 20, step 0.1, P 1: full at 20, base where 1 − gap×0.1 = 0.6 → gap 4 → 16; 反向 24
    ("差额扣分", [18.0, 21.0], "higher", 1, dict(target=20, step=0.1), {"U0": (16, 20)}),
    ("差额扣分", [23.0, 19.0], "lower", 1, dict(target=20, step=0.1), {"U0": (24, 20)}),
    # 差额扣分 against the group mean, P 10, step 0.5: U0 full at the others' mean (21+30)/2 = 25.5;
    # base gap 10×0.4/0.5 = 8 → x = 25.5 − 3/2×8 = 13.5
    ("差额扣分", [18.0, 21.0, 30.0], "higher", 10, dict(step=0.5), {"U0": (13.5, 25.5), "U2": (7.5, 19.5)}),
    ("差额扣分", [18.0, 21.0, 30.0], "lower", 10, dict(step=0.5), {"U2": (31.5, 19.5)}),
    # 排名 P 60 step 3 b 0.6: keep ≥ 36 while (k−1)×3 ≤ 24 → k ≤ 9; 5 units → base always; full = others' best
    ("排名", [50.0, 40.0, 40.0, 30.0, 20.0], "higher", 60, dict(step=3), {"U3": (np.nan, 50), "U0": (np.nan, 40)}),
    # 排名 P 10 step 2 b 0.6: (k−1)×2 ≤ 4 → k ≤ 3 → the 3rd best of the others: U4 → others 50,40,40,30 → 40
    ("排名", [50.0, 40.0, 40.0, 30.0, 20.0], "higher", 10, dict(step=2), {"U4": (40, 50), "U3": (40, 50)}),
    ("排名", [50.0, 40.0, 30.0], "lower", 10, {}, {"U0": (np.nan, 30), "U2": (np.nan, 40)}),
    # 相对最优: full at the others' best 10, base at 0.6×10 = 6; 反向 best 5 → base 5/0.6
    ("相对最优", [5.0, 8.0, 10.0], "higher", 10, {}, {"U0": (6, 10), "U2": (4.8, 8)}),
    ("相对最优", [5.0, 8.0, 10.0], "lower", 10, {}, {"U2": (5 / 0.6, 5)}),
    # 扣分 P 10 step 2 b 0.6: full at 0, base floor(10×0.4/2) = 2 incidents (4 ≥ 0.6×10 = 6 → 10 − 4 = 6)
    ("扣分", [3.0, 0.0], "higher", 10, dict(step=2), {"U0": (2, 0)}),
    ("扣分", [3.0, 0.0], "lower", 10, dict(step=3), {"U0": (1, 0)}),  # floor(4/3) = 1
]


def _hair(value: float, sign: float, method: str) -> float:
    """A value just worse than `value`: one more incident for 扣分, else 1e-6 of its scale."""
    if method == "扣分":
        return value + 1
    return value - sign * 1e-6 * max(1.0, abs(value))


@pytest.mark.parametrize("method, values, direction, points, params, expected", CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_needed_values_reach_the_score_and_a_hair_worse_does_not(method, values, direction, points, params, expected):
    frame = rows(method, values, direction, points, **params)
    g = gap_of(frame)
    for unit, (want_base, want_full) in expected.items():
        row = g.loc[unit]
        assert row["value_for_full"] == pytest.approx(want_full, rel=1e-9), unit
        if np.isnan(want_base):
            assert np.isnan(row["value_for_base"]), unit
        else:
            assert row["value_for_base"] == pytest.approx(want_base, rel=1e-9), unit
    sign = -1.0 if direction == "lower" or method == "扣分" else 1.0
    base_threshold = points * float(params.get("base_share", 0.6))
    for i, unit in enumerate(frame["unit_code"]):
        row = g.loc[unit]
        full_score = row["full_score"]
        if not np.isnan(row["value_for_full"]):
            at = rescore(frame, i, row["value_for_full"])
            assert at["score"] == full_score, (unit, at["explanation"])
            worse = rescore(frame, i, _hair(row["value_for_full"], sign, method))
            assert worse["score_raw"] < full_score - 1e-12, (unit, worse["explanation"])
        if not np.isnan(row["value_for_base"]):
            at = rescore(frame, i, row["value_for_base"])
            assert at["score"] >= score.round_half_up(base_threshold), (unit, at["explanation"])
            worse = rescore(frame, i, _hair(row["value_for_base"], sign, method))
            assert worse["score_raw"] < base_threshold - 1e-12, (unit, worse["explanation"])


def test_always_kept_base_really_is_kept():
    # 功效系数 with the group worst as 不允许值: the worst unit scores exactly c·P = 6
    frame = rows("功效系数", [5.0, 9.0, 7.0])
    assert rescore(frame, 0, 1.0)["score"] == 6.0
    # linear 排名: the last of 3 gets P·b = 10 − 2/2×10×0.4 = 6
    frame = rows("排名", [50.0, 40.0, 30.0])
    assert rescore(frame, 2, 0.0)["score"] == 6.0


@pytest.mark.parametrize("method, direction", [("排名", "higher"), ("排名", "lower"), ("相对最优", "higher"),
                                               ("相对最优", "lower"), ("功效系数", "higher"), ("差额扣分", "lower")])
def test_next_rank_value_lifts_the_unit_one_position(method, direction):
    values = [50.0, 40.0, 40.0, 30.0, 20.0]
    frame = rows(method, values, direction, step=2)
    g = gap_of(frame)
    sign = -1.0 if direction == "lower" else 1.0

    def position(vals: list[float], i: int) -> int:  # ties share the better position
        return 1 + sum(1 for j, v in enumerate(vals) if j != i and v * sign > vals[i] * sign)

    lifted = 0
    for i, unit in enumerate(frame["unit_code"]):
        target = g.loc[unit, "value_for_next_rank"]
        if position(values, i) == 1:
            assert np.isnan(target)
            continue
        assert not np.isnan(target), unit
        moved = values.copy()
        moved[i] = target
        assert position(moved, i) < position(values, i), unit
        moved[i] = target - sign * 1e-6 * abs(target)  # the smallest lift: a hair less changes nothing
        assert position(moved, i) == position(values, i), unit
        if method == "排名":  # and the score follows the position
            assert rescore(frame, i, target)["score"] > g.loc[unit, "score"]
        lifted += 1
    assert lifted == 4  # the best unit is already first (反向: the 20 is first)


def test_next_rank_only_for_group_relative_rows():
    g = gap_of(rows("完成率", [5.0, 8.0], target=10))
    assert g["value_for_next_rank"].isna().all()
    g = gap_of(rows("功效系数", [5.0, 8.0], full=10, floor=4))  # fixed thresholds: not group-relative
    assert g["value_for_next_rank"].isna().all()


def test_peers_leave_out_only_the_unit_itself_with_ties():
    # 乡镇 50, 50, 40, 30 and one missing value; 街道 has a single unit with 100 (another cell).
    # 排名 P 10 step 2 b 0.6: base kept while (k−1)×2 ≤ 4 → the 3rd best of the others.
    frame = pd.concat([rows("排名", [50.0, 50.0, 40.0, 30.0, None], step=2),
                       rows("排名", [100.0], step=2).assign(unit_code="S0", group="街道")], ignore_index=True)
    g = gap_of(frame)
    # (unit: others best-first → full = best, base = 3rd best, next rank = smallest better value)
    expected = {
        "U0": (50, 30, np.nan),  # 50 | 40 | 30: the other 50 is still there; already first (tied)
        "U1": (50, 30, np.nan),
        "U2": (50, 30, 50),  # 50 | 50 | 30
        "U3": (50, 40, 40),  # 50 | 50 | 40: equalling 40 shares 2nd-best place
        "U4": (50, 40, np.nan),  # missing: all four others 50 | 50 | 40 | 30; no next rank without a value
    }
    for unit, (full, base, up) in expected.items():
        got = g.loc[unit, ["value_for_full", "value_for_base", "value_for_next_rank"]].to_numpy(dtype=float)
        np.testing.assert_array_equal(got, [full, base, up], err_msg=unit)
    # alone in its cell: first by default, nothing to reach, the 乡镇 values never leak in
    assert g.loc["S0", ["value_for_full", "value_for_base", "value_for_next_rank"]].isna().all()


def test_group_mean_of_the_others_with_ties_and_cancelling_values():
    # 差额扣分 without 目标值, P 10 step 0.5 b 0.6 → up to 10×0.4/0.5 = 8 below the mean keeps the base
    g = gap_of(rows("差额扣分", [18.0, 21.0, 21.0, 30.0], step=0.5))
    # U1: others 18, 21, 30 → mean 23; base 23 − (3+1)/3 × 8 = 12.333…
    assert g.loc["U1", "value_for_full"] == 23.0
    assert g.loc["U1", "value_for_base"] == pytest.approx(23 - 32 / 3, rel=1e-12)
    # U3: others 18, 21, 21 → mean 20
    assert g.loc["U3", "value_for_full"] == 20.0
    # U1: others 1e16, −1e16, 0 sum to exactly 0; total − own in plain floats would give ±1/3
    g = gap_of(rows("差额扣分", [1e16, 3.0, -1e16, 0.0], step=0.5))
    assert g.loc["U1", "value_for_full"] == 0.0


def test_qualitative_grades_for_base_and_full():
    frame = rows("定性", ["良", "差"], tier_table="等")
    g = gap_of(frame)
    # shares 优 1, 良 0.8, 中 0.6, 差 0.3: full 优; base = lowest share ≥ 0.6 → 中
    assert g.loc["U1", "grade_for_full"] == "优" and g.loc["U1", "grade_for_base"] == "中"
    assert rescore(frame, 1, "优")["score"] == 10.0
    assert rescore(frame, 1, "中")["score"] == 6.0 and rescore(frame, 1, "差")["score"] < 6.0
    # U1 has 差 = 3 points: 10 − 3 = 7 to gain
    assert g.loc["U1", "points_to_full"] == 7.0
    assert g.loc["U1", "sentence"] == "距基本分需评为「中」，距满分还需评为「优」（目前「差」），可增加 7.00 分"


def test_sentence_points_and_sort_order():
    frame = pd.concat([rows("完成率", [7.5], target=8, cap=1.2),
                       rows("扣分", [1.0], step=2).assign(indicator_code="X2", measure_unit="次")], ignore_index=True)
    g = gap.gap_table(score.score_indicators(frame, TIERS), TIERS)
    # 完成率: 10×7.5/8 = 9.375 → 9.38; full 10×1.2 = 12 → 2.62 to gain; 扣分: 10 − 2 = 8 → 2.00
    assert list(g["indicator_code"]) == ["X1", "X2"]
    assert list(g["points_to_full"]) == [2.62, 2.0]
    assert g.loc[0, "sentence"] == "距满分还需完成 9.60 亿元（目前 7.50），可增加 2.62 分"
    assert g.loc[1, "sentence"] == "距满分还需不发生扣分事项（目前 1 次），可增加 2.00 分"
    pct = gap.gap_table(score.score_indicators(rows("完成率", [88.3], target=100).assign(measure_unit="%"), TIERS), TIERS)
    # 10 × 0.883 = 8.83 → 1.17 to gain; % is written without a space
    assert pct.loc[0, "sentence"] == "距满分还需完成 100.00%（目前 88.30），可增加 1.17 分"
    assert set(gap.GAP_COLUMNS) <= set(g.columns)


def test_needed_value_is_rounded_on_the_safe_side():
    # Shown as numbers, to the indicator's own decimals (at least 2), rounded on the safe side.
    # 反向 完成率 target 0.5, base 0.5/0.6 = 0.83333…, figures with 2 decimals: 0.83 (down), never 0.84
    g = gap_of(rows("完成率", [0.9, 0.4], "lower", target=0.5))
    sheet = gap.gap_sheet_rows(g.reset_index(), "U0")
    assert sheet.loc[0, "达到基本分需"] == 0.83
    # 反向 0.5/0.7 = 0.714285…, a value typed with 4 decimals: down to 0.7142 (half-up 0.7143 misses the base)
    g = gap_of(rows("完成率", [0.9001], "lower", target=0.5, base_share=0.7))
    assert gap.gap_sheet_rows(g.reset_index(), "U0").loc[0, "达到基本分需"] == 0.7142
    # 正向 1 × 0.12341 = 0.12341 with 2-decimal figures: up to 0.13 (half-up 0.12 misses the base)
    g = gap_of(rows("完成率", [0.05], target=1, base_share=0.12341))
    assert gap.gap_sheet_rows(g.reset_index(), "U0").loc[0, "达到基本分需"] == 0.13
    # 正向 target 3, cap 1.0, b 0.6 → 1.8 exactly; 0.7 share → 2.1 (binary 2.0999… must not print 2.11)
    g = gap_of(rows("完成率", [1.0], target=3, base_share=0.7))
    sheet = gap.gap_sheet_rows(g.reset_index(), "U0")
    assert sheet.loc[0, "达到基本分需"] == 2.1
    # 95.5% typed, target 97.2889 would be noise: 完成率 target 97.29 → needed shown 97.29, a float
    g = gap_of(rows("完成率", [95.5], target=97.2889).assign(measure_unit="%"))
    assert gap.gap_sheet_rows(g.reset_index(), "U0").loc[0, "达到满分需"] == 97.2889  # the target's own 4 decimals
    g = gap_of(rows("完成率", [95.5, 90.25], target=96, cap=1.0134))
    # 96 × 1.0134 = 97.2864: figures with 2 decimals → 97.29 (up), not 97.2864
    assert gap.gap_sheet_rows(g.reset_index(), "U0").loc[0, "达到满分需"] == 97.29


def test_points_at_stake_in_total_points_under_percent_mode():
    frame = pd.concat([rows("完成率", [7.5], points=40, target=8),
                       rows("完成率", [10.0], points=10, target=10).assign(indicator_code="X2")], ignore_index=True)
    scored = score.score_indicators(frame, TIERS)
    scheme = SimpleNamespace(meta=SimpleNamespace(total_mode="percent"), weights=None)
    g = gap.gap_table(scored, TIERS, scheme)
    # X1: 40×7.5/8 = 37.5 → 2.5 to full; 百分制 ×100/50 → 5.00 points of the total
    assert g.loc[0, "points_to_full"] == 2.5 and g.loc[0, "points_at_stake"] == 5.0
    assert g.loc[0, "sentence"].endswith("可增加 5.00 分")


def test_missing_and_exempt_rows():
    frame = rows("完成率", [None, 5.0, 6.0], target=10)
    frame.loc[2, "exempt"] = True
    g = gap_of(frame)
    assert "U2" not in g.index  # exempt: nothing to reach
    assert g.loc["U0", "points_to_full"] == 10.0 and g.loc["U0", "value_for_full"] == 10.0
    assert "目前未填报" in g.loc["U0", "sentence"]


def test_gap_sheet_rows_headers():
    g = gap_of(rows("定性", ["良"], tier_table="等")).reset_index()
    sheet = gap.gap_sheet_rows(g, "U0")
    assert list(sheet.columns) == gap.GAP_SHEET_HEADERS
    assert sheet.loc[0, "达到满分需"] == "优" and sheet.loc[0, "实际完成值"] == "良"
    assert list(gap.gap_sheet_rows(g).columns[:2]) == ["单位代码", "单位名称"]


# --------------------------------------------------------------------------- parse_changes


def test_parse_changes_reads_numbers_and_grades():
    # numbers with units stay text: simulate reads them with the indicator's 计量单位
    assert simulate.parse_changes(["XZ01:A01=8.5", "XZ02：C1=优", "XZ03:B1=85%", " XZ04 : A2 = ８.２ ", "XZ05:A1=8亿元"]) == {
        ("XZ01", "A01"): 8.5, ("XZ02", "C1"): "优", ("XZ03", "B1"): "85%", ("XZ04", "A2"): 8.2,
        ("XZ05", "A1"): "8亿元"}


@pytest.mark.parametrize("item, words", [("XZ01A01=8.5", "格式不对"), ("XZ01:A01", "格式不对"),
                                         ("XZ01:A01=", "格式不对"), ("单位:A01=1", "格式不对")])
def test_parse_changes_rejects_malformed(item, words):
    with pytest.raises(KaoheError) as info:
        simulate.parse_changes(["XZ09:A01=1", item])
    assert words in str(info.value) and item in str(info.value)


def test_parse_changes_rejects_duplicates():
    with pytest.raises(KaoheError, match="重复"):
        simulate.parse_changes(["XZ01:A01=1", "XZ01:A01=2"])


# --------------------------------------------------------------------------- simulate


@pytest.fixture(scope="module")
def period(tmp_path_factory):
    """The small scheme's clean inbox, built once: simulate never mutates its inputs (tested)."""
    from conftest import small_scheme_sheets, write_workbook
    from conftest import make_inbox

    folder = tmp_path_factory.mktemp("period")
    scheme_path = write_workbook(folder / "scheme.xlsx", small_scheme_sheets())
    scheme = load_scheme(scheme_path)
    inbox = make_inbox(folder / "inbox", scheme)
    validated = pipeline.read_and_validate(scheme, inbox, workers=1)
    assert validated.error_count == 0
    return scheme, validated, inbox, scheme_path


def test_simulate_changes_total_rank_and_grade(period):
    scheme, validated, _, _ = period
    sim = simulate.simulate((scheme, validated), simulate.parse_changes(["T02:A2=10亿元"]))
    t = sim.totals.set_index("unit_code")
    # T02 before: A1 85/80 capped → 40; A2 基本满分 7 < 8 → 20×0.6×7/8 = 10.5; B1 88/90×20 = 19.56;
    # C1 良 10×0.8 = 8; C2 反向 0.5/0.6×10 = 8.33 → 86.39. After A2 = 10 (满分值) → 20: +9.5 → 95.89.
    # T01: 38 + 20×(0.6+0.4×0.5) = 16 + 20 + 10 + 10 = 94.
    assert t.loc["T02", "total_before"] == 86.39 and t.loc["T02", "total_after"] == 95.89
    assert t.loc["T02", "total_delta"] == 9.5 and t.loc["T01", "total_delta"] == 0.0
    assert (t.loc["T02", "rank_before"], t.loc["T02", "rank_after"], t.loc["T02", "rank_delta"]) == (2, 1, 1)
    # quota floor(2 × 50%) = 1 优秀: it moves from T01 to T02
    assert (t.loc["T02", "grade_before"], t.loc["T02", "grade_after"]) == ("良好", "优秀")
    assert (t.loc["T01", "grade_before"], t.loc["T01", "grade_after"]) == ("优秀", "良好")
    s = sim.scores
    assert list(s.loc[s["changed"], "indicator_code"]) == ["A2"]
    assert s.loc[s["changed"], "score_delta"].item() == 9.5
    assert s.loc[s["changed"], "value_before"].item() == "7.00" and s.loc[s["changed"], "value_after"].item() == "10.00"
    table = simulate.simulation_rows(sim)
    assert set(table["单位代码"]) == {"T01", "T02"}
    # the original values are untouched
    assert validated.values.set_index(["unit_code", "indicator_code"]).loc[("T02", "A2"), "value"] == 7.0


def test_simulate_adds_an_absent_value_and_sets_a_grade(period):
    scheme, validated, _, _ = period
    values = validated.values[~((validated.values["unit_code"] == "T01") & (validated.values["indicator_code"] == "A1"))]
    from dataclasses import replace

    trimmed = replace(validated, values=values)
    sim = simulate.simulate((scheme, trimmed), {("T01", "A1"): 100, ("D01", "C1"): "优", ("D01", "B1"): "90%"})
    t = sim.totals.set_index("unit_code")
    # T01 A1 was unscored (0 in the total): now 40/40 → 94 − 38 + 40 = 96 after vs 94 − 38 = 56 before
    assert t.loc["T01", "total_before"] == 56.0 and t.loc["T01", "total_after"] == 96.0
    # D01 C1 中 → 优: 6 → 10; B1 "90%" reads as 90 (percent points), already 90 → no change
    assert t.loc["D01", "total_delta"] == 4.0


@pytest.mark.parametrize("changes, words", [
    ({("ZZ9", "A1"): 1.0}, "没有单位代码"),
    ({("D01", "A1"): 1.0}, "不适用"),      # A1 is for 乡镇 only
    ({("D02", "C2"): 1.0}, "不考核"),      # 目标分解 exempts D02 from C2
    ({("T01", "A1"): "很多"}, "不是数字"),
    ({("T01", "C1"): "极好"}, "优、良、中、差"),
])
def test_simulate_rejects_bad_settings(period, changes, words):
    scheme, validated, _, _ = period
    with pytest.raises(KaoheError, match=words):
        simulate.simulate((scheme, validated), changes)


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_load_period_rebuilds_results_without_writing(period, tmp_path):
    _, _, inbox, scheme_path = period
    out = tmp_path / "outputs"
    run = pipeline.run(inbox, scheme_path, out, workers=1)
    before = _tree_hashes(out)
    results = pipeline.load_period(out, "2024", workers=1)
    assert _tree_hashes(out) == before
    pd.testing.assert_series_equal(results.ranked["total"].reset_index(drop=True),
                                   run.results.ranked["total"].reset_index(drop=True))
    sim = simulate.simulate(results, {("T01", "A1"): 100.0})
    # 95 → 100 of target 100 on 40 points: 38 → 40
    assert sim.totals.set_index("unit_code").loc["T01", "total_delta"] == 2.0
    with pytest.raises(PeriodNotFound):
        pipeline.load_period(out, "2023")


@pytest.mark.parametrize("override", ["verified", "appeals"])
def test_simulated_value_is_the_one_scored_over_a_lead_figure_or_a_review_decision(period, override):
    """A 核定值 (or a 复核 调整) on the simulated pair would replace the simulated figure when the
    period is scored again; the what-if must score what the user typed, not show "no change"."""
    from dataclasses import replace

    from kaohe_excel.inputs import crosscheck
    from kaohe_excel.inputs.appeal import ADJUST, APPEAL_COLUMNS

    scheme, validated, _, _ = period
    if override == "verified":
        frame = pd.DataFrame([{"unit_code": "T02", "indicator_code": "A2", "verified_value": 9.0, "verified_text": None,
                               "lead_unit": "县统计局", "note": "", "file": "核定表.xlsx", "sheet": "核定", "cell": "G4"}])
        frame = frame.reindex(columns=crosscheck.VERIFIED_COLUMNS)
    else:
        frame = pd.DataFrame([{"unit_code": "T02", "indicator_code": "A2", "item_code": "", "request": "", "conclusion": ADJUST,
                               "value": 9.0, "text_value": None, "note": "复核", "file": "复核.xlsx", "sheet": "复核",
                               "cell": "F4"}]).reindex(columns=APPEAL_COLUMNS)
        frame["item_code"] = frame["item_code"].fillna("")
    overridden = replace(validated, **{override: frame})
    sim = simulate.simulate((scheme, overridden), simulate.parse_changes(["T02:A2=10亿元"]))
    t = sim.totals.set_index("unit_code")
    # before: A2 scored on 9.0 (基本值 8, 满分值 10): 20 × (0.6 + 0.4 × 1/2) = 16 instead of 10.5 → 86.39 + 5.5 = 91.89
    # after: the simulated 10 (满分值) → 20, as without the override → 95.89
    assert (t.loc["T02", "total_before"], t.loc["T02", "total_after"]) == (91.89, 95.89)
    changed = sim.scores[sim.scores["changed"]]
    assert changed["value_before"].item() == "9.00" and changed["value_after"].item() == "10.00"
