"""A table row as the readers hand it to validation: the raw values of the wanted columns with
where they were found. Shared by read.py and the 测评 reader (rating_read.py) without either
importing the other."""

from __future__ import annotations

from dataclasses import dataclass

from kaohe_excel.base.tables import cell_address


@dataclass(frozen=True)
class FormulaWithoutValue:
    """An input cell holding a formula with no cached result (the file was never
    recalculated by Excel/WPS); calamine reads such a cell as empty."""

    formula: str

    def __str__(self) -> str:  # inert wherever a value is shown as text
        return ""


@dataclass(slots=True)
class Cell:
    """A raw value with where it was found (sheet name, 0-based row and column)."""

    value: object
    sheet: str
    row: int
    col: int

    @property
    def cell(self) -> str:
        """The A1 address; built on demand, most cells are never named in a message."""
        return cell_address(self.row, self.col)


class _Layout:
    """Where a table's wanted columns are: shared by all its rows (pickled once per file)."""

    __slots__ = ("sheet", "columns", "header_row")

    def __init__(self, sheet: str, columns: dict[str, tuple[int, int]], header_row: int = -1):
        self.sheet = sheet
        self.columns = columns  # header -> (position in Row.values, 0-based column)
        self.header_row = header_row  # 0-based

    def __getstate__(self):
        return self.sheet, self.columns, self.header_row

    def __setstate__(self, state) -> None:
        self.sheet, self.columns, self.header_row = state


class Row:
    """One table row: the raw values of the wanted columns only, read like a mapping of
    header -> Cell (a Cell is made when asked for: a row costs a tuple, not a dict of objects)."""

    __slots__ = ("layout", "row", "values")

    def __init__(self, layout: _Layout, row: int, values: tuple):
        self.layout = layout
        self.row = row  # 0-based
        self.values = values

    def __getstate__(self):
        return self.layout, self.row, self.values

    def __setstate__(self, state) -> None:
        self.layout, self.row, self.values = state

    def __getitem__(self, name: str) -> Cell:
        position, col = self.layout.columns[name]
        return Cell(self.values[position], self.layout.sheet, self.row, col)

    def get(self, name: str, default: Cell | None = None) -> Cell | None:
        found = self.layout.columns.get(name)
        if found is None:
            return default
        return Cell(self.values[found[0]], self.layout.sheet, self.row, found[1])

    def value_of(self, name: str, default: object = None) -> object:
        """The raw value alone, without making a Cell (validation's per-row fast path)."""
        found = self.layout.columns.get(name)
        return default if found is None else self.values[found[0]]

    def __contains__(self, name: object) -> bool:
        return name in self.layout.columns

    def keys(self):
        return self.layout.columns.keys()

    def set(self, name: str, value: object) -> None:
        values = list(self.values)
        values[self.layout.columns[name][0]] = value
        self.values = tuple(values)
