"""End to end: a function in a crash loop is answered 502 at once for the breaker window, then tried again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from esb.box.status import render_text

from boxkit import copy_app, eventually, read_status, running_box

pytestmark = pytest.mark.integration


def _function(project: Path, name: str) -> dict:
    return next(fn for fn in read_status(project)["functions"] if fn["name"] == name)


def test_crash_loop_is_refused_without_sandboxes_then_tried_again(tmp_path: Path) -> None:
    project = copy_app("e2e", tmp_path)
    (project / "generator.yml").write_text("breaker:\n  failures: 3\n  window: 2\n", encoding="utf-8")
    with running_box(project) as box:
        for _ in range(3):
            assert box.client.get("/respond/crash").status_code == 502
        sandboxes = _function(project, "e2e-responses")["sandboxes"]
        started = time.perf_counter()
        refused = box.client.get("/respond/text")  # a healthy request, but the breaker is open
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert refused.status_code == 502
        print(f"refused by the open breaker in {elapsed_ms:.1f} ms")
        status = _function(project, "e2e-responses")
        assert status["breaker"]["state"] == "open" and status["sandboxes"] == sandboxes
        line = next(li for li in render_text(read_status(project)).splitlines() if li.startswith("e2e-responses"))
        assert "[crash loop: 502 for" in line
        # After the window, one trial call goes through and closes the breaker.
        eventually(lambda: box.client.get("/respond/text").status_code == 200, timeout_s=10)
        assert _function(project, "e2e-responses")["breaker"]["state"] == "closed"
