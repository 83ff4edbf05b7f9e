"""Benchmark: cold start of a Node.js function, process engine (bootstrap.mjs) vs a bare RIE + aws-lambda-ric."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "runtime"))
sys.path.insert(0, str(REPO))

from esb.build.node_runtime import ensure_node_runtime, node_major, stage_node_runtime  # noqa: E402
from esb.paths import cache_dir  # noqa: E402
from esb.build.node_tasks import link_modules  # noqa: E402
from esb.build.rie import ensure_rie  # noqa: E402
from esb_runtime.engine import SandboxSpec  # noqa: E402
from esb_runtime.manager.invoke import RieClient  # noqa: E402
from esb_runtime.manager.process_engine import ProcessEngine, free_port  # noqa: E402

SOURCES = {
    "trivial": "export const handler = async () => ({ ok: true });\n",
    "sdk-v3": ('import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\n'
               "const client = new DynamoDBClient({});\n"
               "export const handler = async () => ({ ok: Boolean(client) });\n"),
}
ENV = {"AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_TIMEOUT": "30", "AWS_REGION": "us-east-1"}


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("the bare RIE did not listen")


def cold_bare(rie: Path, runtime_dir: Path, code: Path) -> float:
    """What AWS documents for local testing: the RIE running `node aws-lambda-ric/bin/index.mjs handler`."""
    port, api = free_port(), free_port()
    ric = runtime_dir / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"
    env = {"PATH": os.environ["PATH"], "NODE_PATH": str(runtime_dir / "node_modules"), **ENV}
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def once() -> None:
        holder["proc"] = subprocess.Popen(
            [str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address",
             f"127.0.0.1:{api}", "node", str(ric), "index.handler"],
            cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(port, holder["proc"])
        answer = RieClient(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations").post(b"{}", None, 30)
        status, body = answer
        assert status == 200 and b"ok" in body, body

    try:
        return timed(once)
    finally:
        os.killpg(holder["proc"].pid, 9)
        holder["proc"].wait()


def cold_engine(engine: ProcessEngine, spec: SandboxSpec) -> float:
    holder = {}

    def once() -> None:
        holder["sb"] = engine.start(spec, lambda line: None)
        answer = RieClient(holder["sb"].invoke_url).post(b"{}", None, 30)
        status, body = answer
        assert status == 200 and b"ok" in body, body

    try:
        return timed(once)
    finally:
        engine.stop(holder["sb"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="cold starts per side (median printed)")
    args = parser.parse_args()
    rie = ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None)
    major = node_major()
    runtime = ensure_node_runtime(cache_dir(), major)
    engine = ProcessEngine(rie)
    with tempfile.TemporaryDirectory(prefix="esb-bench-node-") as tmp:
        root = Path(tmp)
        runtime_dir = root / "runtimes" / "nodejs"
        stage_node_runtime(runtime, runtime_dir)
        print(f"Node.js {major}, one cold start = RIE start + first invoke answered")
        print(f"{'handler':10} {'bare RIE+ric (ms)':>18} {'process engine (ms)':>20} {'ratio':>7}")
        for name, source in SOURCES.items():
            code, bare_code = root / "engine" / name / "src", root / "bare" / name / "src"
            for folder in (code, bare_code):
                folder.mkdir(parents=True)
                (folder / "index.mjs").write_text(source)
            # ES modules ignore NODE_PATH: the bare side gets the SDK where Node's own lookup finds it,
            # the engine side what `esb build` stages (its linked node_modules beside src/).
            (bare_code.parent / "node_modules").symlink_to(runtime_dir / "node_modules")
            link_modules(code.parent / "node_modules", [runtime_dir / "node_modules"])
            spec = SandboxSpec(function=name, config_hash="h", handler="index.handler", runtime=f"nodejs{major}.x",
                               code_dir=code, deps_dir=None, layer_dirs=(), environment=dict(ENV), memory_mb=128,
                               timeout_s=30, runtime_dir=runtime_dir)
            cold_bare(rie, runtime_dir, bare_code)  # warm the page cache once for both sides
            bares, boxes = [], []
            for _ in range(args.runs):  # interleaved: a busy moment of the shared CPU hits both sides alike
                bares.append(cold_bare(rie, runtime_dir, bare_code))
                boxes.append(cold_engine(engine, spec))
            bare, box = statistics.median(bares), statistics.median(boxes)
            print(f"{name:10} {bare:18.1f} {box:20.1f} {box / bare:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
