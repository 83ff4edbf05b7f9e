"""The one place where runtime errors become HTTP answers, in API Gateway's and in Lambda's style."""

from __future__ import annotations

import json

from esb_runtime.errors import EngineError, ManagerUnavailable, RuntimeBoxError
from esb_runtime.gateway.responses import ProxyResponse, bad_gateway, json_error

_PROXY_MESSAGES = {
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}
_LAMBDA_CODES = {413: "RequestTooLargeException"}


def for_proxy(exc: RuntimeBoxError) -> ProxyResponse:
    """API Gateway's answer when the manager refuses an invocation for a route."""
    message = _PROXY_MESSAGES.get(exc.status)
    if message is None:
        # A route whose function the manager does not know, or any other fault behind the
        # gateway, is an integration failure for the client.
        return bad_gateway()
    return json_error(exc.status, message)


def lambda_error(status: int, code: str, message: str, *, error_kind: str = "User") -> ProxyResponse:
    """An error as the Lambda API gives it: botocore reads the code from x-amzn-ErrorType."""
    body = json.dumps({"Type": error_kind, "message": message}).encode()
    return ProxyResponse(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], body)


def for_lambda(exc: RuntimeBoxError) -> ProxyResponse:
    if isinstance(exc, (EngineError, ManagerUnavailable)) or exc.status >= 500:
        return lambda_error(exc.status if exc.status >= 500 else 500, "ServiceException", exc.message,
                            error_kind="Service")
    return lambda_error(exc.status, _LAMBDA_CODES.get(exc.status, exc.code), exc.message)
