"""The input-kind registry: what one kind of input file is (every facet in one registration) and
the table of kinds (see kinds/__init__.py)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from kaohe_excel.base.layout import TableLayout


@dataclass(frozen=True)
class Template:
    """How `kaohe template` writes a kind's files: `write(scheme, out_dir, key=..., units=...)`
    returns the paths written, `plan(scheme, out_dir, units)` the paths it would write (checked
    before any is written). `scope`: "units" (written for the chosen units), "office" (only
    when all units are chosen), "lead" (only with --lead)."""

    write: str
    plan: str
    scope: str = "office"


@dataclass(frozen=True)
class InputKind:
    file_type: str  # the 文件类型 in the template's hidden sheet (base.layout owns the names)
    interpret: Callable  # (result, sheets): find the tables, fill result.kind/rows/claims/header, or add the issue
    judge: Callable  # (checker, result, proven): validate one file of this kind (checker: validate._Validator)
    tables: tuple[TableLayout, ...] = ()  # the tables read; their headers are the ones doubled headers are looked for
    office: bool = True  # written by the office: a 校验码 from the office key is required
    alone: bool = True  # judged in the reading worker; False when its checks need every file
    empty_cells: Callable | None = None  # (result) -> [(row, column)]: overrides `scored` (the 测评 marks)
    guard: Callable | None = None  # (file, records, sheets, known_headers, view_of) -> issues; None: table_guard.guard
    detect: bool = False  # looked for in a file without 文件类型 (a table copied into a new workbook)
    template: Template | None = None
    sample: str = ""  # "module:function" (context) -> paths, filling the sample inbox


    @property
    def scored(self) -> tuple[str, ...]:
        """The scored input of each of its tables (TableLayout.scored), once each: the cells the guard
        checks, and whose empty cell is looked at again in the XML (a formula, an error value)."""
        return self._scored

    def __post_init__(self) -> None:
        object.__setattr__(self, "_scored", tuple(dict.fromkeys(table.scored for table in self.tables)))


KINDS: dict[str, InputKind] = {}
_KNOWN_HEADERS: list[set[str]] = []  # known_headers(), made once per registry state


def register(kind: InputKind) -> InputKind:
    """Add (or replace) a kind; registration order is the order of detection, templates and samples."""
    KINDS[kind.file_type] = kind
    _KNOWN_HEADERS.clear()
    return kind


def unregister(file_type: str) -> None:
    KINDS.pop(file_type, None)
    _KNOWN_HEADERS.clear()


def distinct() -> list[InputKind]:
    """Every kind, in registration order."""
    return list(KINDS.values())


def known_headers() -> set[str]:
    """Every header any kind's tables need or know: a doubled one in a table is an error (read per file)."""
    if not _KNOWN_HEADERS:
        _KNOWN_HEADERS.append({name for kind in KINDS.values() for table in kind.tables for name in table.required + table.optional})
    return _KNOWN_HEADERS[0]


def resolve(target: str) -> Callable:
    """"module:function" to the function (for the facets that live in later stages)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
