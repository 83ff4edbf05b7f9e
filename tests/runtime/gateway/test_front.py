"""The gateway's HTTP/1.1 front (front.py; esb_runtime/http1: reader.py, writer.py) on real loopback sockets: parsing,
limits, keep-alive, pipelining, chunked bodies, timeouts, errors and draining."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterator

import falcon
import pytest

from esb_runtime.gateway.access_log import null_sink
from esb_runtime.http1.limits import ConnectionLimits
from esb_runtime.gateway.control import create_control_app
from esb_runtime.gateway.exchange import read_body
from esb_runtime.gateway.front import Front
from esb_runtime.http1.writer import StartResponse
from esb_runtime.gateway.request_context import RequestContext, new_request_id

LIMITS = ConnectionLimits(header_timeout_s=1, io_timeout_s=1.0, linger_s=0.2)


class Echo:
    """A Falcon resource reading its body the way the gateway's resources do (exchange.read_body)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_body(req, 1024)
        if body is None:
            resp.status = 413
            return
        resp.data = body


def make_app(seen: list[dict[str, Any]]) -> Callable[..., Any]:
    falcon_app = create_control_app(RequestContext(time.time, new_request_id, null_sink), {"/falcon": Echo()})

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = env["PATH_INFO"]
        seen.append(env)
        if path.startswith("/falcon"):
            return falcon_app(env, start_response)
        if path == "/bad-header":
            start_response("200 OK", [("X-Bad", "a\r\nInjected: 1")])
            return [b"x"]
        if path == "/no-content":
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        if path == "/refuse":  # answers without reading the body, as a refused call or a 413 does
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"no"]
        if path == "/slow":
            import gevent

            gevent.sleep(0.3)
        body = json.dumps({"method": env["REQUEST_METHOD"], "path": path, "query": env["QUERY_STRING"],
                           "raw": env["RAW_URI"], "protocol": env["SERVER_PROTOCOL"],
                           "scheme": env["wsgi.url_scheme"], "remote": env["REMOTE_ADDR"],
                           "headers": {k: v for k, v in env.items() if k.startswith(("HTTP_", "CONTENT_"))}})
        start_response("200 OK", [("Content-Type", "application/json"), ("Connection", "keep-alive")])
        return [body.encode()]

    return app


class Served:
    """A Front on a gevent StreamServer in its own thread and hub, as the gateway worker runs it."""

    def __init__(self, limits: ConnectionLimits = LIMITS) -> None:
        self.seen: list[dict[str, Any]] = []
        self.reports: list[str] = []
        self.errors: list[str] = []
        self._calls: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        ports: queue.Queue[int] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(limits, ports), daemon=True)
        self._thread.start()
        self.port = ports.get(timeout=10)

    def _run(self, limits: ConnectionLimits, ports: queue.Queue[int]) -> None:
        import logging

        import gevent
        from gevent.server import StreamServer

        served = self

        class Errors(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                served.errors.append(record.getMessage())

        errors = logging.getLogger(f"front-test-{id(self)}")
        errors.addHandler(Errors())
        errors.propagate = False
        self.front = Front(make_app(self.seen), limits, errors=errors,
                           report=lambda source, what: self.reports.append(f"{what} from {source}"))

        def handle(sock: Any, addr: Any) -> None:
            sock.settimeout(limits.io_timeout_s)  # what the worker does after admission
            try:
                self.front.serve(sock, addr)
            finally:
                sock.close()

        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        ports.put(server.server_port)
        while not self._stop.is_set():
            while not self._calls.empty():
                self._calls.get()()
            gevent.sleep(0.01)
        server.stop(timeout=1)

    def call(self, fn: Callable[[], None]) -> None:
        """Run `fn` in the server's hub."""
        self._calls.put(fn)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served()
    try:
        yield server
    finally:
        server.close()


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[str, dict[str, str], bytes]:
    """One response off `sock` (framed by Content-Length; HEAD and 204 have no body): status line, headers, body."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0")) if not lines[0].split(" ")[1].startswith(("1", "204")) else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in a body")
        rest += chunk
    buffer[:] = rest[length:]
    return lines[0], headers, rest[:length]


def exchange(served: Served, data: bytes, count: int = 1) -> list[tuple[str, dict[str, str], bytes]]:
    with served.connect() as sock:
        sock.sendall(data)
        buffer = bytearray()
        return [read_response(sock, buffer) for _ in range(count)]


def closed(sock: socket.socket) -> bool:
    """True when the server has closed the connection (EOF; a reset counts too)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_keep_alive_serves_requests_in_turn_with_one_environ_each(served: Served) -> None:
    with served.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"GET /a%20b/%E2%9C%93?x=1%202 HTTP/1.1\r\nHost: box\r\nX-Thing:  v  \r\nX-A: 1\r\nX-A: 2\r\n"
                     b"X_Spoofed: 6.6.6.6\r\n\r\n")
        status, headers, body = read_response(sock, buffer)
        sock.sendall(b"GET /second HTTP/1.1\r\nHost: box\r\n\r\n")
        second = read_response(sock, buffer)
    assert status == "HTTP/1.1 200 OK" and "connection" not in headers and "date" in headers
    seen = json.loads(body)
    assert seen["path"] == "/a b/\u00e2\u009c\u0093"  # WSGI: the decoded bytes as latin-1 (Falcon re-decodes UTF-8)
    assert seen["raw"] == "/a%20b/%E2%9C%93?x=1%202" and seen["query"] == "x=1%202"
    assert seen["protocol"] == "HTTP/1.1" and seen["scheme"] == "http" and seen["remote"] == "127.0.0.1"
    # Whitespace trimmed, repeats joined, a name with "_" dropped (it would pass for X-Spoofed).
    assert seen["headers"] == {"HTTP_HOST": "box", "HTTP_X_THING": "v", "HTTP_X_A": "1,2"}
    assert json.loads(second[2])["path"] == "/second"
    assert served.seen[0] is not served.seen[1]


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    answers = exchange(served, b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /falcon HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 3\r\n\r\nabcGET /three?q HTTP/1.1\r\nHost: x\r\n\r\n", count=3)
    assert [a[0] for a in answers] == ["HTTP/1.1 200 OK"] * 3
    assert json.loads(answers[0][2])["path"] == "/one" and answers[1][2] == b"abc"
    assert json.loads(answers[2][2])["query"] == "q"


def test_pipelining_is_bounded(served: Served) -> None:
    count = LIMITS.pipelined + 10
    with served.connect() as sock:
        sock.sendall(b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n" * count)
        buffer = bytearray()
        answers = [read_response(sock, buffer) for _ in range(LIMITS.pipelined + 1)]
        assert closed(sock)
    assert [a[0] for a in answers[:-1]] == ["HTTP/1.1 200 OK"] * LIMITS.pipelined
    assert answers[-1][0] == "HTTP/1.1 429 Too Many Requests" and answers[-1][1]["connection"] == "close"


def test_absolute_target_and_fragment(served: Served) -> None:
    answers = exchange(served, b"GET http://box/abs/path?q=1 HTTP/1.1\r\nHost: box\r\n\r\n"
                               b"GET /p#frag HTTP/1.1\r\nHost: box\r\n\r\n", count=2)
    first, second = (json.loads(a[2]) for a in answers)
    assert (first["path"], first["query"]) == ("/abs/path", "q=1")
    assert (second["path"], second["raw"]) == ("/p", "/p")


def test_chunked_body_is_decoded_and_trailers_are_not_headers(served: Served) -> None:
    (status, _, body), = exchange(served, b"POST /falcon HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                          b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert status == "HTTP/1.1 200 OK" and body == b"abcde"
    assert "HTTP_X_TRAILER" not in served.seen[0]


def test_body_arriving_in_pieces_is_read_as_the_app_asks(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /falcon HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        import time

        time.sleep(0.1)
        sock.sendall(b"def")
        status, _, body = read_response(sock, bytearray())
    assert status == "HTTP/1.1 200 OK" and body == b"abcdef"


@pytest.mark.parametrize("framing", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXX\r\n0\r\n\r\n"])
def test_broken_chunk_framing_is_400_and_ends_the_connection(served: Served, framing: bytes) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /falcon HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + framing)
        status, headers, body = read_response(sock, bytearray())
        assert status == "HTTP/1.1 400 Bad Request" and b"malformed request body framing" in body
        assert headers["connection"] == "close" and closed(sock)


def test_expect_100_continue_is_sent_when_the_app_reads_the_body(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /falcon HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        buffer = bytearray()
        assert read_response(sock, buffer)[0] == "HTTP/1.1 100 Continue"
        sock.sendall(b"abc")
        assert read_response(sock, buffer)[2] == b"abc"


def test_expectation_other_than_100_continue_is_417(served: Served) -> None:
    (status, headers, body), = exchange(served, b"POST /falcon HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n"
                                                b"Content-Length: 3\r\n\r\nabc")
    assert status == "HTTP/1.1 417 Expectation Failed" and headers["connection"] == "close"
    assert json.loads(body) == {"message": "Expectation Failed"}


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", 431),
    (b"GET /p HTTP/1.1\nHost: x\n\n", 400),  # bare LF
    (b"GET /p HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),  # obsolete folding
    (b"GET /p HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET /p HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400),
    (b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
    (b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
    (b"POST /p HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"G@T /p HTTP/1.1\r\n\r\n", 400),
    (b"GET /p HTTP/2.0\r\n\r\n", 400),
    (b"hello\r\n\r\n", 400),
])
def test_bad_heads_are_refused_before_the_app_and_close(served: Served, request_bytes: bytes, status: int) -> None:
    with served.connect() as sock:
        sock.sendall(request_bytes)
        line, headers, body = read_response(sock, bytearray())
        assert line.startswith(f"HTTP/1.1 {status} ") and headers["connection"] == "close"
        assert json.loads(body)["message"] and closed(sock)
    assert served.seen == [] and served.reports  # reported (rate-limited per source by the worker's NoiseLog)


def test_a_header_that_never_ends_is_cut_at_the_head_limit(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
        sent = 0
        try:
            while sent < LIMITS.head_bytes + 65536:
                sock.sendall(b"v" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what this test wants
        try:
            line = read_response(sock, bytearray())[0]
        except (ConnectionError, OSError):
            line = "closed"
    assert line in ("HTTP/1.1 431 Request Header Fields Too Large", "closed") and served.seen == []


def test_a_slow_header_is_cut_after_the_header_timeout(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        assert closed(sock)  # within LIMITS.header_timeout_s, without an answer
    assert served.seen == []


def test_an_idle_keep_alive_connection_is_cut_after_the_header_timeout(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(sock, bytearray())
        assert closed(sock)


def test_a_body_that_stops_arriving_is_408(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /falcon HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        status, headers, _ = read_response(sock, bytearray())
    assert status == "HTTP/1.1 408 Request Timeout" and headers["connection"] == "close"


def test_an_unread_small_body_keeps_the_connection_and_a_large_one_closes_it(served: Served) -> None:
    with served.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        status, headers, _ = read_response(sock, buffer)
        assert status == "HTTP/1.1 403 Forbidden" and "connection" not in headers
        sock.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert json.loads(read_response(sock, buffer)[2])["path"] == "/after"
    with served.connect() as sock:
        sock.sendall(b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nabc")
        status, headers, _ = read_response(sock, bytearray())
        assert status == "HTTP/1.1 403 Forbidden" and headers["connection"] == "close" and closed(sock)


def test_head_and_204_carry_no_body(served: Served) -> None:
    with served.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /no-content HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_response(sock, buffer)
        no_content = read_response(sock, buffer)
        last = read_response(sock, buffer)
    assert head[0] == "HTTP/1.1 200 OK" and head[2] == b""
    assert no_content[0] == "HTTP/1.1 204 No Content" and "content-length" not in no_content[1]
    assert json.loads(last[2])["path"] == "/last"  # nothing stray between the answers


def test_http_1_0_closes_unless_it_asks_for_keep_alive(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, body = read_response(sock, bytearray())
        assert status == "HTTP/1.0 200 OK" and headers["connection"] == "close" and closed(sock)
    assert json.loads(body)["protocol"] == "HTTP/1.0"
    with served.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(sock, buffer)[1]["connection"] == "keep-alive"
        sock.sendall(b"GET /again HTTP/1.0\r\n\r\n")
        assert read_response(sock, buffer)[0] == "HTTP/1.0 200 OK"


def test_a_response_header_that_would_split_the_response_is_a_500(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /bad-header HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, bytearray())
        assert status == "HTTP/1.1 500 Internal Server Error" and "injected" not in headers and closed(sock)
    assert served.errors and "/bad-header" in served.errors[0]


def test_drain_ends_idle_connections_and_lets_busy_ones_finish(served: Served) -> None:
    with served.connect() as idle, served.connect() as busy:
        buffer = bytearray()
        idle.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(idle, buffer)  # now waiting for its next request
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        import time

        time.sleep(0.1)  # the slow request is in the app
        served.call(served.front.drain)
        assert closed(idle)
        status, headers, body = read_response(busy, bytearray())
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["path"] == "/slow"
        assert headers["connection"] == "close" and closed(busy)


def test_one_buffer_holds_the_head_and_the_body() -> None:
    response = StartResponse()
    response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "999"), ("Connection", "x"),
                             ("Transfer-Encoding", "chunked"), ("X-Ok", "v")])
    data = response.encode(response.body([b"he", b"llo"]), version="HTTP/1.1", method="POST", close=False)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created" and body == b"hello"
    # The body's own length replaces the app's; hop-by-hop fields are the server's.
    assert "Content-Length: 5" in lines and "Content-Length: 999" not in lines and "X-Ok: v" in lines
    assert not any(line.lower().startswith(("connection", "transfer-encoding")) for line in lines)


def test_limits_scale_the_head_bound() -> None:
    small = replace(LIMITS, header_fields=2, header_field_bytes=10, request_line_bytes=20)
    assert small.head_bytes < LIMITS.head_bytes
