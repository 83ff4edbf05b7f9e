"""GET /health: 503 with the reason while the manager or the stores do not answer; cached briefly."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Iterator

import pytest

from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.health import HealthCheck, stores_probe


@pytest.fixture
def stores() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/_esb/health" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ok_while_both_answer_then_503_naming_the_stores(stores: str) -> None:
    probe = stores_probe(stores)
    assert probe is not None and probe()
    up = [True]
    check = HealthCheck(FakeManager({}), lambda: up[0] and probe(), ttl_s=0)
    assert check.report()[0] == 200
    up[0] = False
    status, body = check.report()
    assert status == 503 and body["stores"] == {"status": "unreachable"} and "stores" in body["reason"]


def test_a_closed_port_is_unreachable_and_foreign_stores_are_not_judged() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = stores_probe(f"http://127.0.0.1:{port}")
    assert probe is not None and not probe()
    assert stores_probe(None) is None and stores_probe("https://s3.example") is None


def test_the_report_is_cached_for_its_ttl() -> None:
    now = [0.0]
    manager = FakeManager({})
    check = HealthCheck(manager, None, ttl_s=1.0, clock=lambda: now[0])
    assert check.report()[0] == 200
    manager.healthy = False
    now[0] = 0.5
    assert check.report()[0] == 200
    now[0] = 1.5
    assert check.report() == (503, {"status": "unavailable", "reason": "manager not answering (being restarted)",
                                    "manager": {"status": "unreachable"}})
