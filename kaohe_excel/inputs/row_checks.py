"""The row checks every input kind's judge shares (inputs/kinds): one wording each for judging
an input cell (parse, repair, plausibility), a 加扣分 row and its 数量, a row whose names
contradict its codes, and the rows of an office table (known unit, known indicator, seen once).
`RowChecks` is the validator's base; a kind's judge gets the validator as its `checker`."""

from __future__ import annotations

import math

from kaohe_excel.base.issues import IssueCode, error, warning
from kaohe_excel.base.read_rows import Cell, FormulaWithoutValue, Row
from kaohe_excel.base.tables import clean_text, display_text
from kaohe_excel.base.xlsx_meta import Formatted, Withheld
from kaohe_excel.inputs import value_guard
from kaohe_excel.inputs.number_text import COUNT_UNITS, ERROR_VALUES, Parsed, _formula_problem, _plain, _SPACE, parse_value


def at(cell: Cell, unit_code: str, file: str) -> dict:
    """Where an issue points; built only for an issue, addresses cost time over every row."""
    return {"sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "file": file}


def office_row(checker, row: Row, file: str, label: str) -> tuple[str, str, dict] | None:
    """(unit code, indicator code, where) of a row of an office table (评定表, 核定表), or None
    after its 错误 when the unit or the indicator is not in the scheme."""
    unit_cell, code_cell = row["单位代码"], row["指标代码"]
    unit_code, code = clean_text(unit_cell.value), clean_text(code_cell.value)
    where = {"file": file, "sheet": unit_cell.sheet, "cell": unit_cell.cell, "unit": unit_code, "indicator": code}
    if unit_code not in checker.unit_names:
        checker.add(error(IssueCode.unknown_unit, f"{label}中的单位代码「{unit_code}」不在单位名单中", **where))
        return None
    if code not in checker.indicator_codes:
        checker.add(error(IssueCode.unknown_indicator, f"{label}中的指标代码「{code}」不存在", **{**where, "cell": code_cell.cell}))
        return None
    return unit_code, code, where


class RowChecks:
    """Judging one row's cells; the validator holds the scheme's tables these read
    (unit_names, indicator_codes, grades, catalogue, names_in_use) and the lists they fill."""

    def add(self, issue) -> None:
        self.issues.append(issue)

    def seen_once(self, seen: set, label: str, where: dict) -> bool:
        """False, after its 错误, for a second row of the same unit and indicator in an office table."""
        key = (where["unit"], where["indicator"])
        if key in seen:
            self.add(error(IssueCode.duplicate_indicator, f"单位「{key[0]}」的指标「{key[1]}」在{label}中重复", **where))
            return False
        seen.add(key)
        return True

    def contradicts(self, result, row: Row, input_name: str, unit_code: str, code: str,
                    checks: tuple[tuple[str, str, str], ...]) -> bool:
        """A row whose name or unit contradicts its codes (codes swapped, so a figure would
        be scored under another indicator or unit): an 错误 at that cell, the row's input
        withheld (True). From a template of an earlier scheme edit, where a name may have
        been corrected since, only a name that is another indicator's is an error."""
        earlier = bool(result.meta.get("方案指纹")) and result.meta.get("方案指纹") != self.scheme.fingerprint
        for column, expected, label in checks:
            typed = row.value_of(column)
            reason = value_guard.contradiction(label, typed, expected)
            if reason is None:
                continue
            cell = row[column]
            at = {"file": result.name, "sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "indicator": code}
            if earlier and clean_text(typed) not in self.names_in_use:
                self.add(warning(IssueCode.code_name_mismatch, f"{reason}；模板由考核方案的较早版本生成，按指标代码计分，请核实", **at))
                continue
            self.add(error(IssueCode.code_name_mismatch,
                           f"{reason}，此行的{input_name}未计分；请恢复模板原样，或使用考核办下发的模板重新填报", **at))
            row.set(input_name, Withheld(row.value_of(input_name)))
            return True
        return False

    def check_target(self, row: Row, spec, file: str, unit_code: str, code: str) -> None:
        raw = row.value_of("目标值")
        if raw is None or spec["method"] == "定性" or raw == spec["target"] or not clean_text(raw):
            return  # the template's own target (the usual case) needs no parsing
        cell = row["目标值"]
        typed = parse_value(raw, spec["measure_unit"]).value
        target = spec["target"]
        if not math.isnan(target) and not math.isnan(typed) and abs(typed - target) > 1e-9 * max(1.0, abs(target)):
            self.add(warning(IssueCode.edited_locked_cell,
                             f"目标值被改为 {_plain(typed)}，按考核方案的目标值 {_plain(target)} 计分",
                             file=file, sheet=cell.sheet, cell=cell.cell, unit=unit_code, indicator=code))

    def value(self, unit_code: str, code: str, spec, cell: Cell, file: str, evidence: object, note: object,
              label: str = "实际完成值", into: list[dict] | None = None) -> None:
        """Judge one input cell; `evidence` and `note` are raw values (None: no such column)."""
        at = {"file": file, "sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "indicator": code}
        name = spec["name"]
        raw = cell.value
        if isinstance(raw, Withheld):  # the office cannot see this cell: never scored
            if raw.problem is not None:
                self.add(error(raw.problem[0], f"指标「{name}」的{label}{raw.problem[1]}", **at))
            parsed = Parsed()
        elif raw.__class__ is Formatted and spec["method"] != "定性":
            parsed = self.parse_formatted(raw, spec)
        else:
            parsed = self.parse(raw, spec)
        if parsed.problem:
            issue_code, text = parsed.problem
            if issue_code == IssueCode.missing_value:
                text = f"指标「{name}」的{label}未填写，请补填"
            else:
                text = f"指标「{name}」的{label}{text}"
            self.add(error(issue_code, text, **at))
        elif parsed.repaired:
            self.add(warning(parsed.repaired_code or IssueCode.normalized_value, f"指标「{name}」的{label}{parsed.repaired}", **at))
        unscored = parsed.problem is not None or isinstance(raw, Withheld)
        if not unscored and parsed.text is None:
            unscored = self.check_range(parsed.value, spec, at, label)
        if into is None:  # a row of VALUE_COLUMNS: a tuple pickles and becomes a frame faster than a dict
            self.values.append((unit_code, code, parsed.value, parsed.text, display_text(evidence), display_text(note),
                                file, cell.sheet, at["cell"], unscored))
            return
        into.append({
            "unit_code": unit_code, "indicator_code": code, "value": parsed.value, "text_value": parsed.text,
            "evidence": display_text(evidence), "note": display_text(note),
            "file": file, "sheet": cell.sheet, "cell": at["cell"], "unscored": unscored,
        })

    def parse_formatted(self, raw: Formatted, spec) -> Parsed:
        number, text = value_guard.formatted(raw, spec["measure_unit"], spec["target"])
        code = value_guard.formatted_code(raw)  # w-redteam: a formula's cached result is not a format
        if number is None:
            return Parsed(problem=(code, text))
        if text:
            return Parsed(value=number, repaired=text, repaired_code=code)
        return Parsed(value=number)

    def parse(self, raw: object, spec) -> Parsed:
        if spec["method"] != "定性" or isinstance(raw, FormulaWithoutValue):
            return parse_value(raw, spec["measure_unit"])
        text = clean_text(raw)
        if _SPACE.sub("", text).upper() in ERROR_VALUES:
            return parse_value(text)
        levels = self.grades.get(spec["tier_table"], set())
        if not text:
            return Parsed(problem=(IssueCode.missing_value, "未填写"))
        if text not in levels:
            return Parsed(problem=(IssueCode.invalid_grade, f"「{text}」不是可选等级，应为：{'、'.join(sorted(levels))}"))
        return Parsed(text=text)

    def check_range(self, value: float, spec, at: dict, label: str = "实际完成值") -> bool:
        """Plausibility: True when the value is impossible (an error), warnings otherwise."""
        name, measure_unit, target = spec["name"], spec["measure_unit"], spec["target"]
        # a 核定值 or 复核值 says which value it is
        subject = f"指标「{name}」" if label == "实际完成值" else f"指标「{name}」的{label}"
        if value < 0 and (measure_unit in COUNT_UNITS or spec["method"] == "扣分"):
            self.add(error(IssueCode.out_of_range, f"{subject}是计数（{measure_unit or '次数'}），不能为负数 {_plain(value)}，请核实", **at))
            return True
        if not -value_guard.TARGET_FLOOR <= value <= value_guard.TARGET_FLOOR or not math.isfinite(value):
            reason = value_guard.implausible(value, spec) if math.isfinite(value) else value_guard.non_finite(_plain(value))
            if reason:
                code = IssueCode.implausible_value if math.isfinite(value) else IssueCode.non_finite_value
                self.add(error(code, f"{subject}{reason}", **at))
                return True
        reason = value_guard.fractional_count(value, spec)
        if reason:
            self.add(error(IssueCode.invalid_count, f"{subject}{reason}", **at))
            return True
        if measure_unit == "%":
            if 0 < abs(value) <= 1 and not math.isnan(target) and target > 1:
                self.add(warning(IssueCode.percent_scale,
                                 f"{subject}填写 {_plain(value)}，目标值为 {_plain(target)}%，是否未乘100？百分比指标请填百分数数值（如 85.3 表示 85.3%）", **at))
            elif value > 100 and (math.isnan(target) or target <= 100):
                self.add(warning(IssueCode.out_of_range, f"{subject}为 {_plain(value)}%，超过100%，请核实", **at))
        return False

    def claim(self, row: Row, unit_code: str, file: str, recorded_by: str) -> None:
        code_cell = row["项目代码"]
        code = clean_text(code_cell.value)
        at = {"file": file, "sheet": code_cell.sheet, "cell": code_cell.cell, "unit": unit_code}
        if not code:
            self.add(error(IssueCode.unknown_adjustment, "加扣分行填写了内容但没有选择项目代码，请从下拉列表选择", **at))
            return
        if code not in self.catalogue:
            self.add(error(IssueCode.unknown_adjustment, f"加扣分项目代码「{code}」不在考核方案的加扣分目录中，请从下拉列表选择", **at))
            return
        item = self.catalogue[code]
        if recorded_by == "unit" and item["kind"] != "bonus":
            self.add(error(IssueCode.adjustment_not_claimable, f"「{item['name']}」是{'扣分' if item['kind'] == 'deduction' else '否决'}项目，由考核办记录，单位不能自行申报", **at))
            return
        count_cell = row["数量"]
        count_at = {**at, "cell": count_cell.cell}
        if not isinstance(count_cell.value, (Withheld, FormulaWithoutValue)) and count_cell.value.__class__ is not Formatted \
                and not clean_text(count_cell.value):
            count = 1.0
            self.add(warning(IssueCode.invalid_count, f"「{item['name']}」未填写数量，按 1 项计", **count_at))
        else:
            count = self.count(count_cell.value, item, recorded_by, count_at)
            if count is None:
                return
        evidence_cell = row.get("佐证材料")
        evidence = display_text(evidence_cell.value) if evidence_cell else ""
        if recorded_by == "unit" and bool(item["needs_evidence"]) and not evidence:
            cell = evidence_cell.cell if evidence_cell else code_cell.cell
            self.add(error(IssueCode.missing_evidence, f"「{item['name']}」须提供佐证材料（文件名或文号），请在「佐证材料」列填写", **{**at, "cell": cell}))
            return
        description = row.get("事项说明")
        self.claims.append({"unit_code": unit_code, "item_code": code, "count": count,
                            "description": display_text(description.value) if description else "", "evidence": evidence,
                            "file": file, "sheet": code_cell.sheet, "cell": code_cell.cell, "recorded_by": recorded_by})

    def count(self, raw: object, item: dict, recorded_by: str, at: dict, label: str = "数量", zero_ok: bool = False) -> float | None:
        """The 数量 of a 加扣分 item, or None after adding its 错误 (one wording for a unit's claim,
        the office's record and a 复核值). The office may record fractions (0.5 points lost upstream,
        charged ×10); a unit claims whole items; a 复核 may set 0 to remove the item."""
        name = item["name"]
        if isinstance(raw, Withheld):
            if raw.problem is not None:
                self.add(error(raw.problem[0], f"「{name}」的{label}{raw.problem[1]}", **at))
            return None
        if raw.__class__ is Formatted:
            self.add(error(IssueCode.number_format,
                           f"「{name}」的{label}单元格设置了「{raw.code}」格式，显示的数与所填的 {_plain(raw)} 不同；"
                           f"请将单元格格式改为“常规”后填写项数", **at))
            return None
        if isinstance(raw, FormulaWithoutValue):
            self.add(error(IssueCode.formula_without_value, f"「{name}」的{label}{_formula_problem(raw)[1]}", **at))
            return None
        text = clean_text(raw)
        parsed = parse_value(raw)
        whole = recorded_by == "office" or float(parsed.value).is_integer()
        low = parsed.value < 0 if zero_ok else parsed.value <= 0
        if parsed.problem or low or not whole or not math.isfinite(parsed.value):
            if zero_ok:
                rule = "不小于0的数" if recorded_by == "office" else "不小于0的整数"
            else:
                rule = "正数" if recorded_by == "office" else "正整数"
            self.add(error(IssueCode.invalid_count, f"「{name}」的{label}「{text}」应为{rule}" + ("（填0表示取消此项）" if zero_ok else ""), **at))
            return None
        if parsed.value > value_guard.COUNT_LIMIT:
            self.add(error(IssueCode.implausible_value,
                           f"「{name}」的{label}「{text}」超过 {value_guard.COUNT_LIMIT:.0f}，不合常理，请核实后填写", **at))
            return None
        return parsed.value
