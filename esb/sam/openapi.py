"""Routes of an Api/HttpApi DefinitionBody: OpenAPI paths whose x-amazon-apigateway-integration is a Lambda proxy."""

from __future__ import annotations

import re
from typing import Any, Collection

from esb.model import DefinitionRoute
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar

_ANY = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
# The function's name inside a resolved integration uri: the apigateway form
# (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations) or the bare ARN.
_FUNCTION_ARN = re.compile(r"arn:aws:lambda:[^:]*:[^:]*:function:([^:/]+)")


def _integration_target(ctx: LoadContext, api_id: str, where: str, operation: Any,
                        functions: Collection[str]) -> tuple[str, str | None] | None:
    """(function name, payload format) of one operation, or None (with a warning) when it cannot be served."""
    integration = operation.get(_INTEGRATION) if isinstance(operation, dict) else None
    if not isinstance(integration, dict):
        ctx.warn(api_id, where, "no x-amazon-apigateway-integration, route ignored")
        return None
    kind = cfn_str(integration.get("type", "")) if is_scalar(integration.get("type", "")) else ""
    if kind.lower() != "aws_proxy":
        ctx.warn(api_id, where, f"integration type '{kind}' not supported (only aws_proxy), route ignored")
        return None
    uri = integration.get("uri")
    found = _FUNCTION_ARN.search(uri) if isinstance(uri, str) else None
    if found is None or found.group(1) not in functions:
        ctx.warn(api_id, where, "integration uri names no function of this template, route ignored")
        return None
    payload = integration.get("payloadFormatVersion")
    return found.group(1), cfn_str(payload) if is_scalar(payload) else None


def definition_routes(ctx: LoadContext, api_id: str, body: Any, functions: Collection[str]) -> tuple[DefinitionRoute, ...]:
    """Routes of a resolved DefinitionBody; `functions` are the template's function names (ARN targets)."""
    if body is None:
        return ()
    paths = body.get("paths") if isinstance(body, dict) else None
    if not isinstance(paths, dict):
        ctx.warn(api_id, "DefinitionBody", "no paths mapping, no routes served from it")
        return ()
    routes: list[DefinitionRoute] = []
    for path, operations in paths.items():
        if not isinstance(operations, dict):
            continue
        for key, operation in operations.items():
            method = "ANY" if key == _ANY else str(key).upper()
            if key != _ANY and str(key).lower() not in _METHODS:
                continue  # parameters, summary, other extensions
            where = f"DefinitionBody.paths.{path}.{key}"
            target = _integration_target(ctx, api_id, where, operation, functions)
            if target is not None:
                routes.append(DefinitionRoute(path=str(path), method=method, function=target[0], payload_format=target[1]))
    return tuple(sorted(routes, key=lambda r: (r.path, r.method)))
