"""Lambda's Invoke API (POST /2015-03-31/functions/{name}/invocations), SigV4-signed, for boto3 clients."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Callable

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.gateway import error_mapping, sigv4
from esb_runtime.gateway.config_source import ConfigSource, GatewayConfig
from esb_runtime.gateway.exchange import read_body
from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.manager_client import InvokeResult, ManagerClient
from esb_runtime.gateway.proxied_invoke import call_timeout
from esb_runtime.gateway.request import from_environ
from esb_runtime.gateway.responses import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, ProxyResponse

if TYPE_CHECKING:
    import falcon

PATH = "/2015-03-31/functions/{name}/invocations"
_NAME = r"(?P<name>[A-Za-z0-9_-]{1,140})(?::(?P<qualifier>[A-Za-z0-9$_-]+))?"
_FORMS = (
    re.compile(rf"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{{12}}:function:{_NAME}$"),
    re.compile(rf"^\d{{12}}:function:{_NAME}$"),
    re.compile(rf"^{_NAME}$"),
)
_TYPES = ("RequestResponse", "Event", "DryRun")


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def resolve_name(identifier: str, qualifier: str | None) -> str | None:
    """The function name from a name, partial ARN or full ARN; None unless the version is $LATEST."""
    for form in _FORMS:
        match = form.match(identifier)
        if match:
            version = match["qualifier"] or qualifier
            return match["name"] if version in (None, "", "$LATEST") else None
    return None


def _function_arn(config: GatewayConfig, name: str) -> str:
    return f"arn:aws:lambda:{config.region}:{config.account_id}:function:{name}"


def _error_payload(result: InvokeResult) -> bytes:
    """Lambda's error JSON; the emulator's plain-text timeout and crash messages are wrapped into it."""
    try:
        json.loads(result.payload)
        return result.payload
    except (ValueError, UnicodeDecodeError):
        text = result.payload.decode("utf-8", "replace").strip()
        kind = "Sandbox.Timedout" if result.outcome == "timeout" else "Runtime.ExitError"
        return json.dumps({"errorMessage": text or result.outcome, "errorType": kind}).encode()


class InvokeResource:
    def __init__(
        self,
        *,
        config: ConfigSource,
        manager: ManagerClient,
        credentials: sigv4.Credentials,
        clock: Callable[[], float],
        acquire_timeout_s: float,
        loopback_box: bool = False,
    ) -> None:
        # compat.unsigned_invoke is honoured only when the gateway listens on loopback alone.
        self._loopback_box = loopback_box
        self._config = config
        self._manager = manager
        self._credentials = credentials
        self._clock = clock
        self._acquire_timeout_s = acquire_timeout_s

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        send(resp, self._handle(req, name))

    def _unsigned_allowed(self, req: falcon.Request, config: GatewayConfig) -> bool:
        """An unsigned call is taken only when the box allows it, from loopback, and when it carries no signature
        (a signed request is always checked)."""
        return (config.auth.unsigned_invoke and self._loopback_box and is_loopback(req.remote_addr)
                and not req.get_header("Authorization"))

    def _handle(self, req: falcon.Request, identifier: str) -> ProxyResponse:
        config = self._config.current()
        signed = not self._unsigned_allowed(req, config)
        try:
            # Headers first: a request without the box's key and a fresh date never gets its body read.
            if signed:
                sigv4.check_headers(from_environ(req.env, req.path, b""), self._credentials, service="lambda",
                                    now=self._clock(), require_payload_hash=True)
            body = read_body(req, MAX_SYNC_PAYLOAD)
            if body is None:
                return error_mapping.lambda_error(413, "RequestTooLargeException",
                                                  f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes")
            if signed:
                sigv4.verify(from_environ(req.env, req.path, body), self._credentials, service="lambda",
                             now=self._clock(), require_payload_hash=True)
        except sigv4.SignatureError as exc:
            return error_mapping.lambda_error(403, exc.code, exc.message)
        function = resolve_name(identifier, req.get_param("Qualifier"))
        known = function is not None and (not config.functions or function in config.functions)
        if not known:
            return error_mapping.lambda_error(404, "ResourceNotFoundException",
                                              f"Function not found: {_function_arn(config, identifier)}")
        assert function is not None
        req.context.function = function
        invocation_type = req.get_header("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in _TYPES:
            return error_mapping.lambda_error(400, "InvalidParameterValueException",
                                              f"Invalid invocation type: {invocation_type}")
        if invocation_type == "DryRun":
            return ProxyResponse(204)
        if invocation_type == "Event" and len(body) > MAX_ASYNC_PAYLOAD:
            return error_mapping.lambda_error(413, "RequestTooLargeException",
                                              f"Event payloads must be at most {MAX_ASYNC_PAYLOAD} bytes")
        return self._invoke(req, config, function, invocation_type, body)

    def _invoke(self, req: falcon.Request, config: GatewayConfig, function: str, invocation_type: str,
                body: bytes) -> ProxyResponse:
        info = config.functions.get(function)
        timeout = call_timeout(info.timeout if info else None, self._acquire_timeout_s)
        tail = (req.get_header("X-Amz-Log-Type") or "").lower() == "tail" and invocation_type == "RequestResponse"
        try:
            result = self._manager.invoke(
                function, body, trace_id=req.context.trace.header,
                client_context=req.get_header("X-Amz-Client-Context"),
                invocation_type=invocation_type, log_tail=tail, timeout=timeout,
            )
        except RuntimeBoxError as exc:
            return error_mapping.for_lambda(exc)
        headers = [("x-amzn-RequestId", result.request_id or req.context.request_id)]
        if invocation_type == "Event":
            return ProxyResponse(202, headers)
        headers += [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        if tail and result.log_tail is not None:
            headers.append(("X-Amz-Log-Result", result.log_tail))
        if result.outcome != "ok":
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            return ProxyResponse(200, headers, _error_payload(result))
        return ProxyResponse(200, headers, result.payload)
