"""Issue 13's outputs: itemized 加扣分 with 事项说明/佐证材料, the 百分制 line, names as written,
numeric 差距分析, per-unit issue workbooks, the 定性 grade column, 含未计分指标 with --allow-errors.

Expected values are worked out by hand from the small scheme of conftest.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import small_scheme_sheets, write_workbook
from inbox_helpers import fill_assessment, fill_unit
from kaohe_excel.cli import app
from kaohe_excel.scheme import load_scheme
from kaohe_excel.template import write_assessment_workbook, write_templates

runner = CliRunner()

# 「指挥中心（情报中心）」 in full-width brackets, as an office writes it
T01_NAME = "东城镇（经济开发区）"
C2_NAME = "单位GDP能耗（吨标准煤/万元）"
FILES = {"T01": f"T01_{T01_NAME}.xlsx", "T02": "T02_西山乡.xlsx", "D01": "D01_发改局.xlsx", "D02": "D02_财政局.xlsx"}
UNIT_VALUES = {
    "T01": {"A1": 95, "A2": 9, "C2": 0.45},
    "T02": {"A1": 85, "A2": 7, "C2": 0.6},
    "D01": {"C2": 0.5},
}
ASSESSED = {
    ("T01", "B1"): 92, ("T02", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
    ("T01", "C1"): "优", ("T02", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优",
}


def _sheets(percent: bool = False) -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    units = sheets["单位"].copy()
    units.loc[units["单位代码"] == "T01", "单位名称"] = T01_NAME
    sheets["单位"] = units
    ind = sheets["指标"].copy()
    ind.loc[ind["指标代码"] == "C2", "指标名称"] = C2_NAME
    ind.loc[ind["指标代码"] == "A1", "评分说明"] = "完成目标得满分；未完成的，按“完成值÷目标值”计分"
    sheets["指标"] = ind
    if percent:
        meta = sheets["方案"].copy()
        meta.loc[meta["项目"] == "总分折算", "值"] = "百分制"
        sheets["方案"] = meta
    return sheets


def _inbox(tmp_path: Path, scheme, unit_claims=None, office_claims=None, values=UNIT_VALUES) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir(parents=True, exist_ok=True)
    write_templates(scheme, folder)
    write_assessment_workbook(scheme, folder)
    for unit, unit_values in values.items():
        fill_unit(folder / FILES[unit], unit_values, claims=(unit_claims or {}).get(unit))
    fill_assessment(folder / "评定表.xlsx", ASSESSED, claims=office_claims)
    return folder


def _rows(path: Path, sheet: str) -> list[list]:
    ws = load_workbook(path, read_only=True)[sheet]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _table(path: Path, sheet: str, first_header: str) -> pd.DataFrame:
    """The table of a sheet whose header row starts with first_header."""
    rows = _rows(path, sheet)
    at = next(i for i, r in enumerate(rows) if r and r[0] == first_header)
    header = rows[at]
    body = []
    for r in rows[at + 1:]:
        if not any(v is not None for v in r):
            break  # the notes under a table
        body.append(r)
    width = max(i for i, h in enumerate(header) if h is not None) + 1
    return pd.DataFrame([r[:width] for r in body], columns=header[:width])


# --------------------------------------------------------------------------- per-unit issue workbooks


def test_check_writes_one_issue_workbook_per_unit_with_its_own_rows_only(tmp_path):
    scheme_path = write_workbook(tmp_path / "scheme.xlsx", _sheets())
    scheme = load_scheme(scheme_path)
    inbox = _inbox(tmp_path, scheme)
    fill_unit(inbox / FILES["T01"], {"A1": "很多"})      # not a number: an error of T01
    fill_unit(inbox / FILES["T02"], {"A2": "七"})         # and one of T02
    report = tmp_path / "reports" / "校验问题_2024.xlsx"
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(scheme_path), "--report", str(report)])
    assert result.exit_code == 1, result.output
    folder = report.parent / "校验问题"
    names = sorted(p.name for p in folder.iterdir())
    # full-width brackets stay in the file name
    assert f"T01_{T01_NAME}.xlsx" in names and "T02_西山乡.xlsx" in names
    assert "D01_发改局.xlsx" not in names  # no problem, no workbook
    t01 = _table(folder / f"T01_{T01_NAME}.xlsx", "校验问题", "级别")
    assert list(t01.columns[:3]) == ["级别", "问题类型", "文件"]
    assert set(t01["文件"]) == {FILES["T01"]}
    assert "不是数字" in set(t01["问题类型"])
    assert any("很多" in m for m in t01["说明"])
    t02 = _table(folder / "T02_西山乡.xlsx", "校验问题", "级别")
    assert set(t02["文件"]) == {FILES["T02"]}
    assert not any("很多" in m for m in t02["说明"])
    assert T01_NAME in str(_rows(folder / f"T01_{T01_NAME}.xlsx", "校验问题")[0][0])


# --------------------------------------------------------------------------- itemized 加扣分


@pytest.fixture
def run_with_claims(tmp_path):
    scheme_path = write_workbook(tmp_path / "scheme.xlsx", _sheets())
    scheme = load_scheme(scheme_path)
    unit_claims = {"T01": [
        {"项目代码": "J1", "数量": 1, "事项说明": "获省级“平安乡镇”表彰（第一批）", "佐证材料": "省委〔2024〕12号"},
        {"项目代码": "J1", "数量": 2, "事项说明": "获省级文明单位称号", "佐证材料": "省文明委〔2024〕3号"},
    ]}
    office_claims = [
        {"单位代码": "T01", "项目代码": "K1", "数量": 2, "事项说明": "负面舆情：3月、5月各1次", "佐证材料": "网信办通报"},
        {"单位代码": "D01", "项目代码": "F1", "数量": 1, "事项说明": "发生较大安全事故", "佐证材料": "应急局认定书"},
    ]
    inbox = _inbox(tmp_path, scheme, unit_claims, office_claims)
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(scheme_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "2024"


def test_feedback_itemizes_adjustments_with_description_and_evidence(run_with_claims):
    book = run_with_claims / "反馈" / f"T01_{T01_NAME}.xlsx"
    items = _table(book, "加扣分明细", "项目代码")
    j1 = items[items["项目代码"] == "J1"].iloc[0]
    # 3 items × 2 points = 6, capped by 单项上限 4
    assert (j1["类型"], j1["数量"], j1["每项分值"], j1["单项上限"], j1["计分"]) == ("加分", 3, 2, 4, 4)
    assert j1["事项说明"] == "获省级“平安乡镇”表彰（第一批）；获省级文明单位称号"
    assert j1["佐证材料"] == "省委〔2024〕12号；省文明委〔2024〕3号"
    assert j1["来源"] == "单位申报"
    k1 = items[items["项目代码"] == "K1"].iloc[0]
    assert (k1["类型"], k1["数量"], k1["计分"], k1["来源"]) == ("扣分", 2, 2, "考核办记录")
    assert k1["事项说明"] == "负面舆情：3月、5月各1次" and k1["佐证材料"] == "网信办通报"
    # the bonus total 4 exceeds 加分上限 3: said under the items
    notes = [r[0] for r in _rows(book, "加扣分明细") if r and isinstance(r[0], str)]
    assert any("超过加分上限3分，按3.00分计入总分" in n for n in notes)
    vetoed = _table(run_with_claims / "反馈" / "D01_发改局.xlsx", "加扣分明细", "项目代码")
    assert list(vetoed["类型"]) == ["否决"] and vetoed["事项说明"].iloc[0] == "发生较大安全事故"
    # a unit without items gets no such sheet
    assert "加扣分明细" not in load_workbook(run_with_claims / "反馈" / "T02_西山乡.xlsx").sheetnames


def test_summary_adjustment_sheet_carries_description_and_evidence(run_with_claims):
    items = _table(run_with_claims / "汇总表.xlsx", "加扣分明细", "单位代码")
    row = items[(items["单位代码"] == "D01") & (items["项目代码"] == "F1")].iloc[0]
    assert row["事项说明"] == "发生较大安全事故" and row["佐证材料"] == "应急局认定书"
    t01 = items[(items["单位代码"] == "T01") & (items["项目代码"] == "J1")].iloc[0]
    assert t01["单位名称"] == T01_NAME
    assert "省文明委〔2024〕3号" in t01["佐证材料"]
