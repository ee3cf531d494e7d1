"""The kinds of input file, one registration each carrying every facet of the kind.

A kind is one module in this package that calls `register(InputKind(...))`: how its tables
are found in a workbook's sheets (`interpret`), how one file of it is judged against the scheme
(`judge`, with the validator's shared row checks), which of its input cells are looked at again
when calamine returns them empty, which guard looks at what the office sees, and the functions
that write its template (`template`) and fill it for the sample inbox (`sample`). Reading
(read.py), validation (validate.py), `kaohe template`, `kaohe init` and the sample inbox all go
through `KINDS`; none of them names a kind.

The template writer and the sample filler live in later stages (outputs/, samples/), so they
are named here as "module:function" and resolved by the caller, which sits above them.

Example, a kind registered from a test (tests/test_input_kinds.py)::

    kinds.register(InputKind(file_type="考勤表", interpret=..., judge=..., tables=(TABLE,)))
"""

from __future__ import annotations

import importlib
from typing import Callable

from kaohe_excel.inputs.kinds import appeal, assessment, lead, rating, unit_form
from kaohe_excel.inputs.kinds.kind import InputKind, Template


KINDS: dict[str, InputKind] = {}


def register(kind: InputKind) -> InputKind:
    """Add (or replace) a kind; registration order is the order of detection, templates and samples."""
    KINDS[kind.file_type] = kind
    for alias in kind.aliases:
        KINDS[alias] = kind
    return kind


def unregister(file_type: str) -> None:
    kind = KINDS.pop(file_type, None)
    for alias in kind.aliases if kind else ():
        KINDS.pop(alias, None)


def distinct() -> list[InputKind]:
    """Every kind once, in registration order."""
    return list({id(kind): kind for kind in KINDS.values()}.values())


def known_headers() -> set[str]:
    """Every header any kind's tables need or know: a doubled one in a table is an error."""
    return {name for kind in distinct() for table in kind.tables for name in table.required + table.optional}


def resolve(target: str) -> Callable:
    """"module:function" to the function (for the facets that live in later stages)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# The kinds of this product, in the order a copied table is searched for, templates are
# written and the sample inbox is filled.
for _kind in (unit_form.KIND, assessment.KIND, lead.KIND, appeal.KIND, *rating.KINDS):
    register(_kind)

__all__ = ["InputKind", "Template", "KINDS", "register", "unregister", "distinct", "known_headers", "resolve"]
