"""The scoring methods (计分方法): one registration per method carrying every facet.

A method is one module of this package: its score (with its explanation), its inverse for the
gap analysis and a `register(Method(...))` call. Everything else reads the registry: the scheme
check (the method's name, which parameters it requires, allows or refuses, its own parameter
checks), scoring, the gap analysis, progress mode and docs/methods.md. Adding a method is one
module plus its import at the bottom of this file (or a `register` call from anywhere, e.g. a
test): no other file names methods.

Dependencies go one way: methods → (explain, methods.mirror, methods._inverse); score.py,
gap.py, progress.py and scheme.py → methods.
"""

from __future__ import annotations

from .registry import LABELS, METHODS, NOT_ALLOWED, OPTIONAL, PARAMETERS, PROGRESS_ROLES, REQUIRED, STATUSES, VALUE_KINDS, Check, Method, docs_table, full_as_target, group_relative, listing, names, register, skipped_in_progress, unregister, users, with_value  # noqa: F401

# the product's methods, in the order the scheme guide and the error message list them
from . import completion  # noqa: E402,F401
from . import base_full  # noqa: E402,F401
from . import efficacy  # noqa: E402,F401
from . import tiered  # noqa: E402,F401
from . import shortfall  # noqa: E402,F401
from . import ranking  # noqa: E402,F401
from . import relative_best  # noqa: E402,F401
from . import qualitative  # noqa: E402,F401
from . import deduction  # noqa: E402,F401
