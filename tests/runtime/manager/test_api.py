"""`python -m esb_runtime.manager` as a real process: the internal API over its unix socket, and SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from esb_runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

SOURCE = """
import os, time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("hello from", context.aws_request_id)
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "pid": os.getpid(), "esb": sorted(k for k in os.environ if k.startswith("ESB_"))}
"""
TRACE = "Root=1-5f84c7a1-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=1"


@pytest.fixture
def manager_proc(tmp_path: Path, rie_path: Path, write_function: Callable[..., Path],
                 write_functions_yml: Callable[..., Path]) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client, Path]]:
    write_function("fn", SOURCE)
    write_functions_yml({"fn": {"timeout": 5}})
    out = tmp_path / ".esb"
    settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=rie_path)
    env = {"PATH": os.environ.get("PATH", ""), **settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", "esb_runtime.manager"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not settings.manager_socket.exists():
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client = httpx.Client(transport=httpx.HTTPTransport(uds=str(settings.manager_socket)),
                          base_url="http://manager", timeout=20)
    try:
        yield proc, client, settings.manager_socket
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _invoke(client: httpx.Client, event: dict[str, Any], name: str = "fn", **headers: str) -> httpx.Response:
    return client.post(f"/v1/functions/{name}/invoke", content=json.dumps(event), headers=headers)


def test_api_over_unix_socket_then_sigterm_stops_every_sandbox(manager_proc: Any) -> None:
    proc, client, socket_path = manager_proc
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600

    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["engine"] == "process"

    resp = _invoke(client, {}, **{"X-Esb-Trace-Id": TRACE, "X-Esb-Log-Tail": "1"})
    assert resp.status_code == 200
    assert resp.headers["X-Esb-Outcome"] == "ok"
    body = resp.json()
    assert body["trace"] == TRACE and body["esb"] == []
    request_id = resp.headers["X-Esb-Request-Id"]
    assert ("hello from " + request_id) in base64.b64decode(resp.headers["X-Esb-Log-Tail"]).decode()

    missing = _invoke(client, {}, name="nope")
    assert missing.status_code == 404 and missing.json()["error"] == "ResourceNotFoundException"
    big = client.post("/v1/functions/fn/invoke", content=b"x" * 262_145, headers={"X-Esb-Invocation-Type": "Event"})
    assert big.status_code == 413
    assert _invoke(client, {}, **{"X-Esb-Invocation-Type": "Event"}).status_code == 202

    lease = client.post("/v1/acquire", json={"function": "fn"}).json()
    assert lease["invoke_url"].startswith("http://127.0.0.1:")
    direct = httpx.post(lease["invoke_url"], content=b"{}", timeout=10)
    assert direct.status_code == 200
    assert client.post("/v1/release", json={"sandbox": lease["sandbox"], "outcome": "ok"}).status_code == 204

    rows = client.get("/v1/sandboxes").json()
    assert rows and {"id", "function", "config_hash", "state", "started_at", "invocations"} <= rows[0].keys()
    assert client.post("/v1/reload").status_code == 200

    # A long call in flight while SIGTERM arrives: afterwards no sandbox process is left.
    slow_pid = _invoke(client, {}).json()["pid"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert not socket_path.exists()
    try:
        state = Path(f"/proc/{slow_pid}/stat").read_text()
        assert state[state.rfind(")") + 2] == "Z"
    except OSError:
        pass
    logs = list((socket_path.parent.parent / "logs").rglob("*"))
    assert any(p.is_file() and request_id in p.read_text() for p in logs)
