"""Benchmark: sandbox cold start, warm invoke overhead and throughput, bare RIE vs through the manager API."""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "runtime"))
sys.path.insert(0, str(REPO))

from esb.paths import cache_dir  # noqa: E402
from esb.build.rie import ensure_rie  # noqa: E402
from esb_runtime.engine import SandboxSpec  # noqa: E402
from esb_runtime.manager.invoke import RieClient  # noqa: E402
from esb_runtime.manager.process_engine import ProcessEngine  # noqa: E402
from esb_runtime.settings import RuntimeSettings  # noqa: E402

SOURCES = {
    "trivial": "def handler(event, context):\n    return {'ok': True}\n",
    "boto3": "import boto3\n\ndef handler(event, context):\n    return {'ok': True}\n",
    "sleep50": "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return {'ok': True}\n",
}


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("manager", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def api_invoke(conn: UnixConnection, name: str) -> None:
    conn.request("POST", f"/v1/functions/{name}/invoke", body=b"{}")
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200 or resp.getheader("X-Esb-Outcome") != "ok":
        raise RuntimeError(f"{resp.status} {body[:200]!r}")


def write_tree(root: Path) -> None:
    functions = {}
    for name, source in SOURCES.items():
        src = root / "functions" / name / "src"
        src.mkdir(parents=True)
        (src / "app.py").write_text(source)
        (root / "functions" / name / "build.json").write_text(json.dumps({"code_hash": hashlib.sha256(source.encode()).hexdigest()}))
        functions[name] = {"handler": "app.handler", "runtime": "python3.11", "timeout": 10, "memory_size": 128,
                           "code_dir": f"functions/{name}/src", "manifest": f"functions/{name}/build.json",
                           "config_hash": name, "reserved_concurrency": 16 if name == "sleep50" else None}
    (root / "config").mkdir(parents=True)
    (root / "config" / "functions.yml").write_text(json.dumps({"project": "bench", "functions": functions}))


def start_manager(root: Path, rie: Path, idle: float) -> tuple[subprocess.Popen[bytes], str]:
    sock = root / f"m-{idle}.sock"
    settings = RuntimeSettings(output_dir=root, manager_socket=sock, rie_path=rie, idle_timeout_s=idle,
                               default_concurrency=16)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{REPO / 'runtime'}", **settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", "esb_runtime.manager"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("manager did not start")
        time.sleep(0.02)
    return proc, str(sock)


def spec(root: Path, name: str) -> SandboxSpec:
    return SandboxSpec(function=name, config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=root / "functions" / name / "src", deps_dir=None, layer_dirs=(),
                       environment={"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_TIMEOUT": "10"},
                       memory_mb=128, timeout_s=10)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def cold_bare(engine: ProcessEngine, root: Path, name: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        holder = {}

        def once() -> None:
            holder["sb"] = engine.start(spec(root, name), lambda line: None)
            RieClient(holder["sb"].invoke_url).post(b"{}", None, 30)

        out.append(timed(once))
        engine.stop(holder["sb"])
    return out


def cold_manager(sock: str, name: str, runs: int, idle: float) -> list[float]:
    out = []
    for _ in range(runs):
        time.sleep(idle * 2 + 1.2)  # let the reaper stop the idle sandbox: the next call is cold
        conn = UnixConnection(sock)
        out.append(timed(lambda: api_invoke(conn, name)))
        conn.close()
    return out


def warm(call: Callable[[], None], runs: int) -> list[float]:
    for _ in range(50):
        call()
    return [timed(call) for _ in range(runs)]


def throughput(sock: str, callers: int, seconds: float) -> float:
    count = [0] * callers
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = UnixConnection(sock)
        while time.monotonic() < stop:
            api_invoke(conn, "sleep50")
            count[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(count) / seconds


def fresh_post(url: str) -> None:
    """One invoke on a new connection (a SYN through the firewall chain each time), closed after."""
    client = RieClient(url)
    client.post(b"{}", None, 30)
    client.close()


def isolation_rows(rie: Path, root: Path, runs: int) -> None:
    """Warm calls to the same function, plain vs isolated (own uid, firewall rules, Lambda Python env), in one run."""
    from esb_runtime.manager import isolation

    if os.geteuid() != 0:
        print("isolation overhead: skipped (needs root: sandboxes change identity only under a root manager)")
        return
    os.chmod(root, 0o755)  # function identities must reach the staged code
    settings = RuntimeSettings(output_dir=root, manager_socket=root / "state" / "m.sock", rie_path=rie)
    isolated = ProcessEngine(rie)
    plan = isolation.plan_sandboxes(root, rie, python=isolated.python, runtime_parent=isolated.runtime_parent,
                                    requested=None)
    plan = isolation.per_function(plan, settings, None)
    if plan.firewall is None or plan.identities is None:
        print(f"isolation overhead: skipped ({plan.note})")
        return
    isolated.isolate(plan)
    plain = ProcessEngine(rie)
    sandboxes = {"plain": plain.start(spec(root, "trivial"), lambda line: None),
                 "isolated": isolated.start(spec(root, "trivial"), lambda line: None)}
    try:
        for label, call in (("keep-alive", lambda url: RieClient(url)), ("new connection", None)):
            medians = {}
            for name, sandbox in sandboxes.items():
                if call is None:
                    samples = warm(lambda url=sandbox.invoke_url: fresh_post(url), runs)
                else:
                    client = call(sandbox.invoke_url)
                    samples = warm(lambda c=client: c.post(b"{}", None, 30) and None, runs)
                    client.close()
                medians[name] = p(samples, 0.5)
            delta = medians["isolated"] - medians["plain"]
            print(f"{'warm invoke median, ' + label + ' (ms)':44} {medians['plain']:10.3f} {medians['isolated']:10.3f} "
                  f"{delta:+7.3f}")
    finally:
        plain.stop(sandboxes["plain"])
        isolated.stop(sandboxes["isolated"])
        plan.firewall.close()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--isolation-only", action="store_true", help="only the plain vs isolated warm calls")
    args = parser.parse_args()
    rie = ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None)
    engine = ProcessEngine(rie)
    with tempfile.TemporaryDirectory(prefix="esb-bench-") as tmp:
        root = Path(tmp)
        write_tree(root)
        if args.isolation_only:
            print(f"{'measure':44} {'plain':>10} {'isolated':>10} {'delta':>7}")
            isolation_rows(rie, root, args.warm_runs)
            return 0
        cold_proc, cold_sock = start_manager(root, rie, idle=0.2)
        warm_proc, warm_sock = start_manager(root, rie, idle=300)
        try:
            print(f"{'measure':44} {'bare RIE':>10} {'manager':>10} {'ratio':>7}")
            for name in ("trivial", "boto3"):
                bare = statistics.median(cold_bare(engine, root, name, args.cold_runs))
                managed = statistics.median(cold_manager(cold_sock, name, args.cold_runs, 0.2))
                print(f"{'cold start ' + name + ' (median ms)':44} {bare:10.1f} {managed:10.1f} {managed / bare:7.2f}")
            sandbox = engine.start(spec(root, "trivial"), lambda line: None)
            client = RieClient(sandbox.invoke_url)
            bare_w = warm(lambda: client.post(b"{}", None, 30) and None, args.warm_runs)
            engine.stop(sandbox)
            conn = UnixConnection(warm_sock)
            mgr_w = warm(lambda: api_invoke(conn, "trivial"), args.warm_runs)
            conn.close()
            for label, q in (("median", 0.5), ("p99", 0.99)):
                b, m = p(bare_w, q), p(mgr_w, q)
                print(f"{'warm invoke ' + label + ' (ms)':44} {b:10.3f} {m:10.3f} {m / b:7.2f}")
            print(f"{'warm overhead, median (ms)':44} {'':10} {p(mgr_w, .5) - p(bare_w, .5):10.3f}")
            print(f"{'':44} {'plain':>10} {'isolated':>10} {'delta':>7}")
            isolation_rows(rie, root, args.warm_runs)
            rates = {n: throughput(warm_sock, n, args.seconds) for n in (1, 4, 16)}
            for n, rate in rates.items():
                print(f"{f'invocations/s, {n} callers, 50 ms handler':44} {'':10} {rate:10.1f} {rate / rates[1]:7.2f}")
        finally:
            for proc in (cold_proc, warm_proc):
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
