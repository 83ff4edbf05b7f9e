"""How a long-lived part treats its heap while it starts, and after (issue 14: start in a second, idle memory).

While a part starts it imports hundreds of modules and builds objects that all live on; the cyclic garbage
collector, triggered by the allocation count, walks them again and again (15% of the stores' start CPU, on the
critical path of `esb up`). So a part turns it off first thing (`starting`) and, once its imports are done
(`started`), freezes what it built (the collector never looks at those objects again) and turns it back on.

A part that parsed big documents while starting (the stores: botocore's models) also frees much of that memory
again, but glibc's allocator keeps the freed pages mapped, counted in the RSS for the process's whole life:
`release_free_memory` hands them back with malloc_trim(0) (measured on the stores: 5 MB of 74).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


def starting() -> None:
    """No cyclic garbage collection until `started`. Call it first thing in the part's entry point."""
    gc.disable()


def started() -> None:
    """Objects made so far frozen, the collector back on. Call it once the imports are done, before work that
    leaves garbage behind (a restore): frozen garbage would never be collected."""
    gc.freeze()  # not collected first: a full pass is what `starting` saved, and imports leave little garbage
    gc.enable()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection inside the block, on again after it (if it was on): for a short-lived command's busy
    stretch (`esb up` importing boto3 and making its clients), where nothing is frozen for later."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def release_free_memory() -> bool:
    """Ask the C allocator to return its free pages; whether any were (False also where the C library has no
    malloc_trim, as musl). No garbage collection first: it freed nothing more on the stores, and a full pass
    holds the GIL for ~50 ms just as `esb up` starts provisioning."""
    import ctypes  # here: only the stores trim their heap

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # musl and others have no malloc_trim: nothing to give back this way
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))  # ctypes lets other threads run meanwhile: it holds no GIL
