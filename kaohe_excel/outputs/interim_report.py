"""The 平时考核 block of a unit's feedback workbook: each source period's 总分 beside the value."""

from __future__ import annotations

from typing import Callable

import pandas as pd

from kaohe_excel.scoring.interim import DETAIL_COLUMN

INTERIM_SHEET = "平时考核"


def interim_rows(rows: pd.DataFrame, unit_code: object) -> pd.DataFrame:
    """One row per 平时 indicator × source period of the unit, with Chinese display columns."""
    mine = rows[rows["unit_code"].eq(unit_code) & rows[DETAIL_COLUMN].map(lambda d: isinstance(d, list))]
    records = []
    for row in mine.itertuples():
        for period, total in getattr(row, DETAIL_COLUMN):
            records.append({"指标名称": row.name, "考核周期": period,
                            "总分": "未参加考核" if total is None else f"{total:.2f}", "平时考核值": ""})
        value = row.value
        records.append({"指标名称": row.name, "考核周期": "平均", "总分": "",
                        "平时考核值": "" if value != value else f"{value:.2f}"})
    return pd.DataFrame(records, columns=["指标名称", "考核周期", "总分", "平时考核值"])


def write_interim_sheet(wb, fmts, unit: pd.Series, rows: pd.DataFrame, write_table: Callable[..., int],
                        text: Callable[[object], str]) -> None:
    """The sheet, written with the feedback workbook's own table writer and text rule (passed in by
    report.py, which calls this: importing them back would make the two modules a cycle)."""
    table = interim_rows(rows, unit.get("unit_code"))
    if not len(table):
        return
    ws = wb.add_worksheet(INTERIM_SHEET)
    last = write_table(ws, fmts, table, header_row=1,
                       title=f"{text(unit.get('unit_name'))} 平时考核（各期总分及平均）")
    ws.write_string(last + 2, 0, "注：平时考核值为本单位参加考核各期总分的平均（四舍五入保留两位小数），再按该指标的计分方法得分。", fmts.note)
