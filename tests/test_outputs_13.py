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
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates

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


# --------------------------------------------------------------------------- 百分制, names, 差距分析, 等级


@pytest.fixture
def percent_run(tmp_path):
    scheme_path = write_workbook(tmp_path / "scheme.xlsx", _sheets(percent=True))
    scheme = load_scheme(scheme_path)
    inbox = _inbox(tmp_path, scheme)
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(scheme_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "2024"


# By hand (conftest's scheme, 百分制): D02 is exempt from C2, so it is assessed on B1 (20) and C1 (10):
# B1 85/90 × 20 = 18.888… → 18.89, C1 优 → 10; 28.89 ÷ 30 × 100 = 96.30.
# D01: B1 90/90 → 20, C1 中 → 6, C2 反向 0.5/0.5 → 10; 36.00 ÷ 40 × 100 = 90.00.
D02_LINE = "指标得分 = 28.89 ÷ 30 × 100 = 96.30（百分制折算）"
D01_LINE = "指标得分 = 36.00 ÷ 40 × 100 = 90.00（百分制折算）"


def test_percent_line_in_summary_feedback_and_gap(percent_run):
    matrix = _table(percent_run / "汇总表.xlsx", "指标得分（部门）", "考核类别")
    notes = dict(zip(matrix["单位代码"], matrix["指标得分折算"]))
    assert notes["D02"] == D02_LINE and notes["D01"] == D01_LINE
    assert dict(zip(matrix["单位代码"], matrix["指标得分"]))["D02"] == 96.3
    header = {r[0]: r[1] for r in _rows(percent_run / "反馈" / "D02_财政局.xlsx", "得分情况")[1:14] if r and r[0]}
    assert header["指标得分"] == 96.3 and header["指标得分折算"] == D02_LINE
    gap_rows = _rows(percent_run / "反馈" / "D02_财政局.xlsx", "差距分析")
    gap = _table(percent_run / "反馈" / "D02_财政局.xlsx", "差距分析", "指标代码")
    b1 = gap[gap["指标代码"] == "B1"].iloc[0]
    # 20 − 18.89 = 1.11 points of B1, worth 1.11 × 100/30 = 3.70 points of the total
    assert b1["距满分差（分）"] == 1.11 and b1["可增加总分"] == 3.7
    notes = [r[0] for r in gap_rows if r and isinstance(r[0], str) and r[0].startswith("总分按百分制折算")]
    assert notes and "÷ 30 × 100" in notes[0] and "总分差3.33分" in notes[0]  # 100 ÷ 30


def test_gap_cells_are_numbers_rounded_like_the_indicator(percent_run):
    gap = _table(percent_run / "反馈" / "T02_西山乡.xlsx", "差距分析", "指标代码")
    b1 = gap[gap["指标代码"] == "B1"].iloc[0]
    assert b1["实际完成值"] == 88 and b1["达到满分需"] == 90 and isinstance(b1["达到满分需"], (int, float))
    c2 = gap[gap["指标代码"] == "C2"].iloc[0]
    # 反向 完成率 target 0.5: base share 0.6 at 0.5/0.6 = 0.8333…; figures with 2 decimals → 0.83 (down, safe)
    assert c2["达到基本分需"] == 0.83 and c2["达到满分需"] == 0.5
    c1 = gap[gap["指标代码"] == "C1"].iloc[0]
    assert c1["实际完成值"] == "良" and c1["达到满分需"] == "优"  # 定性: the grades


def test_grade_in_its_own_column(percent_run):
    table = _table(percent_run / "反馈" / "T02_西山乡.xlsx", "得分情况", "一级指标")
    assert list(table.columns[:6]) == ["一级指标", "指标名称", "分值", "实际值", "等级", "得分"]
    c1 = table[table["指标名称"] == "党建工作"].iloc[0]
    assert pd.isna(c1["实际值"]) and c1["等级"] == "良"
    a1 = table[table["指标名称"] == "地区生产总值"].iloc[0]
    assert a1["实际值"] == 85 and pd.isna(a1["等级"])


def test_full_width_names_kept_in_every_output_and_file_name(percent_run, tmp_path):
    assert (percent_run / "反馈" / f"T01_{T01_NAME}.xlsx").is_file()
    ranking = _table(percent_run / "汇总表.xlsx", "总排名", "考核类别")
    assert T01_NAME in set(ranking["单位名称"])
    matrix_header = [v for r in _rows(percent_run / "汇总表.xlsx", "指标得分（乡镇）")[:4] for v in r if v]
    assert any(str(v).startswith(C2_NAME) for v in matrix_header)
    feedback = _table(percent_run / "反馈" / f"T01_{T01_NAME}.xlsx", "得分情况", "一级指标")
    assert C2_NAME in set(feedback["指标名称"])
    from docx import Document

    notice = "\n".join(p.text for p in Document(str(percent_run / "通报.docx")).paragraphs)
    cells = [c.text for t in Document(str(percent_run / "通报.docx")).tables for row in t.rows for c in row.cells]
    assert T01_NAME in notice and T01_NAME in cells and "东城镇(经济开发区)" not in notice
    # 评分说明 as written in the templates sent to the units
    scheme = load_scheme(write_workbook(tmp_path / "s2.xlsx", _sheets()))
    assert scheme.units.set_index("unit_code").loc["T01", "unit_name"] == T01_NAME
    assert scheme.indicators.set_index("indicator_code").loc["A1", "description"] == "完成目标得满分；未完成的，按“完成值÷目标值”计分"
    paths = write_templates(scheme, tmp_path / "tpl")
    texts = {c.value for p in paths if p.name.startswith("T01") for c in load_workbook(p)["填报"]._cells.values()}
    assert "完成目标得满分；未完成的，按“完成值÷目标值”计分" in texts and T01_NAME in texts


# --------------------------------------------------------------------------- --allow-errors


def test_allow_errors_says_unscored_in_ranking_and_notice(tmp_path):
    scheme_path = write_workbook(tmp_path / "scheme.xlsx", _sheets())
    inbox = _inbox(tmp_path, load_scheme(scheme_path))
    fill_unit(inbox / FILES["T01"], {"A1": "很多"})
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(scheme_path), "--out", str(out), "--allow-errors"])
    assert result.exit_code == 1, result.output  # ran, with errors left
    ranking = _table(out / "2024" / "汇总表.xlsx", "总排名", "考核类别")
    marks = dict(zip(ranking["单位代码"], ranking["标记"].fillna("")))
    assert "含未计分指标（1项" in marks["T01"] and "含未计分指标" not in marks["T02"]
    from docx import Document

    doc = Document(str(out / "2024" / "通报.docx"))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert f"{T01_NAME}（含未计分指标）" in cells and "西山乡" in cells
    assert any("含未计分指标" in p.text and p.text.startswith("注：") for p in doc.paragraphs)


# --------------------------------------------------------------------------- the notice (GB/T 9704)


def test_title_is_broken_between_words():
    from kaohe_excel.outputs.notice_layout import title_lines

    lines = title_lines("关于清源县2024年度乡镇和县直部门目标责任考核结果的通报")
    assert lines == ["关于清源县2024年度乡镇和县直部门", "目标责任考核结果的通报"]  # never "目标责/任"
    assert title_lines("关于测试县2024年度综合考核结果的通报") == ["关于测试县2024年度综合考核结果的通报"]  # fits one line
    long = title_lines("关于清源县2024年度乡镇街道和县直部门及垂直管理单位目标管理绩效考核结果的通报")
    assert "".join(long) == "关于清源县2024年度乡镇街道和县直部门及垂直管理单位目标管理绩效考核结果的通报"
    assert all(not any(line.endswith(p) for p in ("202", "20", "2")) for line in long)  # a number is never cut


def test_notice_date_masthead_imprint_properties_and_footers(tmp_path):
    from datetime import date

    from docx import Document
    from docx.oxml.ns import qn

    from kaohe_excel.outputs.notice import write_notice
    from kaohe_excel.outputs.notice_layout import document_date
    from kaohe_excel.scheme.workbook import SchemeMeta
    from conftest import NOTICE_GRADES as GRADES, make_notice_ranked as make_ranked

    extra = {"成文日期": "2025年1月20日", "发文机关标志": "测试县目标考核办公室文件", "抄送": "县委各部门，县人大办",
             "印发机关": "测试县目标考核办公室"}
    meta = SchemeMeta(name="测试县2024年度乡镇和县直部门目标责任考核", period="2024", issuer="测试县考核办",
                      doc_number="测考〔2025〕1号", extra=extra)
    path = write_notice(tmp_path / "通报.docx", None, meta, make_ranked(), GRADES, date(2025, 3, 1))
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert "2025年1月20日" in texts and "2025年3月1日" not in " ".join(texts)  # the scheme's date, not the run's
    assert texts[0] == "测试县目标考核办公室文件" and texts[1] == "测考〔2025〕1号"
    red_line = doc.paragraphs[1]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert red_line.get(qn("w:color")) == "FF0000"
    assert "关于测试县2024年度乡镇和县直部门\n目标责任考核结果的通报" in texts
    assert "抄送：县委各部门，县人大办。" in texts
    assert texts[-1] == "测试县目标考核办公室\t2025年1月20日印发"
    props = doc.core_properties
    assert props.title == "关于测试县2024年度乡镇和县直部门目标责任考核结果的通报"
    assert props.author == "测试县考核办" and props.last_modified_by == "测试县考核办"
    assert props.created.date() == date.today()  # this run, not the template's
    # page numbers: odd pages right, even pages left, one character (四号) in from the edge
    assert doc.settings.odd_and_even_pages_header_footer
    section = doc.sections[0]
    odd, even = section.footer.paragraphs[0], section.even_page_footer.paragraphs[0]
    assert odd.alignment == 2 and odd.paragraph_format.right_indent.pt == 14
    assert even.alignment == 0 and even.paragraph_format.left_indent.pt == 14
    # the 28 × 22 grid: 28 characters of 16 pt less 0.25 pt fit the 156 mm line (442.2 pt), 29 do not
    spacing = int(doc.styles["Normal"].element.rPr.find(qn("w:spacing")).get(qn("w:val"))) / 20
    assert 28 * (16 + spacing) <= 156 / 25.4 * 72 < 29 * (16 + spacing)
    assert section._sectPr.find(qn("w:docGrid")).get(qn("w:linePitch")) == "579"  # 225 mm / 22 lines
    assert document_date(SchemeMeta("x", "2024", extra={}), date(2025, 2, 2)) == date(2025, 2, 2)
    with pytest.raises(Exception, match="成文日期"):
        document_date(SchemeMeta("x", "2024", extra={"成文日期": "明天"}), date(2025, 2, 2))
