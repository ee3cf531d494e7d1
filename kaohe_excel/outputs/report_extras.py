"""The sheets only some runs have, in the summary and the feedback workbooks: progress (月度/季度),
口径核对, 复核 and 测评."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell

from kaohe_excel.outputs.report_values import (
    _group_positions,
    _period_label,
    _round2,
    _sort_ranked,
)
from kaohe_excel.outputs.report_xlsx import Col, Formats, _write_display_table, _write_display_table_below, write_table, write_title
from kaohe_excel.scoring.score import round_half_up


# Added only when given: the progress sheets in a 月度/季度 run, the gap sheet when a gap table is passed.
PROGRESS_SHEETS = ["进度预警", "进度分析"]


def _adjustment_columns() -> list[Col]:
    """The item columns of 加扣分明细 (summary and feedback): what was claimed or recorded, and why."""
    return [
        Col("项目代码", "item_code"),
        Col("项目名称", "name", "wrap", 18),
        Col("类型", "kind_zh", "text", 6),
        Col("来源", "recorded_by_zh", "text", 11),
        Col("数量", "count", "num", 6),
        Col("每项分值", "step", "num", 8),
        Col("单项上限", "item_cap", "num", 8),
        Col("计分", "amount", "score", 8),
        Col("事项说明", "description", "wrap", 28),
        Col("佐证材料", "evidence", "wrap", 24),
        Col("说明", "explanation", "wrap", 36),
    ]


def _write_rating_sheets(wb, fmts: Formats, meta: Any, ratings: Any, scheme: Any) -> None:
    from kaohe_excel.outputs import rating_report

    ws = wb.add_worksheet(rating_report.RESULT_SHEET)
    _write_display_table(ws, fmts, rating_report.result_frame(ratings, scheme), header_row=1,
                         title=f"{_period_label(meta)} 测评结果（各类测评人的有效评价数、平均分和加权测评值）",
                         kinds=rating_report.SCORE_COLUMNS)
    participation, ballots = rating_report.check_frames(ratings)
    ws = wb.add_worksheet(rating_report.CHECK_SHEET)
    last = _write_display_table(ws, fmts, participation, header_row=1, title=f"{_period_label(meta)} 测评参评情况")
    if len(ballots):
        _write_display_table_below(ws, fmts, participation, ballots, last, "未计入的测评票（作废、空白、重复）")


CROSSCHECK_SHEET = "口径核对"


def _write_appeal_sheets(wb, fmts: Formats, meta: Any, appeals: pd.DataFrame, changes: pd.DataFrame | None) -> None:
    _write_display_table(wb.add_worksheet("复核"), fmts, appeals.drop(columns="unit_code"), header_row=1,
                         title=f"{_period_label(meta)} 复核情况（复核结论）")
    ws = wb.add_worksheet("复核前后对比")
    if changes is not None and len(changes):
        _write_display_table(ws, fmts, changes, header_row=1, title="复核前后对比（有变化的单位）")
    else:
        write_title(ws, 0, 6, f"{_period_label(meta)} 复核前后对比", fmts)
        ws.write_string(2, 0, "复核结论均为维持或调整未改变任何得分、总分、名次和等次。", fmts.note)


def _write_crosscheck_sheet(wb, fmts: Formats, meta: Any, crosscheck: pd.DataFrame | None,
                            county_totals: pd.DataFrame | None) -> None:
    from kaohe_excel.inputs.crosscheck import crosscheck_sheet_rows, total_sheet_rows

    pairs = crosscheck_sheet_rows(crosscheck) if crosscheck is not None and len(crosscheck) else None
    totals = total_sheet_rows(county_totals) if county_totals is not None and len(county_totals) else None
    if pairs is None and totals is None:
        return
    ws = wb.add_worksheet(CROSSCHECK_SHEET)
    last = 0
    if pairs is not None:
        last = _write_display_table(ws, fmts, pairs, header_row=1,
                                    title=f"{_period_label(meta)} 口径核对（单位自报值与牵头单位核定值）")
    if totals is not None:
        if pairs is not None:
            _write_display_table_below(ws, fmts, pairs, totals, last, "各单位合计与全县总量核对")
        else:
            _write_display_table(ws, fmts, totals, header_row=1, title=f"{_period_label(meta)} 各单位合计与全县总量核对")


def _progress_frame(progress: pd.DataFrame, ranked: pd.DataFrame | None) -> pd.DataFrame:
    """Display columns; sorted by group and unit in ranking order, then the largest lag first."""
    frame = progress.copy()
    if ranked is not None and len(ranked):
        units = _sort_ranked(ranked)
        frame["_g"] = frame["group"].astype(object).map(_group_positions(units))
        frame["_u"] = frame["unit_code"].astype(object).map({u: i for i, u in enumerate(units["unit_code"])})
    else:
        frame["_g"], frame["_u"] = 0, 0
    frame["_b"] = -pd.to_numeric(frame["behind"], errors="coerce")
    frame = frame.sort_values(["_g", "_u", "_b"], kind="stable", na_position="last").reset_index(drop=True)
    cumulative = frame["cumulative"].fillna(False).astype(bool)
    elapsed = pd.to_numeric(frame["elapsed"], errors="coerce")
    frame["reference"] = pd.Series(np.where(cumulative, elapsed.astype(object), "对标全年目标"), index=frame.index, dtype=object)
    frame["behind_pp"] = round_half_up(pd.to_numeric(frame["behind"], errors="coerce") * 100, 1)
    frame["lag_text"] = np.where(frame["lag"].astype(bool), "是", "")
    for c in ("forecast_linear", "forecast_last_year"):
        frame[c] = _round2(frame[c])
    return frame


def _progress_columns(with_unit: bool, with_lag: bool) -> list[Col]:
    cols = [Col("考核类别", "group"), Col("单位代码", "unit_code"), Col("单位名称", "unit_name")] if with_unit else []
    cols += [
        Col("指标名称", "name", "wrap", 22),
        Col("计量单位", "measure_unit", "text"),
        Col("实际完成值", "value", "num", 11),
        Col("全年目标", "target", "num", 10),
        Col("完成比例", "completion", "pct", 10),
        Col("时间进度", "reference", "pct", 12),
        Col("落后\n（百分点）", "behind_pp", "behind", 10),
    ]
    if with_lag:
        cols.append(Col("预警", "lag_text", "text", 6))
    cols += [
        Col("全年预测\n（按当前进度）", "forecast_linear", "num2", 13),
        Col("全年预测\n（按上年同期）", "forecast_last_year", "num2", 13),
        Col("说明", "note", "wrap", 50),
    ]
    return cols


def _write_progress_sheets(wb, fmts, meta, progress: pd.DataFrame, ranked: pd.DataFrame) -> None:
    frame = _progress_frame(progress, ranked)
    ws = wb.add_worksheet(PROGRESS_SHEETS[0])
    cols = _progress_columns(with_unit=True, with_lag=False)
    lagging = frame[frame["lag"].astype(bool)]
    last = write_table(ws, fmts, cols, lagging, header_row=1, title=f"{_period_label(meta)} 进度预警（完成进度落后的指标）",
                        header_height=30)
    if last < 2:
        ws.write_string(2, 0, "本期各单位各项指标完成进度均不落后，无预警。", fmts.note)
    ws2 = wb.add_worksheet(PROGRESS_SHEETS[1])
    cols = _progress_columns(with_unit=True, with_lag=True)
    last = write_table(ws2, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 进度分析及全年预测",
                        header_height=30)
    if last >= 2:
        ws2.conditional_format(2, 0, last, len(cols) - 1, {
            "type": "formula", "criteria": f'=${xl_rowcol_to_cell(2, [c.key for c in cols].index("lag_text"), col_abs=True)}="是"',
            "format": fmts.warning})
