"""tables.py: text folding, header keys, column letters and table location."""

from __future__ import annotations

import pytest

from kaohe_excel.base.tables import cell_address, clean_text, column_letter, header_key, locate_table


@pytest.mark.parametrize("raw, expected", [
    ("  ＸＺ０１ ", "XZ01"),      # full-width letters and digits fold, spaces trimmed
    ("Z01", "Z01"),              # the ASCII shortcut
    (" Z01\t", "Z01"),           # a tab is not printable: the full path trims it too
    ("a\x07b", "ab"),            # a bell pasted from a chat is dropped
    ("实际完成值 ", "实际完成值"),
    (3.0, "3"),                  # a whole float reads as the integer people typed
    (2.5, "2.5"),
    (float("nan"), ""),
    (None, ""),
    (7, "7"),
    (True, "True"),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected
    assert clean_text(raw) == expected  # the second call may come from the cache: same answer


def test_long_texts_are_cleaned_but_not_cached():
    from kaohe_excel.base import tables

    text = "Ｘ" * 100 + " "
    assert clean_text(text) == "X" * 100
    assert text not in tables._clean_cache


def test_header_key_ignores_white_space():
    assert header_key("实际\n完成值") == "实际完成值"
    assert header_key(" 指标 代码 ") == "指标代码"


@pytest.mark.parametrize("index, letters", [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA"),
                                            (16383, "XFD")])
def test_column_letter(index, letters):
    # 701 = 26 + 26*26 - 1 is the last two-letter column; 16383 is Excel's last column
    assert column_letter(index) == letters


def test_cell_address():
    assert cell_address(0, 0) == "A1"
    assert cell_address(24999, 2) == "C25000"


def test_locate_table_skips_numbers_and_finds_the_header_row():
    rows = [
        ["标题", "", ""],
        [1.0, 2.0, "说明"],
        ["指标\n代码", "实际完成值", "备注"],
        ["Z01", 3.0, ""],
    ]
    table = locate_table(rows, ["指标代码", "实际完成值"], ["备注", "佐证材料"])
    assert table.header_row == 2
    assert table.columns == {"指标代码": 0, "实际完成值": 1, "备注": 2}
    assert locate_table(rows, ["指标代码", "评定值"]) is None


def test_column_number_is_the_inverse_of_column_letter():
    from kaohe_excel.base.tables import column_letter, column_number

    assert [column_number(x) for x in ("A", "Z", "AA", "AZ", "BA", "XFD")] == [1, 26, 27, 52, 53, 16384]
    assert column_number(b"ab") == 28  # calamine reads r="ab1" as AB1
    assert all(column_number(column_letter(i)) == i + 1 for i in range(0, 20000, 7))
