"""Readiness probes of the box's processes, as short strings recorded with each process in state/box.json.

`http:<max status>:<url>` answers below max status · `uds:<socket>:<path>` answers 200 over a unix socket ·
`tcp:<host>:<port>[,<port>...]` accepts connections on every port. The supervisor re-reads them to know when
a restarted process is back.
"""

from __future__ import annotations

import functools
from http import client as http_client  # `http` names the probe maker below
import socket
import ssl
from urllib.parse import urlsplit

from esb_runtime.gateway.manager_client import UnixHTTPConnection


def http(url: str, max_status: int = 600) -> str:
    return f"http:{max_status}:{url}"


def uds(sock: str, path: str) -> str:
    return f"uds:{sock}:{path}"


def tcp(host: str, ports: list[int]) -> str:
    return f"tcp:{host}:{','.join(map(str, ports))}"


def check(probe: str, timeout_s: float = 1.0) -> bool:
    """Whether the process behind `probe` is ready; an empty probe means ready as soon as it runs."""
    kind, _, rest = probe.partition(":")
    if kind == "http":
        limit, _, url = rest.partition(":")
        return _http_below(url, int(limit), timeout_s)
    if kind == "uds":
        sock, _, path = rest.rpartition(":")
        return _uds_ok(sock, path, timeout_s)
    if kind == "tcp":
        host, _, ports = rest.rpartition(":")
        return all(_listening(host, int(port), timeout_s) for port in ports.split(","))
    return True


def _http_below(url: str, limit: int, timeout_s: float) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http_client.HTTPConnection = http_client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port or 443, timeout=timeout_s, context=_loopback_tls())
    else:
        conn = http_client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout_s)
    status = _status(conn, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    return status is not None and status < limit


def _listening(host: str, port: int, timeout_s: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _uds_ok(sock: str, path: str, timeout_s: float) -> bool:
    return _status(UnixHTTPConnection(sock, timeout_s), path) == 200


def _status(conn: http_client.HTTPConnection, path: str) -> int | None:
    """The answer's status, None when nothing answers. The standard library's client, not httpx: the supervisor
    lives as long as the box and imports little else (httpx was a third of its import time and memory)."""
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        return conn.getresponse().status
    except (OSError, http_client.HTTPException):
        return None
    finally:
        conn.close()


@functools.lru_cache(maxsize=1)
def _loopback_tls() -> ssl.SSLContext:
    # Loopback to the box's own process, only to learn whether it answers: the certificate is not the point.
    return ssl._create_unverified_context()  # noqa: S323
