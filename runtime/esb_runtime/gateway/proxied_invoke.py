"""One proxied invocation (a route or a function URL): the manager call, its timeout and its HTTP answer."""

from __future__ import annotations

import json
from typing import Any

import falcon

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.gateway import error_mapping
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.responses import ProxyResponse, from_function

# Headroom over the function's own timeout for a cold start before the manager answers.
START_ALLOWANCE_S = 30.0
_UNKNOWN_FUNCTION_TIMEOUT_S = 900.0  # Lambda's maximum: the manager answers first for unknown functions


def call_timeout(function_timeout_s: float | None, acquire_timeout_s: float) -> float:
    """How long the gateway waits for the manager: the function's own time plus the lease wait and a cold start."""
    own = _UNKNOWN_FUNCTION_TIMEOUT_S if function_timeout_s is None else function_timeout_s
    return own + acquire_timeout_s + START_ALLOWANCE_S


def invoke_proxied(manager: ManagerClient, req: falcon.Request, function: str, event: dict[str, Any], *,
                   timeout_s: float, event_kind: str, payload_version: str = "") -> ProxyResponse:
    """Invoke with the request's trace and map the result (or the refusal) the way API Gateway does."""
    payload = json.dumps(event, separators=(",", ":")).encode()
    try:
        result = manager.invoke(function, payload, trace_id=req.context.trace.header, timeout=timeout_s)
    except RuntimeBoxError as exc:
        return error_mapping.for_proxy(exc)
    req.context.lambda_request_id = result.request_id
    return from_function(result.outcome, result.payload, event_kind, payload_version)
