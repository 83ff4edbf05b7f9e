"""API fronts: explicit AWS::Serverless::Api/HttpApi and SAM's implicit ServerlessRestApi/HttpApi."""

from __future__ import annotations

from typing import Any, Collection, Literal

from esb.model import Api
from esb.sam.auth import AuthReader
from esb.sam.cognito import box_pool
from esb.sam.context import LoadContext
from esb.sam.cors import list_cors, rest_api_cors
from esb.sam.openapi import definition_routes, definition_security
from esb.sam.scalars import cfn_str, is_scalar

IMPLICIT_REST = "ServerlessRestApi"
IMPLICIT_HTTP = "ServerlessHttpApi"
DEFAULT_STAGE = {"Api": "Prod", "HttpApi": "$default"}

# Properties that shape a deployed API but mean nothing for a local gateway. Those that change what a client
# sees (GatewayResponses, Models, MethodSettings/RouteSettings throttling, MinimumCompressionSize, CanarySetting)
# are not here: they are warned about as unsupported.
_QUIET = frozenset({
    "AccessLogSetting", "AccessLogSettings", "AlwaysDeploy", "ApiKeySourceType", "CacheClusterEnabled",
    "CacheClusterSize", "Description", "DisableExecuteApiEndpoint", "Domain", "EndpointConfiguration",
    "FailOnWarnings", "MergeDefinitions", "Mode", "Name", "OpenApiVersion", "PropagateTags", "Tags", "TracingEnabled",
})
_VARIABLES_KEY = {"Api": "Variables", "HttpApi": "StageVariables"}
# REST APIs only: HTTP APIs have no binary media types (they base64 every non-text body themselves).
_BINARY_KEY = "BinaryMediaTypes"
_BINARY_EXTENSION = "x-amazon-apigateway-binary-media-types"


def build_api(
    ctx: LoadContext, logical_id: str, kind: Literal["Api", "HttpApi"], props: dict[str, Any],
    function_names: Collection[str] = (), auth: AuthReader | None = None,
) -> Api:
    """One Api from resolved, globals-merged properties; `function_names` are what DefinitionBody routes may target."""
    path = ("Resources", logical_id, "Properties")
    cors_key = "Cors" if kind == "Api" else "CorsConfiguration"
    known = {"StageName", "Auth", cors_key, _VARIABLES_KEY[kind], "DefinitionBody"}
    if kind == "Api":
        known.add(_BINARY_KEY)
    for key in props:
        if key not in known and key not in _QUIET:
            ctx.warn(logical_id, key, "not supported, ignored")
    stage = props.get("StageName", DEFAULT_STAGE[kind])
    if not is_scalar(stage) or cfn_str(stage) == "":
        ctx.fail((*path, "StageName"), "StageName must be a non-empty string")
    if kind == "Api":
        cors = rest_api_cors(ctx, props.get("Cors"), (*path, "Cors"))
    else:
        cors = list_cors(ctx, props.get("CorsConfiguration"), (*path, "CorsConfiguration"))
    reader = auth or AuthReader(ctx, (), box_pool(ctx), function_names)
    authorizers, default, api_key = reader.api(logical_id, kind, props.get("Auth"), (*path, "Auth"))
    body = props.get("DefinitionBody")
    security = definition_security(ctx, logical_id, kind, body, reader, {a.name for a in authorizers})
    return Api(
        logical_id=logical_id,
        kind=kind,
        stage=cfn_str(stage),
        cors=cors,
        authorizers=tuple(sorted((*authorizers, *security.authorizers), key=lambda a: a.name)),
        default_authorizer=default,
        api_key_required=api_key,
        variables=_stage_variables(ctx, props.get(_VARIABLES_KEY[kind]), (*path, _VARIABLES_KEY[kind])),
        definition_routes=definition_routes(ctx, logical_id, body, function_names, security),
        binary_media_types=_binary_media_types(ctx, props, path) if kind == "Api" else (),
        usage_plan=reader.usage_plan(logical_id, kind, props.get("Auth"), (*path, "Auth")),
    )


def _binary_media_types(ctx: LoadContext, props: dict[str, Any], path: tuple[str, ...]) -> tuple[str, ...]:
    """BinaryMediaTypes (SAM writes `/` as `~1`, e.g. image~1png) plus the DefinitionBody's own list."""
    body = props.get("DefinitionBody")
    from_body = body.get(_BINARY_EXTENSION) if isinstance(body, dict) else None
    found: list[str] = []
    for where, value in ((_BINARY_KEY, props.get(_BINARY_KEY)), (f"DefinitionBody.{_BINARY_EXTENSION}", from_body)):
        if value is None:
            continue
        if not isinstance(value, list) or not all(is_scalar(v) for v in value):
            ctx.fail((*path, *where.split(".", 1)), "binary media types must be a list of media types like image~1png")
        found += [cfn_str(v).replace("~1", "/").strip().lower() for v in value]
    return tuple(sorted(set(found)))


def _stage_variables(ctx: LoadContext, value: Any, path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Stage variables reach the function as the event's stageVariables."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(is_scalar(v) for v in value.values()):
        ctx.fail(path, "stage variables must be a mapping of names to strings")
    return tuple(sorted((str(k), cfn_str(v)) for k, v in value.items()))
