"""read.py: compact rows, streaming results, and the size limits of a city-scale inbox."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import xlsxwriter

from conftest import FILES, make_inbox, small_scheme_sheets, write_workbook
from inbox_helpers import fill_unit, value_cell
from kaohe_excel.base.layout import ASSESSMENT_FILE_TYPE
from kaohe_excel.inputs.read import ReadLimits, iter_inbox, read_file, read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.inputs.validate import validate, validate_stream


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pristine")
    scheme = load_scheme(write_workbook(folder / "scheme.xlsx", small_scheme_sheets()))
    return scheme, make_inbox(folder / "inbox", scheme)


def _assessment_workbook(path: Path, rows: int, far_cell: str | None = None) -> Path:
    """An office 评定表 (hidden 文件类型 + 评定 sheet, header on row 1) with `rows` value rows."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("评定")
    sheet.write_row(0, 0, ["单位代码", "指标代码", "评定值", "说明"])
    for r in range(1, rows + 1):
        sheet.write_row(r, 0, [f"U{r:05d}", "B1", 80 + r % 20])
    if far_cell:
        sheet.write(far_cell, 1)
    meta = book.add_worksheet("_kaohe")
    meta.write_row(0, 0, ["项目", "值"])
    meta.write_row(1, 0, ["文件类型", "评定表"])
    meta.hide()
    book.close()
    return path


def test_rows_read_as_mappings_with_exact_addresses(pristine, tmp_path):
    inbox = shutil.copytree(pristine[1], tmp_path / "inbox")
    path = Path(inbox) / FILES["T01"]
    result = read_file(path)
    row = next(r for r in result.rows if r["指标代码"].value == "A2")
    assert row["实际完成值"].value == 9  # UNIT_VALUES["T01"]["A2"]
    assert row["实际完成值"].cell == value_cell(path, "A2")  # openpyxl names the same cell
    assert row["实际完成值"].sheet == "填报"
    assert "目标值" in row and "评定值" not in row
    assert row.get("评定值") is None
    assert result.header["单位代码"].value == "T01"


def test_empty_formula_input_is_put_back_into_the_row(pristine, tmp_path):
    inbox = Path(shutil.copytree(pristine[1], tmp_path / "inbox"))
    path = inbox / FILES["T01"]
    fill_unit(path, {"A1": "=1/0+A2"})  # openpyxl writes the formula without a cached value
    row = next(r for r in read_file(path).rows if r["指标代码"].value == "A1")
    assert str(type(row["实际完成值"].value).__name__) == "FormulaWithoutValue"
    assert row["实际完成值"].value.formula == "=1/0+A2"


def test_streamed_validation_equals_batch_validation(pristine, tmp_path):
    scheme, source = pristine
    inbox = Path(shutil.copytree(source, tmp_path / "inbox"))
    fill_unit(inbox / FILES["T02"], {"A1": "八十五", "A2": "7,5"})  # an error and a repaired value
    shutil.copyfile(inbox / FILES["T01"], inbox / "T01_副本.xlsx")  # a duplicate submission
    batch = validate(scheme, read_inbox(inbox, workers=1))
    stream = validate_stream(scheme, iter_inbox(inbox, workers=1))
    assert batch.error_count > 0 and batch.warning_count > 0
    assert stream.issues == batch.issues
    for name in ("values", "claims", "submissions", "missing_units", "verified"):
        assert getattr(stream, name).equals(getattr(batch, name)), name
    assert [(f.name, f.sha256, f.size, f.kind) for f in stream.files] == [(f.name, f.sha256, f.size, f.kind) for f in batch.files]
    assert all(not f.rows and not f.header for f in stream.files)  # cells let go once judged
    assert any(f.rows for f in batch.files)  # validate() leaves the caller's results alone


def test_pool_streams_in_inbox_order_and_stops_early(pristine, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for index in range(70):  # enough files for the process pool
        (inbox / f"说明{index:02d}.txt").write_text("不是表格", encoding="utf-8")
    shutil.copyfile(pristine[1] / FILES["T01"], inbox / "好.xlsx")
    names = [r.name for r in iter_inbox(inbox, workers=2)]
    assert names == sorted(p.name for p in inbox.iterdir())
    started = time.monotonic()
    results = iter_inbox(inbox, workers=2)
    first = [next(results) for _ in range(3)]
    results.close()  # the pool is shut down, the rest is not read
    assert [r.name for r in first] == names[:3]
    assert time.monotonic() - started < 30


def test_assessment_sheet_longer_than_twenty_thousand_rows_is_read(tmp_path):
    # 10,000 units x 2.5 评定 indicators: 25,000 rows below the header on row 1
    path = _assessment_workbook(tmp_path / "评定表.xlsx", 25_000)
    result = read_file(path)
    assert result.kind == ASSESSMENT_FILE_TYPE and not result.issues
    assert len(result.rows) == 25_000
    last = result.rows[-1]
    assert last["单位代码"].value == "U25000" and last["评定值"].cell == "C25001"  # row 1 header + 25,000


@pytest.mark.parametrize("scan", [True, False])
def test_far_cell_area_is_refused_scanned_or_not(tmp_path, scan):
    # A1..Z100000 is 100,000 x 26 = 2,600,000 cells > max_cells 2,000,000, though rows and columns are within bounds
    path = _assessment_workbook(tmp_path / "评定表.xlsx", 3, far_cell="Z100000")
    result = read_file(path, scan=scan)
    assert [i.code.value for i in result.issues] == ["file_too_large"]
    assert "数据区过大" in result.issues[0].message


def test_cell_limit_is_a_setting(tmp_path):
    # 4 columns x 1,001 rows = 4,004 cells: refused under a 4,000-cell limit, read under 4,004
    path = _assessment_workbook(tmp_path / "评定表.xlsx", 1_000)
    assert [i.code.value for i in read_file(path, limits=ReadLimits(max_cells=4_000)).issues] == ["file_too_large"]
    assert len(read_file(path, limits=ReadLimits(max_cells=4_004)).rows) == 1_000
