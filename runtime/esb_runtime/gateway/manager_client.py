"""The gateway's client of the manager's internal API (HTTP/1.1 over its unix socket)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol
from urllib.parse import quote

import httpx

from esb_runtime.errors import (
    EngineError,
    FunctionNotFound,
    ManagerUnavailable,
    PayloadTooLarge,
    RuntimeBoxError,
    TooManyRequests,
)

_BY_STATUS: dict[int, type[RuntimeBoxError]] = {
    404: FunctionNotFound,
    413: PayloadTooLarge,
    429: TooManyRequests,
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


def _error_from(response: httpx.Response) -> RuntimeBoxError:
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text[:200]
    error_type = _BY_STATUS.get(response.status_code, RuntimeBoxError)
    return error_type(message or f"manager answered {response.status_code}")


@contextlib.contextmanager
def translate_transport_errors(socket_path: str) -> Iterator[None]:
    """The one place where httpx's exceptions become runtime errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ManagerUnavailable(f"manager at {socket_path} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise ManagerUnavailable(f"manager at {socket_path} unreachable: {exc}") from exc


class UdsManagerClient:
    """Keep-alive connections to the manager's unix socket; safe under gevent once sockets are patched."""

    def __init__(
        self,
        socket_path: Path | str,
        *,
        invoke_timeout_s: float = 960.0,
        connect_timeout_s: float = 2.0,
        max_connections: int = 256,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._socket = str(socket_path)
        self._invoke_timeout_s = invoke_timeout_s
        self._connect_timeout_s = connect_timeout_s
        # One retry covers a connection refused while the manager restarts; invocations are never
        # retried once sent (HTTPTransport retries only failed connects).
        transport = transport or httpx.HTTPTransport(uds=self._socket, retries=1)
        self._client = httpx.Client(
            transport=transport,
            base_url="http://esb-manager",
            timeout=self._timeout(invoke_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=64,
                                keepalive_expiry=30.0),
        )

    def _timeout(self, read_s: float) -> httpx.Timeout:
        return httpx.Timeout(read_s, connect=self._connect_timeout_s, write=30.0, pool=read_s)

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
        headers = {"X-Esb-Trace-Id": trace_id, "X-Esb-Invocation-Type": invocation_type}
        if client_context:
            headers["X-Esb-Client-Context"] = client_context
        if log_tail:
            headers["X-Esb-Log-Tail"] = "1"
        with translate_transport_errors(self._socket):
            response = self._client.post(
                f"/v1/functions/{quote(function, safe='')}/invoke",
                content=payload,
                headers=headers,
                timeout=self._timeout(timeout) if timeout else httpx.USE_CLIENT_DEFAULT,
            )
        if response.status_code >= 400:
            raise _error_from(response)
        h = response.headers
        return InvokeResult(
            status=response.status_code,
            outcome=h.get("X-Esb-Outcome", "ok"),
            request_id=h.get("X-Esb-Request-Id", ""),
            payload=response.content,
            log_tail=h.get("X-Esb-Log-Tail"),
            sandbox=h.get("X-Esb-Sandbox"),
        )

    def health(self) -> dict[str, Any] | None:
        """The manager's health document, or None when it cannot be reached quickly."""
        try:
            with translate_transport_errors(self._socket):
                response = self._client.get("/v1/health", timeout=self._timeout(2.0))
            return response.json() if response.status_code == 200 else None
        except (ManagerUnavailable, json.JSONDecodeError, ValueError):
            return None

    def close(self) -> None:
        self._client.close()
