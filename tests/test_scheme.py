"""The scheme workbook: loading, the expansion per unit, and every problem named by sheet and row."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import small_scheme_sheets, write_workbook
from kaohe_excel.base.errors import SchemeInvalid, SchemeNotFound
from kaohe_excel.scheme.workbook import load_scheme, parse_share


def test_loads_meta_and_tables(small_scheme_path):
    scheme = load_scheme(small_scheme_path)
    assert scheme.meta.period == "2024"
    assert scheme.meta.excellent_quota == pytest.approx(0.5)
    assert scheme.meta.bonus_cap == 3
    assert scheme.meta.veto_effect == "no_excellent"
    assert list(scheme.grades["grade"]) == ["优秀", "良好", "合格", "不合格"]
    assert scheme.groups == ["乡镇", "部门"]
    assert dict(zip(scheme.indicators["indicator_code"], scheme.indicators["direction"]))["C2"] == "lower"
    assert set(scheme.adjustments["kind"]) == {"bonus", "deduction", "veto"}


def test_assignments_apply_groups_and_unit_targets(small_scheme_path):
    frame = load_scheme(small_scheme_path).assignments()
    # towns get A1 A2 B1 C1 C2 (5 each); departments B1 C1 C2 (3 each)
    assert len(frame) == 5 * 2 + 3 * 2
    by_pair = frame.set_index(["unit_code", "indicator_code"])
    assert by_pair.loc[("T01", "A1"), "target"] == 100  # the 指标 default
    assert by_pair.loc[("T02", "A1"), "target"] == 80  # the 目标分解 override
    assert bool(by_pair.loc[("D02", "C2"), "exempt"]) is True
    assert ("D01", "A1") not in by_pair.index


def test_fingerprint_ignores_formatting_but_not_content(tmp_path):
    sheets = small_scheme_sheets()
    first = load_scheme(write_workbook(tmp_path / "a.xlsx", sheets)).fingerprint
    again = load_scheme(write_workbook(tmp_path / "b.xlsx", sheets)).fingerprint
    sheets["指标"].loc[0, "分值"] = 41
    changed = load_scheme(write_workbook(tmp_path / "c.xlsx", sheets)).fingerprint
    assert first == again
    assert first != changed


@pytest.mark.parametrize(
    "sheet, mutate, row, text",
    [
        ("指标", lambda f: f.__setitem__("计分方法", ["完成率", "神秘法", "完成率", "定性", "完成率"]), 3, "计分方法「神秘法」未知"),
        ("指标", lambda f: f.__setitem__("满分值", [None, 7, None, None, None]), 3, "满分值」应大于「基本值」"),
        ("指标", lambda f: f.__setitem__("适用类别", ["乡镇", "乡镇", "全部", "全部", "乡镇、社区"]), 6, "适用类别「社区」没有任何单位"),
        ("指标", lambda f: f.__setitem__("指标代码", ["A1", "A1", "B1", "C1", "C2"]), 3, "指标代码「A1」重复"),
        ("单位", lambda f: f.__setitem__("单位代码", ["T01", "T 02/x", "D01", "D02"]), 3, "单位代码「T 02/x」不合规"),
        ("单位", lambda f: f.__setitem__("单位代码", ["T01", "T01", "D01", "D02"]), 3, "单位代码「T01」重复"),
        ("目标分解", lambda f: f.__setitem__("单位代码", ["T09", "D02"]), 2, "单位代码「T09」不在「单位」表中"),
        ("档次表", lambda f: f.__setitem__("档次表", ["别的"] * 4), 5, "档次表「定性」在「档次表」工作表中不存在"),
        ("加扣分", lambda f: f.__setitem__("类型", ["加分", "减分", "否决"]), 3, "「类型」只能是 加分 / 扣分 / 否决"),
    ],
)
def test_each_scheme_problem_names_sheet_and_row(tmp_path, sheet, mutate, row, text):
    sheets = small_scheme_sheets()
    mutate(sheets[sheet])
    path = write_workbook(tmp_path / "bad.xlsx", sheets)
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(path)
    problems = caught.value.problems
    expected_sheet = "指标" if sheet == "档次表" else sheet  # a missing tier table is reported where it is named
    matches = [p for p in problems if text in p[2]]
    assert matches, problems
    assert matches[0][0] == expected_sheet
    if expected_sheet == sheet:
        assert matches[0][1] == row
    assert "行" in str(caught.value)


def test_collects_all_problems_at_once(tmp_path):
    sheets = small_scheme_sheets()
    sheets["指标"]["计分方法"] = ["完成率", "神秘法", "完成率", "定性", "完成率"]
    sheets["单位"]["单位代码"] = ["T01", "T01", "D01", "D02"]
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "bad.xlsx", sheets))
    assert len(caught.value.problems) >= 2


def test_missing_target_for_completion_is_reported_per_indicator(tmp_path):
    sheets = small_scheme_sheets()
    sheets["指标"].loc[0, "目标值"] = None  # A1 keeps an override only for T02
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "bad.xlsx", sheets))
    assert any("A1" in p[2] and "目标值" in p[2] for p in caught.value.problems)


def test_missing_sheet_and_missing_file(tmp_path):
    sheets = small_scheme_sheets()
    del sheets["单位"]
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "bad.xlsx", sheets))
    assert any("缺少工作表「单位」" in p[2] for p in caught.value.problems)
    with pytest.raises(SchemeNotFound):
        load_scheme(tmp_path / "nope.xlsx")


def test_header_row_may_be_lower_and_columns_reordered(tmp_path):
    sheets = small_scheme_sheets()
    path = write_workbook(tmp_path / "s.xlsx", sheets)
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    workbook["单位"].insert_rows(1, 2)
    workbook["单位"]["A1"] = "被考核单位名单"
    workbook.save(path)
    assert len(load_scheme(path).units) == 4


def test_parse_share_accepts_percent_and_fraction():
    assert parse_share("20%") == pytest.approx(0.2)
    assert parse_share(0.2) == pytest.approx(0.2)
    assert parse_share("２０％") == pytest.approx(0.2)


def test_period_typed_as_a_date_by_excel_reads_as_the_month(tmp_path):
    from datetime import datetime

    sheets = small_scheme_sheets()
    sheets["方案"].loc[1, "值"] = datetime(2024, 6, 1)
    sheets["方案"].loc[2, "值"] = "月度"
    assert load_scheme(write_workbook(tmp_path / "s.xlsx", sheets)).meta.period == "2024-06"


def test_optional_tolerance_and_county_total_columns(tmp_path):
    sheets = small_scheme_sheets()
    sheets["指标"]["核对容差"] = ["0.5%", 0.01, None, None, None]
    sheets["指标"]["全县总量"] = [180, None, None, None, None]
    indicators = load_scheme(write_workbook(tmp_path / "s.xlsx", sheets)).indicators.set_index("indicator_code")
    assert indicators.loc["A1", "tolerance"] == pytest.approx(0.005)
    assert indicators.loc["A2", "tolerance"] == pytest.approx(0.01)
    assert indicators.loc["A1", "county_total"] == 180
    assert pd.isna(indicators.loc["B1", "county_total"])


def test_control_characters_in_scheme_texts_are_dropped_so_templates_can_be_written(tmp_path):
    from kaohe_excel.outputs.template import write_templates

    import xlsxwriter

    sheets = small_scheme_sheets()
    sheets["单位"].loc[0, "单位名称"] = "东城\x07镇"
    path = tmp_path / "s.xlsx"
    workbook = xlsxwriter.Workbook(path)  # openpyxl refuses control characters; Excel files can carry them
    for name, frame in sheets.items():
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, list(frame.columns))
        for r, row in enumerate(frame.itertuples(index=False), start=1):
            for c, value in enumerate(row):
                if not (value is None or (isinstance(value, float) and value != value)):
                    sheet.write(r, c, value)
    workbook.close()
    scheme = load_scheme(path)
    assert scheme.unit_names()["T01"] == "东城镇"
    names = sorted(p.name for p in write_templates(scheme, tmp_path / "out"))
    assert "T01_东城镇.xlsx" in names
