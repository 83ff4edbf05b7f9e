"""Requests read off one HTTP/1.1 connection: llhttp (httptools) parses, each head becomes its WSGI environ once.

Reading is pulled by whoever needs bytes: the server waiting for a request head, or the app reading a body, so a
pipelining client is read ahead by at most one receive. Everything gunicorn refused before is refused here too
(llhttp is strict: bare LF, obsolete folding, bad tokens, control characters, Content-Length with
Transfer-Encoding, duplicate or malformed lengths, bad chunk sizes), and the head's size limits are counted here.
"""

from __future__ import annotations

import io
from collections import deque
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

from esb_runtime.errors import MalformedRequest
from esb_runtime.http1.limits import ConnectionLimits

RECV_BYTES = 65536
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
_SPECIAL = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_keys: dict[bytes, str] = {}  # a header name as sent -> its environ key ("" = dropped), for the names seen most
_methods: dict[bytes, str] = {}  # llhttp accepts only the registered methods: a small, closed set


def environ_key(name: bytes) -> str:
    """HTTP_X_NAME for X-Name; "" for a name with "_", which would alias a "-" name (gunicorn dropped them too)."""
    key = _keys.get(name)
    if key is None:
        lower = name.lower()
        if lower in _SPECIAL:
            key = _SPECIAL[lower]
        elif b"_" in name:
            key = ""
        else:
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(_keys) < 1024:  # a client inventing names must not grow this
            _keys[name] = key
    return key


def _target(env: dict[str, Any], url: bytes) -> None:
    """RAW_URI, PATH_INFO (percent-decoded, as WSGI's latin-1 string) and QUERY_STRING from the request target."""
    raw = url.decode("latin-1")  # WSGI's strings are the bytes as latin-1: one decode, then str operations
    if "#" in raw:
        raw = raw.partition("#")[0]  # a fragment is the client's own; some clients send it anyway
    if raw[:1] == "/":
        path, _, query = raw.partition("?")
    elif raw == "*":
        path, query = raw, ""
    else:  # absolute form (a proxy's request line)
        try:
            parts = httptools.parse_url(raw.encode("latin-1"))
        except httptools.HttpParserInvalidURLError as exc:
            raise MalformedRequest("invalid request target") from exc
        path, query = (parts.path or b"/").decode("latin-1"), (parts.query or b"").decode("latin-1")
    env["RAW_URI"] = raw
    env["PATH_INFO"] = unquote_to_bytes(path.encode("latin-1")).decode("latin-1") if "%" in path else path
    env["QUERY_STRING"] = query


class Message:
    """One request: its environ once the head is parsed, then its body as it arrives."""

    __slots__ = ("env", "url", "fields", "headed", "complete", "keep_alive", "expects_continue", "discarding",
                 "body", "error")

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.url = b""
        self.fields = 0
        self.headed = self.complete = self.keep_alive = self.expects_continue = self.discarding = False
        self.body = bytearray()
        self.error: MalformedRequest | None = None  # the body's framing broke: reading it raises this


class _NoBody:
    """wsgi.input of a request without a body (one shared object: nothing to read, nothing to keep)."""

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Any:
        return iter(())


NO_BODY = _NoBody()


class RequestReader:
    """The requests of one connection, in order; the httptools callbacks (on_*) fill them in."""

    def __init__(self, sock: Any, base: dict[str, Any], limits: ConnectionLimits) -> None:
        self._sock, self._base, self._limits = sock, base, limits
        self._parser = httptools.HttpRequestParser(self)
        self._ready: deque[Message] = deque()  # heads complete, not yet answered (pipelined)
        self._incoming: Message | None = None  # the one the parser is in
        self._head_bytes = 0
        self._stopped = False  # end of stream, an upgrade or a parse error: nothing more is read
        self._error: MalformedRequest | None = None  # a head that failed: answered after the requests before it
        self._failure: MalformedRequest | None = None  # what a callback raised, for _pull to report

    @property
    def idle(self) -> bool:
        """No byte of a next request has arrived (what a draining server may cut)."""
        return not self._ready and self._incoming is None

    def next_request(self) -> Message | None:
        """The next request whose head is complete, None when the client is done; MalformedRequest for a bad head."""
        while not self._ready:
            if self._error is not None:
                raise self._error
            if not self._pull() and not self._ready and self._error is None:
                return None
        return self._ready.popleft()

    def body_input(self, message: Message) -> Any:
        if not message.complete:
            return BodyStream(self, message)
        return io.BytesIO(message.body) if message.body else NO_BODY

    def can_continue(self, message: Message) -> bool:
        """Whether the connection can serve a next request as far as this one's body goes (checked before
        answering, so the answer can say Connection: close)."""
        if message.error is not None:
            return False
        if message.complete:
            return True
        if message.expects_continue:  # the client waits for a 100 that never came: its body may or may not follow
            return False
        length = message.env.get("CONTENT_LENGTH")
        return length is None or int(length) <= self._limits.discard_bytes

    def discard(self, message: Message, budget: int) -> bool:
        """Read and drop what is left of an answered request's body, up to `budget` bytes; False when the rest
        cannot be read that way (the connection ends)."""
        message.discarding = True
        message.body = bytearray()
        while not message.complete:
            got = 0 if message.expects_continue else self._pull()
            budget -= got
            if not got or budget < 0:
                return False
        return message.error is None

    def more(self, message: Message) -> None:
        """Read on for `message`'s body: MalformedRequest when its framing broke or the stream ended first."""
        if message.error is not None:
            raise message.error
        if message.expects_continue:  # sent when the app first reads: a refused request is never uploaded
            message.expects_continue = False
            self._sock.sendall(CONTINUE)
        try:
            got = self._pull()
        except OSError:  # a body that stopped arriving (the I/O timeout) or a client gone: nothing more is read
            self._fail(MalformedRequest("the request body stopped arriving", 408))
            raise
        if not got:
            raise message.error or MalformedRequest("the request body ended early")

    def _pull(self) -> int:
        """Receive once and parse it: the bytes read, 0 when nothing more will be read."""
        if self._stopped:
            return 0
        data = self._sock.recv(RECV_BYTES)
        if not data:
            self._stopped = True
            return 0
        incoming = self._incoming
        if incoming is None or not incoming.headed:
            self._head_bytes += len(data)  # a header that never ends must not grow the parser's buffer
            if self._head_bytes > self._limits.head_bytes:
                self._fail(MalformedRequest("request header fields too large", 431))
                return 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._stopped = True  # the request asking to upgrade is answered (no upgrade), then the connection ends
        except httptools.HttpParserError as exc:
            self._fail(self._failure or MalformedRequest(_reason(exc)))
            return 0
        return len(data)

    def _fail(self, error: MalformedRequest) -> None:
        self._stopped = True
        incoming = self._incoming
        if incoming is not None and incoming.headed:
            incoming.error = error  # a broken body: whoever reads it gets the 400
        else:
            self._error = error

    def _refuse(self, message: str, status: int) -> None:
        self._failure = MalformedRequest(message, status)
        raise self._failure

    # httptools' callbacks

    def on_message_begin(self) -> None:
        if len(self._ready) >= self._limits.pipelined:
            self._refuse(f"more than {self._limits.pipelined} pipelined requests", 429)
        self._incoming = Message(self._base.copy())

    def on_url(self, url: bytes) -> None:
        message = self._incoming
        assert message is not None
        message.url += url
        if len(message.url) > self._limits.request_line_bytes:
            self._refuse(f"request target over {self._limits.request_line_bytes} bytes", 414)

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self._incoming
        assert message is not None
        if message.headed:
            return  # a chunked body's trailer fields: not passed on (gunicorn did not either)
        message.fields += 1
        if message.fields > self._limits.header_fields:
            self._refuse(f"more than {self._limits.header_fields} header fields", 431)
        if len(name) + len(value) > self._limits.header_field_bytes:
            self._refuse(f"a header field over {self._limits.header_field_bytes} bytes", 431)
        key = environ_key(name)
        if key:
            text = value.decode("latin-1")
            if text[-1:] in (" ", "\t"):  # llhttp strips the leading whitespace only
                text = text.rstrip(" \t")
            env = message.env
            env[key] = f"{env[key]},{text}" if key in env else text

    def on_headers_complete(self) -> None:
        message, parser = self._incoming, self._parser
        assert message is not None
        env = message.env
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            self._refuse(f"HTTP version {parser.get_http_version()} is not served", 400)
        method = parser.get_method()
        env["REQUEST_METHOD"] = _methods.get(method) or _methods.setdefault(method, method.decode("ascii"))
        env["SERVER_PROTOCOL"] = version
        _target(env, message.url)
        coding = env.get("HTTP_TRANSFER_ENCODING")
        if coding is not None and not coding.rstrip(" \t").lower().endswith("chunked"):
            self._refuse(f"transfer coding {coding!r} is not served", 400)  # llhttp would fail the body instead
        expect = env.get("HTTP_EXPECT")
        if expect is not None:
            if expect.lower() != "100-continue":
                self._refuse(f"expectation {expect!r} is not met", 417)
            message.expects_continue = version == "HTTP/1.1"
        message.keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        message.headed = True
        self._head_bytes = 0
        self._ready.append(message)

    def on_body(self, body: bytes) -> None:
        message = self._incoming
        assert message is not None
        if not message.discarding:
            message.body += body

    def on_message_complete(self) -> None:
        message = self._incoming
        assert message is not None
        message.complete = True
        message.expects_continue = False  # the whole body came without the 100
        self._incoming = None


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


class BodyStream:
    """wsgi.input of a body still arriving: each read pulls from the connection only as far as it needs."""

    def __init__(self, reader: RequestReader, message: Message) -> None:
        self._reader, self._message = reader, message

    def read(self, size: int | None = -1) -> bytes:
        message = self._message
        if size is None or size < 0:
            while not message.complete:
                self._reader.more(message)
            size = len(message.body)
        while len(message.body) < size and not message.complete:
            self._reader.more(message)
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        message = self._message
        limit = size if size is not None and size >= 0 else None
        while b"\n" not in message.body and not message.complete and (limit is None or len(message.body) < limit):
            self._reader.more(message)
        end = message.body.find(b"\n") + 1 or len(message.body)
        return self._take(end if limit is None else min(end, limit))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def _take(self, size: int) -> bytes:
        body = self._message.body
        if size >= len(body):
            data = bytes(body)
            body.clear()
            return data
        data = bytes(body[:size])
        del body[:size]
        return data
