"""Benchmark: the foreground console's cost per request (target <= 0.1 ms): rendering alone, and warm calls
through a real box (process engine) with and without a console following its log store.

    python bench/console.py [--calls 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

from esb.box.console import LiveConsole  # noqa: E402
from esb.cli import main as esb_main  # noqa: E402
from esb.paths import P  # noqa: E402

TRACE = "1-5f84c7a1-{:024x}"
_FOLLOWER = ("import sys, threading, pathlib; from esb.box.console import attach; from esb.project import load_project; "
             "attach(load_project(sys.argv[1], cwd=pathlib.Path.cwd(), env={}), threading.Event()); "
             "threading.Event().wait()")


def _group(i: int) -> list[dict]:
    trace = TRACE.format(i)
    base = {"time": "2026-11-29T10:00:01.200Z", "level": "info", "source": "sandbox", "function": "hello",
            "request_id": f"lambda-{i}", "trace_id": trace}
    return [
        {**base, "message": f"START RequestId: lambda-{i}", "event": "START"},
        {**base, "message": "hello from the handler"},
        {**base, "message": f"END RequestId: lambda-{i}", "event": "END"},
        {"time": "2026-11-29T10:00:01.250Z", "level": "info", "source": "gateway", "function": "hello",
         "request_id": f"req-{i}", "trace_id": trace, "message": "GET /hello 200", "method": "GET", "path": "/hello",
         "status": 200, "latency_ms": 2.5},
        {**base, "message": f"REPORT RequestId: lambda-{i}", "event": "REPORT"},
    ]


def render_cost(requests: int, color: bool) -> float:
    """Microseconds of console work per request: 5 records parsed from the log store's JSON lines, 2 lines
    written (to /dev/null)."""
    raw = [[json.dumps(record) for record in _group(i)] for i in range(requests)]
    with open(os.devnull, "w") as sink:
        console = LiveConsole(sink, color=color)
        started = time.perf_counter()
        for group in raw:
            for line in group:
                console.add(json.loads(line))
        return (time.perf_counter() - started) / requests * 1e6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _latencies(client: httpx.Client, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get("/hello").raise_for_status()
        times.append((time.perf_counter() - started) * 1000.0)
    return times


def box_overhead(calls: int, rounds: int) -> tuple[float, float]:
    """Median warm-call latency (ms) without and with a console attached, alternating rounds."""
    work = Path(tempfile.mkdtemp(prefix="esb-bench-console-"))
    project = work / "sample"
    shutil.copytree(P.sample, project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    port = _free_port()
    os.environ.update({"ESB_GATEWAY_PORT": str(port), "ESB_AWS_PORT": str(_free_port())})
    template = str(project / "template.yaml")
    assert esb_main(["-t", template, "up", "-d", "--engine", "process"]) == 0
    without, with_console = [], []
    try:
        ca = ssl.create_default_context(cafile=str(project / ".esb" / "secrets" / "tls" / "ca.pem"))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ca, timeout=30) as client:
            _latencies(client, 50)  # warm the sandbox and the connection
            for _ in range(rounds):
                without += _latencies(client, calls)
                # The console in its own process, as the foreground `esb up` runs it beside the box.
                follower = subprocess.Popen([sys.executable, "-c", _FOLLOWER, template],
                                            stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
                time.sleep(1.0)
                with_console += _latencies(client, calls)
                follower.terminate()
                follower.wait()
    finally:
        esb_main(["-t", template, "down"])
        shutil.rmtree(work, ignore_errors=True)
    return statistics.median(without), statistics.median(with_console)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for color in (False, True):
        cost = statistics.median(render_cost(2000, color) for _ in range(5))
        print(f"console rendering per request ({'colour' if color else 'plain'}): {cost:.1f} us")
    plain, consoled = box_overhead(args.calls, args.rounds)
    print(f"warm call median without console: {plain:.3f} ms, with console: {consoled:.3f} ms, "
          f"difference {consoled - plain:+.3f} ms ({args.rounds}x{args.calls} calls each)")


if __name__ == "__main__":
    main()
