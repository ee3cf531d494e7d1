"""Issue records: every data problem found is collected, never raised.

An `Issue` names where (file, sheet, cell), whom (unit, indicator), what (a stable
`IssueCode`) and what to do (a Chinese message). `issues_frame` turns a list of them
into the table the CLI prints and the summary workbook lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

import pandas as pd


class Severity(str, Enum):
    ERROR = "错误"
    WARNING = "警告"


class IssueCode(str, Enum):
    """Stable snake_case codes; never rename a value, other tools filter on them."""

    # file level
    unreadable_file = "unreadable_file"
    empty_file = "empty_file"
    encrypted_file = "encrypted_file"
    legacy_format = "legacy_format"
    not_a_spreadsheet = "not_a_spreadsheet"
    file_too_large = "file_too_large"
    not_our_template = "not_our_template"
    other_scheme = "other_scheme"
    other_period = "other_period"
    earlier_scheme_edit = "earlier_scheme_edit"
    scheme_changed = "scheme_changed"
    missing_sheet = "missing_sheet"
    missing_column = "missing_column"
    # unit level
    unknown_unit = "unknown_unit"
    unit_mismatch = "unit_mismatch"
    duplicate_submission = "duplicate_submission"
    missing_submission = "missing_submission"
    # cell level
    missing_value = "missing_value"
    not_a_number = "not_a_number"
    invalid_grade = "invalid_grade"
    out_of_range = "out_of_range"
    percent_scale = "percent_scale"
    normalized_value = "normalized_value"
    formula_without_value = "formula_without_value"
    error_value = "error_value"
    unknown_indicator = "unknown_indicator"
    missing_indicator = "missing_indicator"
    duplicate_indicator = "duplicate_indicator"
    not_applicable_indicator = "not_applicable_indicator"
    edited_locked_cell = "edited_locked_cell"
    # adjustments (加扣分)
    unknown_adjustment = "unknown_adjustment"
    adjustment_not_claimable = "adjustment_not_claimable"
    missing_evidence = "missing_evidence"
    invalid_count = "invalid_count"
    # assessment workbook (评定表)
    missing_assessment = "missing_assessment"
    unscored_value = "unscored_value"
    # w-hostile: inbox entries that are not read, each named (links, hidden, lock and special files)
    link_in_inbox = "link_in_inbox"
    hidden_entry = "hidden_entry"
    file_open_elsewhere = "file_open_elsewhere"
    not_a_regular_file = "not_a_regular_file"
    unreadable_folder = "unreadable_folder"


@dataclass(frozen=True)
class Issue:
    severity: Severity
    code: IssueCode
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    unit: str = ""
    indicator: str = ""


ISSUE_COLUMNS = ["severity", "file", "sheet", "cell", "unit", "indicator", "code", "message"]

# Headers used wherever issues are shown to a person.
ISSUE_HEADERS_ZH = {
    "severity": "级别",
    "file": "文件",
    "sheet": "工作表",
    "cell": "单元格",
    "unit": "单位",
    "indicator": "指标",
    "code": "问题代码",
    "message": "说明",
}


def error(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(Severity.ERROR, code, message, **where)


def warning(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(Severity.WARNING, code, message, **where)


def issues_frame(issues: list[Issue]) -> pd.DataFrame:
    """One row per issue, errors first, then by file and cell order of appearance."""
    rows = []
    for issue in issues:
        row = asdict(issue)
        row["severity"] = issue.severity.value
        row["code"] = issue.code.value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS).astype(object)
    if frame.empty:
        return frame
    order = frame["severity"].map({Severity.ERROR.value: 0, Severity.WARNING.value: 1})
    return frame.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def count_errors(frame: pd.DataFrame) -> int:
    return int((frame["severity"] == Severity.ERROR.value).sum()) if len(frame) else 0
