"""The Globals section: which properties it may set and how SAM merges them into a resource."""

from __future__ import annotations

from typing import Any

from esb.sam.context import LoadContext

FUNCTION_GLOBALS = frozenset({
    "Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue", "DeploymentPreference",
    "Description", "Environment", "EphemeralStorage", "EventInvokeConfig", "FileSystemConfigs",
    "FunctionUrlConfig", "Handler", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize",
    "PermissionsBoundary", "PropagateTags", "ProvisionedConcurrencyConfig", "RecursiveLoop",
    "ReservedConcurrentExecutions", "RolePath", "Runtime", "RuntimeManagementConfig", "SnapStart",
    "SourceKMSKeyArn", "Tags", "Timeout", "Tracing", "VpcConfig",
})
API_GLOBALS = frozenset({
    "AccessLogSetting", "AlwaysDeploy", "Auth", "BinaryMediaTypes", "CacheClusterEnabled", "CacheClusterSize",
    "CanarySetting", "Cors", "DefinitionUri", "Domain", "EndpointConfiguration", "GatewayResponses",
    "MergeDefinitions", "MethodSettings", "MinimumCompressionSize", "Name", "OpenApiVersion", "PropagateTags",
    "TracingEnabled", "Variables",
})
HTTP_API_GLOBALS = frozenset({
    "AccessLogSettings", "Auth", "CorsConfiguration", "DefaultRouteSettings", "Domain",
    "FailOnWarnings", "PropagateTags", "RouteSettings", "StageVariables", "Tags",
})
SIMPLE_TABLE_GLOBALS = frozenset({"SSESpecification"})

_SECTIONS = {
    "Function": FUNCTION_GLOBALS,
    "Api": API_GLOBALS,
    "HttpApi": HTTP_API_GLOBALS,
    "SimpleTable": SIMPLE_TABLE_GLOBALS,
    "StateMachine": frozenset(),
}
# SAM concatenates lists, but a function runs on one architecture: the resource's list replaces
# the global one (SAM itself is moving to this, aws/serverless-application-model#3939).
_REPLACED_LISTS = frozenset({"Architectures"})


def read_globals(ctx: LoadContext) -> dict[str, dict[str, Any]]:
    """The usable Globals sections; unknown sections and properties become warnings."""
    raw = ctx.raw.get("Globals") or {}
    if not isinstance(raw, dict):
        ctx.fail(("Globals",), "Globals must be a mapping")
    result: dict[str, dict[str, Any]] = {}
    for section, props in raw.items():
        if section not in _SECTIONS:
            ctx.warn("Globals", section, "not a Globals section SAM knows, ignored")
            continue
        if not isinstance(props, dict):
            ctx.fail(("Globals", section), f"Globals.{section} must be a mapping")
        kept = {}
        for key, value in props.items():
            if key in _SECTIONS[section]:
                kept[key] = value
            else:
                ctx.warn("Globals", f"{section}.{key}", "not supported in Globals, ignored")
        result[section] = kept
    return result


def merge_globals(global_props: dict[str, Any], local_props: dict[str, Any]) -> dict[str, Any]:
    """SAM's rule: scalars from the resource win, maps merge key by key, lists add up (global first)."""
    merged = dict(global_props)
    for key, local in local_props.items():
        if key in merged and key not in _REPLACED_LISTS:
            merged[key] = _merge_value(merged[key], local)
        else:
            merged[key] = local
    return merged


def _merge_value(global_value: Any, local_value: Any) -> Any:
    if _is_plain_map(global_value) and _is_plain_map(local_value):
        return merge_globals(global_value, local_value)
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _is_plain_map(value: Any) -> bool:
    """A mapping that is not an intrinsic function (those merge as scalars)."""
    if not isinstance(value, dict):
        return False
    if len(value) == 1:
        (key,) = value
        return not (key == "Ref" or key == "Condition" or str(key).startswith("Fn::"))
    return True
