"""The manager API's own server on its unix socket: the real routes and the gateway's client over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
import stat
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from esb_runtime.errors import FunctionNotFound
from esb_runtime.gateway.manager_client import UdsManagerClient, UnixHTTPConnection
from esb_runtime.manager.api import create_app


class FakeManager:
    """What the routes call: invoke echoes the body's length, health answers, an unknown function is a 404."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []

    def invoke(self, name: str, body: bytes, *, trace_id: str | None, client_context: str | None,
               invocation_type: str, log_tail: bool) -> Any:
        if name != "echo":
            raise FunctionNotFound(f"Function not found: {name}")
        self.calls.append((name, len(body), trace_id))
        return SimpleNamespace(outcome="ok", sandbox="sb-1", request_id="rid-1", log_tail=None,
                               body=json.dumps({"length": len(body)}).encode())

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, FakeManager]]:
    """The API of a FakeManager served by make_server, in a gevent hub of its own thread."""
    path = tmp_path / "state" / "manager.sock"
    manager = FakeManager()
    ready, stop = threading.Event(), threading.Event()

    def run() -> None:
        from gevent import sleep

        from esb_runtime.manager.server import make_server

        server = make_server(create_app(manager), path)  # type: ignore[arg-type]
        server.start()
        ready.set()
        while not stop.is_set():
            sleep(0.02)
        server.stop(timeout=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield path, manager
    stop.set()
    thread.join(timeout=5)


def test_the_gateways_client_invokes_through_the_server_on_one_kept_connection(
        served: tuple[Path, FakeManager]) -> None:
    path, manager = served
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    client = UdsManagerClient(path)
    try:
        first = client.invoke("echo", b"x" * 300_000, trace_id="Root=1-a")
        second = client.invoke("echo", b"{}", trace_id="Root=1-b")
        assert len(client._idle) == 1  # both calls went over the one kept-alive connection
        assert client.health() == {"status": "ok"}
        with pytest.raises(FunctionNotFound):
            client.invoke("nope", b"", trace_id="Root=1-c")
    finally:
        client.close()
    assert (first.status, first.outcome, first.sandbox, first.request_id) == (200, "ok", "sb-1", "rid-1")
    assert json.loads(first.payload) == {"length": 300_000} and json.loads(second.payload) == {"length": 2}
    assert manager.calls == [("echo", 300_000, "Root=1-a"), ("echo", 2, "Root=1-b")]


def test_routes_answer_unknown_paths_and_methods(served: tuple[Path, FakeManager]) -> None:
    conn = UnixHTTPConnection(str(served[0]), 5.0)
    try:
        conn.request("GET", "/v1/nothing")
        missing = conn.getresponse()
        assert (missing.status, json.loads(missing.read())["error"]) == (404, "NotFound")
        conn.request("DELETE", "/v1/health")
        wrong = conn.getresponse()
        assert (wrong.status, json.loads(wrong.read())["error"]) == (405, "MethodNotAllowed")
        conn.request("GET", "/v1/health", headers={"Connection": "close"})
        last = conn.getresponse()
        assert (last.status, last.getheader("Connection"), json.loads(last.read())) == (200, "close", {"status": "ok"})
    finally:
        conn.close()


def test_a_malformed_request_gets_400_and_the_connection_ends(served: tuple[Path, FakeManager]) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(served[0]))
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nBad Header\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer


def test_a_request_with_no_body_length_reads_an_empty_body(served: tuple[Path, FakeManager]) -> None:
    conn = http.client.HTTPConnection("x")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.settimeout(5)
    conn.sock.connect(str(served[0]))
    try:
        conn.putrequest("POST", "/v1/functions/echo/invoke")
        conn.endheaders()
        answer = conn.getresponse()
        assert (answer.status, json.loads(answer.read())) == (200, {"length": 0})
    finally:
        conn.close()
