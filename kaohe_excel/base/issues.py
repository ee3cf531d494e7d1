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
    # w-origin: proof of origin (校验码); two candidate files stay duplicate_submission
    origin_missing = "origin_missing"  # no 校验码: an office kind is not used, a unit table is read with a 警告
    origin_forged = "origin_forged"  # a 校验码 that does not match the identity rows: not used
    origin_displaced = "origin_displaced"  # an unproven copy left unused beside the genuine file of its unit
    demo_office_key = "demo_office_key"  # the scheme runs on the public demo key of the samples
    # w-values: what the office sees is what is scored; implausible and non-finite numbers
    number_format = "number_format"
    implausible_value = "implausible_value"
    non_finite_value = "non_finite_value"
    duplicate_column = "duplicate_column"
    hidden_cells = "hidden_cells"
    code_name_mismatch = "code_name_mismatch"
    # w-hostile: inbox entries that are not read, each named (links, hidden, lock and special files)
    link_in_inbox = "link_in_inbox"
    hidden_entry = "hidden_entry"
    file_open_elsewhere = "file_open_elsewhere"
    not_a_regular_file = "not_a_regular_file"
    unreadable_folder = "unreadable_folder"
    # w-interim: 平时考核 values from archived periods
    interim_unsealed = "interim_unsealed"  # a source period is not sealed yet
    interim_partial = "interim_partial"  # the unit is absent from some source periods
    interim_missing = "interim_missing"  # the unit is absent from every source period
    # w-appeal: 复核登记表 rows (unknown codes, duplicates and bad values reuse the codes above)
    invalid_appeal = "invalid_appeal"  # both or neither of 指标代码/项目代码, or 复核结论 not 维持/调整
    duplicate_appeal = "duplicate_appeal"  # two appeals on the same unit × indicator/item
    # w-rating: 测评 ballots (issue 15)
    rating_unknown = "rating_unknown"  # a 测评 file of an evaluation or rater group the scheme does not have
    rating_not_rated = "rating_not_rated"  # a mark for a unit outside the group's 评价对象
    rating_duplicate_ballot = "rating_duplicate_ballot"  # one 票号 counted twice (or a paper row without 票号)
    rating_void_ballot = "rating_void_ballot"  # a void (作废) or blank ballot left out
    rating_group_absent = "rating_group_absent"  # a group that rates the unit gave it no valid mark
    rating_low_participation = "rating_low_participation"  # valid ballots below 参评率下限
    # w-guard-rating: 票号 of 测评 ballots
    rating_ballot_number_missing = "rating_ballot_number_missing"  # a 纸质票 entry row with marks but no 票号
    rating_ballot_out_of_range = "rating_ballot_out_of_range"  # a 票号 that is not a whole number in 1..应参评人数
    # w-redteam: what the office sees in Excel/WPS, against forged and hostile files
    hidden_sheet = "hidden_sheet"  # a table read from a sheet Excel does not show (hidden or very hidden)
    duplicate_table = "duplicate_table"  # another visible sheet holds the same table with other entries
    malformed_cell = "malformed_cell"  # an input cell written twice, or whose type and content disagree, in the XML
    invisible_cell = "invisible_cell"  # an input cell whose font has its fill's colour (or is too small to read)
    formula_mismatch = "formula_mismatch"  # a formula whose cached result is not what it computes
    formula_unchecked = "formula_unchecked"  # a formula whose cached result the tool cannot recompute
    rating_tally_excess = "rating_tally_excess"  # a 汇总 row with more votes than the group's 应参评人数
    rating_identical_ballots = "rating_identical_ballots"  # two ballots of one group with the very same marks


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
    "kind": "问题类型",  # derived from code by issue_kind; not a column of issues_frame
}


# w-docs: the 问题类型 a person reads beside the stable code (校验问题 sheets). Every IssueCode has one.
ISSUE_KINDS_ZH = {
    "unreadable_file": "文件无法读取", "empty_file": "空文件", "encrypted_file": "文件已加密",
    "legacy_format": "旧格式文件", "not_a_spreadsheet": "不是表格文件", "file_too_large": "文件过大",
    "not_our_template": "不是下发的模板", "other_scheme": "其他方案的模板", "other_period": "其他周期的模板",
    "earlier_scheme_edit": "旧版方案的模板", "scheme_changed": "方案已调整", "missing_sheet": "缺少工作表",
    "missing_column": "缺少列", "unknown_unit": "单位不在名单中", "unit_mismatch": "单位代码不一致",
    "duplicate_submission": "重复报送", "missing_submission": "未报送", "missing_value": "未填写",
    "not_a_number": "不是数字", "invalid_grade": "等级无效", "out_of_range": "数值超出范围",
    "percent_scale": "百分数疑未乘100", "normalized_value": "已自动规范", "formula_without_value": "公式没有计算结果",
    "error_value": "单元格显示错误值", "unknown_indicator": "指标不在方案中", "missing_indicator": "缺少指标",
    "duplicate_indicator": "指标重复", "not_applicable_indicator": "指标不适用本单位", "edited_locked_cell": "改动了锁定内容",
    "unknown_adjustment": "加扣分项目不在方案中", "adjustment_not_claimable": "该项目不能由单位申报",
    "missing_evidence": "缺少佐证材料", "invalid_count": "数量无效", "missing_assessment": "评定值未填写",
    "unscored_value": "未计分",
    "origin_missing": "缺少校验码", "origin_forged": "校验码不符（疑似伪造或改动）",
    "origin_displaced": "副本未采用", "demo_office_key": "使用演示密钥",
    "number_format": "单元格格式与数值不符", "implausible_value": "数值不合常理", "non_finite_value": "数值超出范围（非有限数）",
    "duplicate_column": "表头重复", "hidden_cells": "有隐藏的行或列", "code_name_mismatch": "名称与代码不符",
    "link_in_inbox": "收件箱中的链接", "hidden_entry": "隐藏文件", "file_open_elsewhere": "文件正被打开",
    "not_a_regular_file": "不是普通文件", "unreadable_folder": "文件夹无法打开",
    "interim_unsealed": "来源周期未封存", "interim_partial": "部分周期未参加考核", "interim_missing": "平时考核无往期总分",
    "invalid_appeal": "复核登记有误", "duplicate_appeal": "复核重复登记",  # w-appeal
    "rating_unknown": "测评表不在方案中", "rating_not_rated": "不是评价对象", "rating_duplicate_ballot": "测评票重复",
    "rating_void_ballot": "无效票或空白票", "rating_group_absent": "测评类别无有效评价", "rating_low_participation": "参评率偏低",
    "rating_ballot_number_missing": "纸质票缺少票号", "rating_ballot_out_of_range": "票号超出范围",
    "hidden_sheet": "工作表被隐藏", "duplicate_table": "表格出现在多张工作表", "malformed_cell": "单元格结构异常",
    "invisible_cell": "所填内容看不见", "formula_mismatch": "公式结果与公式不符", "formula_unchecked": "公式结果无法核对",
    "rating_tally_excess": "票数超过应参评人数", "rating_identical_ballots": "测评票内容完全相同",
}


def issue_kind(code: object) -> str:
    """问题类型 of a code (an IssueCode or its value); a code without a label still reads as Chinese."""
    value = getattr(code, "value", code)
    return ISSUE_KINDS_ZH.get(str(value), "其他问题")


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
