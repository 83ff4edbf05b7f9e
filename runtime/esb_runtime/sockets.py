"""Writing a whole buffer to a socket with one system call when it fits (the gateway's answers, its RIE calls)."""

from __future__ import annotations

from typing import Any


def send_all(sock: Any, data: bytes) -> None:
    """`sock.sendall(data)` without gevent's per-call work: its sendall asks the kernel for the send buffer size
    (a getsockopt system call) and slices the data into chunks, on every call; an answer or an invocation of a
    few kilobytes goes out whole with one send(). A send that would block waits with the socket's timeout."""
    sent = sock.send(data)
    if sent < len(data):
        view = memoryview(data)
        while sent < len(data):
            sent += sock.send(view[sent:])
