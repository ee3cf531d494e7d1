"""Hand memory back to the system between pipeline stages.

pandas keeps text columns in Arrow buffers, and Arrow's allocator (mimalloc) holds on to freed
blocks for reuse. A stage that builds a large temporary table (the scheme's unit × indicator
cross product at load, the audit sheets of the summary) would otherwise leave the process that
much larger for the rest of the run, and a worker forked from it would start that large too.
"""

from __future__ import annotations


def release_unused() -> None:
    """Return the Arrow pool's free blocks to the system (a no-op when there are none)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return
    pa.default_memory_pool().release_unused()
