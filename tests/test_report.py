"""Summary, feedback and csv outputs, built from small hand-made frames."""

from __future__ import annotations

import re

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import (EVIL, make_adjustments, make_issues, make_missing, make_report_ranked as make_ranked, make_scored,
                      make_values, REPORT_GRADES as GRADES, REPORT_META as META)
from kaohe_excel.base.issues import issues_frame
from kaohe_excel.outputs.report import (
    SCORES_CSV_COLUMNS,
    TOTALS_CSV_COLUMNS,
    Previous,
    load_previous,
    write_all_feedback,
    write_csvs,
    write_feedback,
    write_summary,
)
from kaohe_excel.scheme.workbook import SchemeMeta


def make_previous() -> Previous:
    totals = pd.DataFrame({"unit_code": ["T01", "T02", "T03"], "total": [80.0, 70.0, 40.0], "rank": [1, 3, 2], "grade": ["良好", "合格", "不合格"]})
    scores = pd.DataFrame({"unit_code": ["T01", "T01"], "indicator_code": ["A1", "A2"], "score": [38.5, 18.0]})
    return Previous(totals, scores)


def _summary(tmp_path: Path, previous=None) -> Path:
    return write_summary(tmp_path / "汇总表.xlsx", META, GRADES, make_scored(), make_ranked(), make_adjustments(),
                         make_values(), make_issues(), make_missing(), previous=previous)


def _row_values(ws, row: int) -> list:
    return [c.value for c in ws[row]]


def _all_strings(path: Path) -> list[str]:
    wb = load_workbook(path)
    return [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


# --------------------------------------------------------------------------- summary


def test_summary_sheet_names_and_ranking_table(tmp_path):
    wb = load_workbook(_summary(tmp_path))
    assert wb.sheetnames == ["总排名", "指标得分（部门）", "指标得分（乡镇）", "原始数据", "得分说明", "加扣分明细", "校验问题", "未报送", "统计"]
    ws = wb["总排名"]
    assert ws["A1"].value == "测试县综合考核 2024 汇总表"
    assert _row_values(ws, 2) == ["考核类别", "排名", "单位代码", "单位名称", "指标得分", "加分", "扣分", "总分", "等次", "否决", "标记"]
    # Groups in order of first appearance in `ranked` (部门 first), then by display order.
    assert [ws.cell(r, 3).value for r in range(3, 8)] == ["D01", "D02", "T01", "T02", "T03"]
    d02 = _row_values(ws, 4)
    assert d02[9] == "重大安全事故"
    # The grade note stays; the veto flag is not repeated next to the 否决 column.
    assert d02[10] == "一票否决"
    assert _row_values(ws, 7)[10] == "末位且低于85分，需作整改承诺"
    t01 = _row_values(ws, 5)
    assert t01[7] == 78.0 and ws.cell(5, 8).number_format == "0.00"
    assert ws.freeze_panes == "E3"
    assert ws.auto_filter.ref == "A2:K7"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.print_title_rows == "$2:$2"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # Chinese names are wider than their character count: "单位名称" needs more than 4 units.
    assert ws.column_dimensions["D"].width >= 10


def test_unit_text_is_stored_as_string_never_formula(tmp_path):
    wb = load_workbook(_summary(tmp_path))
    hits = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value == EVIL]
    # T02 appears in 总排名, 指标得分, 原始数据 ×3, 得分说明 ×3, 加扣分明细.
    assert len(hits) == 9
    assert all(c.data_type == "s" for c in hits)
    evidence = [c for c in wb["原始数据"]["G"] if c.value == "+cmd|' /C calc'!A0"]  # after 实际完成值, 等级
    assert len(evidence) == 3 and all(c.data_type == "s" for c in evidence)


def test_score_matrix_one_sheet_per_group_with_its_own_indicators(tmp_path):
    # issue 13: one sheet per 考核类别 (only the indicators that apply to it) so it fits the page width
    wb = load_workbook(_summary(tmp_path))
    ws = wb["指标得分（乡镇）"]
    assert ws["A1"].value == "测试县综合考核 2024 指标得分（乡镇）"
    assert "A2:A3" in {str(r) for r in ws.merged_cells.ranges}
    # 经济发展 spans A1 and A2 (columns D:E); 社会发展 sits over B1 alone.
    assert "D2:E2" in {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(2, c).value for c in (4, 6)] == ["经济发展", "社会发展"]
    assert ws.cell(3, 4).value.startswith("地区生产总值")
    assert ws.cell(2, 7).value == "指标得分" and ws.cell(2, 8).value == "总分"
    rows = {ws.cell(r, 2).value: [ws.cell(r, c).value for c in range(4, 9)] for r in range(4, 7)}
    assert rows["T03"] == [20.0, 0.0, 12.0, 32.0, 32.0]
    assert ws.freeze_panes == "D4"
    assert ws.print_title_rows == "$1:$3"  # title and header on every page
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    dept = wb["指标得分（部门）"]
    assert [dept.cell(2, c).value for c in (4, 5, 6, 7)] == ["社会发展", "班子和队伍建设", "指标得分", "总分"]
    rows = {dept.cell(r, 2).value: [dept.cell(r, c).value for c in range(4, 8)] for r in range(4, 6)}
    assert rows["D01"] == [20.0, 7.0, 27.0, 27.0]
    assert rows["D02"][1] == "不考核"


def test_previous_period_columns(tmp_path):
    ws = load_workbook(_summary(tmp_path, previous=make_previous()))["总排名"]
    header = _row_values(ws, 2)
    assert header[-4:] == ["上期总分", "分数变化", "上期排名", "名次变化"]
    rows = {ws.cell(r, 3).value: _row_values(ws, r) for r in range(3, 8)}
    # T01: 78 − 80 = −2, rank 1 → 1: 0.  T02: 71 − 70 = +1, rank 3 → 2: +1 (moved up).
    assert rows["T01"][-4:] == [80.0, -2.0, 1, 0]
    assert rows["T02"][-4:] == [70.0, 1.0, 3, 1]
    assert rows["D01"][-4:] == [None, None, None, None]
    # Without a previous period the columns are left out.
    plain = load_workbook(_summary(tmp_path / "b"))["总排名"]
    assert "上期总分" not in _row_values(plain, 2)


def test_other_sheets_contents(tmp_path):
    wb = load_workbook(_summary(tmp_path))
    issues = wb["校验问题"]
    assert _row_values(issues, 2) == ["级别", "文件", "工作表", "单元格", "单位", "指标", "问题类型", "说明", "问题代码"]
    assert issues.cell(3, 1).value == "错误"  # errors first
    missing = wb["未报送"]
    assert _row_values(missing, 3)[:2] == ["T09", "南湖镇"]
    adjust = wb["加扣分明细"]
    kinds = {adjust.cell(r, 1).value: adjust.cell(r, 5).value for r in range(3, 6)}
    assert kinds == {"T01": "加分", "T02": "扣分", "D02": "否决"}
    audit = wb["得分说明"]
    header = _row_values(audit, 2)
    assert header[:7] == ["单位代码", "单位名称", "指标代码", "指标名称", "计分方法", "实际完成值", "等级"]
    t01_b1 = [_row_values(audit, r) for r in range(3, 16) if audit.cell(r, 1).value == "T01" and audit.cell(r, 3).value == "B1"][0]
    assert t01_b1[5] is None and t01_b1[6] == "优"  # the 定性 grade in its own column
    t01_a1 = [_row_values(audit, r) for r in range(3, 16) if audit.cell(r, 1).value == "T01" and audit.cell(r, 3).value == "A1"][0]
    assert t01_a1[5] == 100 and "目标值=100" in t01_a1[7]


def test_statistics_sheet(tmp_path):
    ws = load_workbook(_summary(tmp_path))["统计"]
    # issue 13: the groups' totals and chart first, the indicators from a new page with their own header
    assert ws.cell(2, 1).value == "各考核类别总分"
    found = {ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(2, 6)] for r in range(4, 6)}
    # 乡镇 totals 78, 71, 32: mean 181/3 = 60.333… → 60.33.
    assert found["乡镇"] == [3, 60.33, 78.0, 32.0]
    assert found["部门"] == [2, 16.5, 27.0, 6.0]
    assert len(ws._charts) == 1
    head = [r for r in range(1, 60) if ws.cell(r, 1).value == "一级指标"][0]
    assert ws.cell(head - 1, 1).value == "各指标得分情况"
    assert _row_values(ws, head)[:9] == ["一级指标", "指标代码", "指标名称", "分值", "考核单位数", "平均分", "最高分", "最低分", "得分率"]
    assert ws.print_title_rows == f"${head}:${head}"
    assert [b.id for b in ws.row_breaks.brk] == [head - 2]  # the page break above the indicators' label
    a1 = _row_values(ws, head + 1)
    # A1 scores 40, 36, 20: mean 32, max 40, min 20, rate 96 / 120 = 0.8.
    assert a1[1] == "A1" and a1[4:9] == [3, 32.0, 40.0, 20.0, pytest.approx(0.8)]
    c1 = _row_values(ws, head + 4)
    # C1: only D01 (7 of 10); D02 is exempt and not counted.
    assert c1[1] == "C1" and c1[4:9] == [1, 7.0, 7.0, 7.0, pytest.approx(0.7)]


# --------------------------------------------------------------------------- feedback


def test_feedback_contains_own_data_and_only_group_aggregates(tmp_path):
    path = write_feedback(tmp_path / "fb.xlsx", META, "T01", make_scored(), make_ranked())
    wb = load_workbook(path)
    assert wb.sheetnames == ["得分情况", "失分分析"]
    texts = _all_strings(path)
    for other in ["西山乡", EVIL, "发改局", "财政局", "T02", "T03", "D01"]:
        assert not any(other in t for t in texts), other
    assert "第1名/共3个" in texts
    ws = wb["得分情况"]
    head = [r for r in range(1, 30) if ws.cell(r, 1).value == "一级指标"][0]
    # issue 13: the 定性 grade in its own 等级 column, the 实际值 column numbers only
    assert _row_values(ws, head) == ["一级指标", "指标名称", "分值", "实际值", "等级", "得分", "失分", "组内最高", "组内平均", "得分说明"]
    body = [_row_values(ws, r) for r in range(head + 1, head + 4)]
    # A2 in 乡镇: scores 16, 20, 0 → best 20, mean 12; T01 lost 20 − 16 = 4.
    assert body[1][:9] == ["经济发展", "固定资产投资", 20, 9, None, 16.0, 4.0, 20.0, 12.0]
    # B1 in 乡镇 (部门 units not mixed in): 20, 16, 12 → mean 16.
    assert body[2][3] is None and body[2][4] == "优" and body[2][8] == 16.0
    lost = wb["失分分析"]
    assert lost.cell(3, 2).value == "固定资产投资" and lost.cell(3, 5).value == 4.0
    assert lost.cell(4, 2).value is None


def test_feedback_lost_points_sorted_and_deduction(tmp_path):
    wb = load_workbook(write_feedback(tmp_path / "fb.xlsx", META, "T03", make_scored(), make_ranked()))
    lost = wb["失分分析"]
    # T03 lost A2 20 − 0 = 20, A1 40 − 20 = 20, B1 20 − 12 = 8: ties keep indicator order.
    assert [lost.cell(r, 2).value for r in range(3, 6)] == ["地区生产总值", "固定资产投资", "群众满意度"]
    assert [lost.cell(r, 5).value for r in range(3, 6)] == [20.0, 20.0, 8.0]
    # share of 48 lost points: 20/48
    assert lost.cell(3, 6).value == pytest.approx(20 / 48)
    wb2 = load_workbook(write_feedback(tmp_path / "fb2.xlsx", META, "T02", make_scored(), make_ranked()))
    names = [wb2["失分分析"].cell(r, 2).value for r in range(3, 6)]
    # T02 lost A1 4, B1 4 and a deduction of 1.
    assert names == ["地区生产总值", "群众满意度", "扣分合计"]


def test_feedback_over_completion_is_no_loss(tmp_path):
    scored = make_scored()
    scored.loc[(scored["unit_code"] == "T01") & (scored["indicator_code"] == "A1"), "score"] = 44.0  # cap 1.1 × 40
    ws = load_workbook(write_feedback(tmp_path / "fb.xlsx", META, "T01", scored, make_ranked()))["得分情况"]
    head = [r for r in range(1, 30) if ws.cell(r, 1).value == "一级指标"][0]
    # 40 − 44 would be −4: reported as 0 lost points.
    assert ws.cell(head + 1, 6).value == 44.0 and ws.cell(head + 1, 7).value == 0.0  # after 实际值, 等级


def test_feedback_with_previous(tmp_path):
    wb = load_workbook(write_feedback(tmp_path / "fb.xlsx", META, "T01", make_scored(), make_ranked(), previous=make_previous()))
    ws = wb["得分情况"]
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 20)}
    assert labels["上期总分"] == 80.0 and labels["分数变化"] == -2.0 and labels["名次变化"] == 0
    head = [r for r in range(1, 30) if ws.cell(r, 1).value == "一级指标"][0]
    assert _row_values(ws, head)[-2:] == ["上期得分", "变化"]
    # A1: 40 − 38.5 = 1.5; A2: 16 − 18 = −2; B1 had no previous score.
    assert [ws.cell(head + i, 12).value for i in (1, 2, 3)] == [1.5, -2.0, None]  # 等级 column before


@pytest.mark.parametrize("workers", [1, 2])
def test_write_all_feedback(tmp_path, workers):
    paths = write_all_feedback(tmp_path / "反馈", META, make_scored(), make_ranked(), workers=workers)
    names = sorted(p.name for p in paths)
    assert len(names) == 5
    assert "T01_东城镇.xlsx" in names and "D02_财政局.xlsx" in names
    evil = [n for n in names if n.startswith("T02_")][0]
    assert "/" not in evil and '"' not in evil and ":" not in evil
    assert all(p.parent == tmp_path / "反馈" and p.exists() for p in paths)
    ws = load_workbook(tmp_path / "反馈" / evil)["得分情况"]
    assert ws["B2"].value == EVIL and ws["B2"].data_type == "s"


# --------------------------------------------------------------------------- csv


def test_csvs_columns_bom_and_numbers(tmp_path):
    scores_path, totals_path = write_csvs(tmp_path, "2024", make_scored(), make_ranked())
    for path in (scores_path, totals_path):
        assert path.read_bytes().startswith(codecs.BOM_UTF8)
    scores = pd.read_csv(scores_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    totals = pd.read_csv(totals_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(scores.columns) == SCORES_CSV_COLUMNS == ["考核周期", "单位代码", "单位名称", "考核类别", "指标代码", "指标名称", "实际值", "得分", "分值", "计分方法"]
    assert list(totals.columns) == TOTALS_CSV_COLUMNS == ["考核周期", "单位代码", "单位名称", "考核类别", "指标得分", "加分", "扣分", "总分", "排名", "等次", "否决"]
    assert len(scores) == 13 and len(totals) == 5
    t02 = totals[totals["单位代码"] == "T02"].iloc[0]
    assert t02["单位名称"] == "'" + EVIL
    assert t02["总分"] == "71.00" and t02["扣分"] == "1.00" and t02["排名"] == "2" and t02["否决"] == "否"
    assert totals[totals["单位代码"] == "D02"].iloc[0]["否决"] == "是"
    row = scores[(scores["单位代码"] == "T01") & (scores["指标代码"] == "A2")].iloc[0]
    assert row["实际值"] == "9" and row["得分"] == "16.00" and float(row["分值"]) == 20.0
    assert scores[(scores["单位代码"] == "T01") & (scores["指标代码"] == "B1")].iloc[0]["实际值"] == "优"
    # Every score parses as a number (blank only for the exempt row).
    numeric = pd.to_numeric(scores["得分"].replace("", np.nan))
    assert numeric.isna().sum() == 1
    assert numeric.sum() == pytest.approx(40 + 16 + 20 + 36 + 20 + 16 + 20 + 0 + 12 + 20 + 7 + 6)


def test_csvs_round_trip_as_previous(tmp_path):
    write_csvs(tmp_path, "2024", make_scored(), make_ranked())
    previous = load_previous(tmp_path)
    totals = previous.totals.set_index("unit_code")
    assert totals.loc["T01", "total"] == 78.0 and totals.loc["T02", "rank"] == 2
    assert previous.scores is not None
    scores = previous.scores.set_index(["unit_code", "indicator_code"])["score"]
    assert scores[("T01", "A2")] == 16.0


def test_issue_report(tmp_path):
    from kaohe_excel.outputs.report import write_issue_report

    wb = load_workbook(write_issue_report(tmp_path / "校验问题.xlsx", META, make_issues()))
    assert wb.sheetnames == ["校验问题"]
    ws = wb["校验问题"]
    assert _row_values(ws, 2) == ["级别", "文件", "工作表", "单元格", "单位", "指标", "问题类型", "说明", "问题代码"]
    assert [ws.cell(r, 1).value for r in (3, 4)] == ["错误", "警告"]
    # the 问题类型 is Chinese; the stable English code stays in its own last column
    for r in (3, 4):
        assert re.search(r"[\u4e00-\u9fff]", ws.cell(r, 7).value) and re.fullmatch(r"[a-z_]+", ws.cell(r, 9).value)
    empty = load_workbook(write_issue_report(tmp_path / "空.xlsx", META, issues_frame([])))["校验问题"]
    assert empty.cell(3, 1).value == "无校验问题。"


def test_title_does_not_repeat_period(tmp_path):
    meta = SchemeMeta(name="清源县2024年度目标考核", period="2024")
    path = write_summary(tmp_path / "s.xlsx", meta, GRADES, make_scored(), make_ranked(), None, None, None, None)
    wb = load_workbook(path)
    assert wb["总排名"]["A1"].value == "清源县2024年度目标考核 汇总表"
    assert wb.sheetnames == ["总排名", "指标得分（部门）", "指标得分（乡镇）", "原始数据", "得分说明", "加扣分明细", "校验问题", "未报送", "统计"]


def test_subcategory_adds_a_header_level(tmp_path):
    scored = make_scored()
    scored["subcategory"] = scored["indicator_code"].map({"A1": "总量", "A2": "投资", "B1": "", "C1": ""})
    path = write_summary(tmp_path / "s.xlsx", META, GRADES, scored, make_ranked(), None, None, None, None)
    ws = load_workbook(path)["指标得分（乡镇）"]
    # Rows 2 (一级指标), 3 (二级指标), 4 (indicators); data from row 5.
    assert [ws.cell(2, c).value for c in (4, 6)] == ["经济发展", "社会发展"]
    assert [ws.cell(3, c).value for c in (4, 5)] == ["总量", "投资"]
    assert ws.cell(4, 4).value.startswith("地区生产总值")
    assert "A2:A4" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.freeze_panes == "D5"
    fb = load_workbook(write_feedback(tmp_path / "fb.xlsx", META, "T01", scored, make_ranked()))["得分情况"]
    head = [r for r in range(1, 30) if fb.cell(r, 1).value == "一级指标"][0]
    assert [fb.cell(head, c).value for c in (1, 2, 3)] == ["一级指标", "二级指标", "指标名称"]
    assert fb.cell(head + 1, 2).value == "总量"


def test_previous_as_one_long_frame(tmp_path):
    # Long form: one row per unit × indicator, totals repeated on each row.
    previous = pd.DataFrame({
        "unit_code": ["T01", "T01"], "indicator_code": ["A1", "A2"], "score": [38.5, 18.0],
        "total": [80.0, 80.0], "rank": [2, 2], "grade": ["良好", "良好"],
    })
    ws = load_workbook(_summary(tmp_path, previous=previous))["总排名"]
    t01 = [_row_values(ws, r) for r in range(3, 8) if ws.cell(r, 3).value == "T01"][0]
    # 78 − 80 = −2; rank 2 → 1 is one place up.
    assert t01[-4:] == [80.0, -2.0, 2, 1]
    fb = load_workbook(write_feedback(tmp_path / "fb.xlsx", META, "T01", make_scored(), make_ranked(), previous=previous))["得分情况"]
    head = [r for r in range(1, 30) if fb.cell(r, 1).value == "一级指标"][0]
    assert fb.cell(head + 2, 11).value == 18.0  # 上期得分 of A2 (after the 等级 column)


def _sheets_xml(path: Path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("xl/")}


def test_feedback_written_in_a_batch_equals_written_alone(tmp_path):
    """All units' workbooks are planned together; each must still be what its unit alone gives."""
    scored, ranked = make_scored(), make_ranked()
    paths = write_all_feedback(tmp_path / "all", META, scored, ranked, workers=1, previous=make_previous())
    assert len(paths) == 5
    for path in paths:
        code = path.name.split("_")[0]
        alone = write_feedback(tmp_path / "alone" / path.name, META, code, scored, ranked, previous=make_previous())
        assert _sheets_xml(alone) == _sheets_xml(path), path.name


def test_the_pool_writes_the_feedback_while_meanwhile_runs(tmp_path):
    """The run writes its summary in `meanwhile` while the pool writes the workbooks: the workbooks
    are those written serially, and meanwhile has run once by the time the call returns."""
    scored, ranked = make_scored(), make_ranked()
    calls = []
    pooled = write_all_feedback(tmp_path / "pool", META, scored, ranked, workers=2, meanwhile=lambda: calls.append("pool"))
    serial = write_all_feedback(tmp_path / "serial", META, scored, ranked, workers=1, meanwhile=lambda: calls.append("serial"))
    assert calls == ["pool", "serial"]
    assert [p.name for p in pooled] == [p.name for p in serial]
    for a, b in zip(pooled, serial):
        assert _sheets_xml(a) == _sheets_xml(b), a.name


def test_a_failure_meanwhile_stops_the_feedback_pool(tmp_path):
    def fail():
        raise RuntimeError("通报模板有误")

    with pytest.raises(RuntimeError, match="通报模板有误"):
        write_all_feedback(tmp_path / "反馈", META, make_scored(), make_ranked(), workers=2, meanwhile=fail)
