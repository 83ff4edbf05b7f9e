"""A WSGI response as HTTP/1.1 bytes: the head and the whole body in one buffer, sent with one write.

gunicorn sent the head and the body as two writes: two TLS records and two syscalls per response. The gateway's
bodies are in memory already (a function's answer is at most 6 MB), so the body is joined and framed by its
exact length. Response headers are checked as gunicorn checked them (a name that is not a token or a value with a
control character would split the response): such a response is the app's fault, a 500.
"""

from __future__ import annotations

import json
import re
import time
from http import HTTPStatus
from typing import Any, Callable, Iterable
# Not email.utils.formatdate (the same text): email.utils imports random, calendar and email's charsets, ~0.9 MB in
# the manager, which serves its API with this writer and loads nothing else of email (issue 14).
from wsgiref.handlers import format_date_time

# Hop-by-hop fields are the server's to send (RFC 9110 7.6.1); an app's are dropped, as gunicorn did.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                  "transfer-encoding", "upgrade"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-zA-Z]+").fullmatch
_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*").fullmatch
_STATUS = re.compile(r"[1-5][0-9]{2}(?: [ \t\x21-\x7e\x80-\xff]*)?").fullmatch
_names: dict[str, str] = {}  # response header names already checked -> lower case
_date = (0, "")  # the last second formatted


class InvalidResponse(ValueError):
    """The app's status or headers cannot be written (they would split or corrupt the response)."""


def http_date(clock: Callable[[], float] = time.time) -> str:
    """The Date field's value, formatted once a second."""
    global _date
    second = int(clock())
    if second != _date[0]:
        _date = (second, format_date_time(second))
    return _date[1]


def _valid(value: Any) -> bool:
    return isinstance(value, str) and _VALUE(value) is not None


def _lower(name: str) -> str:
    lower = _names.get(name)
    if lower is None:
        if not isinstance(name, str) or not _TOKEN(name):
            raise InvalidResponse(f"response header name {name!r} is not a token")
        lower = name.lower()
        if len(_names) < 1024:
            _names[name] = lower
    return lower


class StartResponse:
    """WSGI's start_response for one request: it keeps the status and headers for `encode`."""

    __slots__ = ("status", "headers", "written")

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.written: list[bytes] = []  # WSGI's legacy write(): kept and sent with the rest

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        # Nothing is sent before the app returns, so an error handler may always replace the status and headers.
        self.status, self.headers = status, headers
        return self.written.append

    def body(self, chunks: Iterable[bytes]) -> bytes:
        """The whole body: the app's iterable joined (and closed, as WSGI asks)."""
        try:
            if type(chunks) is list and len(chunks) == 1 and not self.written:
                return bytes(chunks[0])
            return b"".join((*self.written, *chunks))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def encode(self, body: bytes, *, version: str, method: str, close: bool) -> bytes:
        status = self.status
        if status is None or not isinstance(status, str) or not _STATUS(status):
            raise InvalidResponse(f"response status {status!r} is not valid")
        code = int(status[:3])
        # HEAD, 1xx, 204 and 304 have no body on the wire; 1xx and 204 have no length either (RFC 9110 8.6).
        bare = method == "HEAD" or code in (204, 304) or code < 200
        keep_length = bare and code >= 200 and code != 204  # HEAD and 304 may give the length a GET would have
        lines = [version, " ", status, "\r\n"]
        for name, value in self.headers:
            lower = _lower(name)
            # Printable ASCII is the common case, checked by two C calls; the rest (tabs, obs-text) by the pattern.
            if not (isinstance(value, str) and value.isascii() and value.isprintable()) and not _valid(value):
                raise InvalidResponse(f"response header {name!r} has an invalid value")
            if lower in _HOP or (lower == "content-length" and not keep_length):
                continue  # the body's own length is written below: it cannot disagree with the body
            lines += (name, ": ", value, "\r\n")
        if not bare:
            lines += ("Content-Length: ", str(len(body)), "\r\n")
        lines += ("Date: ", http_date(), "\r\n")
        if close:
            lines.append("Connection: close\r\n")
        elif version == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        return head if bare else head + body


def error_response(status: int, version: str = "HTTP/1.1") -> bytes:
    """The server's own answer to a request it refuses before the app (JSON like every gateway error); it closes."""
    reason = HTTPStatus(status).phrase
    body = json.dumps({"message": reason}).encode()
    return (f"{version} {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Date: {http_date()}\r\nConnection: close\r\n\r\n").encode() + body
