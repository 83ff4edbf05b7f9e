"""Fault bench: kill -9 each part of a running box under a polling client and print the time to recover.

Run: .venv/bin/python bench/faults.py
Starts `esb up -d --engine process` on a temporary copy of the sample app (loopback only), then, one at a time:
the gateway (its master and one worker when it runs several), the manager, the stores, one idle sandbox. For each it prints the
seconds from the kill to the first good answer (GET /hello 200; for the stores, their health 200 and the
gateway's /health 200) and how many answers failed meanwhile. One run; numbers vary with the machine's load.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

from gateway import ESB, start_box  # bench/gateway.py: the same box start

POLL_S = 0.02
LIMIT_S = 60.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def recover(kill: Callable[[], int], ok: Callable[[int], bool]) -> tuple[float, int]:
    """Seconds from the kill until ok(killed pid) holds, and how many polls failed before."""
    victim = kill()
    start, failed = time.monotonic(), 0
    while time.monotonic() - start < LIMIT_S:
        if ok(victim):
            return time.monotonic() - start, failed
        failed += 1
        time.sleep(POLL_S)
    return float("inf"), failed


def kill9(pid: int, group: bool = False) -> int:
    (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    return pid


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="esb-faults-") as tmp:
        workdir = Path(tmp)
        status, env, _ = start_box(workdir)
        project = workdir / "sample"
        try:
            trust = ssl.create_default_context(cafile=status["gateway"]["ca_file"])

            def get(path: str = "/hello") -> int:
                # A new connection each time: a kept-alive one could reach a worker of a dead master.
                try:
                    with httpx.Client(base_url=status["gateway"]["url"], verify=trust, timeout=5.0) as client:
                        return client.get(path).status_code
                except httpx.HTTPError:
                    return 0

            def pid(name: str) -> int:
                state = json.loads((project / ".esb" / "state" / "box.json").read_text())
                return next(p["pid"] for p in state["procs"] if p["name"] == name)

            def sandbox_sids() -> list[int]:
                entries = (project / ".esb" / "state" / "sandboxes").glob("sb-*.json")
                return [int(json.loads(entry.read_text())["sid"]) for entry in entries]

            workers = len(children(pid("gateway")))
            stores_health = status["stores"]["s3_endpoint"] + "/_esb/health"
            # Each: what is killed, and when it counts as recovered. A kept-alive worker of a dead gateway
            # master may still answer for a moment: only an answer from the replacement counts.
            # One worker runs as the gateway process itself (no master, no worker children to kill).
            faults: list[tuple[str, Callable[[], int], Callable[[int], bool]]] = [
                ("gateway master" if workers else "gateway", lambda: kill9(pid("gateway")),
                 lambda old: pid("gateway") != old and get() == 200),
                *([("one gateway worker", lambda: kill9(children(pid("gateway"))[0]),
                    lambda old: old not in (now := children(pid("gateway"))) and len(now) == workers and get() == 200)]
                  if workers else []),
                ("manager", lambda: kill9(pid("manager")), lambda old: pid("manager") != old and get() == 200),
                ("stores", lambda: kill9(pid("stores")),
                 lambda old: pid("stores") != old and get(stores_health) == 200 and get("/health") == 200),
                ("an idle sandbox", lambda: kill9(sandbox_sids()[0], group=True),
                 lambda old: get() == 200 and old not in sandbox_sids()),
            ]
            print(f"{'fault (kill -9)':<22} {'recovered in':>12} {'polls until ok':>15}")
            for name, kill, ok in faults:
                while get() != 200 or get("/health") != 200:  # start each fault from a whole, warm box
                    time.sleep(0.1)
                time.sleep(1.0)
                seconds, failed = recover(kill, ok)
                print(f"{name:<22} {seconds:>10.2f} s {failed:>15}", flush=True)
        finally:
            subprocess.run([*ESB, "down"], cwd=project, env=env, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
