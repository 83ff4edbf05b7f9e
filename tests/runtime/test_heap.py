"""A part's heap around its start: no collection while it imports, its free pages handed back once it serves."""

from __future__ import annotations

import gc
import json
import platform
import subprocess
import sys

import pytest

from esb_runtime import heap

# In a child: 40 MB of 2 KB blocks from the C heap (above pymalloc's small-object limit), all freed but the
# newest, which pins the heap's top so glibc cannot shrink it by itself.
SCRIPT = """
import json
from esb_runtime.heap import release_free_memory

def rss_kb():
    return next(int(line.split()[1]) for line in open("/proc/self/smaps_rollup") if line.startswith("Rss:"))

blocks = [bytes(2048) for _ in range(20_000)]
keep = blocks[-1]
del blocks
before = rss_kb()
released = release_free_memory()
print(json.dumps({"released": released, "freed_kb": before - rss_kb()}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_pages_leave_the_rss() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout)
    assert out["released"] is True
    assert out["freed_kb"] > 20_000



STARTING = """
import gc, json
from esb_runtime import heap
heap.starting()
off = not gc.isenabled()
import email.message, http.client  # what a part imports while it starts
heap.started()
print(json.dumps({"off_while_starting": off, "on_after": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_no_collection_while_a_part_starts_and_its_start_objects_frozen_after() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", STARTING], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["off_while_starting"] and out["on_after"] and out["frozen"] > 1000


def test_the_collector_is_paused_while_a_command_runs_and_back_after_it_returned_or_failed() -> None:
    seen: list[bool] = []

    @heap.collection_paused()
    def start(fail: bool) -> None:
        seen.append(gc.isenabled())
        if fail:
            raise RuntimeError("part exited")

    assert gc.isenabled()
    start(False)
    with pytest.raises(RuntimeError):
        start(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # someone else's choice stands
    try:
        start(False)
        assert not gc.isenabled()
    finally:
        gc.enable()
