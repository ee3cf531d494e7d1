"""Hand memory back to the system between pipeline stages.

pandas keeps text columns in Arrow buffers, and Arrow's allocator (mimalloc) holds on to freed
blocks for reuse. A stage that builds a large temporary table (the scheme's unit × indicator
cross product at load, the audit sheets of the summary) would otherwise leave the process that
much larger for the rest of the run, and a worker forked from it would start that large too.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from contextlib import contextmanager
from typing import Iterator


def _libc_trim():
    """glibc's malloc_trim, which returns the free parts of the C heap (Python objects, numpy)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the running program's own symbols: ctypes.util.find_library would start a subprocess
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return None


_TRIM = _libc_trim()


def release_unused() -> None:
    """Return the Arrow pool's free blocks, and on glibc the C heap's, to the system."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pa = None
    if pa is not None:
        pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


@contextmanager
def cycles_collected() -> Iterator[None]:
    """Free the reference cycles the block leaves behind as soon as it ends, then release_unused.

    A python-docx document's package and parts refer to each other and lxml keeps their XML in the
    C heap: a notice written for 10,000 units would otherwise hold ~250 MB until the next full
    collection. Only objects made during the block are examined: those from before are frozen
    meanwhile, so the collection takes milliseconds instead of a walk over the whole heap.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()
        release_unused()
