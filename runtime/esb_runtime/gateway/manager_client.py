"""The gateway's client of the manager's internal API (HTTP/1.1 over its unix socket)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol
from urllib.parse import quote


from esb_runtime.errors import (
    CircuitOpen,
    EngineError,
    FunctionNotFound,
    ManagerTimeout,
    ManagerUnavailable,
    PayloadTooLarge,
    RuntimeBoxError,
    TooManyRequests,
)

_BY_STATUS: dict[int, type[RuntimeBoxError]] = {
    404: FunctionNotFound,
    413: PayloadTooLarge,
    429: TooManyRequests,
    502: CircuitOpen,
    503: EngineError,
}


@dataclass(frozen=True)
class InvokeResult:
    status: int  # 200, or 202 for an Event invocation queued by the manager
    outcome: str  # ok | error | timeout | crash | init_error
    request_id: str
    payload: bytes
    log_tail: str | None = None  # base64 of the invocation's last 4 KB of log
    sandbox: str | None = None


class ManagerClient(Protocol):
    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        trace_id: str,
        client_context: str | None = None,
        invocation_type: str = "RequestResponse",
        log_tail: bool = False,
        timeout: float | None = None,
    ) -> InvokeResult: ...

    def health(self) -> dict[str, Any] | None: ...


def error_for(status: int, message: str) -> RuntimeBoxError:
    """The runtime error a manager's refusal stands for (by its HTTP status), on the API or the lease socket."""
    error_type = _BY_STATUS.get(status, RuntimeBoxError)
    return error_type(message or f"manager answered {status}")


def _error_from(status: int, body: bytes) -> RuntimeBoxError:
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    return error_for(status, message)


@contextlib.contextmanager
def translate_transport_errors(socket_path: str) -> Iterator[None]:
    """The one place where socket and HTTP client exceptions become runtime errors."""
    try:
        yield
    except (socket.timeout, TimeoutError) as exc:
        raise ManagerTimeout(f"manager at {socket_path} did not answer in time") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ManagerUnavailable(f"manager at {socket_path} unreachable: {exc}") from exc


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the manager's API; the box's readiness probes)."""

    def __init__(self, socket_path: str, connect_timeout_s: float) -> None:
        super().__init__("esb-manager", timeout=connect_timeout_s)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class UdsManagerClient:
    """Keep-alive HTTP/1.1 connections to the manager's unix socket; cooperative once gevent patched sockets.

    Plain http.client rather than httpx: this call sits on every request's path and httpx's pool
    bookkeeping cost more than the rest of the gateway together.
    """

    def __init__(
        self,
        socket_path: Path | str,
        *,
        invoke_timeout_s: float = 960.0,
        connect_timeout_s: float = 2.0,
        max_connections: int = 256,
    ) -> None:
        self._socket = str(socket_path)
        self._invoke_timeout_s = invoke_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_idle = max_connections
        self._idle: list[UnixHTTPConnection] = []

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
                 timeout_s: float) -> tuple[int, http.client.HTTPMessage, bytes]:
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else UnixHTTPConnection(self._socket, self._connect_timeout_s)
        try:
            with translate_transport_errors(self._socket):
                try:
                    return self._exchange(conn, method, path, body, headers, timeout_s)
                except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                    if not reused:
                        raise
                    # The manager closed an idle keep-alive connection (or restarted): one fresh try.
                    # Safe to resend: the request never reached a live connection.
                    conn.close()
                    conn = UnixHTTPConnection(self._socket, self._connect_timeout_s)
                    return self._exchange(conn, method, path, body, headers, timeout_s)
        except BaseException:
            conn.close()
            raise

    def _exchange(self, conn: UnixHTTPConnection, method: str, path: str, body: bytes | None,
                  headers: dict[str, str], timeout_s: float) -> tuple[int, http.client.HTTPMessage, bytes]:
        if conn.sock is None:
            conn.connect()
        conn.sock.settimeout(timeout_s)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.will_close or len(self._idle) >= self._max_idle:
            conn.close()
        else:
            self._idle.append(conn)
        return response.status, response.headers, data

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        trace_id: str,
        client_context: str | None = None,
        invocation_type: str = "RequestResponse",
        log_tail: bool = False,
        timeout: float | None = None,
    ) -> InvokeResult:
        headers = {"X-Esb-Trace-Id": trace_id, "X-Esb-Invocation-Type": invocation_type,
                   "Content-Type": "application/octet-stream"}
        if client_context:
            headers["X-Esb-Client-Context"] = client_context
        if log_tail:
            headers["X-Esb-Log-Tail"] = "1"
        status, h, body = self._request("POST", f"/v1/functions/{quote(function, safe='')}/invoke", payload,
                                        headers, timeout or self._invoke_timeout_s)
        if status >= 400:
            raise _error_from(status, body)
        return InvokeResult(
            status=status,
            outcome=h.get("X-Esb-Outcome", "ok"),
            request_id=h.get("X-Esb-Request-Id", ""),
            payload=body,
            log_tail=h.get("X-Esb-Log-Tail"),
            sandbox=h.get("X-Esb-Sandbox"),
        )

    def health(self) -> dict[str, Any] | None:
        """The manager's health document, or None when it cannot be reached quickly."""
        try:
            status, _, body = self._request("GET", "/v1/health", None, {}, 2.0)
            return json.loads(body) if status == 200 else None
        except (ManagerUnavailable, ValueError):
            return None

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
