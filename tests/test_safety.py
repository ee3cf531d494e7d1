import math
from xml.etree import ElementTree

import pytest

from kaohe_excel.base.safety import csv_safe, csv_unquote, safe_filename, xml_safe


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x","点我")'],
)
def test_csv_safe_neutralizes_formula_triggers(text):
    assert csv_safe(text) == "'" + text
    assert csv_unquote(csv_safe(text)) == text


@pytest.mark.parametrize("text", ["-12.5", "+3", "-1e3", "85.3", "城关镇", "", "a=b"])
def test_csv_safe_leaves_numbers_and_plain_text(text):
    assert csv_safe(text) == text


def test_csv_safe_passes_non_text_through():
    assert csv_safe(-3.5) == -3.5
    assert csv_safe(None) is None


def test_xml_safe_removes_control_characters_only():
    text = "A\x07B\x00C\x1f\tD\nE\r中文<&>\ufffe"
    cleaned = xml_safe(text)
    assert cleaned == "ABC\tD\nE\r中文<&>"
    # The result must be storable in an XML document.
    ElementTree.fromstring(f"<a>{cleaned.replace('&', '&amp;').replace('<', '&lt;')}</a>")


def test_xml_safe_missing_values():
    assert xml_safe(None) == ""
    assert xml_safe(math.nan) == ""


@pytest.mark.parametrize(
    "text, expected",
    [
        ("../../etc/passwd", "____etc_passwd"),  # each ".." and each "/" becomes "_"
        ("..\\..\\windows", "____windows"),
        ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h"),
        ("CON", "_CON"),
        ("com1.txt", "_com1.txt"),
        ("LPT9", "_LPT9"),
        ("name. . ", "name"),
        ("", "_"),
        ("...", "_"),
        ("  ", "_"),
        ("A01_城关镇", "A01_城关镇"),
        ("x\x07y\x00z", "xyz"),
    ],
)
def test_safe_filename(text, expected):
    assert safe_filename(text) == expected


def test_safe_filename_truncates():
    name = safe_filename("长" * 200, max_len=80)
    assert name == "长" * 80
    assert "/" not in safe_filename("a/" * 100)
    assert len(safe_filename("a/" * 100)) <= 80


def test_rich_text_lookalike_is_written_as_text_not_xml(tmp_path):
    """xlsxwriter would copy '<r>…</r>' into the sheet XML raw; an InertWorkbook escapes it."""
    from openpyxl import load_workbook

    from kaohe_excel.base.safety import InertWorkbook

    hostile = '<r><t>x</t></r><r><t>y</t></r>'
    for options in ({}, {"constant_memory": True}):
        path = tmp_path / f"r{len(options)}.xlsx"
        workbook = InertWorkbook(str(path), options)
        sheet = workbook.add_worksheet("表")
        sheet.write_string(0, 0, hostile)
        sheet.write_string(1, 0, "普通文本")
        workbook.close()
        cells = load_workbook(path)["表"]
        value = cells["A1"].value
        assert str(value) == hostile  # exactly the unit's text, shown as typed
        assert cells["A2"].value == "普通文本"
