"""The scoring-method registry: every method carries every facet, every inverse keeps its promise,
and a method registered from outside the product (here: from this test) is validated in a scheme,
scored, explained, gap-analysed and documented without any other edit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import small_scheme_sheets, write_workbook
from kaohe_excel.analysis import gap
from kaohe_excel.scoring import methods
from kaohe_excel.scoring import progress
from kaohe_excel.scoring import score
from kaohe_excel.base.errors import SchemeInvalid
from kaohe_excel.scoring.explain import Text, f, fs
from kaohe_excel.scoring.methods import NOT_ALLOWED, OPTIONAL, REQUIRED, Method, register, unregister
from kaohe_excel.scoring.methods._inverse import blank, ratio_keys
from kaohe_excel.scoring.methods.mirror import attainment_ratio, base_share, num
from kaohe_excel.scheme.workbook import load_scheme

ROOT = Path(__file__).resolve().parents[1]
TIERS = pd.DataFrame({
    "tier_table": ["阶", "阶", "阶", "等", "等", "等", "等"],
    "lower": [0.8, 0.9, 1.0, np.nan, np.nan, np.nan, np.nan],
    "level": ["", "", "", "优", "良", "中", "差"],
    "share": [0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.3],
})
PARAMS = ["base", "target", "full", "floor", "base_share", "cap", "step"]


def frame(method: str, values: list, points: float = 10.0, tier_table=np.nan, **params) -> pd.DataFrame:
    """One indicator, one group, units U0..Un-1 (a str value is a grade)."""
    n = len(values)
    out = pd.DataFrame({
        "unit_code": [f"U{i}" for i in range(n)], "unit_name": [f"单位{i}" for i in range(n)], "group": "乡镇",
        "indicator_code": "X1", "name": "测试指标", "category": "经济发展", "measure_unit": "亿元",
        "method": method, "direction": "higher", "points": points,
        "value": [np.nan if isinstance(v, str) else float(v) for v in values],
        "text_value": pd.Series([v if isinstance(v, str) else None for v in values], dtype=object),
        "exempt": False, "unscored": False, "missing_rule": "normalize", "tier_table": tier_table,
    })
    for name in PARAMS:
        out[name] = float(params.get(name, np.nan))
    return out


# per method: (values of U0.., params, U0's needed value (or grade) for full and for base, worked by hand);
# P = 10 and b = 0.6 throughout, so the full score is 10 (12 with 上限系数 1.2) and the base score 6
CASES = {
    "完成率": ([5, 9], dict(target=8, cap=1.2), 9.6, 4.8),  # 8×1.2; 0.6×8
    "基本满分": ([7.5, 8.5], dict(base=7, full=9), 9, 7),
    "功效系数": ([5, 8], dict(full=10, floor=4), 10, 4),  # c = b: the floor gives P·b
    "阶梯": ([85, 90], dict(target=100, tier_table="阶"), 100, 80),  # first tier with share ≥ 0.6: 下限 0.8
    "差额扣分": ([15, 18], dict(target=20, step=0.5), 20, 12),  # shortfall allowed: 10×0.4/0.5 = 8
    "排名": ([3, 5, 7, 9], dict(step=2), 9, 5),  # base: (k−1)·2 ≤ 4 → k = 3: equal the 3rd best other (5)
    "相对最优": ([4, 8], {}, 8, 4.8),  # 0.6 × the others' best
    "定性": (["中", "良"], dict(tier_table="等"), "优", "中"),
    "扣分": ([3, 1], dict(step=2), 0, 2),  # floor(10×0.4/2) = 2 incidents keep P·b
}


def rescored(rows: pd.DataFrame, value) -> float:
    changed = rows.copy()
    if isinstance(value, str):
        changed.loc[0, "text_value"] = value
    else:
        changed.loc[0, "value"] = float(value)
    return float(score.score_indicators(changed, TIERS).loc[0, "score"])


def needed(rows: pd.DataFrame) -> pd.Series:
    return gap.gap_table(score.score_indicators(rows, TIERS), TIERS).set_index("unit_code").loc["U0"]


def test_every_registered_method_has_every_facet():
    assert list(methods.METHODS) == ["完成率", "基本满分", "功效系数", "阶梯", "差额扣分", "排名", "相对最优", "定性", "扣分"]
    for name, method in methods.METHODS.items():
        assert method.name == name
        assert method.description and "\n" not in method.description and re.search(r"[\u4e00-\u9fff]", method.description)
        assert callable(method.score) and callable(method.inverse)
        assert set(method.parameters) == set(methods.PARAMETERS)
        assert set(method.parameters.values()) <= {REQUIRED, OPTIONAL, NOT_ALLOWED}
        assert method.group_relative in (True, False) or set(method.group_relative) <= set(methods.PARAMETERS.values())
        assert method.progress in ("prorated", "skipped")
        assert method.value in ("number", "count", "grade")
    assert set(CASES) == set(methods.METHODS), "every method needs an inverse case below"


def test_the_old_scattered_tables_are_read_from_the_registry():
    # what scheme.py, progress.py and score.py kept beside each other before, by hand
    assert methods.group_relative() == {"功效系数", "差额扣分", "排名", "相对最优"}
    assert methods.skipped_in_progress() == {"定性", "排名", "相对最优", "扣分"}
    assert methods.full_as_target() == {"基本满分", "功效系数"}
    assert methods.users("step") == ["差额扣分", "排名", "扣分"]
    assert methods.users("tier_table") == ["阶梯", "定性"]
    assert methods.users("floor") == ["功效系数"] and methods.users("cap") == ["完成率"]


@pytest.mark.parametrize("name", list(CASES))
def test_inverse_rescores_to_the_promised_points(name):
    values, params, for_full, for_base = CASES[name]
    rows = frame(name, values, **params)
    row = needed(rows)
    full_points = 12.0 if name == "完成率" else 10.0
    assert row["full_score"] == full_points and row["base_score"] == 6.0
    if methods.METHODS[name].value == "grade":
        assert (row["grade_for_full"], row["grade_for_base"]) == (for_full, for_base)
    else:
        assert row["value_for_full"] == pytest.approx(for_full) and row["value_for_base"] == pytest.approx(for_base)
    assert rescored(rows, for_full) == pytest.approx(full_points)
    assert rescored(rows, for_base) == pytest.approx(6.0)


# --------------------------------------------------------------------------- a method added from outside


def double(rows, tier_tables) -> tuple[np.ndarray, Text]:
    """翻倍: min(P, 2 · ratio · P), ratio = x/目标值 (反向 目标值/x)."""
    P, x, t = num(rows, "points"), num(rows, "value"), num(rows, "target")
    r = attainment_ratio(x, t, rows["direction"])
    points = np.minimum(P, 2 * r * P)
    return points, "翻倍法：完成值" + f(x) + "，目标值" + f(t) + "，得分 min(" + f(P) + ", 2×" + f(r) + "×" + f(P) + ") = " + fs(points)


def double_inverse(rows, ctx) -> pd.DataFrame:
    out = blank(rows)
    P, t, b, s = num(rows, "points"), num(rows, "target"), base_share(rows), ctx.sign.loc[rows.index]
    out["full_score"], out["base_score"] = P, P * b
    out["key_full"] = ratio_keys(t, 0.5, s)  # half the target doubles to full marks
    out["key_base"] = ratio_keys(t, b / 2, s)
    return out


@pytest.fixture
def demo_method():
    method = register(Method(
        name="翻倍", description="完成比例翻倍计分，封顶为分值", score=double, inverse=double_inverse,
        parameters={"目标值": REQUIRED, "基本值": NOT_ALLOWED, "满分值": NOT_ALLOWED, "不允许值": NOT_ALLOWED,
                    "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": NOT_ALLOWED, "基本分比例": OPTIONAL},
        group_relative=False, progress="prorated",
    ))
    try:
        yield method
    finally:
        unregister("翻倍")


def scheme_with(tmp_path: Path, **indicator_a1) -> Path:
    sheets = small_scheme_sheets()
    for column, value in {"计分方法": "翻倍", **indicator_a1}.items():
        sheets["指标"].loc[0, column] = value
    return write_workbook(tmp_path / "scheme.xlsx", sheets)


def test_a_method_registered_from_outside_is_validated_scored_explained_gap_analysed_and_documented(
        tmp_path, demo_method):
    scheme = load_scheme(scheme_with(tmp_path))  # A1: 翻倍, 目标值 100 (T02: 80 from 目标分解)
    assigned = scheme.assignments()
    a1 = assigned[assigned["indicator_code"] == "A1"].set_index("unit_code").loc[["T01", "T02"]]
    assert list(a1["method"]) == ["翻倍", "翻倍"] and list(a1["target"]) == [100.0, 80.0]

    rows = frame("翻倍", [30, 60], target=100)
    scored = score.score_indicators(rows, TIERS)
    assert list(scored["score"]) == [6.0, 10.0]  # min(10, 2×0.3×10); min(10, 12)
    assert scored.loc[0, "explanation"] == "翻倍法：完成值30，目标值100，得分 min(10, 2×0.3×10) = 6.00"

    row = gap.gap_table(scored, TIERS).set_index("unit_code").loc["U0"]
    assert (row["value_for_full"], row["value_for_base"]) == (50.0, 30.0)  # 100×0.5; 100×0.6/2
    assert rescored(rows, 50) == 10.0 and rescored(rows, 30) == 6.0
    assert "距满分还需完成 50.00 亿元" in row["sentence"]

    assert "| 翻倍 | 完成比例翻倍计分，封顶为分值 | 目标值 |" in methods.docs_table()
    assert "翻倍" not in progress.methods.skipped_in_progress()


def test_the_scheme_enforces_a_registered_method_s_requirements(tmp_path, demo_method):
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(scheme_with(tmp_path, 上限系数=1.2))
    text = str(caught.value)
    assert "指标「A1」使用翻倍法，不使用「上限系数」" in text and "（只有完成率法使用）" in text
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(scheme_with(tmp_path, 目标值=None))
    # T01 has no 目标值 left (T02 keeps 80 from 目标分解)
    assert "指标「A1」（翻倍法，单位「T01」等）须有「目标值」" in str(caught.value)


def test_an_unknown_method_lists_every_method_with_its_description(tmp_path):
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(scheme_with(tmp_path, 计分方法="翻倍"))  # not registered here
    text = str(caught.value)
    assert "计分方法「翻倍」未知，可用：完成率（完成值÷目标值×分值，可设上限系数）、基本满分（" in text
    assert "扣分（每发生一次（项）扣每项分值，扣完为止）" in text

