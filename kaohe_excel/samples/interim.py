"""The second sample (w-interim): a year with four quarters and 平时考核.

`build_sample_year(folder)` writes four quarterly schemes and inboxes and an annual scheme whose
indicator PS (平时考核, 分值 20, 完成率 with 目标值 100, 数据来源 平时, 来源周期 empty) averages the
quarters' 总分. The main sample scheme stays without it, so `kaohe run sample_inputs` needs no archive.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from kaohe_excel.samples import county as samples
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import save_workbook_deterministic

YEAR = "2024"
QUARTERS = [f"{YEAR}Q{q}" for q in range(1, 5)]
INTERIM_ROW = ("PS", "平时考核", "", "平时考核（各季度总分平均）", "分", "全部", 20, "完成率", "正向",
               None, 100, None, None, None, None, None, None, "平时", "县委考核办", None,
               "取本年各季度考核总分的平均值（四舍五入保留两位小数），按完成率计分：20 × 平均分 ÷ 100。")


QUARTER_ISSUED = {"2024Q1": "2024-04-15", "2024Q2": "2024-07-15", "2024Q3": "2024-10-15", "2024Q4": "2025-01-15"}


def scheme_name(period: str) -> str:
    return f"方案_{period}.xlsx"


def _build_scheme(path: Path, period: str, period_type: str, extra_indicator: tuple | None) -> Path:
    title = f"清源县{period}{'年度' if period_type == '年度' else '季度'}目标责任考核"
    meta = [(k, title if k == "考核名称" else period if k == "考核周期" else period_type if k == "周期类型" else v)
            for k, v in samples.META_ROWS if k != "成文日期"]
    if period in QUARTER_ISSUED:  # each quarter's 公示 long over, so the sequence can seal it without --force
        meta.append(("成文日期", QUARTER_ISSUED[period]))
    workbook = Workbook()
    workbook.remove(workbook.active)
    samples._write_sheet(workbook, "方案", ["项目", "值"], meta)
    samples._write_sheet(workbook, "等次", ["等次", "最低分"], samples.GRADE_ROWS)
    units = [(c, n, g, p, f"{c.lower()}@{samples.DOMAIN}") for c, n, g, p in samples.UNIT_ROWS]
    samples._write_sheet(workbook, "单位", ["单位代码", "单位名称", "考核类别", "联系人", "邮箱"], units)
    rows = list(samples.INDICATOR_ROWS) + ([extra_indicator] if extra_indicator else [])
    samples._write_sheet(workbook, "指标", samples.INDICATOR_HEADERS, rows)
    samples._write_sheet(workbook, "目标分解", samples.TARGET_HEADERS, samples._target_rows())
    samples._write_sheet(workbook, "档次表", ["档次表", "下限", "等级", "得分比例"], samples.TIER_ROWS)
    samples._write_sheet(workbook, "加扣分", samples.ADJUSTMENT_HEADERS, samples.ADJUSTMENT_ROWS)
    workbook.properties.title = title
    workbook.properties.creator = "清源县委考核办"
    save_workbook_deterministic(workbook, path)
    return path


def build_sample_year(folder: str | Path, seed: int = 2024) -> list[Path]:
    """<folder>/方案_2024Q1.xlsx … 方案_2024.xlsx and one inbox folder per period (2024Q1 … 2024)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    periods = [(q, "季度", None) for q in QUARTERS] + [(YEAR, "年度", INTERIM_ROW)]
    for n, (period, kind, extra) in enumerate(periods, start=1):
        path = _build_scheme(folder / scheme_name(period), period, kind, extra)
        inbox = folder / period
        inbox.mkdir(exist_ok=True)
        for old in inbox.glob("*.xlsx"):
            old.unlink()
        written += [path] + samples.build_sample_inputs(load_scheme(path), inbox, seed=seed + n)
    return written
