"""Benchmark: container vs process sandbox cold start and warm RIE latency, warm latency through the
gateway of a real box on both engines, and function image build times (prints medians)."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this module would shadow the SDK.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import docker  # noqa: E402
import httpx  # noqa: E402

from esb.cli import main as esb_main  # noqa: E402
from esb.build.images import BASE_ALIAS, build_function_image, ensure_base_image, function_image_tag
from esb.paths import cache_dir
from esb.build.rie import ensure_rie
from esb_runtime.engine import Engine, SandboxSpec
from esb_runtime.manager.docker_engine import DockerEngine, remove_project

HANDLER = "def handler(event, context):\n    return {'ok': True, 'echo': event}\n"


def make_context(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(HANDLER)
    (root / "Dockerfile").write_text(f'FROM {BASE_ALIAS}\nCOPY src/ /var/task/\nCMD ["app.handler"]\n')
    return root


def spec_for(code_dir: Path, image: str | None) -> SandboxSpec:
    return SandboxSpec(function="bench", config_hash="bench", handler="app.handler", runtime="python3.11",
                       code_dir=code_dir, deps_dir=None, layer_dirs=(), environment={}, memory_mb=128,
                       timeout_s=3, image=image)


def cold_starts(engine: Engine, spec: SandboxSpec, client: httpx.Client, runs: int) -> tuple[list[float], list[float]]:
    """(start → ready ms, start → first answer ms) per run."""
    ready, first = [], []
    for _ in range(runs):
        began = time.perf_counter()
        sandbox = engine.start(spec, lambda _line: None)
        ready.append((time.perf_counter() - began) * 1000)
        client.post(sandbox.invoke_url, content=b"{}").raise_for_status()
        first.append((time.perf_counter() - began) * 1000)
        engine.stop(sandbox)
    return ready, first


def warm_latency(engine: Engine, spec: SandboxSpec, client: httpx.Client, calls: int) -> list[float]:
    sandbox = engine.start(spec, lambda _line: None)
    try:
        body = json.dumps({"n": 1}).encode()
        client.post(sandbox.invoke_url, content=body).raise_for_status()  # init outside the samples
        samples = []
        for _ in range(calls):
            began = time.perf_counter()
            client.post(sandbox.invoke_url, content=body).raise_for_status()
            samples.append((time.perf_counter() - began) * 1000)
        return samples
    finally:
        engine.stop(sandbox)


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:<34} median {statistics.median(samples):8.1f} ms   p95 {p95:8.1f} ms   (n={len(samples)})"


def process_engine(rie: Path) -> Engine | None:
    try:
        from esb_runtime.manager.process_engine import ProcessEngine
    except ImportError:
        return None
    return ProcessEngine(rie)


def _esb(project: Path, *argv: str, port: int | None = None) -> str:
    """The esb CLI in-process from `project`; returns what it printed."""
    from contextlib import redirect_stdout

    cwd, out = Path.cwd(), io.StringIO()
    os.chdir(project)
    if port:
        os.environ["ESB_GATEWAY_PORT"] = str(port)
    try:
        with redirect_stdout(out):
            code = esb_main(["-t", str(project / "template.yaml"), *argv])
    finally:
        os.chdir(cwd)
        os.environ.pop("ESB_GATEWAY_PORT", None)
    if code != 0:
        raise SystemExit(f"esb {' '.join(argv)} failed ({code}):\n{out.getvalue()[-2000:]}")
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_latency(root: Path, engine: str, calls: int) -> list[float]:
    """Warm GET /hello through the HTTPS gateway of `esb up -d --engine <engine>` (sample app)."""
    import ssl

    project = root / f"bench{engine}{uuid.uuid4().hex[:6]}"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "sample", project)
    port = _free_port()
    _esb(project, "up", "-d", "--engine", engine, port=port)
    try:
        verify = ssl.create_default_context(cafile=str(project / ".esb" / "secrets" / "tls" / "ca.pem"))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=verify, timeout=30) as client:
            for _ in range(5):  # cold start and connection set-up outside the samples
                client.get("/hello").raise_for_status()
            samples = []
            for _ in range(calls):
                began = time.perf_counter()
                client.get("/hello").raise_for_status()
                samples.append((time.perf_counter() - began) * 1000)
            return samples
    finally:
        _esb(project, "down")


def build_times(root: Path, client: docker.DockerClient) -> dict[str, float]:
    """fixtures/full: `esb build` + the image tasks from a fresh tree, again with no change, and
    after changing one function's code (the base image is present in all three)."""
    from esb.build.runner import run_doit
    from esb.project import load_project
    from esb.build.context import build_context

    project = root / f"benchfull{uuid.uuid4().hex[:6]}"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "full", project)

    def build() -> float:
        ctx = build_context(load_project(str(project / "template.yaml"), cwd=project, env={}))
        began = time.perf_counter()
        with __import__("contextlib").redirect_stdout(io.StringIO()):
            if run_doit(ctx, ["run", "build", "image"]) != 0:
                raise SystemExit("build failed")
        return (time.perf_counter() - began) * 1000

    try:
        times = {"full build (3 functions)": build(), "no-change build": build()}
        code = project / "src" / "api" / "app.py"
        code.write_text(code.read_text() + "\n# changed\n")
        times["one-function-change build"] = build()
        return times
    finally:
        for image in client.images.list(name=f"esb/{project.name}/*"):
            client.images.remove(image.id, force=True)


def box_section(calls: int, client: docker.DockerClient) -> None:
    with tempfile.TemporaryDirectory(prefix="esb-bench-box-") as tmp:
        medians = {}
        for engine in ("process", "docker"):
            samples = gateway_latency(Path(tmp), engine, calls)
            print(summary(f"{engine}: warm GET via gateway", samples))
            medians[engine] = statistics.median(samples)
        print(f"gateway warm ratio docker/process: {medians['docker'] / medians['process']:.2f}x")
        for name, ms in build_times(Path(tmp), client).items():
            print(f"{name:<34} {ms:8.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="cold starts per engine")
    parser.add_argument("--calls", type=int, default=300, help="warm invokes per engine")
    parser.add_argument("--no-box", action="store_true", help="skip the gateway and build sections")
    args = parser.parse_args(argv)

    cache = cache_dir()
    rie = ensure_rie(cache)
    docker_client = docker.from_env()
    began = time.perf_counter()
    base = ensure_base_image(docker_client, cache, rie_path=rie)
    print(f"base image {base.tag}: {'built' if base.built else 'present'} in {time.perf_counter() - began:.1f} s")
    project = f"esbbench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="esb-bench-") as tmp, httpx.Client(timeout=30) as http:
        ctx = make_context(Path(tmp) / "ctx")
        tag = function_image_tag(project, "bench", ctx, docker_client)
        began = time.perf_counter()
        build_function_image(docker_client, ctx, tag)
        print(f"function image {tag}: built in {time.perf_counter() - began:.1f} s")
        engines: list[tuple[str, Engine]] = [("docker", DockerEngine(project, client_factory=lambda: docker_client))]
        proc = process_engine(rie)
        if proc is not None:
            engines.append(("process", proc))
        else:
            print("process engine not importable: container numbers only")
        medians: dict[str, float] = {}
        try:
            for name, engine in engines:
                spec = spec_for(ctx / "src", tag if name == "docker" else None)
                ready, first = cold_starts(engine, spec, http, args.runs)
                warm = warm_latency(engine, spec, http, args.calls)
                print(summary(f"{name}: cold start (ready)", ready))
                print(summary(f"{name}: cold start (first answer)", first))
                print(summary(f"{name}: warm invoke", warm))
                medians[name] = statistics.median(first)
                medians[f"{name}-warm"] = statistics.median(warm)
        finally:
            remove_project(project, client_factory=lambda: docker_client)
            docker_client.images.remove(tag)
        if "process" in medians:
            print(f"cold start ratio docker/process: {medians['docker'] / medians['process']:.1f}x; "
                  f"warm ratio: {medians['docker-warm'] / medians['process-warm']:.2f}x")
    if not args.no_box:
        box_section(args.calls, docker_client)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
