"""One proxied invocation (a route or a function URL): the manager call, its timeout and its HTTP answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from esb_runtime.errors import ManagerTimeout, RuntimeBoxError
from esb_runtime.gateway import error_mapping
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.responses import ProxyResponse, from_function, gateway_timeout

if TYPE_CHECKING:
    from esb_runtime.gateway.exchange import Exchange

# Headroom over the function's own timeout for a cold start before the manager answers.
START_ALLOWANCE_S = 30.0
_UNKNOWN_FUNCTION_TIMEOUT_S = 900.0  # Lambda's maximum: the manager answers first for unknown functions
# API Gateway's integration timeouts: past them the client gets 504 whatever the function still does.
INTEGRATION_TIMEOUT_S = {"Api": 29.0, "HttpApi": 30.0}
# One encoder for every event (json.dumps with arguments builds a new one per call).
_encode_event = json.JSONEncoder(separators=(",", ":")).encode


def call_timeout(function_timeout_s: float | None, acquire_timeout_s: float) -> float:
    """How long the gateway waits for the manager: the function's own time plus the lease wait and a cold start."""
    own = _UNKNOWN_FUNCTION_TIMEOUT_S if function_timeout_s is None else function_timeout_s
    return own + acquire_timeout_s + START_ALLOWANCE_S


def invoke_proxied(manager: ManagerClient, req: Exchange, function: str, event: dict[str, Any], *,
                   timeout_s: float, event_kind: str, payload_version: str = "",
                   integration_timeout_s: float | None = None) -> ProxyResponse:
    """Invoke with the request's trace and map the result (or the refusal) the way API Gateway does.

    With an integration timeout (routes; function URLs have none), the wait is capped there and its end is 504."""
    payload = _encode_event(event).encode()
    capped = integration_timeout_s is not None and integration_timeout_s < timeout_s
    try:
        result = manager.invoke(function, payload, trace_id=req.context.trace.header,
                                timeout=integration_timeout_s if capped else timeout_s)
    except ManagerTimeout as exc:
        return gateway_timeout() if capped else error_mapping.for_proxy(exc)
    except RuntimeBoxError as exc:
        return error_mapping.for_proxy(exc)
    req.context.lambda_request_id = result.request_id
    return from_function(result.outcome, result.payload, event_kind, payload_version)
