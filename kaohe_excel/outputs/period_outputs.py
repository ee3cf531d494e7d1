"""What people read in a period folder: 汇总表, 通报, 公示名单, 反馈 and the csv files, rendered
from scored results (by the run, and again by verify to compare), and the 历年结果 workbook.

The folder's file names are the archive's (it owns the period folder); which files a period
has is decided here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from kaohe_excel.analysis import gap
from kaohe_excel.outputs import notice
from kaohe_excel.base import publication
from kaohe_excel.outputs import publicity
from kaohe_excel.outputs import report
from kaohe_excel.storage.archive import FEEDBACK_DIR, NOTICE_NAME, SUMMARY_NAME
from kaohe_excel.base.memory import cycles_collected, release_unused
from kaohe_excel.base.safety import InertWorkbook


def _appeal_rows(results) -> pd.DataFrame | None:
    from kaohe_excel.outputs.appeal_report import appeal_rows  # w-appeal

    appeals = getattr(results, "appeals", None)
    return appeal_rows(appeals, results.scheme) if appeals is not None and len(appeals) else None


def _appeal_changes(results) -> pd.DataFrame | None:
    from kaohe_excel.outputs.appeal_report import change_rows

    changes = getattr(results, "appeal_changes", None)
    return change_rows(changes) if changes is not None else None


def render_outputs(results, folder: Path, baseline: Path | None, issued_on: date, notice_template: Path | None,
                   workers: int | None = None) -> None:
    """What people read: 汇总表, 通报, 反馈 and the csv files, from scored results (write_period and verify).

    The feedback workbooks are written by a process pool while this process writes the others
    (report.write_all_feedback's `meanwhile`): the summary keeps one core busy, the pool the rest.
    """
    scheme = results.scheme
    previous = report.load_previous(baseline) if baseline is not None else None
    meta = scheme.meta
    progress_table = getattr(results, "progress", None)

    def the_others() -> None:
        report.write_summary(folder / SUMMARY_NAME, meta, scheme.grades, results.scored, results.ranked,
                             results.adjustments, results.validated.values, results.validated.issues_table,
                             results.validated.missing_units, previous=previous, progress=progress_table,
                             crosscheck=getattr(results, "crosscheck", None),
                             county_totals=getattr(results, "county_totals", None),
                             appeals=_appeal_rows(results), appeal_changes=_appeal_changes(results),
                             ratings=getattr(results.validated, "ratings", None), scheme=scheme)
        release_unused()  # the summary's audit tables
        win = publication.window(getattr(meta, "publication", None), issued_on)  # w-year: 成文日期 and 公示期
        with cycles_collected():  # the notice's document, its parts referring to each other
            notice.write_notice(folder / NOTICE_NAME, notice_template, meta, results.ranked, scheme.grades, win.issued_on,
                                extra_context={"quota_lines": publicity.quota_lines(scheme, results.ranked)},
                                progress=progress_table, ratings=getattr(results.validated, "ratings", None), scheme=scheme)
        with cycles_collected():
            publicity.write_publicity(folder / publicity.PUBLICITY_NAME, meta, results.ranked, win)
        report.write_csvs(folder, meta.period, results.scored, results.ranked)

    report.write_all_feedback(folder / FEEDBACK_DIR, meta, results.scored, results.ranked, previous=previous,
                              workers=workers, gap=gap.gap_table(results.scored, scheme.tier_tables, scheme),
                              progress=progress_table, crosscheck=getattr(results, "crosscheck", None),
                              adjustments=results.adjustments, appeals=_appeal_rows(results),
                              ratings=getattr(results.validated, "ratings", None), scheme=scheme,
                              meanwhile=the_others)


# --------------------------------------------------------------------------- history


def _sheet_name(text: str, used: set[str]) -> str:
    name = "".join("_" if ch in '[]:*?/\\' else ch for ch in str(text))[:28] or "类别"
    base, n = name, 1
    while name in used:
        n += 1
        name = f"{base}{n}"
    used.add(name)
    return name


def write_history_xlsx(path: Path, table: pd.DataFrame) -> Path:
    """A 明细 sheet (the long table) and one sheet per group: totals by period and a line chart."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = InertWorkbook(str(path), {"nan_inf_to_errors": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    head = workbook.add_format({"bold": True, "border": 1, "bg_color": "#D9E1F2", "align": "center", "valign": "vcenter"})
    cell = workbook.add_format({"border": 1})
    score = workbook.add_format({"border": 1, "num_format": "0.00"})
    delta = workbook.add_format({"border": 1, "num_format": "+0.00;-0.00;0.00"})
    rank_delta = workbook.add_format({"border": 1, "num_format": "+0;-0;0"})
    used = {"明细"}

    detail = workbook.add_worksheet("明细")
    headers = [("考核周期", "period", cell, 10), ("单位代码", "unit_code", cell, 10), ("单位名称", "unit_name", cell, 16),
               ("考核类别", "group", cell, 12), ("总分", "total", score, 9), ("排名", "rank", cell, 6),
               ("等次", "grade", cell, 8), ("否决", "vetoed", cell, 6), ("已封存", "sealed", cell, 8),
               ("分数变化", "total_change", delta, 10), ("名次变化", "rank_change", rank_delta, 10)]
    for c, (title, _, _, width) in enumerate(headers):
        detail.write_string(0, c, title, head)
        detail.set_column(c, c, width)
    for r, row in enumerate(table.reindex(columns=[h[1] for h in headers]).itertuples(index=False), start=1):
        for c, ((_, key, fmt, _), value) in enumerate(zip(headers, row)):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                detail.write_blank(r, c, None, fmt)
            elif key in ("vetoed", "sealed"):
                detail.write_string(r, c, "是" if bool(value) else "否", fmt)
            elif key in ("total", "rank", "total_change", "rank_change"):
                detail.write_number(r, c, float(value), fmt)
            else:
                detail.write_string(r, c, str(value), fmt)
    detail.freeze_panes(1, 0)
    detail.autofilter(0, 0, max(len(table), 1), len(headers) - 1)

    periods = sorted(table["period"].unique()) if len(table) else []
    for group, part in table.groupby("group", sort=True):
        names = part.sort_values("period").groupby("unit_code", sort=True)["unit_name"].last()
        wide = part.pivot_table(index="unit_code", columns="period", values="total", aggfunc="first").reindex(index=names.index, columns=periods)
        ws = workbook.add_worksheet(_sheet_name(group, used))
        ws.write_string(0, 0, "单位代码", head)
        ws.write_string(0, 1, "单位名称", head)
        for c, period in enumerate(periods, start=2):
            ws.write_string(0, c, str(period), head)
        for r, (code, values) in enumerate(wide.iterrows(), start=1):
            ws.write_string(r, 0, str(code), cell)
            ws.write_string(r, 1, str(names[code]), cell)
            for c, value in enumerate(values, start=2):
                if value == value:
                    ws.write_number(r, c, float(value), score)
                else:
                    ws.write_blank(r, c, None, score)
        ws.set_column(0, 0, 10)
        ws.set_column(1, 1, 16)
        ws.set_column(2, 1 + len(periods), 10)
        chart = workbook.add_chart({"type": "line"})
        for r in range(1, len(wide) + 1):
            chart.add_series({"name": [ws.name, r, 1], "categories": [ws.name, 0, 2, 0, 1 + len(periods)],
                              "values": [ws.name, r, 2, r, 1 + len(periods)], "marker": {"type": "circle"}})
        chart.set_title({"name": f"{group} 历年总分"})
        chart.set_x_axis({"name": "考核周期"})
        chart.set_y_axis({"name": "总分"})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(len(wide) + 3, 0, chart)
    workbook.close()
    return path
