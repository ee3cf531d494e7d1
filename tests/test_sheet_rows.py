"""The fast row writer must give the very file xlsxwriter's own cell writers give."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlsxwriter
from openpyxl import load_workbook

from kaohe_excel.outputs import report_xlsx
from kaohe_excel.outputs import sheet_rows
from kaohe_excel.outputs.report import Col

HOSTILE_TEXTS = [
    "东城镇",
    '=HYPERLINK("http://evil.example","点我")',
    "a & b < c > d \"quoted\"",
    "  leading and trailing spaces  ",
    "line one\nline two\nline three",
    "ctrl\x01char\x1fs and \r returns",
    "literal _x0041_ escape",
    "\ufffe non-characters \uffff",
    "tab\tinside",
    "",
    "x" * 40000,  # beyond Excel's 32,767: truncated the same way
    "𠀀 astral 😀 " * 3,
]


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    texts = [HOSTILE_TEXTS[i % len(HOSTILE_TEXTS)] for i in range(rows)]
    auto = [[1.5, "不考核", None, np.nan, pd.NA, 0.1 + 0.2, -0.0, 12, ["甲", "乙"], "", True, 1e-7][i % 12] for i in range(rows)]
    floats = rng.normal(50, 30, rows).round(4)
    floats[::7] = np.nan
    floats[1::5] = -0.0  # written "-0", not merged with 0.0
    floats[2::5] = 0.0
    return pd.DataFrame({
        "code": [f"U{i:05d}" for i in range(rows)],
        "name": texts,
        "wrapped": [("很长的得分说明" * (1 + i % 9)) if i % 5 else None for i in range(rows)],
        "auto": pd.Series(auto, dtype=object),
        "score": floats,
        "count": np.arange(rows) % 4,
        "mark": pd.Series([["不考核", None, "优秀", ""][i % 4] for i in range(rows)], dtype="string"),
    })


COLUMNS = [
    Col("单位代码", "code"),
    Col("名称", "name"),
    Col("说明", "wrapped", "wrap", 20),
    Col("实际完成值", "auto", "auto"),
    Col("得分", "score", "score", 8),
    Col("个数", "count", "int"),
    Col("标记", "mark", "score"),
    Col("缺列", "absent", "num"),
]


def _write(path: Path, frame: pd.DataFrame) -> None:
    wb = report_xlsx.new_workbook(path, report_xlsx.SUMMARY_OPTIONS)
    fmts = report_xlsx.Formats(wb)
    # Style numbers are handed out on first use; fix them so both files number them alike.
    for fmt in [fmts.title, fmts.header, fmts.text, fmts.wrap, fmts.centered_text, *fmts.by_kind.values(), fmts.note]:
        fmt._get_xf_index()
    ws = wb.add_worksheet("表")
    last = report_xlsx.write_table(ws, fmts, COLUMNS, frame, header_row=1, title="标题")
    ws.write_string(last + 2, 0, "表后备注", fmts.note)  # xlsxwriter carries on after the table
    report_xlsx.close_workbook(wb)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.startswith("docProps/")}


@pytest.mark.parametrize("rows", [report_xlsx.SMALL_TABLE, 2 * report_xlsx.PLAN_SLICE + 17])
def test_fast_rows_equal_xlsxwriter_cell_by_cell(tmp_path, monkeypatch, rows):
    frame = _frame(rows)
    _write(tmp_path / "fast.xlsx", frame)
    monkeypatch.setattr(sheet_rows, "supported", lambda ws: False)
    _write(tmp_path / "slow.xlsx", frame)
    fast, slow = _parts(tmp_path / "fast.xlsx"), _parts(tmp_path / "slow.xlsx")
    assert fast.keys() == slow.keys()
    sheet = "xl/worksheets/sheet1.xml"
    assert b'customHeight="1"' in fast[sheet]  # the wrapped rows got heights
    for name in fast:
        assert fast[name] == slow[name], name


def test_fast_rows_read_back(tmp_path):
    frame = _frame(report_xlsx.SMALL_TABLE + 3)
    _write(tmp_path / "fast.xlsx", frame)
    ws = load_workbook(tmp_path / "fast.xlsx", read_only=True)["表"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == len(frame) + 2  # the table, a blank row, the note
    assert rows[-1][0] == "表后备注"
    assert rows[1][1] == '=HYPERLINK("http://evil.example","点我")'
    assert rows[2][1] == 'a & b < c > d "quoted"'
    assert rows[3][1] == "  leading and trailing spaces  "
    assert rows[10][1] == "x" * 32767
    assert rows[0][3] == 1.5 and rows[1][3] == "不考核" and rows[2][3] is None
    assert rows[0][4] is None and rows[3][4] == frame["score"][3] and rows[3][5] == 3
    assert rows[0][6] == "不考核" and rows[1][6] is None


def test_rich_text_lookalike_is_plain_text(tmp_path):
    """A unit name that looks like xlsxwriter's raw rich-text XML is escaped, never copied raw."""
    evil = '<r><t>正常</t></r><r><t xml:space="preserve">注入</t></r>'
    frame = pd.DataFrame({"code": ["U1"] * 300, "name": [evil] * 300})
    path = tmp_path / "rich.xlsx"
    wb = report_xlsx.new_workbook(path, report_xlsx.SUMMARY_OPTIONS)
    fmts = report_xlsx.Formats(wb)
    ws = wb.add_worksheet("表")
    report_xlsx.write_table(ws, fmts, [Col("代码", "code"), Col("名称", "name")], frame, header_row=0)
    report_xlsx.close_workbook(wb)
    values = [row[1] for row in load_workbook(path, read_only=True)["表"].iter_rows(min_row=2, values_only=True)]
    assert values == [evil] * 300


def test_append_rows_refuses_an_in_memory_sheet(tmp_path):
    wb = xlsxwriter.Workbook(str(tmp_path / "m.xlsx"))
    ws = wb.add_worksheet()
    fmt = wb.add_format()
    with pytest.raises(ValueError):
        sheet_rows.append_rows(ws, 0, [[("s", "a", fmt)]])
    wb.close()


# ---------------------------------------------------------------- tables planned for many workbooks

PLANNED_COLUMNS = [
    Col("单位", "unit"),
    Col("名称", "name"),  # sized by the unit's own texts
    Col("说明", "wrapped", "wrap", 20),
    Col("实际完成值", "auto", "auto"),
    Col("得分", "score", "score", 8),
    Col("标记", "mark", "score"),
]


def _sheet_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_planned_slice_equals_the_unit_written_alone(tmp_path):
    """A unit's slice of a table planned for three units is exactly `write_table` of its rows:
    cells, column widths from its own texts only, row heights."""
    frame = _frame(36)
    frame["unit"] = np.repeat(["U1", "U2", "U3"], 12)
    frame.loc[frame["unit"] == "U2", "name"] = ([t for t in HOSTILE_TEXTS if len(t) < 40] + [None])[:12]
    frame.loc[frame["unit"] == "U3", "name"] = "一个比其他单位都长得多的单位名称"  # must not widen U2's column
    alone = tmp_path / "alone.xlsx"
    wb = report_xlsx.new_workbook(alone, stream_rows=True)
    fmts = report_xlsx.Formats(wb)
    report_xlsx.write_table(wb.add_worksheet("表"), fmts, PLANNED_COLUMNS, frame[frame["unit"] == "U2"].reset_index(drop=True),
                        header_row=1, title="标题")
    report_xlsx.close_workbook(wb)

    planned_path = tmp_path / "planned.xlsx"
    wb = report_xlsx.new_workbook(planned_path, stream_rows=True)
    fmts = report_xlsx.Formats(wb)
    planned = report_xlsx.plan_table(fmts, PLANNED_COLUMNS, frame, frame["unit"], {})
    assert planned.span("U2") == (12, 24)
    report_xlsx.write_planned(wb.add_worksheet("表"), fmts, planned, "U2", header_row=1, title="标题")
    report_xlsx.close_workbook(wb)
    assert _sheet_xml(planned_path) == _sheet_xml(alone)
    assert b'customHeight="1"' in _sheet_xml(alone)


def test_planned_table_needs_contiguous_units(tmp_path):
    wb = report_xlsx.new_workbook(tmp_path / "x.xlsx", stream_rows=True)
    fmts = report_xlsx.Formats(wb)
    frame = pd.DataFrame({"unit": ["U1", "U2", "U1"], "name": ["a", "b", "c"]})
    with pytest.raises(ValueError):
        report_xlsx.plan_table(fmts, [Col("单位", "unit"), Col("名称", "name")], frame, frame["unit"], {})
    report_xlsx.close_workbook(wb)


def test_formats_number_their_styles_alike_in_every_workbook(tmp_path):
    signatures = []
    for i in range(2):
        wb = report_xlsx.new_workbook(tmp_path / f"{i}.xlsx", stream_rows=True)
        signatures.append(report_xlsx.Formats(wb).xf_signature)
        report_xlsx.close_workbook(wb)
    assert signatures[0] == signatures[1]


def test_streamed_header_block_equals_the_cells_written_one_by_one(tmp_path, monkeypatch):
    """The feedback header block (title merged over the table's width, label + value merged over
    three columns) and a planned table's title and header row, streamed as encoded rows, are the
    sheet xlsxwriter writes from write_string / merge_range / set_row."""
    from kaohe_excel.outputs.report_feedback import _write_form

    header = [("单位名称", "东城镇", "text"), ("总分", 87.255, "score"), ("排名", "", "text"), ("加分", None, "score"),
              ("否决", "无", "text"), ("名次变化", -2.0, "rank_delta"), ("标记", " 前后有空格 ", "text")]
    frame = _frame(6).assign(unit="U1")

    def sheet(path: Path) -> bytes:
        wb = report_xlsx.new_workbook(path, stream_rows=True)
        fmts = report_xlsx.Formats(wb)
        ws = wb.add_worksheet("得分情况")
        _write_form(ws, fmts, "2024年度 考核反馈表", 6, header, {})
        planned = report_xlsx.plan_table(fmts, PLANNED_COLUMNS, frame, frame["unit"], {})
        report_xlsx.write_planned(ws, fmts, planned, "U1", header_row=len(header) + 2, title="标题")
        report_xlsx.close_workbook(wb)
        return _sheet_xml(path)

    streamed = sheet(tmp_path / "streamed.xlsx")
    monkeypatch.setattr(sheet_rows, "plain", lambda plans: False)  # as for a text that looks like rich-text XML
    assert streamed == sheet(tmp_path / "cells.xlsx")
