"""Sandbox entry point: awslambdaric plus the trace id the RIE drops, restored per invocation."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

# The manager carries X-Amzn-Trace-Id here, inside the client context, because the RIE drops the header.
TRACE_KEY = "x-esb-trace-id"


def split_client_context(client_context_json: Any) -> tuple[Any, str | None]:
    """Remove the trace carrier; return (client context JSON as the caller sent it or None, trace id)."""
    if not client_context_json:
        return client_context_json, None
    try:
        data = json.loads(client_context_json)
    except ValueError:
        return client_context_json, None  # let awslambdaric report the malformed context as usual
    if not isinstance(data, dict) or not isinstance(data.get("custom"), dict):
        return client_context_json, None
    custom = data["custom"]
    if TRACE_KEY not in custom:
        return client_context_json, None
    trace = custom.pop(TRACE_KEY)
    if not custom:
        data.pop("custom")
    # Only the carrier was there: the caller sent no client context at all.
    restored = json.dumps(data) if data else None
    return restored, str(trace) if trace else None


def wrap_event_handler(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap awslambdaric's handle_event_request to restore _X_AMZN_TRACE_ID before the handler runs."""

    def handle_event_request(lambda_runtime_client: Any, request_handler: Any, invoke_id: Any,
                             event_body: Any, content_type: Any, client_context_json: Any,
                             *rest: Any, **kwargs: Any) -> Any:
        client_context_json, trace = split_client_context(client_context_json)
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        return original(lambda_runtime_client, request_handler, invoke_id, event_body, content_type,
                        client_context_json, *rest, **kwargs)

    return handle_event_request


def main(argv: list[str]) -> None:
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    if len(argv) < 2:
        raise SystemExit("usage: python -m esb_runtime.sandbox.bootstrap <module.handler>")
    # The handler module is imported from the code dir (cwd), as awslambdaric does on Lambda.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    bootstrap.handle_event_request = wrap_event_handler(bootstrap.handle_event_request)
    client = LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"], False)
    bootstrap.run(argv[1], client)


if __name__ == "__main__":
    main(sys.argv)
