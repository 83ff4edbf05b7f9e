"""End to end: the gateway holds leases from the manager and calls the sandbox's RIE itself (issue 14)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from boxkit import copy_app, eventually, read_status, running_box

pytestmark = pytest.mark.integration


def _sandboxes(project: Path, function: str) -> list[dict]:
    return [sb for sb in read_status(project)["sandboxes"] if sb["function"] == function]


def test_leases_across_gateway_workers_keep_one_call_per_sandbox_and_recycle(tmp_path: Path) -> None:
    project = copy_app("e2e", tmp_path)
    template = project / "template.yaml"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("FunctionName: e2e-echo\n", "FunctionName: e2e-echo\n"
                                     "      ReservedConcurrentExecutions: 1\n"), encoding="utf-8")
    with running_box(project, env={"ESB_GATEWAY_WORKERS": "2"}) as box:
        traces = [f"Root=1-6a000000-{i:024x};Sampled=1" for i in range(12)]

        def call(trace: str) -> tuple[int, dict]:
            answer = box.client.get("/echo/lease", headers={"X-Amzn-Trace-Id": trace})
            return answer.status_code, answer.json() if answer.status_code == 200 else {}

        # Twelve at once on one sandbox, from two workers: the RIE would panic on an overlap; each waits its turn.
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(call, traces))
        assert [status for status, _ in answers] == [200] * 12
        assert [body["trace"] for _, body in answers] == traces  # each call saw its own trace
        assert len({body["request_id"] for _, body in answers}) == 12
        # Every lease comes back: a gateway worker keeps its last one for a second of idleness (kept leases).
        assert eventually(lambda: [(sb["state"], sb["invocations"]) for sb in _sandboxes(project, "e2e-echo")]
                          == [("idle", 12)], 10)

        # A timeout recycles the sandbox the gateway called; the next call gets a fresh one.
        assert box.client.get("/slow").status_code == 502  # a function timeout, as API Gateway answers it
        timed_out = {sb["id"] for sb in _sandboxes(project, "e2e-slow")}
        assert eventually(lambda: not ({sb["id"] for sb in _sandboxes(project, "e2e-slow")} & timed_out), 10)
        assert box.client.get("/echo/again").status_code == 200
