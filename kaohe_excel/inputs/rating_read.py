"""Reading the three 测评 file kinds (电子票, 纸质票 entry, 汇总 tally) into FileResult rows.

kinds/rating.py hands a file here when its hidden 文件类型 is one of the 测评 kinds. Every
kept row is a read.Row whose layout names every header cell of the table (the unit codes of
a 纸质票 entry table, the grades of a tally), so each mark keeps its sheet and cell.
"""

from __future__ import annotations

from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.layout import (
    BALLOT_FILE_TYPE,
    BALLOT_TABLE,
    META_SHEET,
    PAPER_FILE_TYPE,
    PAPER_TABLE,
    TALLY_FILE_TYPE,
    TALLY_TABLE,
)
from kaohe_excel.base.read_rows import Cell, Row, _Layout
from kaohe_excel.base.tables import clean_text, header_key

# kind -> its table (base.layout owns the names)
LAYOUT = {BALLOT_FILE_TYPE: BALLOT_TABLE, PAPER_FILE_TYPE: PAPER_TABLE, TALLY_FILE_TYPE: TALLY_TABLE}


def _header_row(rows: list[list], key: str, also: list[str], scan_rows: int = 60) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(rows[:scan_rows]):
        columns: dict[str, int] = {}
        for col, cell in enumerate(row):
            text = header_key(cell) if cell.__class__ is str else clean_text(cell)
            if text and text not in columns:
                columns[text] = col
        if key in columns and all(name in columns for name in also):
            return index, columns
    return None


def interpret(result, sheets: dict[str, list[list]]) -> None:
    table = LAYOUT[result.kind]
    sheet_name, key, also = table.sheet, table.key, list(table.also)
    order = [sheet_name] + [name for name in sheets if name not in (sheet_name, META_SHEET)]
    for name in order:
        rows = sheets.get(name)
        if not rows:
            continue
        found = _header_row(rows, key, also)
        if found is None:
            continue
        header_index, columns = found
        layout = _Layout(name, {text: (i, col) for i, (text, col) in enumerate(columns.items())}, header_index)
        # The header cells themselves, for a message about an unknown unit code or grade column.
        result.header = {text: _header_cell(rows, name, header_index, col) for text, col in columns.items()}
        picked = list(columns.values())
        for r in range(header_index + 1, len(rows)):
            row = rows[r]
            values = tuple(row[c] if c < len(row) else "" for c in picked)
            if any(v != "" and clean_text(v) for v in values):
                result.rows.append(Row(layout, r, values))
        return
    wanted = "、".join(f"「{h}」" for h in [key] + also)
    result.issues.append(error(IssueCode.not_our_template,
                               f"{result.kind}中找不到含{wanted}的表头行，请使用考核办下发的{result.kind}", file=result.name))


def _header_cell(rows, sheet, row, col):
    return Cell(rows[row][col], sheet, row, col)


NOT_MARKS = ("单位代码", "单位名称", "考核类别", "意见")


def mark_columns(layout) -> list[str]:
    """The columns whose cells are counted: 评价 of a 电子票; 票号 and every unit column of a
    纸质票 entry table; every grade column of a tally."""
    columns = layout.columns
    if "评价" in columns:
        return ["评价"]
    return [name for name in columns if name not in NOT_MARKS]


def empty_marks(result) -> list:
    """(row, column) of every counted cell read as empty, for the reader to tell a formula
    without a result from an abstention."""
    if not result.rows:
        return []
    layout = result.rows[0].layout
    positions = [(name, layout.columns[name][0]) for name in mark_columns(layout)]
    return [(row, name) for row in result.rows for name, position in positions
            if (value := row.values[position]) is None or (value.__class__ is str and not value.strip())]


class _Grid:
    """The counted cells of a table, every listed row × every counted column, as a set
    xlsx_meta.scan_sheet can ask (a 1,200-row entry table of 190 units is 228,000 cells)."""

    def __init__(self, rows, cols):
        self.rows, self.cols = set(rows), set(cols)

    def __contains__(self, place) -> bool:
        return place[0] in self.rows and place[1] in self.cols

    def __bool__(self) -> bool:
        return bool(self.rows and self.cols)


def guard(file: str, records: list, sheets: dict[str, list[list]], known_headers: set[str], view_of,
          scored: tuple[str, ...] = ()) -> list:
    """table_guard's rules for a 测评 table, whose counted cells are many columns: a doubled
    header, a hidden column or hidden header row withholds every counted cell of the table
    (one 错误 here); a hidden row withholds the cells it holds (validation reports each at
    its cell). Counted cells in a % or scaled format come back as Formatted."""
    from kaohe_excel.base.tables import cell_address, column_letter
    from kaohe_excel.inputs.table_guard import guard_cell, sheet_problem
    from kaohe_excel.base.xlsx_meta import Withheld

    issues = []
    if not records:
        return issues
    layout = records[0].layout
    names = mark_columns(layout)
    grid = sheets.get(layout.sheet)
    header_row = layout.header_row
    if not names or not grid or not 0 <= header_row < len(grid):
        return issues
    header = grid[header_row]
    filled = [cell.__class__ is str and bool(cell.strip()) for cell in header]
    withheld = False
    problem = sheet_problem(file, layout, records, sheets, "评价", "未计入")  # a hidden sheet, a second visible copy
    if problem is not None:
        issues.append(problem)
        withheld = True
    seen: dict[str, int] = {}
    for col in (c for c, yes in enumerate(filled) if yes and not withheld):
        key = header_key(header[col])
        if key in seen:
            first, second = cell_address(header_row, seen[key]), cell_address(header_row, col)
            issues.append(error(IssueCode.duplicate_column,
                                f"表头「{key}」出现了两列（{first}、{second}），无法确定哪一列是评价，本表的评价均未计入；"
                                f"请使用考核办下发的{KIND_NAMES.get(layout.sheet, '测评表')}重新填写，不要插入、复制或隐藏列",
                                file=file, sheet=layout.sheet, cell=second))
            withheld = True
            break
        seen[key] = col
    positions = [layout.columns[name] for name in names]
    view = None
    if not withheld:
        view = view_of(layout.sheet, _Grid((row.row for row in records), (col for _, col in positions)))
    if view is not None:
        cols = [c for _, c in layout.columns.values()]
        low, high = min(cols), max(cols)
        while low > 0 and filled[low - 1]:
            low -= 1
        while high + 1 < len(filled) and filled[high + 1]:
            high += 1
        hidden = sorted(c for c in view.hidden_columns if low <= c <= high)
        if hidden:
            label = header_key(header[hidden[0]]) if hidden[0] < len(header) else ""
            shown = f"（「{label}」）" if label else ""
            letters = "、".join(column_letter(c) for c in hidden[:5])
            issues.append(error(IssueCode.hidden_cells,
                                f"表格中的第 {letters} 列{shown}被隐藏，考核办看不到其中的内容，本表的评价均未计入；请取消隐藏后核对再报送",
                                file=file, sheet=layout.sheet, cell=cell_address(header_row, hidden[0])))
            withheld = True
        elif header_row in view.hidden_rows:
            issues.append(error(IssueCode.hidden_cells,
                                f"表头所在的第 {header_row + 1} 行被隐藏，本表的评价均未计入；请取消隐藏后重新报送",
                                file=file, sheet=layout.sheet, cell=cell_address(header_row, positions[0][1])))
            withheld = True
    if withheld:
        for row in records:
            for name in names:
                row.set(name, Withheld(row.value_of(name)))
        return issues
    if view is None or not (view.formats or view.hidden_rows):
        return issues
    for row in records:
        for name, (position, col) in zip(names, positions):
            guard_cell(row, name, position, col, view, not_counted="未计入", keep_empty=True)
    return issues


KIND_NAMES = {table.sheet: kind for kind, table in LAYOUT.items()}
