"""The input-kind registry (inputs/kinds): every kind carries every facet, each kind's template is
read back as that kind, and a kind registered from outside the product (here: from this test) is
written by `kaohe template`, read, guarded, judged and scored without any other edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from conftest import FILES, make_inbox, small_scheme_sheets, write_workbook
from kaohe_excel.base import origin
from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.layout import FILE_TYPE, META_SHEET, TableLayout
from kaohe_excel.inputs import kinds
from kaohe_excel.inputs.kinds import InputKind, Template
from kaohe_excel.inputs.read import read_file
from kaohe_excel.inputs.row_checks import at
from kaohe_excel.inputs.sheet_tables import find_sheet, table_rows
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs.template_paths import planned_paths
from kaohe_excel.scheme.workbook import load_scheme

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scheme(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    return load_scheme(write_workbook(folder / "scheme.xlsx", small_scheme_sheets()))


def test_every_kind_carries_every_facet():
    names = [kind.file_type for kind in kinds.distinct()]
    assert names == ["单位填报表", "评定表", "牵头单位核定表", "复核登记表", "测评票", "测评录入表", "测评汇总表"]
    for kind in kinds.distinct():
        assert callable(kind.interpret) and callable(kind.judge), kind.file_type
        assert kind.template is not None and kind.template.scope in ("units", "office", "lead"), kind.file_type
        assert callable(kinds.resolve(kind.template.write)) and callable(kinds.resolve(kind.template.plan)), kind.file_type
        assert callable(kinds.resolve(kind.sample)), kind.file_type
        for table in kind.tables:
            # what the reader needs is what the template writes; what it keeps it can find
            assert set(table.required) <= set(table.columns), (kind.file_type, table.sheet)
            assert table.scored in table.inputs and table.scored in table.kept and table.key in table.kept, table.sheet
        assert kind.tables or kind.empty_cells is not None, f"{kind.file_type}: no table and no empty-cell rule"


def test_each_kinds_template_is_read_back_as_that_kind(scheme, tmp_path):
    plan = pipeline.TemplatePlan(scheme, tmp_path, None, False, origin.ensure_key(scheme)[0], False, "")
    written = pipeline.write_command_templates(plan)
    lead_plan = pipeline.TemplatePlan(scheme, tmp_path / "lead", None, True, origin.ensure_key(scheme)[0], False, "")
    written += pipeline.write_command_templates(lead_plan)
    seen = {}
    for path in written:
        result = read_file(path)
        assert not [i for i in result.issues if i.code == IssueCode.not_our_template], path.name
        seen.setdefault(result.kind, []).append(path.name)
    # the small scheme has no 测评: four units' templates, the 评定表, the 复核登记表 and the lead departments' workbooks
    assert sorted(seen) == ["单位填报表", "复核登记表", "牵头单位核定表", "评定表"]
    assert sorted(seen["单位填报表"]) == sorted(FILES.values())
    assert seen["评定表"] == ["评定表.xlsx"] and seen["复核登记表"] == ["复核登记表.xlsx"]


# --------------------------------------------------------------------------- a kind from outside the product

SIMPLE_TYPE = "简易填报表"
SIMPLE_TABLE = TableLayout(sheet="简表", columns=("指标代码", "指标名称", "完成值"), required=("指标代码", "完成值"),
                           optional=("指标名称",), kept=("指标代码", "完成值"), key="指标代码", inputs=("完成值",),
                           scored="完成值")


def simple_file_name(unit_code: str) -> str:
    return f"简表_{unit_code}.xlsx"


def write_simple_forms(scheme, out_dir, key=None) -> list[Path]:
    """One two-column form per unit with 自报 indicators, signed like every office workbook."""
    key = key or origin.ensure_key(scheme)[0]
    assignments = scheme.assignments()
    own = assignments[(assignments["source"] == "self") & ~assignments["exempt"].astype(bool)]
    paths = []
    for unit_code, rows in own.groupby("unit_code", sort=True):
        book = Workbook()
        sheet = book.active
        sheet.title = SIMPLE_TABLE.sheet
        sheet.append(["简易填报表"])
        sheet.append(list(SIMPLE_TABLE.columns))
        for code, name in zip(rows["indicator_code"], rows["name"]):
            sheet.append([code, name, None])
        meta = book.create_sheet(META_SHEET)
        for label, value in origin.signed_meta(key, [(FILE_TYPE, SIMPLE_TYPE), ("考核名称", scheme.meta.name),
                                                     ("考核周期", scheme.meta.period), ("单位代码", unit_code)]):
            meta.append([label, value])
        meta.sheet_state = "hidden"
        path = Path(out_dir) / simple_file_name(unit_code)
        book.save(path)
        paths.append(path)
    return paths


def plan_simple_forms(scheme, out_dir, units=None) -> list[Path]:
    assignments = scheme.assignments()
    codes = sorted(set(assignments[(assignments["source"] == "self") & ~assignments["exempt"].astype(bool)]["unit_code"]))
    return [Path(out_dir) / simple_file_name(code) for code in codes]


def interpret_simple(result, sheets) -> None:
    result.kind = SIMPLE_TYPE
    found = find_sheet(sheets, SIMPLE_TABLE)
    if found is None:
        result.issues.append(error(IssueCode.not_our_template, "找不到简表", file=result.name))
        return
    result.rows = table_rows(found, SIMPLE_TABLE)


def judge_simple(checker, result, proven=True) -> None:
    unit_code = result.meta.get("单位代码", "")
    checker.submission(result, unit_code, "read")
    checker.begin_candidate(("unit", unit_code), result, proven)
    expected = checker.expected_self.get(unit_code, {})
    for row in result.rows:
        code = row.value_of("指标代码")
        if code not in expected:
            checker.add(error(IssueCode.unknown_indicator, f"指标代码「{code}」不是本单位的指标", **at(row["指标代码"], unit_code, result.name)))
            continue
        checker.value(unit_code, code, expected[code], row["完成值"], result.name, None, None)


@pytest.fixture
def simple_kind():
    here = "test_input_kinds"
    kind = InputKind(file_type=SIMPLE_TYPE, interpret=interpret_simple, judge=judge_simple, tables=(SIMPLE_TABLE,),
                     template=Template(write=f"{here}:write_simple_forms", plan=f"{here}:plan_simple_forms"),
                     sample=f"{here}:write_simple_forms")
    kinds.register(kind)
    yield kind
    kinds.unregister(SIMPLE_TYPE)


def _fill(path: Path, values: dict[str, object]) -> None:
    book = load_workbook(path)
    sheet = book[SIMPLE_TABLE.sheet]
    for row in sheet.iter_rows(min_row=3):
        if row[0].value in values:
            row[2].value = values[row[0].value]
    book.save(path)


def test_a_kind_registered_from_a_test_is_templated_read_judged_and_scored(scheme, tmp_path, simple_kind):
    plan = pipeline.TemplatePlan(scheme, tmp_path / "templates", None, False, origin.ensure_key(scheme)[0], False, "")
    plan.out.mkdir()
    written = {path.name for path in pipeline.write_command_templates(plan)}
    # units with 自报 indicators: T01, T02 (A1, A2, C2) and D01 (C2); D02's C2 is exempt
    assert {"简表_T01.xlsx", "简表_T02.xlsx", "简表_D01.xlsx"} <= written and "简表_D02.xlsx" not in written
    assert {p.name for p in planned_paths(scheme, plan.out)} == written

    # D01 sends the new form instead of its 单位填报表
    inbox = make_inbox(tmp_path / "inbox", scheme)
    (inbox / FILES["D01"]).unlink()
    form = write_simple_forms(scheme, inbox)
    for path in form:
        if path.name != "简表_D01.xlsx":
            path.unlink()
    _fill(inbox / "简表_D01.xlsx", {"C2": 0.6})
    validated = pipeline.read_and_validate(scheme, inbox, workers=2)
    assert validated.error_count == 0, validated.issues_table[["file", "message"]].to_string()
    value = validated.values.query("unit_code == 'D01' and indicator_code == 'C2'")
    assert value[["value", "file", "sheet", "cell"]].values.tolist() == [[0.6, "简表_D01.xlsx", "简表", "C3"]]
    scored = pipeline.score_period(scheme, validated).scored
    # C2: 反向 完成率, target 0.5, 10 points: 0.5 / 0.6 of 10 = 8.33 (by hand)
    assert scored.query("unit_code == 'D01' and indicator_code == 'C2'")["score"].round(2).tolist() == [8.33]


def test_the_shared_guard_covers_a_registered_kind(scheme, tmp_path, simple_kind):
    """A doubled 完成值 column: which one is the figure is unknown, so nothing of the table is scored."""
    inbox = make_inbox(tmp_path / "inbox", scheme)
    (inbox / FILES["D01"]).unlink()
    path = [p for p in write_simple_forms(scheme, inbox) if p.name == "简表_D01.xlsx"][0]
    for other in inbox.glob("简表_*.xlsx"):
        if other != path:
            other.unlink()
    book = load_workbook(path)
    sheet = book[SIMPLE_TABLE.sheet]
    sheet["D2"] = "完成值"
    sheet["C3"], sheet["D3"] = 0.6, 0.4
    book.save(path)
    validated = pipeline.read_and_validate(scheme, inbox, workers=1)
    doubled = validated.issues_table.query("code == 'duplicate_column'")
    assert doubled[["file", "cell"]].values.tolist() == [["简表_D01.xlsx", "D2"]]
    assert validated.values.query("unit_code == 'D01' and indicator_code == 'C2'")["unscored"].tolist() == [True]
