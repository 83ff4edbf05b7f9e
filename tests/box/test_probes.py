"""esb.box.probes: readiness probes as recorded strings, checked against real listeners on loopback."""

from __future__ import annotations

import socket

from esb.box import probes


def test_tcp_probe_is_ready_only_when_every_port_listens() -> None:
    with socket.socket() as one, socket.socket() as closed:
        one.bind(("127.0.0.1", 0))
        one.listen()
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        up, down = one.getsockname()[1], closed.getsockname()[1]
        assert probes.check(probes.tcp("127.0.0.1", [up]))
        assert not probes.check(probes.tcp("127.0.0.1", [up, down]), timeout_s=0.5)


def test_an_empty_probe_is_ready_and_an_http_probe_without_a_server_is_not() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        assert probes.check("")
        assert not probes.check(probes.http(f"http://127.0.0.1:{port}/health"), timeout_s=0.5)


def test_an_http_probe_sends_its_query_and_is_ready_below_its_status_limit() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    paths: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            paths.append(self.path)
            self.send_response(200 if "wait=" in self.path else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert probes.check(probes.http(f"http://127.0.0.1:{port}/_esb/health?wait=0.5", 300))
        assert not probes.check(probes.http(f"http://127.0.0.1:{port}/_esb/health", 300))
        assert paths == ["/_esb/health?wait=0.5", "/_esb/health"]
    finally:
        server.shutdown()
        server.server_close()
