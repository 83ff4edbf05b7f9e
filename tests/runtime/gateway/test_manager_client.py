"""The real manager client over a unix socket, against a tiny gevent WSGI server playing the manager."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest

from esb_runtime.errors import (
    EngineError,
    FunctionNotFound,
    ManagerUnavailable,
    PayloadTooLarge,
    TooManyRequests,
)
from esb_runtime.gateway.manager_client import UdsManagerClient

REFUSALS = {"missing": (404, "ResourceNotFound"), "huge": (413, "PayloadTooLarge"),
            "busy": (429, "TooManyRequests"), "broken": (503, "SandboxStartFailed")}


def fake_manager_app(seen: list[dict[str, Any]]) -> Callable[..., Iterable[bytes]]:
    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = env["PATH_INFO"]
        if path == "/v1/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok", "engine": "process", "notes": []}']
        name = path.split("/")[3]
        body = env["wsgi.input"].read()
        seen.append({"name": name, "body": body, "trace": env.get("HTTP_X_ESB_TRACE_ID"),
                     "context": env.get("HTTP_X_ESB_CLIENT_CONTEXT"), "type": env.get("HTTP_X_ESB_INVOCATION_TYPE"),
                     "tail": env.get("HTTP_X_ESB_LOG_TAIL")})
        if name in REFUSALS:
            status, code = REFUSALS[name]
            start_response(f"{status} Refused", [("Content-Type", "application/json")])
            return [json.dumps({"error": code, "message": f"{name} refused"}).encode()]
        if name == "slow":
            from gevent import sleep
            sleep(2)
        if env.get("HTTP_X_ESB_INVOCATION_TYPE") == "Event":
            start_response("202 Accepted", [("X-Esb-Request-Id", "rid-event")])
            return [b""]
        headers = [("X-Esb-Outcome", "error" if name == "fails" else "ok"), ("X-Esb-Request-Id", "rid-1"),
                   ("X-Esb-Sandbox", "sb-1")]
        if env.get("HTTP_X_ESB_LOG_TAIL") == "1":
            headers.append(("X-Esb-Log-Tail", "U1RBUlQ="))
        start_response("200 OK", headers)
        return [b'{"result": ' + body + b"}"]

    return app


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def socket_path(tmp_path: Path, seen: list[dict[str, Any]]) -> Iterator[Path]:
    path = tmp_path / "manager.sock"
    ready: queue.Queue[bool] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        from gevent import sleep
        from gevent import socket as gsocket
        from gevent.pywsgi import WSGIServer

        listener = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(64)
        server = WSGIServer(listener, fake_manager_app(seen), log=None, error_log=None)
        server.start()
        ready.put(True)
        while not stop.is_set():
            sleep(0.02)
        server.stop(timeout=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.get(timeout=10)
    yield path
    stop.set()
    thread.join(timeout=5)


def test_invoke_sends_headers_and_reads_result(socket_path: Path, seen: list[dict[str, Any]]) -> None:
    client = UdsManagerClient(socket_path)
    try:
        result = client.invoke("hello", b'{"a": 1}', trace_id="Root=1-abc;Sampled=1", client_context="e30=",
                               log_tail=True)
        again = client.invoke("hello", b"2", trace_id="Root=1-abc;Sampled=1")
    finally:
        client.close()
    assert result.status == 200 and result.outcome == "ok"
    assert result.request_id == "rid-1" and result.sandbox == "sb-1"
    assert json.loads(result.payload) == {"result": {"a": 1}}
    assert result.log_tail == "U1RBUlQ="
    assert again.log_tail is None and json.loads(again.payload) == {"result": 2}
    assert seen[0] == {"name": "hello", "body": b'{"a": 1}', "trace": "Root=1-abc;Sampled=1", "context": "e30=",
                       "type": "RequestResponse", "tail": "1"}


def test_event_and_error_outcome(socket_path: Path) -> None:
    client = UdsManagerClient(socket_path)
    event = client.invoke("hello", b"{}", trace_id="t", invocation_type="Event")
    failed = client.invoke("fails", b"{}", trace_id="t")
    client.close()
    assert event.status == 202 and event.request_id == "rid-event"
    assert failed.outcome == "error"


@pytest.mark.parametrize(("name", "error"), [
    ("missing", FunctionNotFound), ("huge", PayloadTooLarge), ("busy", TooManyRequests), ("broken", EngineError),
])
def test_refusals_become_runtime_errors(socket_path: Path, name: str, error: type[Exception]) -> None:
    client = UdsManagerClient(socket_path)
    with pytest.raises(error, match=f"{name} refused"):
        client.invoke(name, b"{}", trace_id="t")
    client.close()


def test_health(socket_path: Path, tmp_path: Path) -> None:
    assert UdsManagerClient(socket_path).health() == {"status": "ok", "engine": "process", "notes": []}
    assert UdsManagerClient(tmp_path / "absent.sock").health() is None


def test_unreachable_and_slow_manager(socket_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ManagerUnavailable):
        UdsManagerClient(tmp_path / "absent.sock").invoke("hello", b"{}", trace_id="t")
    with pytest.raises(ManagerUnavailable, match="in time"):
        UdsManagerClient(socket_path).invoke("slow", b"{}", trace_id="t", timeout=0.3)


def test_concurrent_invokes_under_monkey_patching(tmp_path: Path) -> None:
    """In a gevent-patched process (as in a gunicorn gevent worker) one client serves many greenlets."""
    script = textwrap.dedent(f"""
        from gevent import monkey
        monkey.patch_all()
        import json, socket, sys
        import gevent
        from gevent.pool import Pool
        from gevent.pywsgi import WSGIServer
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_manager_client import fake_manager_app
        from esb_runtime.gateway.manager_client import UdsManagerClient

        path = {str(tmp_path / "m.sock")!r}
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        server = WSGIServer(listener, fake_manager_app([]), log=None, error_log=None)
        server.start()
        client = UdsManagerClient(path, max_connections=8)
        results = Pool(16).map(lambda i: json.loads(client.invoke("hello", str(i).encode(), trace_id="t").payload),
                               range(64))
        server.stop()
        print(json.dumps(results))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"result": i} for i in range(64)]
