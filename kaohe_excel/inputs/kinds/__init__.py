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

from .registry import KINDS, InputKind, Template, distinct, known_headers, register, resolve, unregister  # noqa: F401

# the product's kinds, in the order a copied table is searched for, templates are written and
# the sample inbox is filled
from . import unit_form, assessment, lead, appeal, rating  # noqa: E402

for _kind in (unit_form.KIND, assessment.KIND, lead.KIND, appeal.KIND, *rating.KINDS):
    register(_kind)
