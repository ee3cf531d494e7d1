"""The check report the office can forward: beside `校验问题_<周期>.xlsx` (the whole list), one
workbook per unit that has problems, `校验问题/<单位代码>_<单位名称>.xlsx`, with that unit's rows only.

Issues are matched to a unit by their `unit` field (the unit code the validator put there); rows
without a unit (a file nobody can be matched to, a scheme problem) stay in the office's list only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kaohe_excel.base.issues import ISSUE_COLUMNS, ISSUE_HEADERS_ZH, issue_kind
from kaohe_excel.outputs.report_values import _period_label
from kaohe_excel.outputs.report_xlsx import Col, Formats, new_workbook, write_table, write_title
from kaohe_excel.base.safety import safe_filename

ISSUE_BOOK_DIR = "校验问题"


# The columns of a unit's issue workbook, in order; 问题类型 after 级别 so a unit sorts by it.
UNIT_ISSUE_COLUMNS = ["severity", "type", "file", "sheet", "cell", "indicator", "message", "code"]
UNIT_ISSUE_HEADERS = {**ISSUE_HEADERS_ZH, "type": "问题类型"}


def issue_type(code: object) -> str:
    """问题类型 of a code: the one label table lives with the codes (issues.ISSUE_KINDS_ZH)."""
    return "" if code is None or code != code else issue_kind(code)


def issue_book_dir(report_path: str | Path) -> Path:
    """The folder of the per-unit workbooks, beside the office's list."""
    return Path(report_path).parent / ISSUE_BOOK_DIR


def write_unit_issue_books(report_path: str | Path, meta: Any, issues: pd.DataFrame | None,
                           unit_names: dict[str, str]) -> list[Path]:
    """One workbook per unit with issues, its rows only; returns the paths (none: no such unit).

    Earlier books in the folder are removed first, so a unit that fixed everything gets no stale list.
    """
    folder = issue_book_dir(report_path)
    if folder.is_dir():
        for old in folder.glob("*.xlsx"):
            old.unlink()
    if issues is None or not len(issues):
        return []
    frame = issues.reindex(columns=ISSUE_COLUMNS)
    units = frame["unit"].map(lambda v: "" if v is None or v != v else str(v))
    frame = frame[units != ""].assign(type=frame["code"].map(issue_type))
    paths = []
    for code, rows in frame.groupby(units[units != ""], sort=False):
        name = unit_names.get(code, "")
        path = folder / (safe_filename(f"{code}_{name}" if name else code) + ".xlsx")
        paths.append(write_unit_issue_report(path, meta, code, name, rows.reset_index(drop=True)))
    return paths


def write_unit_issue_report(path: str | Path, meta: Any, unit_code: str, unit_name: str, rows: pd.DataFrame) -> Path:
    """A unit's own issues (rows with a `type` column) as a workbook to send it."""
    wb = new_workbook(path)
    fmts = Formats(wb)
    ws = wb.add_worksheet("校验问题")
    widths = {"severity": 6, "type": 16, "cell": 8, "indicator": 10, "message": 60, "code": 14}
    cols = [Col(UNIT_ISSUE_HEADERS[c], c, "wrap" if c == "message" else "text", widths.get(c)) for c in UNIT_ISSUE_COLUMNS]
    who = f"{unit_code} {unit_name}".strip()
    write_title(ws, 0, len(cols), f"{_period_label(meta)} 校验问题（{who}）", fmts)
    last = write_table(ws, fmts, cols, rows.reindex(columns=UNIT_ISSUE_COLUMNS), header_row=2)
    ws.write_string(1, 0, f"共{len(rows)}个问题，其中错误{int((rows['severity'] == '错误').sum())}个。"
                          "请按「说明」更正后重新报送；错误未更正的，相应指标不能计分。", fmts.note)
    if last >= 3:
        ws.conditional_format(3, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"错误"', "format": fmts.error})
        ws.conditional_format(3, 0, last, 0, {"type": "cell", "criteria": "==", "value": '"警告"', "format": fmts.warning})
    wb.close()
    return Path(path)
