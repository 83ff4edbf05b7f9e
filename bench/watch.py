"""Benchmark: save-to-served time of `esb watch` (file write -> first HTTPS answer with the new code), process and docker engines."""

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
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

REPO = Path(__file__).resolve().parent.parent
# bench/docker.py (a sibling script) would shadow the docker SDK: drop this script's own directory from the path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

from esb.cli import main as esb_main  # noqa: E402
from esb.paths import P  # noqa: E402
from esb.project import load_project  # noqa: E402
from esb.build.context import build_context  # noqa: E402
from esb.watch.loop import Watcher  # noqa: E402
from esb.watch.link import RunningBox  # noqa: E402

HANDLER = "def handler(event, context):\n    return {{'statusCode': 200, 'body': '{version}'}}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def esb(project: Path, *argv: str) -> int:
    return esb_main(["-t", str(project / "template.yaml"), *argv])


def save_to_served(client: httpx.Client, handler: Path, version: str, timeout_s: float = 30.0) -> float:
    handler.write_text(HANDLER.format(version=version))
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        answer = client.get("/hello")
        if answer.text == version:
            return time.monotonic() - start
        time.sleep(0.002)
    raise RuntimeError(f"version {version} not served within {timeout_s}s: {answer.status_code} {answer.text[:200]}")


@dataclass
class Samples:
    """Per-save timings of one engine (seconds)."""

    engine: str
    totals: list[float] = field(default_factory=list)
    detects: list[float] = field(default_factory=list)
    builds: list[float] = field(default_factory=list)
    batches: list[float] = field(default_factory=list)
    images: list[float] = field(default_factory=list)  # docker only: time inside `docker build` of the function


class ImageBuildTimer:
    """Wraps the image task's `build_function_image` (looked up at call time) to sum the docker build time."""

    def __init__(self) -> None:
        self.spent = 0.0

    @contextmanager
    def installed(self) -> Iterator[None]:
        import esb.build.image_tasks as image_tasks

        real = image_tasks.build_function_image

        def timed(*args: Any, **kwargs: Any) -> str:
            start = time.monotonic()
            try:
                return real(*args, **kwargs)
            finally:
                self.spent += time.monotonic() - start

        image_tasks.build_function_image = timed
        try:
            yield
        finally:
            image_tasks.build_function_image = real


def remove_images(stack: str) -> None:
    """The function images this run built (one per save: each save is a new content tag)."""
    import docker

    client = docker.from_env()
    try:
        for image in client.images.list():
            if any(tag.startswith(f"esb/{stack}/") for tag in image.tags):
                client.images.remove(image.id, force=True)
    finally:
        client.close()


def run(rounds: int, workdir: Path, engine: str = "process") -> Samples:
    # The docker box gets a unique stack name: its containers are labelled with it (no clash with other boxes).
    project = workdir / ("sample" if engine == "process" else f"bwatch{uuid.uuid4().hex[:8]}")
    shutil.copytree(P.sample, project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    os.environ["ESB_GATEWAY_PORT"] = str(free_port())
    if esb(project, "up", "-d", "--engine", engine) != 0:
        raise SystemExit(f"esb up --engine {engine} failed")
    samples, timer = Samples(engine), ImageBuildTimer()
    try:
        ctx = build_context(load_project(str(project / "template.yaml"), cwd=project, env={}))
        watcher = Watcher(ctx, box=RunningBox(ctx.tree), say=lambda line: print(line, file=sys.stderr) if os.environ.get("BENCH_VERBOSE") else None)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), kwargs={"initial": False}, daemon=True)
        with timer.installed():
            thread.start()
            watcher.armed.wait(10)
            tree = ctx.tree
            from esb.box import state as boxstate

            state = boxstate.read(tree.state)
            assert state is not None
            handler = project / "functions" / "hello" / "app.py"
            with httpx.Client(base_url=state.gateway_url, verify=state.ca_file, timeout=30.0) as client:
                save_to_served(client, handler, "warmup")
                for i in range(rounds):
                    time.sleep(0.3)  # a developer does not save twice within a debounce step
                    count = watcher.batches
                    watcher.wait_batches(count, 5)
                    timer.spent = 0.0
                    written = time.monotonic()
                    total = save_to_served(client, handler, f"v{i}")
                    watcher.wait_batches(count + 1, 30)
                    last = watcher.last
                    assert last is not None and last.ok, last
                    samples.totals.append(total)
                    samples.builds.append(last.build_s)
                    samples.batches.append(last.total_s)
                    samples.detects.append(last.started_at - written)
                    samples.images.append(timer.spent)
            stop.set()
            thread.join(10)
    finally:
        esb(project, "down")
        if engine == "docker":
            remove_images(project.name)
    return samples


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def report(s: Samples) -> None:
    med = statistics.median
    print(f"save-to-served over {len(s.totals)} saves (trivial handler, {s.engine} engine, HTTPS through the gateway):")
    print(f"  median {ms(med(s.totals))}  (min {ms(min(s.totals))}, max {ms(max(s.totals))})")
    print(f"  detect (write -> batch start, watchfiles step 50 ms): median {ms(med(s.detects))}")
    what = "template load + doit pipeline" + (" incl. image tasks" if s.engine == "docker" else "")
    print(f"  build ({what}): median {ms(med(s.builds))} = {med(s.builds) / med(s.totals) * 100:.0f}% of save-to-served")
    if s.engine == "docker":
        print(f"    of which `docker build` of the function image: median {ms(med(s.images))}"
              f" = {med(s.images) / med(s.totals) * 100:.0f}% of save-to-served")
    print(f"  whole batch (load + syntax check + build + reload): median {ms(med(s.batches))}")
    rest = [t - d - b for t, d, b in zip(s.totals, s.detects, s.batches)]
    print(f"  after the batch (first request: new sandbox cold start + invoke): median {ms(med(rest))}")
    if s.engine == "process":
        print(f"  target <= 1500 ms median: {'met' if med(s.totals) <= 1.5 else 'MISSED'}")


def compare(process: Samples, docker: Samples) -> None:
    med = statistics.median
    print("process vs docker (medians):")
    rows = [("save-to-served", process.totals, docker.totals), ("detect", process.detects, docker.detects),
            ("build", process.builds, docker.builds), ("batch", process.batches, docker.batches)]
    for label, p, d in rows:
        print(f"  {label:<15} process {ms(med(p)):>8}   docker {ms(med(d)):>8}   ratio {med(d) / med(p):.1f}x")
    print(f"  {'docker build':<15} process {'-':>8}   docker {ms(med(docker.images)):>8}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--engine", choices=("process", "docker", "both"), default="process")
    args = parser.parse_args()
    engines = ("process", "docker") if args.engine == "both" else (args.engine,)
    results: dict[str, Samples] = {}
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="esb-bench-watch-") as tmp:
            results[engine] = run(args.rounds, Path(tmp), engine)
        report(results[engine])
    if len(results) == 2:
        compare(results["process"], results["docker"])


if __name__ == "__main__":
    cli()
