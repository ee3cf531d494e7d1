"""Workbooks with lent formats, kept styles and kept zip parts (book_cache) are byte for byte the
files xlsxwriter writes itself: the zip's headers and deflated data included, not only the cells."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

from kaohe_excel.outputs import book_cache
from kaohe_excel.outputs import report_xlsx

CREATED = datetime(2025, 1, 15, 9, 30)  # the one clock stamp in a file (docProps/core.xml), fixed here


def _fill(wb, fmts, name: str, spoil: bool = False) -> None:
    wb.set_properties({"created": CREATED})
    ws = wb.add_worksheet("得分情况")
    ws.set_column(0, 0, 14)
    ws.merge_range(0, 0, 0, 3, "", fmts.title)
    ws.write_string(0, 0, f"{name} 考核反馈表", fmts.title)
    ws.set_row(0, 28)
    ws.write_string(1, 0, "总分", fmts.label)
    ws.write_number(1, 1, 87.25, fmts.block["score"])
    ws.write_blank(1, 2, None, fmts.by_kind["num"])  # a format equal to an earlier one: no style number of its own
    ws.write_string(2, 0, "单位名称", fmts.header)
    ws.write_string(2, 1, name, fmts.wrap)
    ws.autofilter(2, 0, 3, 1)
    ws.freeze_panes(3, 0)
    ws.repeat_rows(2, 2)
    if spoil:  # formats the lent set had not numbered
        ws.write_string(3, 0, "注", fmts.title_left)
        ws.conditional_format(1, 1, 1, 1, {"type": "cell", "criteria": ">", "value": 90, "format": fmts.grade_formats[0]})
    wb.add_worksheet("失分分析").write_string(0, 0, f"{name} 失分分析", fmts.note)


def _plain(path: Path, name: str, spoil: bool = False) -> bytes:
    wb = report_xlsx.new_workbook(path, stream_rows=True)
    _fill(wb, report_xlsx.Formats(wb), name, spoil)
    wb.close()
    return path.read_bytes()


def _lent(shared: book_cache.SharedFormats, path: Path, name: str, spoil: bool = False) -> bytes:
    wb, fmts = shared.new_workbook(str(path))
    _fill(wb, fmts, name, spoil)
    wb.close()
    return path.read_bytes()


def test_lent_formats_write_the_files_xlsxwriter_writes(tmp_path):
    shared = book_cache.SharedFormats(report_xlsx.WORKBOOK_OPTIONS, report_xlsx.Formats)
    names = ["东城镇", "西山乡", "东城镇", "<r>x</r>"]  # the third repeats the first: its parts come from the cache
    for i, name in enumerate(names):
        assert _lent(shared, tmp_path / f"lent{i}.xlsx", name) == _plain(tmp_path / f"plain{i}.xlsx", name), name


def test_a_workbook_numbering_more_formats_leaves_the_next_ones_as_they_were(tmp_path):
    shared = book_cache.SharedFormats(report_xlsx.WORKBOOK_OPTIONS, report_xlsx.Formats)
    assert _lent(shared, tmp_path / "a.xlsx", "甲") == _plain(tmp_path / "pa.xlsx", "甲")
    assert _lent(shared, tmp_path / "b.xlsx", "乙", spoil=True) == _plain(tmp_path / "pb.xlsx", "乙", spoil=True)
    # without the loan's reset the title_left and conditional formats would be in this one's styles
    assert _lent(shared, tmp_path / "c.xlsx", "丙") == _plain(tmp_path / "pc.xlsx", "丙")
    with zipfile.ZipFile(tmp_path / "b.xlsx") as z:
        assert b"<dxfs" in z.read("xl/styles.xml")


def test_kept_zip_parts_are_the_bytes_zipfile_writes():
    parts = [("[Content_Types].xml", b"<Types/>" * 40), ("xl/theme/theme1.xml", "主题".encode() * 500),
             ("xl/worksheets/sheet1.xml", b"<worksheet/>"), ("empty.xml", b"")]

    def write(cls) -> bytes:
        buffer = io.BytesIO()
        with cls(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in parts:
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.compress_type = z.compression
                z.writestr(info, data)
        return buffer.getvalue()

    plain = write(zipfile.ZipFile)
    assert write(book_cache._PartCachingZip) == plain
    assert write(book_cache._PartCachingZip) == plain  # the second time from the kept parts
