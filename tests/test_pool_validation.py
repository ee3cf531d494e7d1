"""Files judged in the reader pool's workers give the issue list, values and claims that
judging every file in one process gives (issue 17: validation where the reading happens)."""

from __future__ import annotations

import multiprocessing
import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import FILES, make_inbox, small_scheme_sheets, write_workbook
from inbox_helpers import fill_assessment, fill_unit, value_cell
from kaohe_excel.inputs import read as read_module
from kaohe_excel.inputs import validate as validate_module
from kaohe_excel.inputs.read import iter_inbox, read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_lead_workbooks
from kaohe_excel.inputs.validate import validate, validate_stream


def _set_meta(path: Path, key: str, value: str) -> None:
    workbook = load_workbook(path)
    for row in workbook["_kaohe"].iter_rows():
        if row[0].value == key:
            row[1].value = value
    workbook.save(path)


def _fill_lead(path: Path, values: dict[tuple[str, str], object]) -> None:
    workbook = load_workbook(path)
    sheet = workbook["核定"]
    header = next(r for r in sheet.iter_rows() if any(c.value == "核定值" for c in r))
    columns = {c.value: c.column for c in header}
    for row in range(header[0].row + 1, sheet.max_row + 1):
        key = (sheet.cell(row, columns["单位代码"]).value, sheet.cell(row, columns["指标代码"]).value)
        if key in values:
            sheet.cell(row, columns["核定值"]).value = values[key]
    workbook.save(path)


def _broken_inbox(tmp_path: Path):
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", small_scheme_sheets()))
    inbox = make_inbox(tmp_path / "inbox", scheme)
    # T01: full-width digits (repaired, warning), a formula without a cached value, C2's row
    # hidden (withheld, error at the cell), a claim with an unknown item
    path = inbox / FILES["T01"]
    fill_unit(path, {"A1": "８５", "A2": "=1/0+A2"}, claims=[{"项目代码": "J9", "数量": 1}])
    workbook = load_workbook(path)
    workbook["填报"].row_dimensions[int(re.sub(r"[A-Z]+", "", value_cell(path, "C2")))].hidden = True
    workbook.save(path)
    # a copy of T01 claiming to be D01's (校验码 no longer matches); D01 itself not submitted
    shutil.copyfile(path, inbox / "D01_冒用.xlsx")
    _set_meta(inbox / "D01_冒用.xlsx", "单位代码", "D01")
    (inbox / FILES["D01"]).unlink()
    shutil.copyfile(inbox / FILES["T02"], inbox / "T02_副本.xlsx")  # two submissions of T02
    fill_assessment(inbox / "评定表.xlsx", {("T01", "B1"): "八十五", ("T01", "C1"): "很好"})  # no number, no grade
    stats, _ = write_lead_workbooks(scheme, inbox)
    _fill_lead(stats, {("T01", "A1"): "九十五"})  # a 核定值 that is no number
    (inbox / "坏.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)  # a damaged zip
    (inbox / "说明.txt").write_text("不是表格", encoding="utf-8")
    return scheme, inbox


@pytest.mark.parametrize("start", ["fork", "spawn"])  # spawn: Windows and macOS, the judge is pickled
def test_files_judged_in_pool_workers_equal_one_process(tmp_path, monkeypatch, start):
    scheme, inbox = _broken_inbox(tmp_path)
    in_process = validate(scheme, read_inbox(inbox, workers=1))  # every file judged here, from its cells

    merged = []
    real_merge = validate_module._Validator.merge

    def counting_merge(self, verdict):
        merged.append(verdict)
        real_merge(self, verdict)

    monkeypatch.setattr(validate_module._Validator, "merge", counting_merge)
    monkeypatch.setattr(read_module, "_pool_context", lambda: multiprocessing.get_context(start))
    pooled = validate_stream(scheme, iter_inbox(inbox, workers=2))

    files = sorted(p.name for p in inbox.iterdir())
    assert len(files) == 10
    assert len(merged) == len(files)  # every file (none is a 复核 or 测评 workbook) was judged in a worker
    codes = set(in_process.issues_table["code"])
    assert {"not_a_number", "normalized_value", "unknown_adjustment", "hidden_cells", "duplicate_submission",
            "formula_without_value", "origin_forged", "missing_submission", "invalid_grade", "unreadable_file",
            "not_a_spreadsheet"} <= codes, codes
    assert pooled.issues == in_process.issues  # same issues, same order (as the workbook lists them)
    assert pooled.issues_table.equals(in_process.issues_table)
    for name in ("values", "claims", "submissions", "missing_units", "verified", "appeals"):
        assert getattr(pooled, name).equals(getattr(in_process, name)), name
    assert list(pooled.missing_units["unit_code"]) == ["D01"]
    assert [(f.name, f.sha256, f.kind) for f in pooled.files] == [(f.name, f.sha256, f.kind) for f in in_process.files]
    assert all(f.verdict is None and not f.rows for f in pooled.files)  # only what names a file is kept
