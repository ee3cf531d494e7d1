"""One feedback workbook (反馈) per unit, written in batches by a process pool."""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from kaohe_excel.outputs.adjust_detail import bonus_cap_note
from kaohe_excel.outputs.book_cache import SharedFormats
from kaohe_excel.analysis.gap import GAP_SHEET_HEADERS, gap_sheet_rows
from kaohe_excel.outputs import sheet_rows
from kaohe_excel.base.memory import release_unused
from kaohe_excel.outputs.report_extras import CROSSCHECK_SHEET, _adjustment_columns, _progress_columns, _progress_frame
from kaohe_excel.outputs.report_values import (
    KIND_ZH,
    Previous,
    _OWN_RESULT,
    _as_previous,
    _col,
    _flags_text,
    _indicator_table,
    _num_text,
    _period_label,
    _round2,
    _runs,
    _sort_ranked,
    _text,
    _value_and_grade,
)
from kaohe_excel.outputs.report_xlsx import (
    WORKBOOK_OPTIONS,
    Col,
    _cell_plan,
    Formats,
    plan_table,
    _PlannedTable,
    _stream_block,
    _stream_title,
    _with_subcategory,
    _write_cell,
    _write_display_table,
    write_planned,
    write_table,
    write_title,
)
from kaohe_excel.base.safety import safe_filename
from kaohe_excel.scoring.score import round_half_up
from kaohe_excel.outputs.total_note import GAP_NOTE_COLUMN, NOTE_COLUMN, indicator_total_notes


FEEDBACK_SHEETS = ["得分情况", "失分分析"]
FEEDBACK_GAP_SHEET = "差距分析"
FEEDBACK_PROGRESS_SHEET = "进度预警"
# Only in the workbooks of units with 加分/扣分/否决 items.
FEEDBACK_ADJUSTMENT_SHEET = "加扣分明细"


# The most units a worker is sent at once (their rows, planned together; see write_all_feedback).
_BATCH_UNITS = 250
# a gap table this long is held compact while the batches are sent (_compact_texts): ~75 MB less at
# 10,000 units (550,000 rows); a shorter one costs less memory than the compacting costs time
_COMPACT_ROWS = 200_000
# The scored columns a feedback workbook shows or needs.
_FEEDBACK_COLUMNS = ["unit_code", "group", "indicator_code", "category", "subcategory", "name", "points_available", "value",
                     "text_value", "score", "status", "explanation", "interim_detail"]  # interim_detail: w-interim


@dataclass
class _FeedbackBasis:
    """What a batch's feedback rows need from all units: the group figures per 考核类别 × indicator
    (of the units' own results), the indicators' order and last period's scores (sliced per batch)."""

    peers: pd.DataFrame  # group, indicator_code, group_best, group_mean (not yet rounded)
    ind_order: dict
    prev_scores: pd.DataFrame | None = None  # unit_code, indicator_code, prev_score

    def of_batch(self, prev_scores: pd.DataFrame | None) -> "_FeedbackBasis":
        return _FeedbackBasis(self.peers, self.ind_order, prev_scores)


def _feedback_basis(scored: pd.DataFrame, previous: Previous | None) -> _FeedbackBasis:
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    status = _col(scored, "status", "scored").map(_text)
    own_score = scored["score"].where(status.isin(_OWN_RESULT).to_numpy())
    figures = own_score.groupby([scored["group"], scored["indicator_code"]], sort=False)
    # what transform("max") / transform("mean") would give every row of the group
    peers = pd.DataFrame({"group_best": figures.max(), "group_mean": figures.mean()})
    peers = peers.rename_axis(["group", "indicator_code"]).reset_index()
    prev = None
    if previous is not None and previous.scores is not None:
        prev = previous.scores.rename(columns={"score": "prev_score"})[["unit_code", "indicator_code", "prev_score"]]
        prev = prev.astype({"unit_code": object, "indicator_code": object})
    return _FeedbackBasis(peers, ind_order, prev)


def _feedback_table(scored: pd.DataFrame, previous: Previous | None = None, basis: _FeedbackBasis | None = None) -> pd.DataFrame:
    """Every unit × indicator row of `scored` with the group's best and mean (aggregates only) and lost
    points; basis (of all units' scores, when `scored` holds some of them) gives the group figures."""
    basis = _feedback_basis(scored, previous) if basis is None else basis
    frame = scored[[c for c in _FEEDBACK_COLUMNS if c in scored.columns]]
    frame = frame.assign(_i=frame["indicator_code"].map(basis.ind_order)).sort_values(["unit_code", "_i"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame = frame.merge(basis.peers, on=["group", "indicator_code"], how="left", validate="many_to_one")
    frame["group_mean"] = _round2(frame["group_mean"])
    # Over-completion (上限系数 > 1) can score above the points; that is no negative loss.
    frame["lost"] = _round2(pd.to_numeric(frame["points_available"], errors="coerce") - frame["score"]).clip(lower=0)
    frame["gap_best"] = _round2(frame["group_best"] - frame["score"])
    frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
    if basis.prev_scores is not None:
        frame = frame.merge(basis.prev_scores, on=["unit_code", "indicator_code"], how="left")
        frame["score_change"] = _round2(frame["score"] - pd.to_numeric(frame["prev_score"], errors="coerce"))
    return frame


def _feedback_header(unit: pd.Series, previous_row: pd.Series | None, flags: str | None = None) -> list[tuple[str, object, str]]:
    """The header block's (label, value, kind) lines; flags: the unit's _flags_text when known."""
    if flags is None:
        flags = _flags_text(unit.to_frame().T).iloc[0]
    rank = _text(unit.get("rank"))
    size = _text(unit.get("group_size"))
    lines = [
        ("单位名称", unit.get("unit_name"), "text"),
        ("单位代码", unit.get("unit_code"), "text"),
        ("考核类别", unit.get("group"), "text"),
        ("总分", unit.get("total"), "score"),
        ("排名", f"第{rank}名/共{size}个" if rank else "", "text"),
        ("等次", unit.get("grade"), "text"),
        ("指标得分", unit.get("indicator_total"), "score"),
        *([("指标得分折算", unit.get(NOTE_COLUMN), "text")] if _text(unit.get(NOTE_COLUMN)) else []),
        ("加分", unit.get("bonus"), "score"),
        ("扣分", unit.get("deduction"), "score"),
        ("否决", _text(unit.get("veto_items")) or "是" if bool(unit.get("vetoed") is True or unit.get("vetoed") == 1) else "无", "text"),
        ("标记", flags or "无", "text"),
    ]
    if previous_row is not None:
        prev_total = pd.to_numeric(pd.Series([previous_row.get("total")]), errors="coerce").iloc[0]
        prev_rank = pd.to_numeric(pd.Series([previous_row.get("rank")]), errors="coerce").iloc[0]
        total = pd.to_numeric(pd.Series([unit.get("total")]), errors="coerce").iloc[0]
        rank_now = pd.to_numeric(pd.Series([unit.get("rank")]), errors="coerce").iloc[0]
        change = _round2(pd.Series([total - prev_total])).iloc[0]
        lines += [
            ("上期总分", prev_total, "score"),
            ("分数变化", change, "delta"),
            ("上期排名", prev_rank, "int"),
            ("名次变化", prev_rank - rank_now, "rank_delta"),
        ]
    return lines


def _gap_columns() -> list[Col]:
    # values are numbers (grades for 定性): "auto" writes each as what it is
    kinds = {"得分": "score", "满分": "score", "基本分": "score", "距满分差（分）": "score", "可增加总分": "score",
             "指标名称": "wrap", "说明": "wrap", "实际完成值": "auto", "达到基本分需": "auto", "达到满分需": "auto",
             "升一位需": "auto"}
    widths = {"指标代码": 9, "指标名称": 20, "计分方法": 10, "实际完成值": 11, "得分": 8, "满分": 8,
              "基本分": 8, "达到基本分需": 12, "达到满分需": 12, "升一位需": 11, "距满分差（分）": 10, "可增加总分": 9, "说明": 48}
    return [Col(h, h, kinds.get(h, "text"), widths.get(h)) for h in GAP_SHEET_HEADERS]


def _write_gap_sheet(wb, fmts: Formats, unit: pd.Series, gap_plan: _PlannedTable) -> None:
    """gap.gap_sheet_rows' table for one unit (headers GAP_SHEET_HEADERS)."""
    ws = wb.add_worksheet(FEEDBACK_GAP_SHEET)
    last = write_planned(ws, fmts, gap_plan, unit.get("unit_code"), header_row=1,
                          title=f"{_text(unit.get('unit_name'))} 差距分析（达到基本分、满分所需的完成值）", header_height=30)
    if last < 2:
        ws.write_string(2, 0, "没有可测算的指标。", fmts.note)
    else:
        ws.write_string(last + 2, 0, "注：所需值按其他单位完成值不变测算；「可增加总分」为达到满分时总分可增加的分数。", fmts.note)
        if _text(unit.get(GAP_NOTE_COLUMN)):
            ws.write_string(last + 3, 0, _text(unit.get(GAP_NOTE_COLUMN)), fmts.note)


def _write_progress_feedback_sheet(wb, fmts: Formats, meta: Any, unit: pd.Series, progress_rows: pd.DataFrame) -> None:
    ws = wb.add_worksheet(FEEDBACK_PROGRESS_SHEET)
    frame = _progress_frame(progress_rows, None) if len(progress_rows) else progress_rows.assign(
        reference=None, behind_pp=None, lag_text=None)
    frame = frame[frame["lag"].astype(bool)] if len(frame) else frame
    cols = _progress_columns(with_unit=False, with_lag=False)
    last = write_table(ws, fmts, cols, frame, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 进度预警（{_text(getattr(meta, 'period', ''))}）",
                        header_height=30)
    if last < 2:
        ws.write_string(2, 0, "各项指标完成进度均不落后于时间进度或目标要求，无预警。", fmts.note)
    else:
        ws.write_string(last + 2, 0, "注：累计类指标按时间进度比较，比率类（%）和反向指标按全年目标直接比较。请对照落后指标加快工作进度。", fmts.note)


def _lag_count_text(progress_rows: pd.DataFrame) -> str:
    n = int(progress_rows["lag"].astype(bool).sum()) if len(progress_rows) else 0
    return f"{n}项指标进度落后（见「{FEEDBACK_PROGRESS_SHEET}」表）" if n else "无"


def _score_columns(with_previous_scores: bool) -> list[Col]:
    cols = [
        Col("一级指标", "category", "text", 14),
        Col("指标名称", "name", "wrap", 28),
        Col("分值", "points_available", "num", 8),
        Col("实际值", "value_number", "num", 10),
        Col("等级", "grade_text", "text", 6),  # 定性 only: dropped for a unit without grades (keep)
        Col("得分", "score", "score", 8),
        Col("失分", "lost", "score", 8),
        Col("组内最高", "group_best", "score", 10),
        Col("组内平均", "group_mean", "score", 10),
        Col("得分说明", "explanation", "wrap", 60),
    ]
    if with_previous_scores:
        cols += [Col("上期得分", "prev_score", "score", 10), Col("变化", "score_change", "delta", 10)]
    return cols


_LOST_COLUMNS = [
    Col("一级指标", "category", "text", 14),
    Col("指标名称", "name", "wrap", 28),
    Col("分值", "points_available", "num", 8),
    Col("得分", "score", "score", 8),
    Col("失分", "lost", "score", 8),
    Col("失分占比", "share", "pct", 10),
    Col("组内最高", "group_best", "score", 10),
    Col("与组内最高差距", "gap_best", "score", 14),
    Col("得分说明", "explanation", "wrap", 60),
]


def _lost_table(rows: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """The 失分分析 rows of every unit: indicators that lost points and the deductions' total,
    most lost first (ties in indicator order, the deductions last), with each one's share."""
    lost = rows[pd.to_numeric(rows["lost"], errors="coerce") > 0]
    deduction = pd.to_numeric(_col(units, "deduction"), errors="coerce")
    docked = units.loc[deduction > 0, ["unit_code"]].assign(_d=deduction[deduction > 0])
    deductions = pd.DataFrame({
        "unit_code": docked["unit_code"].to_numpy(dtype=object), "category": "加扣分", "name": "扣分合计",
        "points_available": np.nan, "score": np.nan, "lost": docked["_d"].to_numpy(dtype=float),
        "explanation": [f"加扣分项目中的扣分合计{_num_text(d)}分" for d in docked["_d"]],
    })
    parts = [part for part in (lost, deductions) if len(part)]
    if not parts:
        return lost.assign(share=np.nan)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    table["_seq"] = np.arange(len(table))
    table["lost"] = pd.to_numeric(table["lost"], errors="coerce")
    table = table.sort_values(["unit_code", "lost", "_seq"], ascending=[True, False, True], kind="stable")
    table = table.reset_index(drop=True)
    lost_values = table["lost"].to_numpy(dtype=float)
    _, starts, stops = _runs(table["unit_code"])
    # numpy's (pairwise) sum of each unit's run, as Series.sum gives it: the shares stay bit-identical.
    total = np.repeat([lost_values[a:b].sum() for a, b in zip(starts, stops)], stops - starts)
    table["share"] = np.where(total > 0, lost_values / np.where(total > 0, total, 1), np.nan)
    return table


class _FeedbackBatch:
    """The tables of a batch of units' feedback workbooks, each table decided and encoded once
    (see _PlannedTable); rows: _feedback_table of these units, gap_rows: gap_sheet_rows(…, None)."""

    def __init__(self, units: pd.DataFrame, rows: pd.DataFrame, with_previous_scores: bool,
                 gap_rows: pd.DataFrame | None = None):
        self.rows = rows.sort_values("unit_code", kind="stable").reset_index(drop=True)
        self.score_columns = _with_subcategory(_score_columns(with_previous_scores), self.rows)
        self.lost_columns = _with_subcategory(list(_LOST_COLUMNS), self.rows)
        self.lost = _lost_table(self.rows, units)
        named = _col(self.rows, "subcategory", None).map(_text).astype(bool)
        self.with_subcategory = set(self.rows.loc[named.to_numpy(), "unit_code"].astype(object))
        graded = _col(self.rows, "grade_text", None).notna()
        self.with_grades = set(self.rows.loc[graded.to_numpy(), "unit_code"].astype(object))
        self.gap_rows = None
        if gap_rows is not None:
            self.gap_rows = gap_rows.sort_values("单位代码", kind="stable").reset_index(drop=True)
        self._plans: dict[tuple, dict[str, _PlannedTable]] = {}

    def plans(self, fmts: Formats) -> dict[str, _PlannedTable]:
        """The planned tables for workbooks whose formats have fmts' style numbers."""
        key = fmts.xf_signature
        if key not in self._plans:
            cache: dict = {}
            plans = {
                "score": plan_table(fmts, self.score_columns, self.rows, self.rows["unit_code"], cache),
                "lost": plan_table(fmts, self.lost_columns, self.lost, self.lost["unit_code"], cache),
            }
            if self.gap_rows is not None:
                plans["gap"] = plan_table(fmts, _gap_columns(), self.gap_rows, self.gap_rows["单位代码"], cache)
            self._plans[key] = plans
        return self._plans[key]

    def keep(self, columns: list[Col], unit_code: object) -> list[int]:
        """Column positions shown for a unit: 二级指标 only when the unit's indicators have one,
        等级 only when it has 定性 grades."""
        hidden = set()
        if unit_code not in self.with_subcategory:
            hidden.add("subcategory")
        if unit_code not in self.with_grades:
            hidden.add("grade_text")
        return [i for i, c in enumerate(columns) if c.key not in hidden]


# The feedback workbooks' formats, made once per process and lent to each (book_cache).
_BOOK_STYLE = SharedFormats(WORKBOOK_OPTIONS, Formats)


def _write_form(ws, fmts: Formats, title: str, width: int, header: list[tuple[str, object, str]], cache: dict) -> None:
    """The title over `width` columns and the header block (label, then the value merged over three
    columns) from row 0 of a fresh sheet; streamed as encoded rows when its texts allow."""
    blocks = [fmts.block.get(kind, fmts.block["text"]) for _, _, kind in header]
    rows = [[("s", label, fmts.label), _cell_plan(value, kind, fmts, block), ("b", None, block), ("b", None, block)]
            for (label, value, kind), block in zip(header, blocks)]
    if not (sheet_rows.supported(ws) and sheet_rows.plain([("s", title, None)] + [p for row in rows for p in row])):
        write_title(ws, 0, width, title, fmts)
        for r, (label, value, kind) in enumerate(header, start=1):
            ws.write_string(r, 0, label, fmts.label)
            ws.merge_range(r, 1, r, 3, "", blocks[r - 1])
            _write_cell(ws, r, 1, value, kind, fmts, blocks[r - 1])
        return
    _stream_title(ws, 0, width, title, fmts, cache)
    for r in range(1, len(rows) + 1):
        sheet_rows.merge_cells(ws, r, 1, r, 3)
    _stream_block(ws, 1, rows, cache)


def _write_feedback_book(path: Path, meta: Any, unit: pd.Series, batch: _FeedbackBatch, previous_row: pd.Series | None,
                         progress_rows: pd.DataFrame | None = None, crosscheck_rows: pd.DataFrame | None = None,
                         adjustment_rows: pd.DataFrame | None = None,
                         appeal_rows: pd.DataFrame | None = None, rating_rows: pd.DataFrame | None = None,
                         flags: str | None = None) -> Path:
    wb, fmts = _BOOK_STYLE.new_workbook(str(path))
    plans = batch.plans(fmts)
    code = unit.get("unit_code")
    ws = wb.add_worksheet("得分情况")
    keep = batch.keep(batch.score_columns, code)
    header = _feedback_header(unit, previous_row, flags)
    if progress_rows is not None:
        header.append(("进度预警", _lag_count_text(progress_rows), "text"))
    _write_form(ws, fmts, f"{_period_label(meta)} 考核反馈表", len(keep), header, plans["score"].cache)
    write_planned(ws, fmts, plans["score"], code, header_row=len(header) + 2, keep=keep)

    ws2 = wb.add_worksheet("失分分析")
    last = write_planned(ws2, fmts, plans["lost"], code, header_row=1, keep=batch.keep(batch.lost_columns, code),
                          title=f"{_text(unit.get('unit_name'))} 失分分析（按失分从多到少）")
    if last < 2:
        ws2.write_string(2, 0, "各项指标均得满分，无失分。", fmts.note)
    if rating_rows is not None and len(rating_rows):  # 测评: the unit's own group means, never a ballot
        _write_feedback_ratings(wb, fmts, unit, rating_rows)
    if adjustment_rows is not None and len(adjustment_rows):
        _write_feedback_adjustments(wb, fmts, meta, unit, adjustment_rows)
    if "gap" in plans:
        _write_gap_sheet(wb, fmts, unit, plans["gap"])
    if progress_rows is not None:
        _write_progress_feedback_sheet(wb, fmts, meta, unit, progress_rows)
    if "interim_detail" in batch.rows.columns:  # w-interim: each source period's 总分 beside the 平时 value
        from kaohe_excel.outputs.interim_report import write_interim_sheet

        write_interim_sheet(wb, fmts, unit, batch.rows, _write_display_table, _text)
    if crosscheck_rows is not None and len(crosscheck_rows):
        _write_display_table(wb.add_worksheet(CROSSCHECK_SHEET), fmts, crosscheck_rows, header_row=1,
                             title=f"{_text(unit.get('unit_name'))} 口径核对（本单位自报值与牵头单位核定值）")
    if appeal_rows is not None and len(appeal_rows):  # w-appeal: this unit's appeals and their outcome
        _write_display_table(wb.add_worksheet("复核"), fmts, appeal_rows.drop(columns=["unit_code", "登记位置"]), header_row=1,
                             title=f"{_text(unit.get('unit_name'))} 复核申请及结论")
    wb.close()
    return path


_RATING_NOTES = [
    "注：测评票不记名，本表只列各类测评人对本单位评价的汇总结果，不列单张测评票。",
    "平均分为该类测评人对本单位有效评价的平均分（百分制）；有效票数多于去极值人数时，去掉一个最高分和一个最低分后平均。",
    "测评值 = Σ（权重 × 平均分）÷ Σ权重，只计给出有效评价的类别；测评值作为「计入指标」的实际完成值计分，得分计入「得分情况」表。",
]


def _write_feedback_ratings(wb, fmts: Formats, unit: pd.Series, rows: pd.DataFrame) -> None:
    """rating_report.unit_blocks' rows of one unit: per evaluation and rater group, then the value and score."""
    from kaohe_excel.outputs.rating_report import FEEDBACK_SHEET

    ws = wb.add_worksheet(FEEDBACK_SHEET)
    kinds = {"有效票数": ("int", 9), "平均分": ("score", 9), "测评值": ("score", 9), "指标分值": ("num", 9),
             "指标得分": ("score", 9), "权重": ("text", 7), "去掉的评价": ("text", 18), "测评": ("wrap", 14),
             "测评人类别": ("wrap", 12), "计入指标": ("wrap", 16), "说明": ("wrap", 22)}
    cols = [Col(name, name, *kinds.get(name, ("text", None))) for name in rows.columns if name != "单位代码"]
    last = write_table(ws, fmts, cols, rows, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 测评情况（各类测评人的有效票数、平均分和测评值）")
    for i, line in enumerate(_RATING_NOTES):
        ws.write_string(last + 2 + i, 0, line, fmts.note)


def _write_feedback_adjustments(wb, fmts: Formats, meta: Any, unit: pd.Series, rows: pd.DataFrame) -> None:
    """The unit's own 加分/扣分/否决 items (only written for a unit that has any)."""
    ws = wb.add_worksheet(FEEDBACK_ADJUSTMENT_SHEET)
    frame = rows.assign(kind_zh=_col(rows, "kind", "").map(lambda k: KIND_ZH.get(_text(k), _text(k))))
    last = write_table(ws, fmts, _adjustment_columns(), frame, header_row=1,
                        title=f"{_text(unit.get('unit_name'))} 加扣分明细")
    kinds = _col(frame, "kind", "").map(_text)
    bonus_items = float(pd.to_numeric(frame.loc[kinds.eq("bonus").to_numpy(), "amount"], errors="coerce").sum())
    lines = [f"加分{_score_text(unit.get('bonus'))}分，扣分{_score_text(unit.get('deduction'))}分"
             "（已计入总分，见「得分情况」表）。"]
    note = bonus_cap_note(bonus_items, getattr(meta, "bonus_cap", None))
    if note:
        lines.append(note)
    for i, line in enumerate(lines):
        ws.write_string(last + 2 + i, 0, line, fmts.note)


def _score_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "0.00" if pd.isna(number) else f"{round_half_up(float(number), 2):.2f}"


def _with_total_notes(units: pd.DataFrame, scored: pd.DataFrame, meta: Any) -> pd.DataFrame:
    """units plus the 百分制/权重 sentences of total_note.indicator_total_notes (one per unit)."""
    notes = indicator_total_notes(scored, units, meta)
    return units.assign(**{NOTE_COLUMN: notes[NOTE_COLUMN].to_numpy(), GAP_NOTE_COLUMN: notes[GAP_NOTE_COLUMN].to_numpy()})


def _unit_crosscheck(crosscheck: pd.DataFrame | None, unit_code: str) -> pd.DataFrame | None:
    if crosscheck is None or not len(crosscheck):
        return None
    from kaohe_excel.inputs.crosscheck import unit_crosscheck_rows

    return unit_crosscheck_rows(crosscheck, unit_code)


def _feedback_path(folder: Path, unit: pd.Series) -> Path:
    return folder / (safe_filename(f"{_text(unit.get('unit_code'))}_{_text(unit.get('unit_name'))}") + ".xlsx")


def _slicer(frame: pd.DataFrame, keys: pd.Series, columns: list[str] | None = None):
    """A function key -> frame's rows with that key (an empty frame when none), sliced when asked;
    with columns, only those (no copy of the others is ever made)."""
    positions = pd.Series(np.arange(len(frame))).groupby(keys.astype(object).to_numpy(), sort=False).indices
    at = list(range(frame.shape[1])) if columns is None else [frame.columns.get_loc(c) for c in columns]
    empty = frame.iloc[0:0, at]
    return lambda key: frame.iloc[positions[key], at] if key in positions else empty


def _compact_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """frame with its text columns held as categoricals, and the dtypes that give them back
    (_restore_texts): the gap table's 550,000 rows at 10,000 units repeat a few thousand
    sentences and names, one string object per row (~160 MB), while the batches are sent."""
    restore: dict[str, Any] = {}
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.StringDtype) or (
                column.dtype == object and pd.api.types.infer_dtype(column, skipna=False) == "string"):
            restore[name] = column.dtype
            columns[name] = column.astype("category")
    return (frame.assign(**columns) if columns else frame), restore


def _restore_texts(part: pd.DataFrame, restore: dict[str, Any]) -> pd.DataFrame:
    """A slice of a _compact_texts frame with its text columns as they were (values and dtypes)."""
    columns = {}
    for name, dtype in restore.items():
        if name not in part.columns:
            continue
        codes, categories = part[name].cat.codes.to_numpy(), part[name].cat.categories
        if dtype == object:  # all texts, none missing (_compact_texts): every code is a category
            values = pd.Series(np.asarray(categories, dtype=object).take(codes), index=part.index, dtype=object)
        else:  # a take of the categories, missing where the code is -1 (astype goes through objects: 5x slower)
            values = pd.Series(categories.array.take(codes, allow_fill=True), index=part.index).astype(dtype)
        columns[name] = values
    return part.assign(**columns) if columns else part


def _unit_slicer(frame: pd.DataFrame | None, column: str):
    """A function unit_code -> that unit's rows, renumbered; None without a frame."""
    if frame is None:
        return None
    rows_of = _slicer(frame, frame[column])
    return lambda code: rows_of(code).reset_index(drop=True)


def _write_feedback_batch(folder: Path, meta: Any, units: pd.DataFrame, scored: pd.DataFrame, basis: _FeedbackBasis,
                          prev_totals: pd.DataFrame | None, with_previous_scores: bool, gap: pd.DataFrame | None = None,
                          progress_rows: pd.DataFrame | None = None, crosscheck: pd.DataFrame | None = None,
                          adjustments: pd.DataFrame | None = None, appeals: pd.DataFrame | None = None,
                          ratings: pd.DataFrame | None = None) -> list[Path]:
    """Write a batch of units' workbooks from their scored rows (basis: of all units' scores, with
    these units' last scores); gap is gap.gap_table's rows of these units (at least)."""
    rows = _feedback_table(scored, basis=basis)
    batch = _FeedbackBatch(units, rows, with_previous_scores, gap_sheet_rows(gap, None) if gap is not None else None)
    del rows
    progress_of = _unit_slicer(progress_rows, "unit_code")
    adjustments_of = _unit_slicer(adjustments if adjustments is not None and len(adjustments) else None, "unit_code")
    appeals_of = _unit_slicer(appeals, "unit_code")
    ratings_of = _unit_slicer(ratings, "单位代码")
    prev_by_unit = prev_totals.set_index("unit_code") if prev_totals is not None else None
    paths = []
    flags_of = _flags_text(units).tolist() if len(units) else []
    for (_, unit), flags in zip(units.iterrows(), flags_of):
        code = unit["unit_code"]
        prev_row = None
        if prev_by_unit is not None and code in prev_by_unit.index:
            prev_row = prev_by_unit.loc[code]
            if isinstance(prev_row, pd.DataFrame):
                prev_row = prev_row.iloc[0]
        elif prev_by_unit is not None:
            prev_row = pd.Series({"total": np.nan, "rank": np.nan})
        paths.append(_write_feedback_book(_feedback_path(folder, unit), meta, unit, batch, prev_row,
                                          progress_of(code) if progress_of else None, _unit_crosscheck(crosscheck, code),
                                          adjustments_of(code) if adjustments_of else None,
                                          appeals_of(code) if appeals_of else None,
                                          ratings_of(code) if ratings_of else None, flags))
    release_unused()
    return paths


def write_feedback(path: str | Path, meta: Any, unit_code: str, scored: pd.DataFrame, ranked: pd.DataFrame,
                   previous: Previous | pd.DataFrame | None = None, gap: pd.DataFrame | None = None,
                   progress: pd.DataFrame | None = None, crosscheck: pd.DataFrame | None = None,
                   adjustments: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None) -> Path:
    """One unit's feedback workbook; other units appear only through group best/mean.

    gap: gap.gap_table (adds the 差距分析 sheet); progress: progress.progress_table (adds 进度预警);
    ratings (the RatingOutcome, with its scheme) adds 测评情况.
    """
    previous = _as_previous(previous)
    table = _feedback_table(scored, previous)
    units = _with_total_notes(ranked[ranked["unit_code"] == unit_code], scored[scored["unit_code"] == unit_code], meta)
    unit = units.iloc[0]
    prev_row = None
    if previous is not None:
        match = previous.totals[previous.totals["unit_code"] == unit_code]
        prev_row = match.iloc[0] if len(match) else pd.Series({"total": np.nan, "rank": np.nan})
    with_prev_scores = previous is not None and previous.scores is not None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the unit's gap rows only: the sheet rows of every unit would be built to keep one
    gap_rows = gap_sheet_rows(gap[gap["unit_code"].astype(object).eq(unit_code)], None) if gap is not None else None
    batch = _FeedbackBatch(units, table[table["unit_code"] == unit_code], with_prev_scores, gap_rows)
    progress_rows = progress[progress["unit_code"] == unit_code] if progress is not None else None
    adjustment_rows = adjustments[adjustments["unit_code"] == unit_code] if adjustments is not None else None
    rating_rows = _rating_rows(ratings, scheme, scored)
    if rating_rows is not None:
        rating_rows = rating_rows[rating_rows["单位代码"] == unit_code]
    return _write_feedback_book(path, meta, unit, batch, prev_row, progress_rows, _unit_crosscheck(crosscheck, unit_code),
                                adjustment_rows, rating_rows=rating_rows)


def _rating_rows(ratings: Any, scheme: Any, scored: pd.DataFrame) -> pd.DataFrame | None:
    """Every unit's 测评情况 rows (rating_report.unit_blocks); None when the scheme has no 测评."""
    if ratings is None or scheme is None or not len(getattr(scheme, "ratings", ())):
        return None
    from kaohe_excel.outputs.rating_report import unit_blocks

    return unit_blocks(ratings, scheme, scored)


def write_all_feedback(folder: str | Path, meta: Any, scored: pd.DataFrame, ranked: pd.DataFrame,
                       previous: Previous | pd.DataFrame | None = None, workers: int | None = None,
                       gap: pd.DataFrame | None = None, progress: pd.DataFrame | None = None,
                       crosscheck: pd.DataFrame | None = None, adjustments: pd.DataFrame | None = None,
                       appeals: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None,
                       meanwhile: Callable[[], None] | None = None) -> list[Path]:
    """`<单位代码>_<单位名称>.xlsx` for every ranked unit; workers=1 writes serially.

    gap (gap.gap_table, computed once per run) adds a 差距分析 sheet, progress
    (progress.progress_table) a 进度预警 sheet, ratings (the RatingOutcome, with the scheme that
    has the 测评) a 测评情况 sheet; each worker gets its units' slices only.

    meanwhile: called once in this process (the run writes its summary and csv files then), while
    the pool writes the workbooks; when they are written serially, before them. If it raises, the
    batches not yet begun are dropped and its exception propagates.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _as_previous(previous)
    # each batch's rows are made from its units' scores (in its worker): all units' at once would be a
    # second copy of the scores in this process, and in every worker forked from it
    basis = _feedback_basis(scored, previous)
    rating_rows = _rating_rows(ratings, scheme, scored)
    release_unused()  # the basis' temporaries
    units = _with_total_notes(_sort_ranked(ranked), scored, meta)
    prev_totals = previous.totals if previous is not None else None
    with_prev_scores = previous is not None and previous.scores is not None
    if workers is None:
        # A process pool only pays off once there are many workbooks to write.
        workers = 1 if len(units) < 40 else max(1, min(os.cpu_count() or 1, 8))
    if workers <= 1 or len(units) <= 1:
        if meanwhile is not None:
            meanwhile()
        return _write_feedback_batch(folder, meta, units, scored, basis, prev_totals, with_prev_scores, gap, progress,
                                     crosscheck, adjustments, appeals, rating_rows)
    # a few batches per worker, of at most _BATCH_UNITS units: the batches in flight are held in
    # this process (their rows and their pickles), beside the summary it writes meanwhile
    size = max(1, min(math.ceil(len(units) / (workers * 4)), _BATCH_UNITS))
    batches = [units.iloc[i:i + size] for i in range(0, len(units), size)]
    batch_of = {code: i for i, batch in enumerate(batches) for code in batch["unit_code"]}

    def slicer(frame: pd.DataFrame | None, column: str, columns: list[str] | None = None):
        """batch number -> that batch's rows of frame, sliced only when the batch is sent."""
        return (lambda i: None) if frame is None else _slicer(frame, frame[column].astype(object).map(batch_of), columns)

    # each batch's gap rows become sheet rows in its worker: all at once they would double the gap table
    used = [c for c in _FEEDBACK_COLUMNS if c in scored.columns]
    tables, progresses = slicer(scored, "unit_code", used), slicer(progress, "unit_code")
    gap, gap_texts = _compact_texts(gap) if gap is not None and len(gap) >= _COMPACT_ROWS else (gap, {})
    gap_rows_of = slicer(gap, "unit_code")

    def gaps(i: int) -> pd.DataFrame | None:
        part = gap_rows_of(i)
        return None if part is None else _restore_texts(part, gap_texts)
    prev_scores = slicer(basis.prev_scores, "unit_code")
    checks = slicer(crosscheck if crosscheck is not None and len(crosscheck) else None, "unit_code")
    items = slicer(adjustments if adjustments is not None and len(adjustments) else None, "unit_code")
    appeals_by = slicer(appeals, "unit_code")
    ratings_by = slicer(rating_rows, "单位代码")
    def submit(pool, i: int):
        return pool.submit(_write_feedback_batch, folder, meta, batches[i], tables(i), basis.of_batch(prev_scores(i)),
                           prev_totals, with_prev_scores, gaps(i), progresses(i), checks(i), items(i), appeals_by(i),
                           ratings_by(i))

    release_unused()  # workers are forked from this process: let them start small
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # the first submit forks every worker, here, before a second thread of this process exists
        feeder = _Feeder(pool, submit, len(batches), 2 * workers)
        if meanwhile is not None:
            feeder.start()
            try:
                meanwhile()
            except BaseException:
                feeder.stop()
                raise
        return feeder.finish()


class _Feeder(threading.Thread):
    """Submits the batches to the pool with a few in flight (all of them queued at once would copy the
    whole table into their arguments) and collects their paths in batch order; run in a thread while
    the caller's `meanwhile` works, or by finish() in the caller's."""

    def __init__(self, pool, submit: Callable, n_batches: int, in_flight: int):
        super().__init__(name="kaohe-feedback-feeder", daemon=True)
        self._submit, self._pool, self._limit = submit, pool, in_flight
        self._pending: deque = deque([submit(pool, 0)]) if n_batches else deque()
        self._next, self._total = 1, n_batches
        self._stopped = self._threaded = False
        self.paths: list[Path] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self._next < self._total and not self._stopped:
                self._pending.append(self._submit(self._pool, self._next))
                self._next += 1
                while len(self._pending) >= self._limit and not self._stopped:
                    self.paths.extend(self._pending.popleft().result())
            while self._pending and not self._stopped:
                self.paths.extend(self._pending.popleft().result())
        except BaseException as exc:  # re-raised by finish() in the caller's thread
            self.error = exc

    def start(self) -> None:
        self._threaded = True
        super().start()

    def stop(self) -> None:
        """Submit nothing more and wait for the thread; the pool's shutdown waits for what was sent."""
        self._stopped = True
        if self.is_alive():
            self.join()
        for future in self._pending:
            future.cancel()

    def finish(self) -> list[Path]:
        if self._threaded:
            self.join()
        else:
            self.run()
        if self.error is not None:
            raise self.error
        return self.paths
