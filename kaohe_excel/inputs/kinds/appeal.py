"""复核登记表: the office's register of appeals (复核), one row per appeal; judged with every
file seen, since one register per inbox is used (validate._Validator.appeals)."""

from __future__ import annotations

from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.layout import APPEAL_FILE_TYPE, APPEAL_TABLE
from kaohe_excel.inputs import appeal
from kaohe_excel.inputs.kinds.registry import InputKind, Template
from kaohe_excel.inputs.sheet_tables import find_sheet, table_rows


def interpret(result, sheets: dict[str, list[list]]) -> None:
    """Every column may hold what was typed."""
    result.kind = APPEAL_FILE_TYPE
    found = find_sheet(sheets, APPEAL_TABLE)
    if found is None:
        result.issues.append(error(IssueCode.not_our_template,
                                   "复核登记表中找不到含「单位代码」「指标代码」「项目代码」「复核结论」「复核值」的表头行，"
                                   "请使用 kaohe template 生成的复核登记表", file=result.name))
        return
    result.rows = table_rows(found, APPEAL_TABLE)


def judge(checker, result, proven: bool = True) -> None:
    checker.submission(result, "", "read")
    checker.appeal_files.append((result.name, appeal.judge(result, checker), checker.submissions[-1]))


KIND = InputKind(
    file_type=APPEAL_FILE_TYPE,
    interpret=interpret,
    judge=judge,
    tables=(APPEAL_TABLE,),
    alone=False,
    template=Template(write="kaohe_excel.outputs.appeal_template:write_appeal_workbook",
                      plan="kaohe_excel.outputs.template_paths:planned_appeal_paths"),
    sample="kaohe_excel.samples.appeal:fill_sample_appeal",
)
