"""Reading the three 测评 file kinds (电子票, 纸质票 entry, 汇总 tally) into FileResult rows.

read._interpret hands a file here when its hidden 文件类型 is one of RATING_KINDS. Every
kept row is a read.Row whose layout names every header cell of the table (the unit codes of
a 纸质票 entry table, the grades of a tally), so each mark keeps its sheet and cell.
"""

from __future__ import annotations

from .issues import IssueCode, error
from .read_rows import Cell, Row, _Layout
from .tables import clean_text, header_key

KIND_BALLOT = "测评票"
KIND_PAPER = "测评录入表"
KIND_TALLY = "测评汇总表"
RATING_KINDS = (KIND_BALLOT, KIND_PAPER, KIND_TALLY)
BALLOT_SHEET, PAPER_SHEET, TALLY_SHEET = "测评票", "测评录入", "测评汇总"
BALLOT_HEADERS = ["单位代码", "单位名称", "考核类别", "评价", "意见"]
# kind -> (preferred sheet, the header text that marks the header row, what else it must hold)
LAYOUT = {KIND_BALLOT: (BALLOT_SHEET, "单位代码", ["评价"]), KIND_PAPER: (PAPER_SHEET, "票号", []),
          KIND_TALLY: (TALLY_SHEET, "单位代码", [])}


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


def interpret(result, sheets: dict[str, list[list]], meta_sheet: str) -> None:
    sheet_name, key, also = LAYOUT[result.kind]
    order = [sheet_name] + [name for name in sheets if name not in (sheet_name, meta_sheet)]
    for name in order:
        rows = sheets.get(name)
        if not rows:
            continue
        found = _header_row(rows, key, also)
        if found is None:
            continue
        header_index, columns = found
        layout = _Layout(name, {text: (i, col) for i, (text, col) in enumerate(columns.items())})
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
