"""Readiness probes of the box's processes, as short strings recorded with each process in state/box.json.

`http:<max status>:<url>` answers below max status · `uds:<socket>:<path>` answers 200 over a unix socket ·
`tcp:<host>:<port>[,<port>...]` accepts connections on every port. The supervisor re-reads them to know when
a restarted process is back.
"""

from __future__ import annotations

import socket

import httpx


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
    try:
        # Loopback to the box's own process, only to learn whether it answers: the certificate is not the point.
        return httpx.get(url, timeout=timeout_s, verify=False).status_code < limit
    except httpx.HTTPError:
        return False


def _uds_ok(sock: str, path: str, timeout_s: float) -> bool:
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=sock), timeout=timeout_s) as client:
            return client.get(f"http://box{path}").status_code == 200
    except httpx.HTTPError:
        return False


def _listening(host: str, port: int, timeout_s: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
