"""Output workbooks: the summary (汇总表), one feedback workbook per unit (反馈), and the
machine-readable csv tables (scores.csv, totals.csv).

The writers live in their own modules: report_values (what a cell shows, last period's results),
report_xlsx (the generic table writer), report_summary, report_extras (the progress, 口径核对, 复核
and 测评 sheets), report_feedback and report_csv. This module keeps their public names importable as
`report.<name>`; the generic writer's pieces are `report_xlsx.<name>`.

Every text cell that may have come from a unit is written with `write_string`, and the
workbooks are opened with strings_to_formulas/urls/numbers off, so a unit name such as
"=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

from kaohe_excel.outputs.report_csv import SCORES_CSV_COLUMNS, TOTALS_CSV_COLUMNS, write_csvs
from kaohe_excel.outputs.report_extras import CROSSCHECK_SHEET, PROGRESS_SHEETS
from kaohe_excel.outputs.report_feedback import (
    FEEDBACK_ADJUSTMENT_SHEET,
    FEEDBACK_GAP_SHEET,
    FEEDBACK_PROGRESS_SHEET,
    FEEDBACK_SHEETS,
    write_all_feedback,
    write_feedback,
)
from kaohe_excel.outputs.report_summary import SUMMARY_SHEETS, summary_sheet_names, write_issue_report, write_summary
from kaohe_excel.outputs.report_values import KIND_ZH, STATUS_ZH, Previous, load_previous
from kaohe_excel.outputs.report_xlsx import Col

__all__ = [
    "SUMMARY_SHEETS", "FEEDBACK_SHEETS", "PROGRESS_SHEETS", "FEEDBACK_GAP_SHEET", "FEEDBACK_PROGRESS_SHEET",
    "FEEDBACK_ADJUSTMENT_SHEET", "CROSSCHECK_SHEET", "SCORES_CSV_COLUMNS", "TOTALS_CSV_COLUMNS", "STATUS_ZH", "KIND_ZH",
    "Previous", "load_previous", "write_summary", "summary_sheet_names", "write_issue_report", "write_feedback",
    "write_all_feedback", "write_csvs", "Col",
]
