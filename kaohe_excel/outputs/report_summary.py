"""The summary workbook (汇总表) and the issue workbook of `kaohe check`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell

from kaohe_excel.base.issues import ISSUE_COLUMNS, ISSUE_HEADERS_ZH, issue_kind
from kaohe_excel.base.memory import release_unused
from kaohe_excel.scoring.rank import unscored_counts
from kaohe_excel.outputs.report_extras import (
    _adjustment_columns,
    _write_appeal_sheets,
    _write_crosscheck_sheet,
    _write_progress_sheets,
    _write_rating_sheets,
)
from kaohe_excel.outputs.report_values import (
    KIND_ZH,
    Previous,
    STATUS_ZH,
    _OWN_RESULT,
    _PARAMS_ZH,
    _as_previous,
    _col,
    _flags_text,
    _indicator_table,
    _method_display,
    _params_display,
    _period_label,
    _round2,
    _sort_ranked,
    _text,
    _texts,
    _value_and_grade,
    _veto_text,
)
from kaohe_excel.outputs.report_xlsx import (
    Col,
    Formats,
    _LazyRows,
    _PAGE_PIXELS,
    SUMMARY_OPTIONS,
    _cell_table_sheet,
    close_workbook,
    _grade_colours,
    _line_counts,
    new_workbook,
    _print_setup,
    _set_widths,
    _with_subcategory,
    _write_cell,
    _write_rows,
    write_table,
    write_title,
)
from kaohe_excel.outputs.total_note import indicator_total_notes


# 「指标得分」 stands for the score matrix: one sheet per 考核类别 when there are several (summary_sheet_names).
SUMMARY_SHEETS = ["总排名", "指标得分", "原始数据", "得分说明", "加扣分明细", "校验问题", "未报送", "统计"]
# Beyond this many indicators the score matrix prints across several pages.
_MATRIX_FIT_COLUMNS = 14


def _ranking_frame(ranked: pd.DataFrame, previous: Previous | None) -> pd.DataFrame:
    frame = _sort_ranked(ranked)
    frame["veto_text"] = _veto_text(frame)
    frame["flags_text"] = _flags_text(frame)
    if "unscored_count" in frame.columns:
        n = pd.to_numeric(frame["unscored_count"], errors="coerce").fillna(0).astype(int)
        mark = pd.Series([f"含未计分指标（{k}项，数据有误未更正）" if k else "" for k in n.tolist()], index=frame.index)
        frame["flags_text"] = [f"{m}；{f}" if m and f else (m or f) for m, f in zip(mark, frame["flags_text"])]
    if previous is not None:
        prev = previous.totals.rename(columns={"total": "prev_total", "rank": "prev_rank", "grade": "prev_grade"})
        frame = frame.merge(prev[["unit_code", "prev_total", "prev_rank"]], on="unit_code", how="left")
        frame["total_change"] = _round2(pd.to_numeric(frame["total"], errors="coerce") - pd.to_numeric(frame["prev_total"], errors="coerce"))
        # Positive = moved up (rank number got smaller).
        frame["rank_change"] = pd.to_numeric(frame["prev_rank"], errors="coerce") - pd.to_numeric(frame["rank"], errors="coerce")
    return frame


def _ranking_columns(previous: Previous | None) -> list[Col]:
    cols = [
        Col("考核类别", "group"),
        Col("排名", "rank", "int", 6),
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标得分", "indicator_total", "score", 10),
        Col("加分", "bonus", "score", 8),
        Col("扣分", "deduction", "score", 8),
        Col("总分", "total", "score", 10),
        Col("等次", "grade", "text", 8),
        Col("否决", "veto_text"),
        Col("标记", "flags_text", "wrap"),
    ]
    if previous is not None:
        cols += [
            Col("上期总分", "prev_total", "score", 10),
            Col("分数变化", "total_change", "delta", 10),
            Col("上期排名", "prev_rank", "int", 10),
            Col("名次变化", "rank_change", "rank_delta", 10),
        ]
    return cols


def _write_ranking_sheet(wb, fmts, meta, grades, ranked, previous, scheme=None) -> None:
    ws = wb.add_worksheet("总排名")
    frame = _ranking_frame(ranked, previous)
    cols = _ranking_columns(previous)
    last = write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 汇总表")
    _grade_colours(ws, fmts, grades, 2, last, [c.header for c in cols].index("等次"))
    ws.freeze_panes(2, 4)
    if scheme is not None:
        _write_quota_block(ws, fmts, scheme, ranked, last + 2, len(cols))


def _write_quota_block(ws, fmts, scheme, ranked, row: int, width: int) -> None:
    """Under the ranking: each group's 优秀 名额 and who lost 优秀 to it or to a veto, worded as in the notice."""
    from kaohe_excel.outputs.publicity import quota_lines  # the notice's wording, one owner

    lines = quota_lines(scheme, ranked)
    if not lines:
        return
    top = _text(scheme.grades["grade"].iloc[0])
    ws.write(row, 0, f"{top}名额", fmts.label)
    for offset, (group, text) in enumerate(lines.items(), start=1):
        ws.write(row + offset, 0, group, fmts.label)
        if width > 2:
            ws.merge_range(row + offset, 1, row + offset, width - 1, text, fmts.wrap)
        else:
            ws.write(row + offset, 1, text, fmts.wrap)
        # merged cells do not grow with their text: about 60 characters a printed line
        ws.set_row(row + offset, 15 * max(1, math.ceil(len(text) / 60)) + 3)


def _score_matrix(scored: pd.DataFrame, ranked: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    """Units × indicators; text marks where a unit has no score of its own (不考核, 未计分)."""
    rows = _sort_ranked(ranked)[["unit_code", "unit_name", "group", "indicator_total", "total"]]
    if not len(scored):
        return rows
    status = _col(scored, "status", "scored").map(_text)
    cell = pd.Series(scored["score"].astype(object), index=scored.index)
    cell = cell.where(~status.isin(["exempt"]), "不考核")
    cell = cell.where(~(status.eq("unscored") & scored["score"].isna()), "未计分")
    long = pd.DataFrame({"unit_code": scored["unit_code"], "indicator_code": scored["indicator_code"], "cell": cell})
    wide = long.drop_duplicates(["unit_code", "indicator_code"]).pivot(index="unit_code", columns="indicator_code", values="cell")
    wide = wide.reindex(columns=list(indicators["indicator_code"]))
    wide.columns = [f"ind::{c}" for c in wide.columns]
    return rows.merge(wide, left_on="unit_code", right_index=True, how="left")


def _matrix_sheet_names(groups: list) -> list[str]:
    """「指标得分」 for one group; 「指标得分（<考核类别>）」 for each of several (Excel's 31 characters, no []:*?/\\)."""
    if len(groups) <= 1:
        return ["指标得分"]
    names: list[str] = []
    for group in groups:
        label = "".join("_" if ch in "[]:*?/\\" else ch for ch in _text(group)).strip("'") or "_"
        name = f"指标得分（{label}）"
        if len(name) > 31:
            name = f"指标得分（{label[:24]}…）"
        base, n = name, 2
        while name in names:
            name = f"{base[:28]}{n}"
            n += 1
        names.append(name)
    return names


def summary_sheet_names(groups: list) -> list[str]:
    """SUMMARY_SHEETS of a run with these 考核类别 (in ranking order), the matrix sheets expanded."""
    at = SUMMARY_SHEETS.index("指标得分")
    return SUMMARY_SHEETS[:at] + _matrix_sheet_names(groups) + SUMMARY_SHEETS[at + 1:]


_MATRIX_SCALE = 85


def _column_pixels(width: float) -> float:
    # 8 rather than Excel's 7 pixels a character: LibreOffice and WPS draw 宋体 wider, and a page
    # that holds one column less is better than one that cuts a column in half
    return width * 8 + 5


def _page_pieces(widths: list[float], categories: list[str], room: float) -> list[tuple[int, int]]:
    """Indicator columns cut into pages of at most `room` pixels, at a 一级指标 boundary where one
    fits (a category wider than a page is cut inside it): (start, stop) positions."""
    pieces, start = [], 0
    while start < len(widths):
        used, stop, boundary = 0.0, start, None
        while stop < len(widths) and (stop == start or used + _column_pixels(widths[stop]) <= room):
            used += _column_pixels(widths[stop])
            stop += 1
            if stop < len(widths) and categories[stop] != categories[stop - 1]:
                boundary = stop
        if stop < len(widths) and boundary is not None and categories[stop] == categories[stop - 1]:
            stop = boundary
        pieces.append((start, stop))
        start = stop
    return pieces


# what _write_matrix_block reads of the scores (_indicator_table's and _score_matrix's columns)
_MATRIX_COLUMNS = ["unit_code", "indicator_code", "category", "subcategory", "name", "measure_unit", "points", "method",
                   "direction", "order", "status", "score"]


def _write_matrix_sheet(wb, fmts, meta, scored, ranked, notes: pd.DataFrame | None = None) -> None:
    """The score matrix, one sheet per 考核类别 with only the indicators that apply to it, so that it
    fits the page width; a group with many indicators prints on pages cut at 一级指标 boundaries,
    each page repeating the title, the header rows and the unit columns."""
    groups = list(pd.unique(_sort_ranked(ranked)["group"].astype(object))) if len(ranked) else [""]
    names = _matrix_sheet_names(groups)
    by_group = scored["group"].astype(object) if len(scored) and "group" in scored.columns else None
    # a group's rows of the columns the block reads only: all of the scores' columns would copy
    # ~150 MB per group at 10,000 units
    at = [scored.columns.get_loc(c) for c in _MATRIX_COLUMNS if c in scored.columns]
    for group, name in zip(groups, names):
        units = ranked[ranked["group"].astype(object) == group] if len(ranked) else ranked
        rows = (scored.iloc[np.flatnonzero((by_group == group).to_numpy()), at]
                if by_group is not None and len(groups) > 1 else scored)
        title = f"{_period_label(meta)} 指标得分" + (f"（{_text(group)}）" if len(groups) > 1 else "")
        _write_matrix_block(wb, fmts, name, title, rows, units, notes)


def _write_matrix_block(wb, fmts, sheet_name: str, title: str, scored, ranked, notes: pd.DataFrame | None) -> None:
    ws = _cell_table_sheet(wb, sheet_name)
    indicators = _indicator_table(scored)
    frame = _score_matrix(scored, ranked, indicators)
    with_notes = notes is not None and len(frame) and "unit_code" in frame.columns
    if with_notes:
        frame = frame.merge(notes[["unit_code", "total_note"]], on="unit_code", how="left")
        with_notes = bool(frame["total_note"].fillna("").astype(str).ne("").any())
    fixed = [Col("考核类别", "group"), Col("单位代码", "unit_code"), Col("单位名称", "unit_name")]
    ind_cols = [
        Col(f"{_text(r.name)}\n（{_text(r.points)}分）", f"ind::{r.indicator_code}", "score", 10)
        for r in indicators.itertuples(index=False)
    ]
    tail = [Col("指标得分", "indicator_total", "score", 10), Col("总分", "total", "score", 10)]
    if with_notes:
        tail.append(Col("指标得分折算", "total_note", "wrap", 34))
    cols = fixed + ind_cols + tail
    many = len(ind_cols) > _MATRIX_FIT_COLUMNS
    if many:
        # unmerged and left-aligned: the title then shows at the top of every page across
        ws.write_string(0, 0, title, fmts.title_left)
        ws.set_row(0, 28)
    else:
        write_title(ws, 0, len(cols), title, fmts)
    # One header row per level: 一级指标, 二级指标 when the scheme uses it, then the indicators.
    levels = [indicators["category"].map(_text).tolist()]
    subcategories = indicators["subcategory"].map(_text).tolist()
    if any(subcategories):
        levels.append(subcategories)
    top, bottom = 1, 1 + len(levels)
    widths = _set_widths(ws, cols, frame)
    start = len(fixed)
    fixed_pixels = sum(_column_pixels(w) for w in widths[:start])
    pieces = (_page_pieces(widths[start:start + len(ind_cols)], levels[0], _PAGE_PIXELS * 100 / _MATRIX_SCALE - fixed_pixels)
              if many else [(0, len(ind_cols))])
    # Fixed and total columns span all header rows.
    for c, spec in enumerate(fixed):
        ws.merge_range(top, c, bottom, c, "", fmts.header)
        ws.write_string(top, c, spec.header, fmts.header)
    for depth, labels in enumerate(levels):
        # A run of equal labels (under the same parents) becomes one merged cell, never across a page.
        keys = list(zip(*levels[: depth + 1]))
        for lo, hi in pieces:
            i = lo
            while i < hi:
                j = i
                while j + 1 < hi and keys[j + 1] == keys[i]:
                    j += 1
                if j > i:
                    ws.merge_range(top + depth, start + i, top + depth, start + j, "", fmts.header)
                ws.write_string(top + depth, start + i, labels[i], fmts.header)
                i = j + 1
    for k, spec in enumerate(ind_cols):
        ws.write_string(bottom, start + k, spec.header, fmts.header)
    for k, spec in enumerate(tail):
        c = start + len(ind_cols) + k
        ws.merge_range(top, c, bottom, c, "", fmts.header)
        ws.write_string(top, c, spec.header, fmts.header)
    # tall enough for the longest indicator name at its column width (Excel does not grow it)
    header_lines = max([_line_counts([spec.header], width)[0] for spec, width in zip(ind_cols, widths[start:])] or [3])
    ws.set_row(bottom, max(45, 13.5 * header_lines + 4))
    _write_rows(ws, fmts, cols, frame, bottom + 1, widths if with_notes else None)
    last = bottom + len(frame)
    ws.freeze_panes(bottom + 1, len(fixed))
    ws.autofilter(bottom, 0, max(last, bottom), len(cols) - 1)
    _print_setup(ws, top, bottom, fit_width=not many)
    ws.repeat_rows(0, bottom)  # the title too: every printed page says what it is
    if many:
        # Squeezing dozens of indicators onto one page width makes them unreadable: pages across,
        # cut at 一级指标 boundaries, each repeating the unit columns.
        ws.set_print_scale(_MATRIX_SCALE)
        ws.repeat_columns(0, len(fixed) - 1)
        ws.set_v_pagebreaks([start + lo for lo, _ in pieces[1:]])


def _names(scored: pd.DataFrame, ranked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    units = ranked[["unit_code", "unit_name"]].drop_duplicates("unit_code")
    indicators = _indicator_table(scored)[["indicator_code", "name"]] if len(scored) else pd.DataFrame(columns=["indicator_code", "name"])
    return units, indicators


def _any_grade(frame: pd.DataFrame) -> bool:
    """_has_grades of the rows' _value_and_grade: a typed text where there is no number."""
    if not len(frame) or "text_value" not in frame.columns:
        return False
    value = pd.to_numeric(_col(frame, "value"), errors="coerce").to_numpy(dtype=float)
    text = np.asarray(_texts(frame["text_value"]), dtype=object)
    return bool((np.isnan(value) & (text != "")).any())


def _write_raw_sheet(wb, fmts, meta, scored, ranked, values) -> None:
    ws = wb.add_worksheet("原始数据")
    units, indicators = _names(scored, ranked)
    values = values if values is not None else pd.DataFrame(columns=["unit_code", "indicator_code"])

    def rows(start: int, stop: int) -> pd.DataFrame:
        # made a slice at a time (_LazyRows): every column is a row's own
        frame = values.iloc[start:stop].copy()
        if "unit_name" not in frame.columns:
            frame = frame.merge(units, on="unit_code", how="left")
        if "name" not in frame.columns:
            frame = frame.merge(indicators, on="indicator_code", how="left")
        frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
        for c in ["evidence", "note", "file", "sheet", "cell"]:
            frame[c] = _col(frame, c, "")
        return frame

    cols = [
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("实际完成值", "value_number", "num", 11),
        *([Col("等级", "grade_text", "text", 8)] if _any_grade(values) else []),
        Col("佐证材料", "evidence", "wrap"),
        Col("备注", "note", "wrap"),
        Col("文件", "file"),
        Col("工作表", "sheet"),
        Col("单元格", "cell"),
    ]
    write_table(ws, fmts, cols, _LazyRows(len(values), rows), header_row=1, title=f"{_period_label(meta)} 原始数据",
                 readable=True)


def _write_audit_sheet(wb, fmts, meta, scored, ranked) -> None:
    ws = wb.add_worksheet("得分说明")
    order = {u: i for i, u in enumerate(_sort_ranked(ranked)["unit_code"])}
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    # only the columns shown or needed for them, a slice at a time in unit order (_LazyRows): at
    # 10,000 units the display columns of all rows at once cost ~1 GB
    used = ["unit_code", "unit_name", "indicator_code", "name", "method", "direction", "value", "text_value",
            "points", "score", "status", "explanation", "points_available"] + [key for key, _ in _PARAMS_ZH]
    keys = pd.DataFrame({"_u": scored["unit_code"].map(order).to_numpy(), "_i": scored["indicator_code"].map(ind_order).to_numpy()})
    positions = keys.sort_values(["_u", "_i"], kind="stable").index.to_numpy()
    shown = [scored.columns.get_loc(c) for c in used if c in scored.columns]

    def rows(start: int, stop: int) -> pd.DataFrame:
        frame = scored.iloc[positions[start:stop], shown]
        frame["method_display"] = _method_display(frame)
        frame["value_number"], frame["grade_text"] = _value_and_grade(frame)
        frame["params"] = _params_display(frame)
        status = pd.Series(_texts(_col(frame, "status", "")), index=frame.index, dtype=object)
        frame["status_zh"] = status.map(STATUS_ZH).fillna(status)
        for c in ["unit_name", "name", "explanation", "points_available"]:
            frame[c] = _col(frame, c)
        return frame

    cols = [
        Col("单位代码", "unit_code"),
        Col("单位名称", "unit_name"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("计分方法", "method_display"),
        Col("实际完成值", "value_number", "num", 11),
        *([Col("等级", "grade_text", "text", 8)] if _any_grade(scored) else []),
        Col("计分参数", "params", "wrap", 36),
        Col("分值", "points", "num", 8),
        Col("得分", "score", "score", 8),
        Col("状态", "status_zh"),
        Col("得分说明", "explanation", "wrap", 60),
    ]
    write_table(ws, fmts, cols, _LazyRows(len(scored), rows), header_row=1, title=f"{_period_label(meta)} 得分说明",
                 readable=True)


def _write_adjustment_sheet(wb, fmts, meta, ranked, adjustment_scores) -> None:
    ws = wb.add_worksheet("加扣分明细")
    units = ranked[["unit_code", "unit_name"]].drop_duplicates("unit_code")
    frame = adjustment_scores.copy() if adjustment_scores is not None else pd.DataFrame(columns=["unit_code"])
    if "unit_name" not in frame.columns:
        frame = frame.merge(units, on="unit_code", how="left")
    frame["kind_zh"] = _col(frame, "kind", "").map(lambda k: KIND_ZH.get(_text(k), _text(k)))
    for c in ["item_code", "name", "count", "step", "item_cap", "amount", "explanation", "recorded_by_zh",
              "description", "evidence"]:
        frame[c] = _col(frame, c)
    cols = [Col("单位代码", "unit_code"), Col("单位名称", "unit_name")] + _adjustment_columns()
    write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 加扣分明细",
                        readable=True)


def _write_issues_sheet(wb, fmts, meta, issues) -> None:
    ws = wb.add_worksheet("校验问题")
    frame = issues if issues is not None and len(issues) else pd.DataFrame(columns=ISSUE_COLUMNS)
    frame = frame.reindex(columns=ISSUE_COLUMNS)
    # a person reads the Chinese 问题类型; the stable code keeps its own column for filtering
    frame = frame.assign(kind=frame["code"].map(issue_kind) if len(frame) else pd.Series(dtype=object))
    shown = [c for c in ISSUE_COLUMNS if c != "code"]
    shown = shown[:shown.index("message")] + ["kind", "message", "code"]
    widths = {"severity": 6, "cell": 8, "message": 60, "kind": 14}
    cols = [Col(ISSUE_HEADERS_ZH[c], c, "wrap" if c == "message" else "text", widths.get(c)) for c in shown]
    last = write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 校验问题",
                        readable=True)
    if last >= 2:
        ws.conditional_format(2, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"错误"', "format": fmts.error})
        ws.conditional_format(2, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"警告"', "format": fmts.warning})
    else:
        ws.write_string(2, 0, "无校验问题。", fmts.note)


def _write_missing_sheet(wb, fmts, meta, missing_units) -> None:
    ws = wb.add_worksheet("未报送")
    frame = missing_units.copy() if missing_units is not None else pd.DataFrame()
    for c in ["unit_code", "unit_name", "group", "contact", "email"]:
        frame[c] = _col(frame, c, "")
    cols = [Col("单位代码", "unit_code"), Col("单位名称", "unit_name"), Col("考核类别", "group"), Col("联系人", "contact"), Col("邮箱", "email")]
    last = write_table(ws, fmts, cols, frame, header_row=1, title=f"{_period_label(meta)} 未报送单位")
    if last < 2:
        ws.write_string(2, 0, "全部单位均已报送。", fmts.note)


def _indicator_stats(scored: pd.DataFrame) -> pd.DataFrame:
    indicators = _indicator_table(scored)
    # the three columns used, not a copy of every column of the scores
    mine = _col(scored, "status", "scored").map(_text).isin(_OWN_RESULT) & scored["score"].notna()
    own = scored.loc[mine.to_numpy(), [c for c in ("indicator_code", "score", "points_available") if c in scored.columns]]
    stats = own.groupby("indicator_code", sort=False).agg(
        count=("score", "size"), mean=("score", "mean"), max=("score", "max"), min=("score", "min"),
        score_sum=("score", "sum"), points_sum=("points_available", "sum"),
    )
    frame = indicators.merge(stats, left_on="indicator_code", right_index=True, how="left")
    frame["mean"] = _round2(frame["mean"])
    frame["rate"] = np.where(frame["points_sum"] > 0, frame["score_sum"] / frame["points_sum"], np.nan)
    frame["count"] = frame["count"].fillna(0)
    return frame


def _group_stats(ranked: pd.DataFrame, grades: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    groups = pd.unique(ranked["group"].astype(object))
    total = pd.to_numeric(ranked["total"], errors="coerce")
    stats = ranked.assign(_t=total).groupby("group", sort=False)["_t"].agg(["size", "mean", "max", "min"]).reindex(groups)
    stats["mean"] = _round2(stats["mean"])
    grade_names = [_text(g) for g in grades["grade"]] if grades is not None and len(grades) else []
    for name in grade_names:
        stats[f"grade::{name}"] = ranked.assign(_hit=ranked["grade"].map(_text).eq(name)).groupby("group", sort=False)["_hit"].sum().reindex(groups)
    return stats.rename_axis("group").reset_index(), grade_names


def _write_stats_sheet(wb, fmts, meta, grades, scored, ranked) -> None:
    """The groups' totals and chart on the first page, then the indicators' table from a new page
    with its own header repeated: a page of the groups never carries the indicators' header."""
    ws = _cell_table_sheet(wb, "统计")
    frame = _indicator_stats(scored) if len(scored) else pd.DataFrame(columns=["indicator_code"])
    cols = [
        Col("一级指标", "category"),
        Col("指标代码", "indicator_code"),
        Col("指标名称", "name"),
        Col("分值", "points", "num", 8),
        Col("考核单位数", "count", "int", 10),
        Col("平均分", "mean", "score", 10),
        Col("最高分", "max", "score", 10),
        Col("最低分", "min", "score", 10),
        Col("得分率", "rate", "pct", 10),
    ]
    for c in cols:
        if c.key not in frame.columns:
            frame[c.key] = None
    cols = _with_subcategory(cols, frame)

    gstats, grade_names = _group_stats(ranked, grades)
    gcols = [
        Col("考核类别", "group"),
        Col("单位数", "size", "int"),
        Col("平均总分", "mean", "score"),
        Col("最高总分", "max", "score"),
        Col("最低总分", "min", "score"),
    ] + [Col(f"{name}（个）", f"grade::{name}", "int") for name in grade_names]
    write_title(ws, 0, len(cols), f"{_period_label(meta)} 统计", fmts)
    ws.write_string(1, 0, "各考核类别总分", fmts.label)
    head = 2
    for c, spec in enumerate(gcols):
        ws.write_string(head, c, spec.header, fmts.header)
    for r, record in enumerate(gstats.reindex(columns=[c.key for c in gcols]).itertuples(index=False), start=head + 1):
        for c, (spec, value) in enumerate(zip(gcols, record)):
            _write_cell(ws, r, c, value, spec.kind, fmts)
    glast = head + len(gstats)
    chart_rows = 0
    if len(gstats):
        chart = wb.add_chart({"type": "column"})
        chart.add_series({
            "name": "平均总分",
            "categories": ["统计", head + 1, 0, glast, 0],
            "values": ["统计", head + 1, 2, glast, 2],
            "data_labels": {"value": True, "num_format": "0.00"},
            "fill": {"color": "#4472C4"},
        })
        chart.set_title({"name": "各考核类别平均总分", "name_font": {"name": "黑体", "size": 12}})
        chart.set_x_axis({"num_font": {"name": "宋体"}})
        chart.set_y_axis({"name": "平均总分", "min": 0, "name_font": {"name": "宋体"}})
        chart.set_legend({"none": True})
        chart.set_size({"width": 560, "height": 300})
        ws.insert_chart(xl_rowcol_to_cell(glast + 2, 0), chart)
        chart_rows = 17  # 300 px of 20 px rows, and a spare one
    label = glast + 2 + chart_rows + 1
    ws.write_string(label, 0, "各指标得分情况", fmts.label)
    ws.set_h_pagebreaks([label])
    header_row = label + 1
    write_table(ws, fmts, cols, frame, header_row=header_row)
    # the groups' table and chart are short: the frozen panes and filter belong to the indicators
    ws.freeze_panes(0, 0)
    ws.repeat_rows(header_row, header_row)


def write_summary(
    path: str | Path,
    meta: Any,
    grades: pd.DataFrame,
    scored: pd.DataFrame,
    ranked: pd.DataFrame,
    adjustment_scores: pd.DataFrame | None,
    values: pd.DataFrame | None,
    issues: pd.DataFrame | None,
    missing_units: pd.DataFrame | None,
    previous: Previous | pd.DataFrame | None = None,
    progress: pd.DataFrame | None = None,
    crosscheck: pd.DataFrame | None = None,
    county_totals: pd.DataFrame | None = None,
    appeals: pd.DataFrame | None = None,
    appeal_changes: pd.DataFrame | None = None,
    ratings: Any = None,
    scheme: Any = None,
) -> Path:
    """Write the summary workbook (汇总表) with the sheets in SUMMARY_SHEETS, plus PROGRESS_SHEETS
    when a progress table (progress.progress_table) is given, and 口径核对 when lead-department
    figures were checked (crosscheck.reconcile) or county totals given."""
    previous = _as_previous(previous)
    # Row by row to disk: the big sheets (得分说明, 原始数据) would otherwise sit in memory as cell objects.
    wb = new_workbook(path, SUMMARY_OPTIONS)
    fmts = Formats(wb)
    if "unscored_count" not in ranked.columns:
        ranked = ranked.assign(unscored_count=unscored_counts(ranked, scored))
    _write_ranking_sheet(wb, fmts, meta, grades, ranked, previous, scheme)
    _write_matrix_sheet(wb, fmts, meta, scored, ranked, indicator_total_notes(scored, ranked, meta))
    _write_raw_sheet(wb, fmts, meta, scored, ranked, values)
    _write_audit_sheet(wb, fmts, meta, scored, ranked)
    release_unused()  # the audit sheets' slices, before the smaller sheets and the feedback batches
    _write_adjustment_sheet(wb, fmts, meta, ranked, adjustment_scores)
    _write_issues_sheet(wb, fmts, meta, issues)
    _write_missing_sheet(wb, fmts, meta, missing_units)
    _write_stats_sheet(wb, fmts, meta, grades, scored, ranked)
    if progress is not None:
        _write_progress_sheets(wb, fmts, meta, progress, ranked)
    _write_crosscheck_sheet(wb, fmts, meta, crosscheck, county_totals)
    if appeals is not None:  # w-appeal: appeal_report.appeal_rows / change_rows
        _write_appeal_sheets(wb, fmts, meta, appeals, appeal_changes)
    if ratings is not None and scheme is not None:  # w-rating: 测评结果 and 测评票校验
        _write_rating_sheets(wb, fmts, meta, ratings, scheme)
    close_workbook(wb)
    return Path(path)


def write_issue_report(path: str | Path, meta: Any, issues: pd.DataFrame | None) -> Path:
    """The validation issues alone (`kaohe check`), as a workbook the office can forward."""
    wb = new_workbook(path)
    _write_issues_sheet(wb, Formats(wb), meta, issues)
    wb.close()
    return Path(path)
