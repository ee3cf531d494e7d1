"""Progress mode (月报季评): time progress, lag warnings, forecasts, prorated scoring and outputs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from docx import Document
from openpyxl import load_workbook

from conftest import make_inbox, small_scheme_sheets, write_workbook
from kaohe_excel.storage import archive
from kaohe_excel.scoring import period_scoring
from kaohe_excel.jobs import pipeline
from kaohe_excel.scoring import progress
from kaohe_excel.base.errors import KaoheError
from kaohe_excel.outputs.notice_template import DEFAULT_TEMPLATE
from kaohe_excel.outputs.report import FEEDBACK_SHEETS, summary_sheet_names, write_all_feedback
from kaohe_excel.scheme.workbook import load_scheme

ISSUED = date(2024, 7, 10)
TEMPLATES = DEFAULT_TEMPLATE.parent

# 2024-06, elapsed 6/12 = 0.5. Small scheme: A1 完成率 亿元 target 100 (T02: 80), A2 基本满分 亿元
# base 8 full 10, B1 完成率 % target 90 (评定), C1 定性, C2 完成率 反向 吨标准煤/万元 target 0.5 (D02 exempt).
VALUES_2024_06 = {
    "T01": {"A1": 40, "A2": 4.5, "C2": 0.5},
    "T02": {"A1": 38.4, "A2": 3, "C2": 0.6},
    "D01": {"C2": 0.5},
}
ASSESSED_2024_06 = {
    ("T01", "B1"): 81, ("T02", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
    ("T01", "C1"): "优", ("T02", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优",
}
VALUES_2023_06 = {"T01": {"A1": 30, "A2": 4, "C2": 0.5}, "T02": {"A1": 30, "A2": 4, "C2": 0.5}, "D01": {"C2": 0.5}}
VALUES_2023 = {"T01": {"A1": 90, "A2": 10, "C2": 0.5}, "T02": {"A1": 75, "A2": 9, "C2": 0.5}, "D01": {"C2": 0.5}}


def _sheets(period: str, period_type: str, extra: dict | None = None) -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    meta = sheets["方案"].copy()
    meta.loc[meta["项目"] == "考核周期", "值"] = period
    meta.loc[meta["项目"] == "周期类型", "值"] = period_type
    for key, value in (extra or {}).items():
        meta = pd.concat([meta, pd.DataFrame({"项目": [key], "值": [value]})], ignore_index=True)
    sheets["方案"] = meta
    return sheets


def _run(base: Path, out_root: Path, period: str, period_type: str, values, assessed=ASSESSED_2024_06, extra=None):
    scheme_path = write_workbook(base / f"scheme_{period}.xlsx", _sheets(period, period_type, extra))
    inbox = make_inbox(base / f"inbox_{period}", load_scheme(scheme_path), values=values, assessed=assessed)
    return pipeline.run(inbox, scheme_path, out_root=out_root, issued_on=ISSUED, template_dir=TEMPLATES, workers=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Last year's June and annual periods archived, then this year's June run (progress mode)."""
    base = tmp_path_factory.mktemp("progress")
    out = base / "outputs"
    annual = _run(base, out, "2023", "年度", VALUES_2023)
    _run(base, out, "2023-06", "月度", VALUES_2023_06)
    june = _run(base, out, "2024-06", "月度", VALUES_2024_06)
    return {"annual": annual, "june": june, "out": out}


def _row(table: pd.DataFrame, unit: str, indicator: str) -> pd.Series:
    return table.set_index(["unit_code", "indicator_code"]).loc[(unit, indicator)]


# --------------------------------------------------------------------------- time progress


@pytest.mark.parametrize("period, period_type, share", [
    ("2024-06", "月度", 0.5),        # 6/12
    ("2024M06", "月度", 0.5),
    ("2024-6", "月度", 0.5),
    ("2024-01", "月度", 1 / 12),
    ("2024-12", "月度", 1.0),
    ("2024Q3", "季度", 0.75),        # 9/12
    ("2024-Q3", "季度", 0.75),
    ("2024q1", "季度", 0.25),
    ("2024", "年度", 1.0),
])
def test_elapsed_share(period, period_type, share):
    assert progress.elapsed_share(period, period_type) == pytest.approx(share)


@pytest.mark.parametrize("period, period_type, words", [
    ("2024-13", "月度", "无法识别考核周期"),
    ("2024Q5", "季度", "无法识别考核周期"),
    ("六月", "月度", "无法识别考核周期"),
    ("2024Q3", "月度", "不一致"),
    ("2024-06", "季度", "不一致"),
    ("2024", "月度", "不一致"),
])
def test_bad_period_raises_a_chinese_message(period, period_type, words):
    with pytest.raises(KaoheError, match=words):
        progress.elapsed_share(period, period_type)


def test_last_year_keys():
    assert progress.last_year_keys("2024-06") == ((2023, "month", 6), (2023, "year", 0))
    assert progress.last_year_keys("2024Q3") == ((2023, "quarter", 3), (2023, "year", 0))
    assert progress.parse_period("2023M6") == progress.parse_period("2023-06")


# --------------------------------------------------------------------------- progress table


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "unit_code": ["T1", "T1", "T1", "T1", "T1", "T1", "T1"],
        "unit_name": "东城镇", "group": "乡镇",
        "indicator_code": ["GDP", "INV", "SAT", "EN", "Q", "FULL", "NONE"],
        "name": ["地区生产总值", "固定资产投资", "群众满意度", "单位GDP能耗", "党建", "招商引资", "其他"],
        "measure_unit": ["亿元", "亿元", "%", "吨标准煤/万元", "", "个", "亿元"],
        "method": ["完成率", "完成率", "完成率", "完成率", "定性", "基本满分", "完成率"],
        "direction": ["higher", "higher", "higher", "lower", "higher", "higher", "higher"],
        "value": [40.0, 48.0, 85.0, 0.6, np.nan, 3.0, 5.0],
        "target": [100.0, 100.0, 90.0, 0.5, np.nan, np.nan, np.nan],
        "full": [np.nan, np.nan, np.nan, np.nan, np.nan, 10.0, np.nan],
        "status": "scored",
    })


def test_progress_table_lags_completion_and_linear_forecast():
    table = progress.progress_table(_frame(), 0.5, tolerance=0.05)
    assert list(table.columns) == progress.PROGRESS_COLUMNS
    assert "Q" not in set(table["indicator_code"])  # 定性 has no target to complete
    gdp, inv = _row(table, "T1", "GDP"), _row(table, "T1", "INV")
    # 40/100 = 0.40 < 0.50 − 0.05: lags by 10 points; linear forecast 40 / 0.5 = 80
    assert gdp["completion"] == pytest.approx(0.40) and gdp["lag"]
    assert gdp["forecast_linear"] == pytest.approx(80.0)
    assert gdp["behind"] == pytest.approx(0.10)
    # 48/100 = 0.48 ≥ 0.45: within the tolerance, no lag; 48 / 0.5 = 96
    assert inv["completion"] == pytest.approx(0.48) and not inv["lag"]
    assert inv["forecast_linear"] == pytest.approx(96.0)
    # a % indicator is compared with the target itself: 85/90 = 0.944 < 0.95 → lag, forecast = the value
    sat = _row(table, "T1", "SAT")
    assert sat["completion"] == pytest.approx(85 / 90) and sat["lag"] and not sat["cumulative"]
    assert sat["forecast_linear"] == pytest.approx(85.0)
    # 反向: 0.5/0.6 = 0.833 < 0.95 → lag, compared with the target directly
    en = _row(table, "T1", "EN")
    assert en["completion"] == pytest.approx(0.5 / 0.6) and en["lag"] and not en["cumulative"]
    # 基本满分 without 目标值: 满分值 10 is the target, 3/10 = 0.3 → lag; 3 / 0.5 = 6
    full = _row(table, "T1", "FULL")
    assert full["target"] == 10 and full["completion"] == pytest.approx(0.3) and full["lag"]
    assert full["forecast_linear"] == pytest.approx(6.0)
    none = _row(table, "T1", "NONE")
    assert not none["lag"] and np.isnan(none["completion"]) and "无全年目标值" in none["note"]
    assert table["elapsed"].eq(0.5).all()
    assert table["forecast_last_year"].isna().all()


def test_progress_note_sentences():
    table = progress.progress_table(_frame(), 0.5, tolerance=0.05)
    assert _row(table, "T1", "GDP")["note"] == "完成目标的40.0%，时间进度50.0%，落后10.0个百分点，按当前进度预计全年完成80.00亿元"
    assert _row(table, "T1", "INV")["note"].startswith("完成目标的48.0%，时间进度50.0%，落后2.0个百分点")
    assert _row(table, "T1", "SAT")["note"].startswith("完成目标的94.4%（比率类指标按全年目标直接比较），低于目标5.6个百分点")


def test_tolerance_boundary_and_missing_values():
    frame = _frame().iloc[:2].copy()
    frame.loc[0, "value"] = 45.0            # 45/100 = 0.45 = 0.5 − 0.05 exactly: not lagging
    frame.loc[1, "status"] = "missing"
    table = progress.progress_table(frame, 0.5, tolerance=0.05)
    assert not _row(table, "T1", "GDP")["lag"]
    inv = _row(table, "T1", "INV")
    assert not inv["lag"] and np.isnan(inv["forecast_linear"]) and "未报送" in inv["note"]
    # a tighter tolerance turns the same 45% into a lag
    assert _row(progress.progress_table(frame, 0.5, tolerance=0.0), "T1", "GDP")["lag"]


def test_exempt_rows_and_annual_targets_of_a_prorated_frame():
    frame = _frame().iloc[:2].copy()
    frame.loc[1, "status"] = "exempt"
    prorated = progress.prorate_thresholds(frame, 0.5)
    assert _row(prorated, "T1", "GDP")["target"] == 50   # 100 × 0.5
    table = progress.progress_table(prorated, 0.5)
    assert list(table["indicator_code"]) == ["GDP"]
    assert _row(table, "T1", "GDP")["target"] == 100     # the annual target, not the prorated one


def test_last_year_forecast_from_frames():
    last_year = pd.DataFrame({"unit_code": ["T1", "T1"], "indicator_code": ["GDP", "SAT"],
                              "same_period": [30.0, 80.0], "final": [90.0, 88.0]})
    table = progress.progress_table(_frame(), 0.5, last_year=last_year)
    # 40 × 90 / 30 = 120; 85 × 88 / 80 = 93.5
    assert _row(table, "T1", "GDP")["forecast_last_year"] == pytest.approx(120.0)
    assert _row(table, "T1", "SAT")["forecast_last_year"] == pytest.approx(93.5)
    assert np.isnan(_row(table, "T1", "INV")["forecast_last_year"])
    assert _row(table, "T1", "GDP")["note"].endswith("；按上年同期进度推算全年120.00亿元")


def test_prorate_only_cumulative_higher_rows():
    frame = _frame()
    frame["base"] = np.nan
    frame["floor"] = np.nan
    out = progress.prorate_thresholds(frame, 0.25)
    assert _row(out, "T1", "GDP")["target"] == 25            # 100 × 0.25
    assert _row(out, "T1", "FULL")["full"] == 2.5            # 10 × 0.25
    assert _row(out, "T1", "SAT")["target"] == 90            # % unit: as is
    assert _row(out, "T1", "EN")["target"] == 0.5            # 反向: as is
    assert list(out["prorated"]) == [True, True, False, False, False, True, True]


# --------------------------------------------------------------------------- progress-mode runs


def test_prorated_scoring_in_a_monthly_run(runs):
    scored = runs["june"].results.scored
    a1 = _row(scored, "T01", "A1")
    # A1 完成率 P 40: value 40, annual target 100 prorated to 50 → ratio 0.8 → 32
    assert a1["target"] == 50 and a1["score"] == 32.0
    assert "按时间进度50%折算：目标值100→50" in a1["explanation"]
    # A2 基本满分 P 20, base 8 → 4, full 10 → 5; value 4.5 → 20 × (0.6 + 0.4 × 0.5) = 16
    assert _row(scored, "T01", "A2")["score"] == 16.0
    # T02 A2 = 3 < base 4 → 20 × 0.6 × 3/4 = 9
    assert _row(scored, "T02", "A2")["score"] == 9.0
    # B1 is a % rate: not prorated, 20 × 81/90 = 18
    b1 = _row(scored, "T01", "B1")
    assert b1["target"] == 90 and b1["score"] == 18.0 and "折算" not in b1["explanation"]
    assert runs["june"].results.elapsed == 0.5


def test_monthly_run_progress_table_and_last_year_forecast(runs):
    table = runs["june"].results.progress
    # T01 A1 40/100 = 0.40 lags; T02 A1 38.4/80 = 0.48 does not; A2 T01 4.5/10 = 0.45 not, T02 3/10 lags
    assert _row(table, "T01", "A1")["lag"] and not _row(table, "T02", "A1")["lag"]
    assert not _row(table, "T01", "A2")["lag"] and _row(table, "T02", "A2")["lag"]
    # B1 (%): T01 81/90 = 0.9 lags, D02 85/90 = 0.944 lags, T02 88/90 = 0.978 does not
    assert _row(table, "T01", "B1")["lag"] and _row(table, "D02", "B1")["lag"] and not _row(table, "T02", "B1")["lag"]
    # C2 反向: T02 0.5/0.6 = 0.833 lags
    assert _row(table, "T02", "C2")["lag"] and not _row(table, "T01", "C2")["lag"]
    assert "C1" not in set(table["indicator_code"])
    # last year: T01 A1 30 in 2023-06, 90 in 2023 → 40 × 90/30 = 120; T02 A2 3 × 9/4 = 6.75
    assert _row(table, "T01", "A1")["forecast_last_year"] == pytest.approx(120.0)
    assert _row(table, "T02", "A2")["forecast_last_year"] == pytest.approx(6.75)
    assert _row(table, "T01", "A1")["forecast_linear"] == pytest.approx(80.0)


def test_last_year_values_from_the_archive(runs):
    values = archive.last_year_values(runs["out"], "2024-06")
    assert _row(values, "T02", "A1")[["same_period", "final"]].tolist() == [30.0, 75.0]
    assert archive.last_year_values(runs["out"], "2024-05") is None   # no 2023-05 archived
    assert archive.last_year_values(runs["out"], "2025-06") is None


def test_summary_has_the_progress_warning_sheet(runs):
    wb = load_workbook(runs["june"].folder / archive.SUMMARY_NAME, read_only=True)
    groups = list(dict.fromkeys(runs["june"].results.ranked["group"]))  # in order of first appearance
    assert wb.sheetnames == summary_sheet_names(groups) + ["进度预警", "进度分析"]
    rows = [r for r in wb["进度预警"].iter_rows(min_row=3, values_only=True) if r[0]]
    keys = [(r[1], r[3]) for r in rows]
    # lagging: 乡镇 T01 (A1 behind 10 pt, B1 behind 10 pt: by lag size, ties in scheme order), T02 (A2 20, C2 16.7, ...);
    # 部门 D02 B1. Group 乡镇 before 部门 (ranking order); within a unit the largest lag first.
    assert {k for k in keys} == {("T01", "地区生产总值"), ("T01", "群众满意度"), ("T02", "固定资产投资"),
                                 ("T02", "单位GDP能耗"), ("D02", "群众满意度")}
    assert [r[0] for r in rows] == ["乡镇"] * 4 + ["部门"]
    t02 = [r[3] for r in rows if r[1] == "T02"]
    assert t02 == ["固定资产投资", "单位GDP能耗"]          # 20 pt behind before 16.7
    header = [c for c in next(wb["进度预警"].iter_rows(min_row=2, max_row=2, values_only=True))]
    a1 = next(r for r in rows if r[1] == "T01" and r[3] == "地区生产总值")
    assert a1[header.index("完成比例")] == pytest.approx(0.4)
    assert a1[header.index("时间进度")] == pytest.approx(0.5)
    assert a1[header.index("全年预测\n（按当前进度）")] == pytest.approx(80.0)
    assert a1[header.index("全年预测\n（按上年同期）")] == pytest.approx(120.0)


def test_feedback_workbook_has_warning_and_gap_sheets(runs):
    path = runs["june"].folder / archive.FEEDBACK_DIR / "T01_东城镇.xlsx"
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == FEEDBACK_SHEETS + ["差距分析", "进度预警"]
    rows = [r for r in wb["进度预警"].iter_rows(min_row=3, values_only=True) if r[0] and r[1] is not None]
    assert [r[0] for r in rows] == ["地区生产总值", "群众满意度"]
    assert rows[0][4] == pytest.approx(0.4) and rows[0][5] == pytest.approx(0.5)
    assert rows[1][5] == "对标全年目标"
    header_block = {r[0]: r[1] for r in wb["得分情况"].iter_rows(min_row=2, max_row=30, values_only=True) if r[0]}
    assert header_block["进度预警"] == "2项指标进度落后（见「进度预警」表）"
    gap_header = next(wb["差距分析"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert gap_header[:3] == ("指标代码", "指标名称", "计分方法")
    codes = [r[0] for r in wb["差距分析"].iter_rows(min_row=3, values_only=True) if r[0] and r[1]]
    assert set(codes) == {"A1", "A2", "B1", "C1", "C2"}


def test_feedback_of_a_unit_without_lag(runs):
    wb = load_workbook(runs["june"].folder / archive.FEEDBACK_DIR / "D01_发改局.xlsx", read_only=True)
    texts = [r[0] for r in wb["进度预警"].iter_rows(min_row=3, values_only=True) if r[0]]
    assert any("无预警" in t for t in texts)


def test_notice_lists_the_supervised_items(runs):
    doc = Document(str(runs["june"].folder / archive.NOTICE_NAME))
    texts = [p.text for p in doc.paragraphs]
    assert next(t for t in texts if t.startswith("关于")).endswith("进度情况的通报")
    headings = [t for t in texts if t[:2] in ("一、", "二、", "三、", "四、")]
    assert headings == ["一、考核结果", "二、进度预警及督办事项", "三、一票否决及需整改单位", "四、工作要求"]
    table = doc.tables[-1]
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert cells[0] == ["单位", "指标", "完成进度", "时间进度", "全年预测"]
    # 40/100; time 6/12; linear 40/0.5 = 80; last year's pattern 40 × 90/30 = 120 (on a second line)
    assert cells[1] == ["东城镇", "地区生产总值（亿元）", "40.0%", "50.0%", "80.00\n同期法120.00"]
    assert cells[2][:4] == ["东城镇", "群众满意度（%）", "90.0%", "对标目标"]
    assert any("同期法”按上年同期" in t for t in texts)
    assert len(cells) == 1 + 5
    assert any("3个单位的5项指标" in t for t in texts)  # 东城镇 2, 西山乡 2, 财政局 1


def test_annual_run_is_unaffected(runs):
    results, folder = runs["annual"].results, runs["annual"].folder
    assert results.progress is None and results.elapsed is None
    a1 = _row(results.scored, "T01", "A1")
    assert a1["target"] == 100 and a1["score"] == 36.0          # 40 × 90/100, no proration
    wb = load_workbook(folder / archive.SUMMARY_NAME, read_only=True)
    assert wb.sheetnames == summary_sheet_names(list(dict.fromkeys(results.ranked["group"])))
    feedback = load_workbook(folder / archive.FEEDBACK_DIR / "T01_东城镇.xlsx", read_only=True)
    assert feedback.sheetnames == FEEDBACK_SHEETS + ["差距分析"]
    texts = [p.text for p in Document(str(folder / archive.NOTICE_NAME)).paragraphs]
    headings = [t for t in texts if t[:2] in ("一、", "二、", "三、", "四、")]
    assert headings == ["一、考核结果", "二、一票否决及需整改单位", "三、工作要求"]
    assert not any("督办" in t for t in texts)


def test_archived_progress_period_verifies(runs):
    report = pipeline.verify_period(runs["out"], "2024-06")
    assert report.ok, report.lines()


def test_tolerance_from_the_scheme_and_bad_period_fails_early(tmp_path):
    scheme = load_scheme(write_workbook(tmp_path / "s.xlsx", _sheets("2024-06", "月度", {"进度预警容差": "15%"})))
    assert period_scoring.progress_tolerance(scheme) == pytest.approx(0.15)
    bad = write_workbook(tmp_path / "bad.xlsx", _sheets("2024", "月度"))
    (tmp_path / "inbox").mkdir()
    with pytest.raises(KaoheError, match="不一致"):
        pipeline.run(tmp_path / "inbox", bad, out_root=tmp_path / "out", issued_on=ISSUED)


def test_feedback_process_pool_gets_gap_and_progress_slices(runs, tmp_path):
    results = runs["june"].results
    from kaohe_excel.analysis import gap
    gaps = gap.gap_table(results.scored, results.scheme.tier_tables, results.scheme)
    paths = write_all_feedback(tmp_path, results.scheme.meta, results.scored, results.ranked, workers=2,
                               gap=gaps, progress=results.progress)
    assert len(paths) == 4
    wb = load_workbook(tmp_path / "T02_西山乡.xlsx", read_only=True)
    assert wb.sheetnames == FEEDBACK_SHEETS + ["差距分析", "进度预警"]
    names = [r[0] for r in wb["进度预警"].iter_rows(min_row=3, values_only=True) if r[0] and r[1] is not None]
    assert names == ["固定资产投资", "单位GDP能耗"]
    gap_codes = {r[0] for r in wb["差距分析"].iter_rows(min_row=3, values_only=True) if r[0] and r[1]}
    assert gap_codes == {"A1", "A2", "B1", "C1", "C2"}


def test_previous_period_compares_like_with_like(tmp_path):
    for name in ["2023", "2023-05", "2023-06", "2023-12", "2024-05", "2023Q4"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / archive.MANIFEST).write_text("{}", encoding="utf-8")
    # 2024 (annual) compares with 2023, not with the later-sorting 2023-12 or 2023Q4
    assert archive.previous_period(tmp_path, "2024").name == "2023"
    # 2024-06 compares with 2024-05 (typed 2024M06 too), 2024Q1 with 2023Q4
    assert archive.previous_period(tmp_path, "2024-06").name == "2024-05"
    assert archive.previous_period(tmp_path, "2024M06").name == "2024-05"
    assert archive.previous_period(tmp_path, "2024Q1").name == "2023Q4"
    assert archive.previous_period(tmp_path, "2023-05") is None


def test_notice_without_lagging_items_keeps_the_section_without_a_table(runs, tmp_path):
    from kaohe_excel.outputs.notice import write_notice
    results = runs["june"].results
    on_time = results.progress.assign(lag=False)
    path = write_notice(tmp_path / "n.docx", TEMPLATES / "通报.docx", results.scheme.meta, results.ranked,
                        results.scheme.grades, ISSUED, progress=on_time)
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert "二、进度预警及督办事项" in texts and "四、工作要求" in texts
    assert any("完成进度均达到时间进度或目标要求" in t for t in texts)
    assert all(row.cells[0].text != "单位" for table in doc.tables for row in table.rows)   # no 督办 table
