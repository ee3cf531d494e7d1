"""评定表: the office's workbook of 评定 values (one row per unit and 评定 indicator) and the
加扣分 it records for any unit."""

from __future__ import annotations

from kaohe_excel.base.issues import IssueCode, error, warning
from kaohe_excel.base.layout import ASSESSMENT_FILE_TYPE, ASSESSMENT_TABLE, OFFICE_CLAIM_TABLE
from kaohe_excel.base.tables import clean_text
from kaohe_excel.inputs.kinds.registry import InputKind, Template
from kaohe_excel.inputs.kinds.unit_form import read_claims
from kaohe_excel.inputs.row_checks import office_row
from kaohe_excel.inputs.sheet_tables import find_sheet, table_rows


def interpret(result, sheets: dict[str, list[list]]) -> None:
    result.kind = ASSESSMENT_FILE_TYPE
    found = find_sheet(sheets, ASSESSMENT_TABLE)
    if found is None:
        result.issues.append(error(
            IssueCode.not_our_template,
            "不是本系统生成的填报模板：找不到含「单位代码」「指标代码」「评定值」的表头行，请使用考核办下发的模板填报", file=result.name))
        return
    result.rows = table_rows(found, ASSESSMENT_TABLE)
    read_claims(result, sheets, found[0], OFFICE_CLAIM_TABLE)


def judge(checker, result, proven: bool = True) -> None:
    name = result.name
    checker.submission(result, "", "read")
    checker.begin_candidate(("assessment", ""), result, True)
    seen: set[tuple[str, str]] = set()
    for row in result.rows:
        found = office_row(checker, row, name, "评定表")
        if found is None:
            continue
        unit_code, code, at = found
        if (unit_code, code) not in checker.expected_assessed:
            if (unit_code, code) in checker.exempt_pairs:
                checker.add(warning(IssueCode.not_applicable_indicator, f"单位「{unit_code}」的指标「{code}」不考核，评定值已忽略", **at))
            else:
                checker.add(error(IssueCode.not_applicable_indicator, f"指标「{code}」不是单位「{unit_code}」的评定类指标",
                                  **{**at, "cell": row["指标代码"].cell}))
            continue
        if not checker.seen_once(seen, "评定表", at):
            continue
        spec = checker.expected_assessed[(unit_code, code)]
        value_cell = row["评定值"]
        if checker.contradicts(result, row, "评定值", unit_code, code,
                               (("单位名称", checker.unit_names[unit_code], "单位名称"), ("指标名称", spec["name"], "指标名称"))):
            value_cell = row["评定值"]
        checker.value(unit_code, code, spec, value_cell, name, None, row.value_of("说明"), label="评定值")
    for unit_code, code in checker.expected_assessed:
        if (unit_code, code) not in seen:
            checker.add(error(IssueCode.missing_value, f"评定表缺少单位「{unit_code}」指标「{code}」的评定值，请补充",
                              file=name, sheet=ASSESSMENT_TABLE.sheet, unit=unit_code, indicator=code))
    for claim in result.claims:
        unit_cell = claim.get("单位代码")
        unit_code = clean_text(unit_cell.value) if unit_cell else ""
        if unit_code not in checker.unit_names:
            code_cell = claim["项目代码"]
            checker.add(error(IssueCode.unknown_unit, f"加扣分记录的单位代码「{unit_code}」不在单位名单中",
                              file=name, sheet=code_cell.sheet, cell=unit_cell.cell if unit_cell else code_cell.cell))
            continue
        checker.claim(claim, unit_code, name, recorded_by="office")


KIND = InputKind(
    file_type=ASSESSMENT_FILE_TYPE,
    interpret=interpret,
    judge=judge,
    tables=(ASSESSMENT_TABLE, OFFICE_CLAIM_TABLE),
    detect=True,
    template=Template(write="kaohe_excel.outputs.template:write_assessment_workbook",
                      plan="kaohe_excel.outputs.template_paths:planned_assessment_paths"),
    sample="kaohe_excel.samples.county:fill_assessment_workbook",
)
