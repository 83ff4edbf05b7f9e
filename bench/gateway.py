"""Side by side in one run: the box (process engine) against the bare RIE on the same handler (issue 14).

Run: .venv/bin/python bench/gateway.py [--requests 2000] [--seconds 5] [--starts 5]
Builds a temporary copy of the bundled sample app, times `esb up -d` until /hello answers 200, starts a bare RIE
(--log-level error) on the same handler twice, as AWS ships it (the issue's anchor) and on one Go thread as the box
runs its RIEs (GOMAXPROCS=1), and prints warm median/p99, requests/s at 1 and 16 keep-alive
connections (16 with `wrk` when it is installed: `apt install wrk`), server CPU per request by process (from /proc), start time and the box's idle RSS, with ratios.
Loopback only; the clients share the machine's cores with the servers, so compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import compileall
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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import procstat

REPO = Path(__file__).resolve().parent.parent
ESB = [sys.executable, "-m", "esb.cli"]
WRK = shutil.which("wrk")


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
    """Requests/s over `clients` keep-alive connections: wrk when installed (a C client leaves the cores to the
    servers; the Python clients cost as much CPU per request as the gateway), else one Python process each."""
    if WRK and clients > 1:
        return wrk_throughput(f"https://127.0.0.1:{port}{path}", clients, seconds)
    with multiprocessing.Pool(clients) as pool:
        counts = pool.map(_client, [(port, ca_file, path, seconds)] * clients)
    return sum(counts) / seconds


def wrk_throughput(url: str, clients: int, seconds: float) -> float:
    out = subprocess.run([WRK, "-t", "1", "-c", str(clients), "-d", f"{seconds:g}s", url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw non-2xx answers:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def first_200(port: int, ca_file: str | None, method: str, path: str, body: bytes | None, started: float,
              limit_s: float = 30.0) -> float:
    """Seconds from `started` until `path` answers 200 (polled every 5 ms)."""
    while time.perf_counter() - started < limit_s:
        try:
            conn = connect(port, ca_file)
            if call(conn, method, path, body) == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"no 200 from {path} in {limit_s:g} s")


def start_box(workdir: Path, engine: str = "process") -> tuple[dict, dict[str, str], float]:
    """A built copy of the sample app, then `esb up -d` timed until /hello answers 200."""
    project = workdir / "sample"
    shutil.copytree(REPO / "fixtures" / "sample", project)
    port = free_port()
    # The stores' port too: another box on this machine may hold the default 4566.
    env = {**os.environ, "ESB_GATEWAY_PORT": str(port), "ESB_AWS_PORT": str(free_port())}
    subprocess.run([*ESB, "build"], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run([*ESB, "up", "-d", "--engine", engine], cwd=project, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    ca = str(project / ".esb" / "secrets" / "tls" / "ca.pem")
    start_s = first_200(port, ca, "GET", "/hello", None, started)
    status = subprocess.run([*ESB, "status", "--json"], cwd=project, env=env, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(status[status.index("{"):status.rindex("}") + 1]), env, start_s


def start_bare_rie(workdir: Path, rie: str, go_env: dict[str, str]) -> tuple[subprocess.Popen, int, float]:
    """The bare RIE on the sample's handler (--log-level error, as measured in issue 14), timed to its first 200."""
    port = free_port()
    code = REPO / "fixtures" / "sample" / "functions" / "hello"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_FUNCTION_NAME": "bare", "PYTHONPATH": str(code), **go_env}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [rie, "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address",
         f"127.0.0.1:{free_port()}", "--log-level", "error", sys.executable, "-m", "awslambdaric", "app.handler"],
        cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    start_s = first_200(port, None, "POST", BARE_PATH, EVENT, started, limit_s=10)
    return proc, port, start_s


BARE_PATH = "/2015-03-31/functions/function/invocations"
NONE = (None, None)  # a row with no bare RIE figures
BOX_EXTERNAL = ("rie", "runtime")  # a sandbox's processes: not the box's idle footprint
EVENT = json.dumps({"queryStringParameters": None}).encode()


def box_roots(status: dict) -> list[int]:
    roots = [int(s["pid"]) for s in status.get("processes", []) if s.get("pid")]
    supervisor = status.get("supervisor") or {}
    return roots + ([int(supervisor["pid"])] if supervisor.get("pid") else [])


def measured(roots: list[int], run: Callable[[], float], seconds: float) -> tuple[float, dict[str, float]]:
    """(requests/s, CPU ms per request by role) of one throughput run."""
    before = procstat.snapshot(roots)
    rps = run()
    cpu = procstat.cpu_by_role(before, procstat.snapshot(roots))
    requests = rps * seconds
    return rps, {name: spent * 1000 / requests for name, spent in cpu.items() if spent > 0}


def bare_throughput(port: int, seconds: float) -> float:
    conn = connect(port, None)
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        done += call(conn, "POST", BARE_PATH, EVENT) == 200
    return done / seconds


@dataclass
class Bare:
    """One bare RIE's figures: warm latencies (ms), 1-connection req/s, CPU ms per request, start (s)."""
    latencies: list[float]
    rps: float
    cpu: dict[str, float]
    start_s: float


def bare_rie(workdir: Path, rie: str, requests: int, seconds: float, go_env: dict[str, str]) -> Bare:
    proc, port, start_s = start_bare_rie(workdir, rie, go_env)
    try:
        direct = latencies(port, None, "POST", BARE_PATH, EVENT, requests)
        rps, cpu = measured([proc.pid], lambda: bare_throughput(port, seconds), seconds)
    finally:
        os.killpg(proc.pid, 9)
    return Bare(direct, rps, cpu, start_s)


def row(label: str, esb: float, bares: tuple[float | None, ...], unit: str, fmt: str = ".2f") -> None:
    """esb, then each bare RIE's figure and esb's ratio to it."""
    cells = []
    for bare in bares:
        cells.append(f"{bare:>10{fmt}}" if bare is not None else f"{'-':>10}")
        cells.append(f"{esb / bare:8.2f}x" if bare else f"{'':>9}")
    print(f"  {label:<34} {esb:>10{fmt}} {' '.join(cells)} {unit}")


def docker_box(requests: int) -> tuple[list[float], list[float]] | None:
    """Warm /hello and /health latencies (ms) of the same app on the docker engine; None without a daemon."""
    # Asked in a child: in this script's folder, bench/docker.py would shadow the docker package.
    ask = "import sys; from esb.box.docker_box import daemon_answers; sys.exit(not daemon_answers())"
    if subprocess.run([sys.executable, "-c", ask], cwd=REPO).returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        status, env, _ = start_box(Path(tmp), "docker")
        try:
            port = int(status["gateway"]["url"].rsplit(":", 1)[1])
            ca = status["gateway"]["ca_file"]
            return latencies(port, ca, "GET", "/hello", None, requests), health_latencies(port, ca, 200)
        finally:
            subprocess.run([*ESB, "down"], cwd=Path(tmp) / "sample", env=env, stdout=subprocess.DEVNULL)


def health_latencies(port: int, ca_file: str, n: int) -> list[float]:
    conn = connect(port, ca_file)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call(conn, "GET", "/health")  # 200, or 503 while a part restarts: the time is what counts here
        out.append((time.perf_counter() - started) * 1000)
    return out


def more_starts(count: int) -> list[float]:
    """Seconds from `esb up -d` to the first 200 of `count` more boxes, each a fresh built copy, stopped after."""
    times = []
    for _ in range(count):
        with tempfile.TemporaryDirectory() as tmp:
            _, env, start_s = start_box(Path(tmp))
            subprocess.run([*ESB, "down"], cwd=Path(tmp) / "sample", env=env, stdout=subprocess.DEVNULL)
            times.append(start_s)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--docker", action="store_true", help="also the docker engine's warm and /health latency")
    parser.add_argument("--starts", type=int, default=1, metavar="N",
                        help="time N starts (the first is the measured box's) and print their median")
    args = parser.parse_args()
    from esb.paths import cache_dir
    from esb.build.rie import ensure_rie
    from esb_runtime.contract import RIE_GO_ENV

    rie = str(ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None))
    # The toolchain's bytecode, as an install writes it: a checkout run with PYTHONDONTWRITEBYTECODE would
    # otherwise compile esb/ on every command (~70 ms of each start timed here).
    compileall.compile_dir(str(REPO / "esb"), quiet=1)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        status, env, box_start = start_box(workdir)
        roots = box_roots(status)
        idle = procstat.snapshot(roots)
        box_pids = [pid for pid, (name, _, _) in idle.items() if name not in BOX_EXTERNAL]
        idle_memory, idle_footprint = procstat.memory_by_role(box_pids), procstat.footprint_mb(box_pids)
        try:
            port = int(status["gateway"]["url"].rsplit(":", 1)[1])
            ca = status["gateway"]["ca_file"]
            # As AWS ships it (the anchor), and on one Go thread as the box runs it (RIE_GO_ENV).
            bares = tuple(bare_rie(workdir, rie, args.requests, args.seconds, go_env) for go_env in ({}, RIE_GO_ENV))
            through = latencies(port, ca, "GET", "/hello", None, args.requests)
            rps1, cpu1 = measured(roots, lambda: throughput(port, ca, "/hello", 1, args.seconds), args.seconds)
            rps16, cpu16 = measured(roots, lambda: throughput(port, ca, "/hello", 16, args.seconds), args.seconds)
            health = health_latencies(port, ca, 200)
        finally:
            subprocess.run([*ESB, "down"], cwd=workdir / "sample", env=env, stdout=subprocess.DEVNULL)
    starts = [box_start, *more_starts(args.starts - 1)]
    on_docker = docker_box(args.requests) if args.docker else None
    print(f"esb (process engine, HTTPS keep-alive) vs the bare RIE (HTTP), one run; load average at start {load:.2f}")
    print(f"  {'metric':<34} {'esb':>10} {'bare RIE':>10} {'ratio':>9} {'bare, 1 Go':>10} {'ratio':>9}")
    print(f"  {'':<34} {'':>10} {'as shipped':>10} {'':>9} {'thread':>10}")
    row("warm median", statistics.median(through), tuple(statistics.median(b.latencies) for b in bares), "ms", ".3f")
    row("warm p99", percentile(through, 99), tuple(percentile(b.latencies, 99) for b in bares), "ms", ".3f")
    row("1 connection", rps1, tuple(b.rps for b in bares), "req/s", ".0f")
    client = "wrk, 1 thread" if WRK else "16 Python client processes"
    row("16 connections", rps16, NONE, f"req/s ({client}; the RIE serves one call at a time)", ".0f")
    for label, cpu in (("1 conn.", cpu1), ("16 conn.", cpu16)):
        parts = ", ".join(f"{name} {value:.2f}" for name, value in sorted(cpu.items(), key=lambda kv: -kv[1]))
        row(f"server CPU per request ({label})", sum(cpu.values()), tuple(sum(b.cpu.values()) for b in bares),
            f"ms ({parts})", ".2f")
    each = ", ".join(f"{s * 1000:.0f}" for s in starts)
    row("start -> first 200", statistics.median(starts) * 1000, tuple(b.start_s * 1000 for b in bares),
        f"ms (esb up -d on a built project; median of {len(starts)}: {each})", ".0f")
    rss = procstat.rss_by_role(idle)
    box_rss = sum(v for k, v in rss.items() if k not in BOX_EXTERNAL)
    parts = ", ".join(f"{name} {value:.0f}" for name, value in sorted(rss.items(), key=lambda kv: -kv[1]))
    row("idle RSS of the box (no sandboxes)", box_rss, NONE, f"MB ({parts})", ".0f")
    for kind in ("pss", "uss"):
        parts = ", ".join(f"{name} {mem[kind]:.0f}" for name, mem in sorted(idle_memory.items(), key=lambda kv: -kv[1][kind]))
        row(f"idle {kind.upper()} of the box (no sandboxes)", sum(m[kind] for m in idle_memory.values()), NONE,
            f"MB ({parts})", ".0f")
    row("idle memory of the box, shared once", idle_footprint, NONE, "MB (USS + each shared library's pages once)", ".0f")
    row("/health median", statistics.median(health), NONE, "ms", ".3f")
    if on_docker is not None:
        warm, docker_health = on_docker
        row("docker engine: warm median", statistics.median(warm), (statistics.median(through), None),
            "ms (ratio to the process engine)", ".3f")
        row("docker engine: /health median", statistics.median(docker_health), NONE, "ms", ".3f")
    elif args.docker:
        print("  docker engine: no daemon answers, skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
