"""Every worked example of docs/scheme-guide.md, scored by the tool: the guide's numbers (computed by
hand when it was written) must be what `kaohe run` gives, and must be printed in the guide."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_workbook
from kaohe_excel.scoring import rank
from kaohe_excel.scoring import score
from kaohe_excel.scheme.workbook import load_scheme

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "scheme-guide.md").read_text(encoding="utf-8")
N = None
UNITS = ["T1", "T2", "T3"]
GRADES = pd.DataFrame({"等次": ["优秀", "良好", "合格", "不合格"], "最低分": [90, 80, 60, 0]})
UNIT_SHEET = pd.DataFrame({"单位代码": UNITS, "单位名称": ["甲镇", "乙镇", "丙镇"], "考核类别": ["乡镇"] * 3})
TIERS = pd.DataFrame({"档次表": ["进度档"] * 3 + ["评价"] * 4 + ["是否"] * 2,
                      "下限": [0.8, 0.9, 1.0] + [N] * 6,
                      "等级": ["", "", "", "优", "良", "中", "差", "是", "否"],
                      "得分比例": [0.6, 0.8, 1, 1, 0.8, 0.6, 0.3, 1, 0]})
COLUMNS = ["指标代码", "指标名称", "适用类别", "分值", "计分方法", "方向", "基本值", "目标值", "满分值", "不允许值",
           "上限系数", "每项分值", "档次表"]

# section of the guide, (分值, 方法, 方向, 基本值, 目标值, 满分值, 不允许值, 上限系数, 每项分值, 档次表), three values, hand scores
EXAMPLES = [
    ("完成率", (10, "完成率", "正向", N, 8, N, N, 1.2, N, N), [10, 6, 8.8], [12.00, 7.50, 11.00]),
    ("完成率", (10, "完成率", "反向", N, 0.5, N, N, N, N, N), [0.4, 0.625, 0.55], [10.00, 8.00, 9.09]),
    ("基本满分", (18, "基本满分", "正向", 7.82, N, 8, N, N, N, N), [7.91, 8.2, 7.0], [14.40, 18.00, 9.67]),
    ("基本满分", (10, "基本满分", "反向", 1.0, N, 0.8, N, N, N, N), [0.9, 0.7, 1.25], [8.00, 10.00, 4.80]),
    ("功效系数", (10, "功效系数", "正向", N, N, 12, 6, N, N, N), [5.81, 9, 13], [5.87, 8.00, 10.00]),
    ("功效系数", (10, "功效系数", "反向", N, N, 2, 5, N, N, N), [3.5, 1.5, 6], [8.00, 10.00, 4.67]),
    ("功效系数", (10, "功效系数", "正向", N, N, N, N, N, N, N), [60, 90, 80], [6.00, 10.00, 8.67]),
    ("阶梯", (10, "阶梯", "正向", N, 100, N, N, N, N, "进度档"), [95, 105, 70], [8.00, 10.00, 0.00]),
    ("阶梯", (10, "阶梯", "反向", N, 20, N, N, N, N, "进度档"), [22, 18, 30], [8.00, 10.00, 0.00]),
    ("差额扣分", (1, "差额扣分", "正向", N, 20, N, N, N, 0.1, N), [18, 25, 5], [0.80, 1.00, 0.00]),
    ("差额扣分", (2, "差额扣分", "反向", N, 45, N, N, N, 0.5, N), [47, 44, 50], [1.00, 2.00, 0.00]),
    ("差额扣分", (2, "差额扣分", "正向", N, N, N, N, N, 0.1, N), [18, 20, 25], [1.70, 1.90, 2.00]),
    ("排名", (6, "排名", "正向", N, N, N, N, N, 0.5, N), [50, 40, 40], [6.00, 5.50, 5.50]),
    ("排名", (10, "排名", "正向", N, N, N, N, N, N, N), [50, 40, 30], [10.00, 8.00, 6.00]),
    ("排名", (10, "排名", "反向", N, N, N, N, N, N, N), [3, 5, 4], [10.00, 6.00, 8.00]),
    ("相对最优", (10, "相对最优", "正向", N, N, N, N, N, N, N), [5, 8, 10], [5.00, 8.00, 10.00]),
    ("相对最优", (10, "相对最优", "反向", N, N, N, N, N, N, N), [5, 8, 10], [10.00, 6.25, 5.00]),
    ("定性", (10, "定性", "正向", N, N, N, N, N, N, "评价"), ["良", "优", "差"], [8.00, 10.00, 3.00]),
    ("定性", (2, "定性", "正向", N, N, N, N, N, N, "是否"), ["是", "否", "是"], [2.00, 0.00, 2.00]),
    ("扣分（作为指标）", (10, "扣分", "正向", N, N, N, N, N, 2, N), [3, 6, 0], [4.00, 0.00, 10.00]),
]


def section(title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |^## |\Z)", GUIDE, re.S | re.M)
    assert match, f"no section {title} in the guide"
    return match.group(1)


def meta(mode: str = "原始分", veto: str = "取消评优") -> pd.DataFrame:
    return pd.DataFrame({"项目": ["考核名称", "考核周期", "总分折算", "加分上限", "优秀比例上限", "否决效果"],
                         "值": ["算例", "2024", mode, 4, "40%", veto]})


@pytest.fixture(scope="module")
def method_scores(tmp_path_factory):
    rows = [(f"M{i:02d}", f"例{i}", "全部", *params) for i, (_, params, _, _) in enumerate(EXAMPLES)]
    path = write_workbook(tmp_path_factory.mktemp("guide") / "methods.xlsx", {
        "方案": meta(), "等次": GRADES, "单位": UNIT_SHEET, "指标": pd.DataFrame(rows, columns=COLUMNS), "档次表": TIERS})
    scheme = load_scheme(path)
    frame = scheme.assignments()
    values = {(f"M{i:02d}", u): v for i, (_, _, vs, _) in enumerate(EXAMPLES) for u, v in zip(UNITS, vs)}
    picked = [values[(c, u)] for c, u in zip(frame["indicator_code"], frame["unit_code"])]
    frame["value"] = [math.nan if isinstance(v, str) else float(v) for v in picked]
    frame["text_value"] = [v if isinstance(v, str) else None for v in picked]
    frame["unscored"] = False
    scored = score.score_indicators(frame, scheme.tier_tables)
    return {(c, u): s for c, u, s in zip(scored["indicator_code"], scored["unit_code"], scored["score"])}


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[f"{e[0]}-{e[1][2]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_method_example(method_scores, index):
    title, _, _, expected = EXAMPLES[index]
    got = [method_scores[(f"M{index:02d}", u)] for u in UNITS]
    assert got == pytest.approx(expected, abs=1e-9)
    text = section(title)
    for value in expected:
        assert f"**{value:.2f}**" in text, f"{title}: {value:.2f} is not in the guide"


# ---------------------------------------------------------------- part four: one small scheme, several variants

def totals(tmp_path, name, mode="原始分", rule="", weights=False, veto="取消评优") -> pd.DataFrame:
    indicators = pd.DataFrame({"指标代码": ["G1", "G2", "G3"], "一级指标": ["共性指标", "个性指标", "个性指标"],
                               "指标名称": ["一", "二", "三"], "适用类别": ["全部"] * 3, "分值": [40, 30, 30],
                               "计分方法": ["完成率"] * 3, "目标值": [100, 50, 10], "缺项处理": ["", "", rule]})
    sheets = {"方案": meta(mode, veto), "等次": GRADES, "单位": UNIT_SHEET, "指标": indicators,
              "目标分解": pd.DataFrame({"单位代码": ["T2", "T3"], "指标代码": ["G1", "G3"], "目标值": [80, N],
                                    "不考核": ["", "是"]}),
              "加扣分": pd.DataFrame({"项目代码": ["J01", "J02", "K01", "F01"], "类型": ["加分", "加分", "扣分", "否决"],
                                   "项目名称": ["上级表彰", "创新经验推广", "媒体曝光", "重大安全事故"],
                                   "每项分值": [1, 2, 0.5, N], "单项上限": [3, N, N, N]})}
    if weights:
        sheets["权重"] = pd.DataFrame({"一级指标": ["共性指标", "个性指标"], "权重": [30, 70]})
    scheme = load_scheme(write_workbook(tmp_path / f"{name}.xlsx", sheets))
    frame = scheme.assignments()
    values = {("T1", "G1"): 80, ("T1", "G2"): 40, ("T1", "G3"): 12, ("T2", "G1"): 80, ("T2", "G2"): 50,
              ("T2", "G3"): 5, ("T3", "G1"): 100, ("T3", "G2"): 45}
    frame["value"] = [values.get(k, math.nan) for k in zip(frame["unit_code"], frame["indicator_code"])]
    frame["text_value"], frame["unscored"] = None, False
    claims = pd.DataFrame({"unit_code": ["T1", "T1", "T1", "T2", "T3"], "item_code": ["J01", "J02", "K01", "F01", "J02"],
                           "count": [5.0, 1, 1, 1, 1]})
    scored = score.score_indicators(frame, scheme.tier_tables)
    ranked = rank.rank_and_grade(score.compute_totals(scored, score.score_adjustments(claims, scheme.adjustments), scheme),
                                 scheme)
    return ranked.set_index("unit_code")


TOTALS = [
    # guide section, variant, {unit: (total, rank, grade)} computed by hand in the guide
    ("原始分", {}, {"T1": (89.50, 1, "良好"), "T2": (85.00, 2, "良好"), "T3": (69.00, 3, "合格")}),
    ("百分制（不考核按归一化）", {"mode": "百分制"}, {"T1": (89.50, 2, "良好"), "T2": (85.00, 3, "良好"), "T3": (97.71, 1, "优秀")}),
    ("缺项处理 = 均值", {"mode": "百分制", "rule": "均值"}, {"T3": (91.50, 1, "优秀")}),
    ("权重", {"weights": True}, {"T1": (90.50, 2, "良好"), "T2": (82.50, 3, "良好"), "T3": (95.00, 1, "优秀")}),
    ("一票否决", {"weights": True, "veto": "定为不合格"}, {"T2": (82.50, 3, "不合格")}),
    ("一票否决", {"weights": True, "veto": "总分清零"}, {"T2": (0.00, 3, "不合格")}),
]


@pytest.mark.parametrize("index", range(len(TOTALS)), ids=[f"{t[0]}-{i}" for i, t in enumerate(TOTALS)])
def test_totals_example(tmp_path, index):
    title, variant, expected = TOTALS[index]
    ranked = totals(tmp_path, f"v{index}", **variant)
    text = section(title)
    for unit, (total, position, grade) in expected.items():
        assert ranked.loc[unit, "total"] == pytest.approx(total, abs=1e-9), unit
        assert (int(ranked.loc[unit, "rank"]), ranked.loc[unit, "grade"]) == (position, grade), unit
        assert f"**{total:.2f}**" in text, f"{title}: {total:.2f} is not in the guide"


def test_quota_note_is_the_one_the_guide_quotes(tmp_path):
    ranked = totals(tmp_path, "quota", weights=True)
    assert "受优秀比例限制" in ranked.loc["T1", "grade_note"]
    assert "受优秀比例限制" in section("权重")


def test_rounding_example():
    assert score.round_half_up(2 - (87.325 - 82.2) * 0.2) == 0.98
    assert "**0.98**" in section("四舍五入")
