"""What the office sees is what is scored: checks on the tables a file was read from.

A doubled header (a hidden second 实际完成值 column), a hidden column or row in a table,
or a number whose cell format shows it otherwise would let a score rest on something no
person looking at the sheet sees. The reader calls `guard` once a file's tables are
read; the affected input cells become `Withheld` (never scored; validation records
them) or `Formatted` (validation decides what the unit meant). Works on read.py's rows
by duck typing (layout, row, values, set) so it does not import the reader.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from kaohe_excel.base.issues import Issue, IssueCode, error, warning
from kaohe_excel.base.tables import cell_address, clean_text, column_letter, header_key, locate_table
from kaohe_excel.base.layout import UNIT_CLAIM_TABLE
from kaohe_excel.base.number_format import CONDITIONAL, FONT_HIDDEN, FORMULA, hides_text, plain_number, shown_as
from kaohe_excel.base.xlsx_meta import Formatted, SheetView, Withheld, conditional_effect

# Where a formula's cached result may never be read, even with a 警告 when it cannot be
# recomputed: a count (or a ballot's mark, rating_read's guard) is typed, never computed.
TYPED_ONLY = (UNIT_CLAIM_TABLE.scored,)
# The columns that say which row a value belongs to (compared when another sheet holds the table too).
KEY_COLUMNS = ("单位代码", "指标代码", "项目代码")
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


class _Cells(set):
    """The cells whose formats are asked for; `inputs` the ones whose XML is judged (their values)."""

    inputs: set = set()


def _input_of(layout, scored: tuple[str, ...]) -> str | None:
    return next((name for name in scored if name in layout.columns), None)


def _withhold_all(rows: list, name: str) -> None:
    for row in rows:
        value = row.value_of(name)
        if not isinstance(value, Withheld):
            row.set(name, Withheld(value))


def guard(file: str, records: list, sheets: dict[str, list[list]], known_headers: set[str],
          view_of: Callable[[str, set[tuple[int, int]]], SheetView | None], scored: tuple[str, ...]) -> list[Issue]:
    """Issues for the tables of one file; marks the cells that must not be scored as read.
    `view_of(sheet, cells)` scans a sheet's XML (None where there is none: .xls, .ods);
    `scored`: the input of each of the kind's tables (base.layout.TableLayout.scored)."""
    issues: list[Issue] = []
    tables = _tables(records)
    read_sheets = {layout.sheet for layout, _ in tables}
    for layout, rows in tables:
        name = _input_of(layout, scored)
        header_row = getattr(layout, "header_row", -1)
        grid = sheets.get(layout.sheet)
        if name is None or header_row < 0 or not grid or header_row >= len(grid):
            continue
        problem = sheet_problem(file, layout, rows, sheets, name, "未计分", read_sheets)
        if problem is not None:
            issues.append(problem)
            _withhold_all(rows, name)
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
        # the key cells too: a code shown as another code would score the value under the wrong row
        key_cols = [layout.columns[key][1] for key in KEY_COLUMNS if key in layout.columns]
        cells = _Cells((row.row, col) for row in rows for col in key_cols)
        cells.inputs = {(row.row, value_col) for row in rows}
        cells |= cells.inputs
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
        if view is None or not (view.formats or view.hidden_rows or view.covered or view.formulas or view.duplicates
                                    or view.unseen_runs or view.conditional or view.malformed or view.overlaid):
            continue
        for row in rows:
            if key_problem(row, name, key_cols, grid, view, "未计分"):
                continue
            said = guard_cell(row, name, position, value_col, view, grid=grid, formula_ok=name not in TYPED_ONLY)
            if said:
                issues.append(warning(IssueCode.formula_unchecked, said, file=file, sheet=layout.sheet,
                                      cell=cell_address(row.row, value_col)))
    return issues


def key_problem(row, name: str, key_cols: list[int], grid: list[list], view: SheetView, not_counted: str) -> bool:
    """A row whose code the office does not see as written (a format or font hiding or replacing it, a
    merge, a picture, a cell written twice): which row the value belongs to is unknown, so it is
    withheld with an 错误 (True)."""
    for col in key_cols:
        place = (row.row, col)
        text = grid[row.row][col] if row.row < len(grid) and col < len(grid[row.row]) else ""
        if not _typed(text) or text == "":
            continue
        shown = view.formats.get(place)
        why = None
        if shown is not None and (shown[0] == FONT_HIDDEN or (text.__class__ is str and hides_text(shown[1]))):
            why = f"的格式（{shown[1] or '字体颜色与底色相同'}）使代码「{_shown_text(text)}」不显示或显示为其他内容"
        elif place in view.covered:
            why = f"被合并到 {view.covered[place][0]} 中，显示的是 {view.covered[place][1]} 的内容"
        elif place in view.overlaid:
            why = f"被{view.overlaid[place]}覆盖"
        elif place in view.duplicates or place in view.malformed or place in view.unseen_runs:
            why = "在文件中写法异常（重复写入、类型与内容不符或部分文字不可见）"
        if why is not None:
            row.set(name, Withheld(row.value_of(name), (
                IssueCode.code_name_mismatch,
                f"所在行的代码单元格 {cell_address(*place)} {why}，考核办看到的不是这一行的代码，无法确定是哪一项，{not_counted}；"
                "请将代码单元格恢复为模板原样（常规格式、黑色字体）后重新报送")))
            return True
    return False


def hidden_sheets(sheets) -> dict[str, str]:
    """Sheet name -> "hidden" | "veryHidden" for the sheets Excel does not show (the reader's grids carry it)."""
    return getattr(sheets, "hidden", None) or {}


def sheet_problem(file: str, layout, rows: list, sheets, name: str, not_counted: str,
                  read_sheets: Iterable[str] = ()) -> Issue | None:
    """The 错误 when the office cannot know the table from what it sees: the table is on a sheet Excel
    does not show, or another visible sheet holds the same table with other entries (the sheets of
    the file's other tables, `read_sheets`, are the office's own to look at and not searched)."""
    hidden = hidden_sheets(sheets)
    sheet = layout.sheet
    header_row = getattr(layout, "header_row", 0)
    first_col = min(c for _, c in layout.columns.values())
    if sheet in hidden:
        how = "深度隐藏（在 Excel 中无法直接取消隐藏）" if hidden[sheet] == "veryHidden" else "隐藏"
        return error(IssueCode.hidden_sheet,
                     f"表格所在的工作表「{sheet}」被{how}，考核办打开文件时看不到这张表，本表的{name}均{not_counted}；"
                     f"请在考核办下发的模板中填写（不要隐藏、复制或新建工作表）后重新报送",
                     file=file, sheet=sheet, cell=cell_address(header_row, first_col))
    keys = [key for key in KEY_COLUMNS if key in layout.columns]
    if not keys or name not in layout.columns:
        return None
    mine = None
    for other, grid in sheets.items():
        if other == sheet or other in hidden or not grid or other in read_sheets:
            continue
        table = locate_table(grid, keys + [name], scan_rows=60)
        if table is None:
            continue
        if mine is None:
            mine = _entries(((row.value_of(k) for k in keys + [name]) for row in rows))
        wanted = [table.columns[k] for k in keys + [name]]
        theirs = _entries(((r[c] if c < len(r) else "" for c in wanted) for r in grid[table.header_row + 1:]))
        if theirs != mine:
            return error(IssueCode.duplicate_table,
                         f"工作簿中另有工作表「{other}」也有含「{'」「'.join(keys + [name])}」的表格，且所填内容与工作表「{sheet}」不同，"
                         f"无法确定考核办看到的是哪一张，本表的{name}均{not_counted}；请删除多余的工作表，只保留一张后重新报送",
                         file=file, sheet=sheet, cell=cell_address(header_row, first_col))
    return None


def _entries(rows: Iterable[Iterable[object]]) -> list[tuple[str, ...]]:
    """A table's filled rows as texts, in order (what a person reading both sheets compares)."""
    found = []
    for values in rows:
        texts = tuple(clean_text(_unwrapped(v)) for v in values)
        if any(texts):
            found.append(texts)
    return found


def _unwrapped(value: object) -> object:
    return value.value if isinstance(value, Withheld) else value


def _typed(value: object) -> bool:
    return value.__class__ is not str or bool(value.strip())


def _shown_text(value: object) -> str:
    return plain_number(value) if value.__class__ is float else str(value).strip()


def guard_cell(row, name: str, position: int, col: int, view: SheetView, not_counted: str = "未计分",
               keep_empty: bool = False, grid: list[list] | None = None, formula_ok: bool = False) -> str | None:
    """The one rule for an input cell the office cannot read as typed: in a hidden row, written twice,
    under a merged range, in a font nobody can see, or a formula whose result does not follow from it,
    it is withheld (an 错误 when judged); a number whose format shows it otherwise, or a formula's
    result the tool cannot recompute (formula_ok: a value column), becomes Formatted; a text result
    the tool cannot recompute is read, and the 警告 text for the reader returned. keep_empty: an
    empty text cell in a hidden row stays as it is (a ballot's blank mark counts nothing either way)."""
    value = row.values[position]
    if row.row in view.hidden_rows:
        if not keep_empty or value.__class__ is not str or value.strip():
            row.set(name, Withheld(value, (IssueCode.hidden_cells,
                                           f"所在的第 {row.row + 1} 行被隐藏，考核办看不到此行，{not_counted}；请取消隐藏后重新报送")))
        return
    place = (row.row, col)
    if place in view.duplicates or place in view.malformed:
        row.set(name, Withheld(value, (IssueCode.malformed_cell,
                                       f"所在的单元格 {cell_address(*place)} 在文件中"
                                       f"{'被写入了两次' if place in view.duplicates else '的类型与内容不符'}（文件结构异常，Excel 打开时会提示修复），"
                                       f"无法确定所填的内容，{not_counted}；请用 Excel 或 WPS 打开此文件，核对后另存再报送")))
        return
    covered = view.covered.get(place)
    if covered is not None and _typed(value):
        row.set(name, Withheld(value, (IssueCode.hidden_cells,
                                       f"所在的单元格 {cell_address(*place)} 被合并到 {covered[0]} 中，只显示左上角 {covered[1]} 的内容，"
                                       f"所填的「{_shown_text(value)}」考核办看不到，{not_counted}；请取消合并后重新填写")))
        return
    if place in view.overlaid and _typed(value):
        row.set(name, Withheld(value, (IssueCode.hidden_cells,
                                       f"所在的单元格 {cell_address(*place)} 被{view.overlaid[place]}覆盖，考核办看到的可能不是所填的"
                                       f"「{_shown_text(value)}」，{not_counted}；请删除或移开{view.overlaid[place]}后重新报送")))
        return
    if place in view.unseen_runs and _typed(value):
        row.set(name, Withheld(value, (IssueCode.invisible_cell,
                                       f"单元格中的部分文字设置了白色、极小字号、删除线或上标/下标，所填的「{_shown_text(value)}」"
                                       f"与看到的不一致，{not_counted}；请清除单元格格式后重新填写")))
        return
    shown = view.formats.get(place)
    if shown is not None and shown[0] == FONT_HIDDEN and _typed(value):
        row.set(name, Withheld(value, (IssueCode.invisible_cell,
                                       f"单元格的字体颜色与底色相同（或字号过小），所填的「{_shown_text(value)}」看不见，{not_counted}；"
                                       "请将字体颜色改为黑色、字号改为常规后重新填写")))
        return
    rules = view.conditional.get(place)
    effect = conditional_effect(rules, value) if rules and _typed(value) else None
    if effect is not None and effect[0] == "font":
        row.set(name, Withheld(value, (IssueCode.invisible_cell,
                                       f"单元格的条件格式使字体颜色与底色相同（或为白色），所填的「{_shown_text(value)}」看不见，{not_counted}；"
                                       "请删除条件格式后重新填写")))
        return
    if effect is not None:
        shown = (CONDITIONAL, effect[1]) if effect[0] == "hide" else ("", f"条件格式 {effect[1]}")
    unchecked = None
    if place in view.formulas and value.__class__ in (float, str):
        formula = view.formulas[place]
        shown_formula = f"={formula[:80]}" if formula else "共享公式"
        result = evaluate(formula, grid, view.formula_cells) if formula else None
        if result is not None:
            if not _same(result, value):
                row.set(name, Withheld(value, (IssueCode.formula_mismatch,
                                               f"是公式 {shown_formula}，按公式计算应为 {_shown_text(result)}，文件中保存的计算结果却是 "
                                               f"{_shown_text(value)}（结果与公式不符，可能被改动过），{not_counted}；请直接填写数值后重新报送")))
                return
        elif "[" in formula or not formula_ok:
            why = "引用了其他工作簿（外部链接），考核办打开时结果可能改变" if "[" in formula else "考核办无法核对其计算结果"
            row.set(name, Withheld(value, (IssueCode.formula_unchecked,
                                           f"是公式 {shown_formula}，{why}，{not_counted}；请直接填写（不要使用公式）后重新报送")))
            return
        else:
            unchecked = shown_formula
    said = None
    if unchecked is not None and value.__class__ is str:
        # a text result (a grade from a lookup): read as cached, said by the reader at the cell
        said = (f"单元格 {cell_address(*place)} 是公式 {unchecked}，已按文件中保存的计算结果「{value.strip()}」读取；"
                f"考核办在 Excel 或 WPS 中打开时公式会重新计算，请核对显示的是否为「{value.strip()}」（建议直接填写）")
    if shown is None:
        if unchecked is not None and said is None:
            row.set(name, Formatted(value, FORMULA, unchecked))
        return said
    if value.__class__ in (float, int):
        verdict = (CONDITIONAL, "") if shown[0] == CONDITIONAL else shown_as(shown[1].removeprefix("条件格式 "), float(value))
        if verdict is not None:
            row.set(name, Formatted(value, verdict[0], shown[1], verdict[1]))
        elif unchecked is not None:
            row.set(name, Formatted(value, FORMULA, unchecked))
    elif value.__class__ is str and value.strip() and hides_text(shown[1]):
        # a grade or a 定性 value the office would not see as typed (hidden, or shown as other words)
        row.set(name, Withheld(value, (IssueCode.number_format,
                                       f"单元格的数字格式（{shown[1]}）使所填的「{value.strip()}」不显示或显示为其他内容，"
                                       f"考核办看到的与所填的不一致，{not_counted}；请将单元格格式改为“常规”后重新填写")))
        return None
    return said


def _same(result: object, value: object) -> bool:
    if isinstance(result, float) and value.__class__ is float:
        return abs(result - value) <= 1e-9 * max(1.0, abs(result))
    return isinstance(result, str) and value.__class__ is str and result == value


# ---------------------------------------------------------------- a formula recomputed

_TOKEN = re.compile(r'\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<ref>\$?[A-Z]{1,3}\$?[0-9]{1,7})(?![A-Za-z0-9_(!:.])'
                    r'|(?P<text>"(?:[^"]|"")*")|(?P<op>[-+*/^%()]))')


def evaluate(formula: str, grid: list[list] | None, formula_cells: set) -> float | str | None:
    """What Excel computes for a formula of numbers, same-sheet cells holding numbers, + - * / ^ % and
    brackets, or a lone text; None for anything else (functions, other sheets, ranges, text cells,
    cells that are formulas themselves, a division by zero): then it cannot be checked."""
    tokens, position, text = [], 0, formula.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
    if len(tokens) == 1 and tokens[0][0] == "text":
        return tokens[0][1][1:-1].replace('""', '"')
    if any(kind == "text" for kind, _ in tokens):
        return None
    parser = _Parser(tokens, grid, formula_cells)
    try:
        result = parser.expression()
    except (_Unknown, ZeroDivisionError, OverflowError, ValueError, IndexError):
        return None
    if parser.at != len(tokens) or not isinstance(result, float) or result != result or result in (float("inf"), float("-inf")):
        return None
    return result


class _Unknown(Exception):
    pass


class _Parser:
    """Excel's precedence: negation, then %, then ^ (left to right), then * /, then + -."""

    def __init__(self, tokens, grid, formula_cells):
        self.tokens, self.grid, self.formula_cells, self.at = tokens, grid, formula_cells, 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) and self.tokens[self.at][0] == "op" else None

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.at][1]
            self.at += 1
            value = value + self.term() if op == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.power()
        while self.peek() in ("*", "/"):
            op = self.tokens[self.at][1]
            self.at += 1
            value = value * self.power() if op == "*" else value / self.power()
        return value

    def power(self) -> float:
        value = self.percent()
        while self.peek() == "^":
            self.at += 1
            value = float(value ** self.percent())
        return value

    def percent(self) -> float:
        value = self.unary()
        while self.peek() == "%":
            self.at += 1
            value /= 100
        return value

    def unary(self) -> float:
        op = self.peek()
        if op in ("-", "+"):
            self.at += 1
            value = self.unary()
            return -value if op == "-" else value
        return self.primary()

    def primary(self) -> float:
        if self.at >= len(self.tokens):
            raise _Unknown
        kind, token = self.tokens[self.at]
        self.at += 1
        if kind == "number":
            return float(token)
        if kind == "ref":
            return self.cell(token.replace("$", ""))
        if token == "(":
            value = self.expression()
            if self.peek() != ")":
                raise _Unknown
            self.at += 1
            return value
        raise _Unknown

    def cell(self, reference: str) -> float:
        letters = reference.rstrip("0123456789")
        row, col = int(reference[len(letters):]) - 1, 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        col -= 1
        if self.grid is None or (row, col) in self.formula_cells:
            raise _Unknown
        value = self.grid[row][col] if row < len(self.grid) and col < len(self.grid[row]) else ""
        if value.__class__ is float:
            return value
        if value.__class__ is str and not value.strip():
            return 0.0  # an empty cell counts as 0
        raise _Unknown
