"""Gateway benchmark: warm latency through the box vs a bare RIE, and requests/s with 1 and 16 clients.

Run: .venv/bin/python bench/gateway.py [--requests 2000] [--seconds 5]
Starts `esb up -d --engine process` on a temporary copy of the bundled sample app (loopback only) and a bare
RIE on the same handler, measures both in one run, prints medians, p99 and ratios, then stops everything.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
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

REPO = Path(__file__).resolve().parent.parent
ESB = [sys.executable, "-m", "esb.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def connect(port: int, ca_file: str | None) -> http.client.HTTPConnection:
    if ca_file:
        context = ssl.create_default_context(cafile=ca_file)
        return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> int:
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    return answer.status


def latencies(port: int, ca_file: str | None, method: str, path: str, body: bytes | None, n: int) -> list[float]:
    conn = connect(port, ca_file)
    for _ in range(50):
        call(conn, method, path, body)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        status = call(conn, method, path, body)
        out.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    conn.close()
    return out


def _client(args: tuple[int, str | None, str, float]) -> int:
    port, ca_file, path, seconds = args
    conn = connect(port, ca_file)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if call(conn, "GET", path) == 200:
            done += 1
    return done


def throughput(port: int, ca_file: str, path: str, clients: int, seconds: float) -> float:
    with multiprocessing.Pool(clients) as pool:
        counts = pool.map(_client, [(port, ca_file, path, seconds)] * clients)
    return sum(counts) / seconds


def start_box(workdir: Path) -> tuple[dict, dict[str, str]]:
    project = workdir / "sample"
    shutil.copytree(REPO / "fixtures" / "sample", project)
    env = {**os.environ, "ESB_GATEWAY_PORT": str(free_port())}
    subprocess.run([*ESB, "up", "-d", "--engine", "process"], cwd=project, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    status = subprocess.run([*ESB, "status", "--json"], cwd=project, env=env, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(status[status.index("{"):status.rindex("}") + 1]), env


def start_bare_rie(workdir: Path, rie: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    code = REPO / "fixtures" / "sample" / "functions" / "hello"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_FUNCTION_NAME": "bare", "PYTHONPATH": str(code)}
    proc = subprocess.Popen(
        [rie, "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address",
         f"127.0.0.1:{free_port()}", sys.executable, "-m", "awslambdaric", "app.handler"],
        cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.02)
    raise RuntimeError("bare RIE did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    from esb.paths import cache_dir
    from esb.build.rie import ensure_rie

    rie = str(ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        status, env = start_box(workdir)
        bare, bare_port = start_bare_rie(workdir, rie)
        try:
            port = int(status["gateway"]["url"].rsplit(":", 1)[1])
            ca = status["gateway"]["ca_file"]
            event = json.dumps({"queryStringParameters": None}).encode()
            direct = latencies(bare_port, None, "POST", "/2015-03-31/functions/function/invocations", event,
                               args.requests)
            through = latencies(port, ca, "GET", "/hello", None, args.requests)
            rps = {n: throughput(port, ca, "/hello", n, args.seconds) for n in (1, 16)}
        finally:
            os.killpg(bare.pid, 9)
            subprocess.run([*ESB, "down"], cwd=workdir / "sample", env=env, stdout=subprocess.DEVNULL)
    print(f"warm latency over {args.requests} requests (ms)")
    print(f"  {'path':<34} {'median':>8} {'p99':>8}")
    print(f"  {'bare RIE (HTTP, direct)':<34} {statistics.median(direct):8.3f} {percentile(direct, 99):8.3f}")
    print(f"  {'gateway (HTTPS, keep-alive)':<34} {statistics.median(through):8.3f} {percentile(through, 99):8.3f}")
    overhead = statistics.median(through) - statistics.median(direct)
    print(f"  gateway overhead (median): {overhead:.3f} ms; ratio {statistics.median(through) / statistics.median(direct):.2f}x")
    print(f"throughput through the gateway, {args.seconds:.0f} s each (keep-alive clients)")
    for n, value in rps.items():
        print(f"  {n:>2} client(s): {value:8.1f} req/s")
    print(f"  ratio 16/1: {rps[16] / rps[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
