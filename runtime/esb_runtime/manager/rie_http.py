"""Reading one HTTP/1.1 response from the RIE: status, body, keep-alive; nothing else of HTTP is needed."""

from __future__ import annotations

import socket

_MAX_HEAD = 64 * 1024
_CHUNK = 65536


class BadResponse(Exception):
    """The RIE's answer is not a readable HTTP/1.1 response (not http.client's errors: that module loads email and
    ssl into the manager, issue 14)."""


class Closed(BadResponse):
    """The peer closed the connection before the first byte of a response (a stale keep-alive connection)."""


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        if data:
            self.buf += data
        return bool(data)

    def line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                return line
            if len(self.buf) > _MAX_HEAD or not self.fill():
                raise BadResponse(f"response head cut off after {len(self.buf)} bytes")

    def exactly(self, size: int) -> bytes:
        parts, have = [self.buf[:size]], min(size, len(self.buf))
        self.buf = self.buf[size:]
        while have < size:
            data = self.sock.recv(_CHUNK)
            if not data:
                raise BadResponse(f"response body cut off: {size - have} of {size} bytes missing")
            if have + len(data) > size:  # more than this message: nothing may follow a response here
                self.buf = data[size - have:]
                data = data[:size - have]
            parts.append(data)
            have += len(data)
        return b"".join(parts)


def read_response(sock: socket.socket) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection stays usable) of the response to a request just sent."""
    reader = _Reader(sock)
    if not reader.fill():
        raise Closed("the RIE closed the connection")
    head_end = reader.buf.find(b"\r\n\r\n")
    while head_end < 0:
        if len(reader.buf) > _MAX_HEAD or not reader.fill():
            raise BadResponse(f"response head cut off after {len(reader.buf)} bytes")
        head_end = reader.buf.find(b"\r\n\r\n")
    head, reader.buf = reader.buf[:head_end], reader.buf[head_end + 4:]
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise BadResponse(f"bad status line {lines[0][:100]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    keep = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                raise BadResponse(f"bad Content-Length {value[:20]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if chunked:
        body = _chunks(reader)
    elif length is not None:
        body = reader.exactly(length)
    else:  # delimited by close
        body = reader.buf + _until_close(sock)
        reader.buf, keep = b"", False
    return status, body, keep and not reader.buf


def _chunks(reader: _Reader) -> bytes:
    parts = []
    while True:
        size_text = reader.line().split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise BadResponse(f"bad chunk size {size_text[:20]!r}") from exc
        if size == 0:
            while reader.line():  # trailers end with an empty line
                pass
            return b"".join(parts)
        parts.append(reader.exactly(size))
        reader.line()


def _until_close(sock: socket.socket) -> bytes:
    parts = []
    while True:
        data = sock.recv(_CHUNK)
        if not data:
            return b"".join(parts)
        parts.append(data)
