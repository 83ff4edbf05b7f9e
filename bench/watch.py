"""Benchmark: save-to-served time of `esb watch` (file write -> first HTTPS answer with the new code), process engine."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from esb.cli import main as esb_main  # noqa: E402
from esb.paths import P  # noqa: E402
from esb.project import load_project  # noqa: E402
from esb.tasks.context import build_context  # noqa: E402
from esb.watch import Watcher  # noqa: E402
from esb.watch_box import RunningBox  # noqa: E402

HANDLER = "def handler(event, context):\n    return {{'statusCode': 200, 'body': '{version}'}}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def esb(project: Path, *argv: str) -> int:
    return esb_main(["-t", str(project / "template.yaml"), *argv])


def save_to_served(client: httpx.Client, handler: Path, version: str, timeout_s: float = 10.0) -> float:
    handler.write_text(HANDLER.format(version=version))
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        answer = client.get("/hello")
        if answer.text == version:
            return time.monotonic() - start
        time.sleep(0.002)
    raise RuntimeError(f"version {version} not served within {timeout_s}s: {answer.status_code} {answer.text[:200]}")


def run(rounds: int, workdir: Path) -> None:
    project = workdir / "sample"
    shutil.copytree(P.sample, project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    os.environ["ESB_GATEWAY_PORT"] = str(free_port())
    if esb(project, "up", "-d", "--engine", "process") != 0:
        raise SystemExit("esb up failed")
    try:
        ctx = build_context(load_project(str(project / "template.yaml"), cwd=project, env={}))
        watcher = Watcher(ctx, box=RunningBox(ctx.tree), say=lambda line: print(line, file=sys.stderr) if os.environ.get("BENCH_VERBOSE") else None)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), kwargs={"initial": False}, daemon=True)
        thread.start()
        watcher.armed.wait(10)
        tree = ctx.tree
        from esb import boxstate

        state = boxstate.read(tree.state)
        assert state is not None
        handler = project / "functions" / "hello" / "app.py"
        totals, builds, detects, batches = [], [], [], []
        with httpx.Client(base_url=state.gateway_url, verify=state.ca_file, timeout=30.0) as client:
            save_to_served(client, handler, "warmup")
            for i in range(rounds):
                time.sleep(0.3)  # a developer does not save twice within a debounce step
                count = watcher.batches
                written = time.monotonic()
                total = save_to_served(client, handler, f"v{i}")
                watcher.wait_batches(count + 1, 5)
                last = watcher.last
                assert last is not None and last.ok, last
                totals.append(total)
                builds.append(last.build_s)
                batches.append(last.total_s)
                detects.append(last.started_at - written)
        stop.set()
        thread.join(10)
    finally:
        esb(project, "down")
    med = statistics.median
    print(f"save-to-served over {rounds} saves (trivial handler, process engine, HTTPS through the gateway):")
    print(f"  median {med(totals) * 1000:.0f} ms  (min {min(totals) * 1000:.0f}, max {max(totals) * 1000:.0f})")
    print(f"  detect (write -> batch start, watchfiles step 50 ms): median {med(detects) * 1000:.0f} ms")
    print(f"  build (template load + doit pipeline): median {med(builds) * 1000:.0f} ms"
          f" = {med(builds) / med(totals) * 100:.0f}% of save-to-served")
    print(f"  whole batch (load + syntax check + build + reload): median {med(batches) * 1000:.0f} ms")
    print(f"  target <= 1500 ms median: {'met' if med(totals) <= 1.5 else 'MISSED'}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="esb-bench-watch-") as tmp:
        run(args.rounds, Path(tmp))


if __name__ == "__main__":
    cli()
