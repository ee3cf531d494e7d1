"""Acceptance check for the scheme guide: a 县公安局 scheme written from docs/scheme-guide.md alone runs first time.

The scheme uses every 计分方法 the guide lists, a 反向 indicator, 评定 indicators, a 定性 indicator filled by the
unit itself, a bonus with a 单项上限 and the 加分上限, a deduction and a 否决 item with its own 否决效果.
Expected totals are computed by hand below from the guide's formulas (§三, §四).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from kaohe_excel.cli import app

runner = CliRunner()

UNITS = [
    ("PS01", "城关派出所", "派出所"),
    ("PS02", "河西派出所", "派出所"),
    ("PS03", "东山派出所", "派出所"),
    ("PS04", "南湖派出所", "派出所"),
    ("KS01", "指挥中心", "机关科室"),
    ("KS02", "法制大队", "机关科室"),
    ("KS03", "政工室", "机关科室"),
]

INDICATOR_HEADER = ["指标代码", "一级指标", "指标名称", "计量单位", "适用类别", "分值", "计分方法", "方向",
                    "基本值", "目标值", "满分值", "不允许值", "上限系数", "每项分值", "档次表", "数据来源"]
INDICATORS = [
    ["A01", "打击犯罪", "刑事案件破案率", "%", "派出所", 20, "完成率", "正向", None, 60, None, None, 1.2, None, None, "自报"],
    ["A02", "打击犯罪", "刑事案件发案数", "起", "派出所", 10, "完成率", "反向", None, 50, None, None, None, None, None, "自报"],
    ["A03", "基层基础", "矛盾纠纷化解率", "%", "派出所", 10, "基本满分", "正向", 80, None, 95, None, None, None, None, "自报"],
    ["A04", "群众工作", "群众满意度", "分", "全部", 10, "功效系数", "正向", None, None, 95, 70, None, None, None, "评定"],
    ["A05", "基层基础", "警情处置及时率", "%", "派出所", 10, "阶梯", "正向", None, 100, None, None, None, None, "进度档", "自报"],
    ["A06", "执法规范", "执法质量考评", None, "全部", 10, "定性", None, None, None, None, None, None, None, "评价", "评定"],
    ["A07", "业务工作", "业务指导次数", "次", "机关科室", 20, "相对最优", "正向", None, None, None, None, None, None, None, "自报"],
    ["A08", "业务工作", "督办事项按期办结率", "%", "机关科室", 10, "差额扣分", "正向", None, 95, None, None, None, 0.5, None, "自报"],
    ["A09", "基层基础", "社区走访户数", "户", "派出所", 10, "排名", "正向", None, None, None, None, None, None, None, "自报"],
    ["A10", "执法规范", "执法过错", "次", "全部", 10, "扣分", None, None, None, None, None, None, 2, None, "自报"],
    ["A11", "队伍建设", "是否完成队伍教育整顿任务", None, "机关科室", 5, "定性", None, None, None, None, None, None, None, "是否", "自报"],
]

# Values each unit reports (自报) and the office assesses (评定), by indicator code.
REPORTED = {
    "PS01": {"A01": 75, "A02": 40, "A03": 89, "A05": 95, "A09": 500, "A10": 1},
    "PS02": {"A01": 54, "A02": 62.5, "A03": 96, "A05": 100, "A09": 400, "A10": 0},
    "PS03": {"A01": 60, "A02": 50, "A03": 70, "A05": 85, "A09": 400, "A10": 2},
    "PS04": {"A01": 48, "A02": 80, "A03": 95, "A05": 70, "A09": 300, "A10": 0},
    "KS01": {"A07": 40, "A08": 93, "A10": 0, "A11": "是"},
    "KS02": {"A07": 50, "A08": 98, "A10": 1, "A11": "是"},
    "KS03": {"A07": 25, "A08": 90, "A10": 0, "A11": "否"},
}
ASSESSED = {
    "PS01": {"A04": 90, "A06": "优"}, "PS02": {"A04": 80, "A06": "良"},
    "PS03": {"A04": 95, "A06": "中"}, "PS04": {"A04": 65, "A06": "差"},
    "KS01": {"A04": 95, "A06": "良"}, "KS02": {"A04": 82.5, "A06": "优"}, "KS03": {"A04": 70, "A06": "中"},
}


def _sheet(workbook, name, rows):
    sheet = workbook.create_sheet(name)
    for row in rows:
        sheet.append(row)


def write_police_scheme(path: Path) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "方案", [
        ["项目", "值"],
        ["考核名称", "某县公安局2024年度绩效考核"],
        ["考核周期", "2024"],
        ["周期类型", "年度"],
        ["发文机关", "某县公安局绩效考核办公室"],
        ["文号", "某公考〔2025〕1号"],
        ["总分折算", "百分制"],
        ["加分上限", 5],
        ["优秀比例上限", "40%"],
        ["否决效果", "取消评优"],
    ])
    _sheet(workbook, "等次", [["等次", "最低分"], ["优秀", 90], ["良好", 80], ["合格", 60], ["不合格", 0]])
    _sheet(workbook, "单位", [["单位代码", "单位名称", "考核类别", "联系人", "邮箱"]]
           + [[code, name, group, "联系人", f"{code.lower()}@example.gov.cn"] for code, name, group in UNITS])
    _sheet(workbook, "指标", [INDICATOR_HEADER] + INDICATORS)
    _sheet(workbook, "档次表", [
        ["档次表", "下限", "等级", "得分比例"],
        ["进度档", 0.8, None, 0.6], ["进度档", 0.9, None, 0.8], ["进度档", 1.0, None, 1],
        ["评价", None, "优", 1], ["评价", None, "良", 0.8], ["评价", None, "中", 0.6], ["评价", None, "差", 0.3],
        ["是否", None, "是", 1], ["是否", None, "否", 0],
    ])
    _sheet(workbook, "加扣分", [
        ["项目代码", "类型", "项目名称", "每项分值", "单项上限", "需佐证", "否决效果"],
        ["J01", "加分", "受到上级表彰", 2, 4, None, None],
        ["K01", "扣分", "发生有责信访事项", 0.5, None, None, None],
        ["F01", "否决", "发生民警严重违纪违法案件", None, None, None, "定为不合格"],
    ])
    workbook.save(path)


def _header_row(sheet, *names):
    """(row number, {header text: column}) of the first row holding every given header."""
    for row in sheet.iter_rows():
        texts = {str(c.value).strip(): c.column for c in row if c.value is not None}
        if all(n in texts for n in names):
            return row[0].row, texts
    raise AssertionError(f"no header row with {names} in {sheet.title}")


def fill_unit(path: Path, values: dict, bonus: list[tuple[str, int]] = ()) -> None:
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    header, cols = _header_row(sheet, "指标代码", "实际完成值")
    seen = set()
    for r in range(header + 1, sheet.max_row + 1):
        code = sheet.cell(r, cols["指标代码"]).value
        if code in values:
            sheet.cell(r, cols["实际完成值"]).value = values[code]
            seen.add(code)
    assert seen == set(values), f"{path.name}: template rows {seen} != {set(values)}"
    if bonus:
        extra = workbook["加扣分"]
        header, cols = _header_row(extra, "项目代码", "数量")
        for i, (item, count) in enumerate(bonus, start=1):
            extra.cell(header + i, cols["项目代码"]).value = item
            extra.cell(header + i, cols["数量"]).value = count
    workbook.save(path)


def fill_office(path: Path, registered: list[tuple[str, str, int]]) -> None:
    workbook = load_workbook(path)
    sheet = workbook["评定"]
    header, cols = _header_row(sheet, "单位代码", "指标代码", "评定值")
    filled = 0
    for r in range(header + 1, sheet.max_row + 1):
        unit = sheet.cell(r, cols["单位代码"]).value
        code = sheet.cell(r, cols["指标代码"]).value
        if unit in ASSESSED and code in ASSESSED[unit]:
            sheet.cell(r, cols["评定值"]).value = ASSESSED[unit][code]
            filled += 1
    assert filled == sum(len(v) for v in ASSESSED.values())
    extra = workbook["加扣分"]
    header, cols = _header_row(extra, "单位代码", "项目代码", "数量")
    for i, (unit, item, count) in enumerate(registered, start=1):
        extra.cell(header + i, cols["单位代码"]).value = unit
        extra.cell(header + i, cols["项目代码"]).value = item
        extra.cell(header + i, cols["数量"]).value = count
    workbook.save(path)


def test_police_scheme_from_guide_runs_and_scores_by_hand(tmp_path):
    scheme = tmp_path / "考核方案.xlsx"
    write_police_scheme(scheme)
    out = tmp_path / "outputs"
    issued = out / "模板"
    result = runner.invoke(app, ["template", "--scheme", str(scheme), "--out", str(issued)])
    assert result.exit_code == 0, result.output

    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    for code, name, _ in UNITS:
        [template] = list(issued.glob(f"{code}_*.xlsx"))
        target = inbox / template.name
        shutil.copy(template, target)
        fill_unit(target, REPORTED[code], bonus=[("J01", 3)] if code == "PS01" else ())
    [office] = list(issued.glob("评定表.xlsx"))
    shutil.copy(office, inbox / office.name)
    fill_office(inbox / office.name, [("PS01", "K01", 1), ("PS02", "F01", 1)])

    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(scheme), "--out", str(out)])
    assert result.exit_code == 0, result.output

    period = out / "2024"
    with open(period / "totals.csv", encoding="utf-8-sig") as handle:
        totals = {row["单位代码"]: row for row in csv.DictReader(handle)}
    with open(period / "scores.csv", encoding="utf-8-sig") as handle:
        scores = {(row["单位代码"], row["指标代码"]): float(row["得分"]) for row in csv.DictReader(handle)}

    # One hand-computed score per method (guide §三), b = 0.6 by default.
    by_hand = {
        ("PS01", "A01"): 24.00,  # 完成率: 20 × min(75 ÷ 60, 上限系数 1.2)
        ("PS02", "A02"): 8.00,   # 完成率 反向: 10 × 50 ÷ 62.5
        ("PS01", "A03"): 8.40,   # 基本满分: 10 × (0.6 + 0.4 × (89 − 80) ÷ (95 − 80))
        ("PS03", "A03"): 5.25,   # 基本满分, below 基本值: 10 × 0.6 × 70 ÷ 80
        ("PS04", "A04"): 5.20,   # 功效系数 (评定), below 不允许值: 10 × (0.6 − 0.4 × 5 ÷ 25)
        ("PS03", "A05"): 6.00,   # 阶梯: 85 ÷ 100 reaches the 0.8 step → 10 × 0.6
        ("PS02", "A06"): 8.00,   # 定性 (评定): 良 → 10 × 0.8
        ("KS01", "A07"): 16.00,  # 相对最优: 20 × 40 ÷ 50
        ("KS03", "A08"): 7.50,   # 差额扣分: 10 − (95 − 90) × 0.5
        ("PS03", "A09"): 8.67,   # 排名, tied 2nd of 4: 10 − 1 ÷ 3 × 10 × 0.4
        ("PS04", "A09"): 6.00,   # 排名, last: 10 × 0.6
        ("PS03", "A10"): 6.00,   # 扣分: 10 − 2 × 2
        ("KS03", "A11"): 0.00,   # 定性 (自报): 否 → 0
    }
    for key, value in by_hand.items():
        assert abs(scores[key] - value) < 0.005, (key, scores[key], value)

    # 百分制: 派出所 可得分值 = 20 + 7 × 10 = 90, 机关科室 = 10 + 10 + 20 + 10 + 10 + 5 = 65.
    # PS01: 24 + 10 + 8.40 + 9.20 + 8 + 10 + 10 + 8 = 87.60 → 87.60 × 100 ÷ 90 = 97.33; J01 3 items × 2 = 6, capped
    # at its 单项上限 4 (加分上限 5 not reached); K01 1 × 0.5 → 97.33 + 4 − 0.5 = 100.83, 优秀 (4 × 40% → 1 place).
    # PS02: 18 + 8 + 10 + 7.60 + 10 + 8 + 8.67 + 10 = 80.27 → 89.19; vetoed by F01, whose own 否决效果 定为不合格
    # overrides the scheme's 取消评优: scored and ranked as usual (2nd), graded 不合格.
    # KS01: 10 + 8 + 16 + 9 + 10 + 5 = 58 → 89.23, 良好. KS02: 8 + 10 + 20 + 10 + 8 + 5 = 61 → 93.85, 优秀.
    expected = {
        "PS01": ("100.83", "1", "优秀", "否"), "PS02": ("89.19", "2", "不合格", "是"),
        "KS01": ("89.23", "2", "良好", "否"), "KS02": ("93.85", "1", "优秀", "否"),
    }
    for unit, (total, rank, grade, veto) in expected.items():
        row = totals[unit]
        assert (row["总分"], row["排名"], row["等次"], row["否决"]) == (total, rank, grade, veto), row
