"""What the office sees is what is scored: checks on the tables a file was read from.

A doubled header (a hidden second 实际完成值 column), a hidden column or row in a table,
or a number whose cell format shows it otherwise would let a score rest on something no
person looking at the sheet sees. The reader calls `guard` once a file's tables are
read; the affected input cells become `Withheld` (never scored; validation records
them) or `Formatted` (validation decides what the unit meant). Works on read.py's rows
by duck typing (layout, row, values, set) so it does not import the reader.
"""

from __future__ import annotations

from typing import Callable, Iterable

from kaohe_excel.base.issues import Issue, IssueCode, error
from kaohe_excel.base.tables import cell_address, column_letter, header_key
from kaohe_excel.base.xlsx_meta import Formatted, SheetView, Withheld, hides_text

# The cell of a row that is scored, per table; the first one a layout has is used.
INPUT_COLUMNS = ("实际完成值", "评定值", "核定值", "数量", "复核值")
REDO = "请使用考核办下发的模板重新填报"


def _tables(records: Iterable) -> list[tuple[object, list]]:
    """(layout, its rows) per table, in order of appearance."""
    found: dict[int, tuple[object, list]] = {}
    for row in records:
        entry = found.get(id(row.layout))
        if entry is None:
            entry = found[id(row.layout)] = (row.layout, [])
        entry[1].append(row)
    return list(found.values())


def _input_of(layout) -> str | None:
    return next((name for name in INPUT_COLUMNS if name in layout.columns), None)


def _withhold_all(rows: list, name: str) -> None:
    for row in rows:
        value = row.value_of(name)
        if not isinstance(value, Withheld):
            row.set(name, Withheld(value))


def guard(file: str, records: list, sheets: dict[str, list[list]], known_headers: set[str],
          view_of: Callable[[str, set[tuple[int, int]]], SheetView | None]) -> list[Issue]:
    """Issues for the tables of one file; marks the cells that must not be scored as read.
    `view_of(sheet, cells)` scans a sheet's XML (None where there is none: .xls, .ods)."""
    issues: list[Issue] = []
    for layout, rows in _tables(records):
        name = _input_of(layout)
        header_row = getattr(layout, "header_row", -1)
        grid = sheets.get(layout.sheet)
        if name is None or header_row < 0 or not grid or header_row >= len(grid):
            continue
        header = grid[header_row]
        withheld = False
        seen: dict[str, int] = {}
        filled = [text.__class__ is str and bool(text.strip()) for text in header]
        for col in (c for c, yes in enumerate(filled) if yes):
            key = header_key(header[col])
            if key not in known_headers:
                continue
            if key in seen:
                first, second = cell_address(header_row, seen[key]), cell_address(header_row, col)
                issues.append(error(
                    IssueCode.duplicate_column,
                    f"表头「{key}」出现了两列（{first}、{second}），无法确定哪一列是填报的数值，本表的{name}均未计分；"
                    f"{REDO}，不要插入、复制或隐藏列", file=file, sheet=layout.sheet, cell=second))
                withheld = True
                break
            seen[key] = col
        position, value_col = layout.columns[name]
        cells = {(row.row, value_col) for row in rows}
        view = view_of(layout.sheet, cells)
        if view is not None:
            # the table is the run of headed columns around its own (a reference list beside it is not)
            low, high = min(c for _, c in layout.columns.values()), max(c for _, c in layout.columns.values())
            while low > 0 and filled[low - 1]:
                low -= 1
            while high + 1 < len(filled) and filled[high + 1]:
                high += 1
            hidden = sorted(c for c in view.hidden_columns if low <= c <= high)
            if hidden:
                col = hidden[0]
                label = header_key(header[col]) if col < len(header) else ""
                shown = f"（「{label}」）" if label else ""
                letters = "、".join(column_letter(c) for c in hidden[:5])
                issues.append(error(
                    IssueCode.hidden_cells,
                    f"表格中的第 {letters} 列{shown}被隐藏，考核办看不到其中的内容，本表的{name}均未计分；"
                    f"请取消隐藏后核对，或{REDO}", file=file, sheet=layout.sheet, cell=cell_address(header_row, col)))
                withheld = True
            elif header_row in view.hidden_rows:
                issues.append(error(
                    IssueCode.hidden_cells, f"表头所在的第 {header_row + 1} 行被隐藏，本表的{name}均未计分；请取消隐藏后重新报送",
                    file=file, sheet=layout.sheet, cell=cell_address(header_row, value_col)))
                withheld = True
        if withheld:
            _withhold_all(rows, name)
            continue
        if view is None or not (view.formats or view.hidden_rows):
            continue
        for row in rows:
            guard_cell(row, name, position, value_col, view)
    return issues


def guard_cell(row, name: str, position: int, col: int, view: SheetView, not_counted: str = "未计分",
               keep_empty: bool = False) -> None:
    """The one rule for an input cell the office cannot read as typed: in a hidden row it is withheld
    (an 错误 when judged), a number whose format shows it otherwise becomes Formatted. keep_empty: an
    empty text cell in a hidden row stays as it is (a ballot's blank mark counts nothing either way)."""
    value = row.values[position]
    if row.row in view.hidden_rows:
        if not keep_empty or value.__class__ is not str or value.strip():
            row.set(name, Withheld(value, (IssueCode.hidden_cells,
                                           f"所在的第 {row.row + 1} 行被隐藏，考核办看不到此行，{not_counted}；请取消隐藏后重新报送")))
        return
    shown = view.formats.get((row.row, col))
    if shown is None:
        return
    if value.__class__ in (float, int):
        if shown[0]:
            row.set(name, Formatted(value, *shown))
    elif value.__class__ is str and value.strip() and hides_text(shown[1]):
        # a grade or a 定性 value the office would not see as typed (hidden, or shown as other words)
        row.set(name, Withheld(value, (IssueCode.number_format,
                                       f"单元格的数字格式（{shown[1]}）使所填的「{value.strip()}」不显示或显示为其他内容，"
                                       f"考核办看到的与所填的不一致，{not_counted}；请将单元格格式改为“常规”后重新填写")))
