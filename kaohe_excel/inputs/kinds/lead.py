"""牵头单位核定表: a lead department's verified values (核定值) for the 自报 indicators it leads.
Rows like the 评定 rows; no header block, no claims."""

from __future__ import annotations

import math

from kaohe_excel.base.issues import IssueCode, error, warning
from kaohe_excel.base.layout import LEAD_FILE_TYPE, LEAD_TABLE
from kaohe_excel.base.read_rows import FormulaWithoutValue
from kaohe_excel.base.tables import clean_text
from kaohe_excel.inputs.kinds.registry import InputKind, Template
from kaohe_excel.inputs.row_checks import office_row
from kaohe_excel.inputs.sheet_tables import find_sheet, table_rows


def interpret(result, sheets: dict[str, list[list]]) -> None:
    result.kind = LEAD_FILE_TYPE
    found = find_sheet(sheets, LEAD_TABLE)
    if found is None:
        result.issues.append(error(IssueCode.not_our_template,
                                   "牵头单位核定表中找不到含「单位代码」「指标代码」「核定值」的表头行，请使用考核办下发的核定表",
                                   file=result.name))
        return
    result.rows = table_rows(found, LEAD_TABLE)


def judge(checker, result, proven: bool = True) -> None:
    """A blank 核定值 is kept as NaN: the crosscheck lists it, the unit's own value is scored."""
    name = result.name
    lead = result.meta.get("牵头单位", "")
    if lead not in checker.led:
        text = (f"核定表的牵头单位「{lead}」在考核方案中没有牵头的自报指标" if lead else "核定表缺少牵头单位标识")
        checker.add(error(IssueCode.not_our_template, f"{text}，请使用考核办下发的本部门核定表", file=name))
        checker.submission(result, "", "rejected")
        return
    checker.submission(result, "", "read")
    checker.submissions[-1]["unit_name"] = lead
    checker.begin_candidate(("lead", lead), result, True)
    seen: set[tuple[str, str]] = set()
    for row in result.rows:
        found = office_row(checker, row, name, "核定表")
        if found is None:
            continue
        unit_code, code, at = found
        code_at = {**at, "cell": row["指标代码"].cell}
        if code not in checker.led[lead]:
            actual = checker.lead_of.get(code) or "未指定"
            checker.add(error(IssueCode.not_applicable_indicator,
                              f"指标「{code}」不是{lead}牵头的自报指标（牵头单位：{actual}），核定值未采用", **code_at))
            continue
        spec = checker.expected_self.get(unit_code, {}).get(code)
        if spec is None:
            if (unit_code, code) in checker.exempt_pairs:
                checker.add(warning(IssueCode.not_applicable_indicator, f"单位「{unit_code}」的指标「{code}」不考核，核定值已忽略", **at))
            else:
                checker.add(error(IssueCode.not_applicable_indicator, f"指标「{code}」不是单位「{unit_code}」的考核指标", **code_at))
            continue
        if not checker.seen_once(seen, "核定表", at):
            continue
        value_cell = row["核定值"]
        if checker.contradicts(result, row, "核定值", unit_code, code,
                               (("单位名称", checker.unit_names[unit_code], "单位名称"), ("指标名称", spec["name"], "指标名称"))):
            value_cell = row["核定值"]
        note = row.value_of("说明")
        record = {"unit_code": unit_code, "indicator_code": code, "verified_value": math.nan, "verified_text": None,
                  "lead_unit": lead, "note": clean_text(note), "file": name,
                  "sheet": value_cell.sheet, "cell": value_cell.cell}
        if isinstance(value_cell.value, FormulaWithoutValue) or clean_text(value_cell.value):
            parsed: list[dict] = []
            checker.value(unit_code, code, spec, value_cell, name, None, note, label="核定值", into=parsed)
            if not parsed[0]["unscored"]:
                record["verified_value"], record["verified_text"] = parsed[0]["value"], parsed[0]["text_value"]
        checker.verified.append(record)


KIND = InputKind(
    file_type=LEAD_FILE_TYPE,
    interpret=interpret,
    judge=judge,
    tables=(LEAD_TABLE,),
    detect=True,
    template=Template(write="kaohe_excel.outputs.template:write_lead_workbooks",
                      plan="kaohe_excel.outputs.template_paths:planned_lead_paths", scope="lead"),
    sample="kaohe_excel.samples.county:fill_lead_workbooks",
)
