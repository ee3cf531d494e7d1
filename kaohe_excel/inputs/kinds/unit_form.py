"""单位填报表: a unit's own template, its 填报 table of self-reported values (with the header
block naming the unit) and its 加扣分 claims."""

from __future__ import annotations

from kaohe_excel.base.issues import IssueCode, error, warning
from kaohe_excel.base.layout import FILE_TYPE, UNIT_CLAIM_TABLE, UNIT_FILE_TYPE, UNIT_TABLE
from kaohe_excel.base.tables import clean_text
from kaohe_excel.inputs.kinds.registry import InputKind, Template
from kaohe_excel.inputs.row_checks import at
from kaohe_excel.inputs.sheet_tables import find_sheet, header_block, table_rows


def read_claims(result, sheets: dict[str, list[list]], beside: str, layout=UNIT_CLAIM_TABLE) -> None:
    """The 加扣分 table on any sheet but the main table's."""
    found = find_sheet(sheets, layout, exclude=beside)
    if found is not None:
        result.claims = table_rows(found, layout)


def interpret(result, sheets: dict[str, list[list]]) -> None:
    found = find_sheet(sheets, UNIT_TABLE)
    # a file tagged as another (unknown) kind is read as a unit's table only when it holds one
    result.kind = UNIT_FILE_TYPE if found is not None or result.meta.get(FILE_TYPE) == UNIT_FILE_TYPE else ""
    if found is None:
        result.issues.append(error(
            IssueCode.not_our_template,
            "不是本系统生成的填报模板：找不到含「指标代码」「实际完成值」的表头行，请使用考核办下发的模板填报", file=result.name))
        return
    sheet_name, rows, table = found
    result.header = header_block(rows, sheet_name, table.header_row)
    result.rows = table_rows(found, UNIT_TABLE)
    read_claims(result, sheets, sheet_name)


def judge(checker, result, proven: bool = True) -> None:
    name = result.name
    header_cell = result.header.get("单位代码")
    header_code = clean_text(header_cell.value) if header_cell else ""
    unit_code = result.meta.get("单位代码") or header_code
    where = {"file": name, "unit": unit_code}
    if header_cell is not None and header_code and unit_code and header_code != unit_code:
        checker.add(error(IssueCode.unit_mismatch,
                          f"表头单位代码「{header_code}」与模板所属单位「{unit_code}」不一致，请使用本单位的模板",
                          sheet=header_cell.sheet, cell=header_cell.cell, **where))
        checker.submission(result, unit_code, "rejected")
        return
    if unit_code not in checker.unit_names:
        cell = {"sheet": header_cell.sheet, "cell": header_cell.cell} if header_cell else {}
        checker.add(error(IssueCode.unknown_unit, f"单位代码「{unit_code}」不在考核方案的单位名单中，请使用考核办下发的本单位模板",
                          **cell, **where))
        checker.submission(result, unit_code, "rejected")
        return
    checker.submission(result, unit_code, "read")
    checker.begin_candidate(("unit", unit_code), result, proven)
    expected_rows = checker.expected_self.get(unit_code, {})
    seen: set[str] = set()
    for row in result.rows:
        code = clean_text(row.value_of("指标代码"))
        value_cell = row["实际完成值"]
        if not code:
            checker.add(error(IssueCode.unknown_indicator, "指标代码被删除，无法确定此行是哪个指标，请恢复模板原样后重填",
                              **at(row["指标代码"], unit_code, name)))
            continue
        if code not in checker.indicator_codes:
            checker.add(error(IssueCode.unknown_indicator, f"指标代码「{code}」不存在（可能被修改），请恢复模板原样后重填",
                              indicator=code, **at(row["指标代码"], unit_code, name)))
            continue
        if code not in expected_rows:
            # Templates made elsewhere may list every indicator; a row only matters when something was typed.
            typed = value_cell is not None and bool(clean_text(value_cell.value))
            if (unit_code, code) in checker.exempt_pairs or (unit_code, code) in checker.expected_assessed:
                if typed:
                    why = "本单位不考核" if (unit_code, code) in checker.exempt_pairs else "由考核办（牵头单位）评定"
                    checker.add(warning(IssueCode.not_applicable_indicator, f"指标「{code}」{why}，填写内容已忽略",
                                        indicator=code, **at(value_cell, unit_code, name)))
            elif typed:
                checker.add(error(IssueCode.not_applicable_indicator,
                                  f"指标「{code}」不属于本单位的考核指标（可能误改了指标代码），请恢复模板原样后重填",
                                  indicator=code, **at(row["指标代码"], unit_code, name)))
            else:
                checker.add(warning(IssueCode.not_applicable_indicator, f"指标「{code}」不属于本单位的考核指标，此行未填写，已忽略",
                                    indicator=code, **at(row["指标代码"], unit_code, name)))
            continue
        if code in seen:
            checker.add(error(IssueCode.duplicate_indicator, f"指标「{code}」出现了多行，请删除重复行", indicator=code,
                              **at(row["指标代码"], unit_code, name)))
            continue
        seen.add(code)
        spec = expected_rows[code]
        checker.check_target(row, spec, name, unit_code, code)
        if (row.value_of("指标名称") != spec["name"] or row.value_of("计量单位") != spec["measure_unit"]) and checker.contradicts(
                result, row, "实际完成值", unit_code, code,
                (("指标名称", spec["name"], "指标名称"), ("计量单位", spec["measure_unit"], "计量单位"))):
            value_cell = row["实际完成值"]
        checker.value(unit_code, code, spec, value_cell, name, row.value_of("佐证材料"), row.value_of("备注"))
    sheet = result.rows[0]["指标代码"].sheet if result.rows else UNIT_TABLE.sheet
    for code, spec in expected_rows.items():
        if code not in seen:
            checker.add(error(IssueCode.missing_indicator, f"指标「{code} {spec['name']}」的行被删除，请使用原模板重新填报",
                              file=name, sheet=sheet, unit=unit_code, indicator=code))
    for claim in result.claims:
        other = claim.get("单位代码")  # w-redteam: a unit claims for itself only
        if other is not None and clean_text(other.value) not in ("", unit_code):
            checker.add(error(IssueCode.unit_mismatch,
                              f"加扣分行的单位代码「{clean_text(other.value)}」不是本单位「{unit_code}」，此行未计分；"
                              "单位只能为本单位申报加分，请删除此行或把单位代码改为本单位", **at(other, unit_code, name)))
            continue
        checker.claim(claim, unit_code, name, recorded_by="unit")


KIND = InputKind(
    file_type=UNIT_FILE_TYPE,
    interpret=interpret,
    judge=judge,
    tables=(UNIT_TABLE, UNIT_CLAIM_TABLE),
    office=False,
    detect=True,
    template=Template(write="kaohe_excel.outputs.template:write_templates",
                      plan="kaohe_excel.outputs.template_paths:planned_unit_paths", scope="units"),
    sample="kaohe_excel.samples.county:fill_unit_templates",
)
