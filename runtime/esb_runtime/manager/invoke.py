"""The invocation client: one POST to a sandbox's RIE, its answer classified as Lambda would."""

from __future__ import annotations

import base64
import json
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.manager import rie_http
from esb_runtime.sandbox.bootstrap import TRACE_KEY
from esb_runtime.sockets import send_all

OK, ERROR, TIMEOUT, CRASH, INIT_ERROR = "ok", "error", "timeout", "crash", "init_error"
REUSABLE = frozenset({OK, ERROR})  # a timed-out, crashed or failed-init sandbox is never reused
DEADLINE_MARGIN_S = 2.0
_ERROR_KEYS = {"errorMessage", "errorType"}
_REQUEST_ID = re.compile(r"RequestId: ([0-9a-fA-F-]{36})")
_TRACE_ONLY = b'{"custom": {"' + TRACE_KEY.encode() + b'": %s}}'  # what json.dumps gives for the trace alone


class InvalidRequest(RuntimeBoxError):
    status = 400
    code = "InvalidRequestContentException"


@dataclass(frozen=True)
class InvokeResult:
    outcome: str
    body: bytes
    request_id: str | None = None
    delivered: bool = True  # False: the RIE refused the connection, so the function surely did not run


def client_context_header(client_context_b64: str | None, trace_id: str | None) -> str | None:
    """The caller's client context (base64 JSON) with the trace carrier added in `custom`."""
    if not client_context_b64:  # every proxied call: only the trace, with no JSON round trip
        return base64.b64encode(_TRACE_ONLY % json.dumps(trace_id).encode()).decode() if trace_id else None
    try:
        data = json.loads(base64.b64decode(client_context_b64, validate=True))
    except ValueError as exc:
        raise InvalidRequest("X-Esb-Client-Context is not base64-encoded JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("X-Esb-Client-Context must encode a JSON object")
    if trace_id:
        custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
        data["custom"] = {**custom, TRACE_KEY: trace_id}
    if not data:
        return None
    return base64.b64encode(json.dumps(data).encode()).decode()


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def classify(status: int, body: bytes) -> tuple[str, str | None]:
    """(outcome, request id when the body tells it) from the RIE's answer (DESIGN section 4)."""
    # An error document always names its errorType: a plain 200 answer is not parsed here (the caller parses it
    # once for the response mapping; parsing it twice was a twentieth of the gateway's time).
    data = _json(body) if body[:1] == b"{" and (status != 200 or b'"errorType"' in body) else None
    request_id = None
    if data is not None:
        request_id = data.get("requestId") or None
        if request_id is None:
            match = _REQUEST_ID.search(str(data.get("errorMessage", "")))
            request_id = match.group(1) if match else None
    if status == 200:
        if body.startswith(b"Task timed out after"):
            return TIMEOUT, None
        # No header marks a function error: the RIE's error document is the only sign.
        if data is not None and _ERROR_KEYS <= data.keys() and "stackTrace" in data and len(data) == 4:
            return ERROR, request_id
        return OK, None
    if data is not None and status == 502:
        error_type = str(data.get("errorType", ""))
        if error_type == "Runtime.ExitError":
            return CRASH, request_id
        if data.get("requestId") == "" or error_type.startswith("Runtime."):
            return INIT_ERROR, None
    return CRASH, request_id


def crash_body(message: str, request_id: str | None = None) -> bytes:
    prefix = f"RequestId: {request_id} Error: " if request_id else ""
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": prefix + message}).encode()


class RieClient:
    """A keep-alive HTTP/1.1 connection to one sandbox's RIE (safe: leases are exclusive).

    A raw socket and the small parser in rie_http rather than http.client: the RIE always answers with a status
    line, three headers and a Content-Length (or chunks), and http.client's email-based header parser was a
    fifth of the manager's CPU per call (issue 14).
    """

    def __init__(self, invoke_url: str) -> None:
        parts = urlsplit(invoke_url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                      "Content-Type: application/json\r\n").encode()
        self._sock: socket.socket | None = None

    def post(self, payload: bytes, client_context: str | None, timeout_s: float) -> tuple[int, bytes]:
        """Raise OSError/rie_http.BadResponse on transport failures; socket.timeout when the deadline passes."""
        extra = f"X-Amz-Client-Context: {client_context}\r\n" if client_context else ""
        request = b"".join((self._head, f"{extra}Content-Length: {len(payload)}\r\n\r\n".encode(), payload))
        reused = self._sock is not None
        try:
            return self._once(request, timeout_s)
        except (rie_http.Closed, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
        # A kept-alive connection the server had closed: the request never reached the RIE.
        return self._once(request, timeout_s)

    def _once(self, request: bytes, timeout_s: float) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self._sock
        sock.settimeout(timeout_s)
        try:
            send_all(sock, request)
            status, body, keep = rie_http.read_response(sock)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def invoke(client: RieClient, payload: bytes, *, timeout_s: int, client_context: str | None) -> InvokeResult:
    """One invocation with a deadline of Timeout + margin; transport failures become crash/timeout results."""
    try:
        status, body = client.post(payload, client_context, timeout_s + DEADLINE_MARGIN_S)
    except socket.timeout:
        return InvokeResult(TIMEOUT, f"Task timed out after {timeout_s:.2f} seconds".encode())
    except ConnectionRefusedError as exc:  # nothing listens: the sandbox died before this call reached it
        return InvokeResult(CRASH, crash_body(f"sandbox connection failed: {exc}"), delivered=False)
    except (OSError, rie_http.BadResponse) as exc:
        return InvokeResult(CRASH, crash_body(f"sandbox connection failed: {exc.__class__.__name__}: {exc}"))
    outcome, request_id = classify(status, body)
    return InvokeResult(outcome, body, request_id)
