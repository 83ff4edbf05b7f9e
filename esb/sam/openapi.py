"""Routes of an Api/HttpApi DefinitionBody: OpenAPI paths whose x-amazon-apigateway-integration is a Lambda proxy,
guarded as their `security` requirement says (securitySchemes with x-amazon-apigateway-authorizer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Collection, Mapping

from esb.model import Authorizer, DefinitionRoute
from esb.sam.auth import AuthReader
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar
from esb_runtime.gateway.auth_config import IAM_AUTHORIZER

_ANY = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_AUTHORIZER = "x-amazon-apigateway-authorizer"
_AUTHTYPE = "x-amazon-apigateway-authtype"
_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
# The function's name inside a resolved integration uri: the apigateway form
# (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations) or the bare ARN.
_FUNCTION_ARN = re.compile(r"arn:aws:lambda:[^:]*:[^:]*:function:([^:/]+)")
# identitySource parts (`method.request.header.X`, `$request.querystring.y`, `stageVariables.z`) as SAM's Identity keys.
_IDENTITY_KEYS = {"header": "Headers", "querystring": "QueryStrings", "stageVariables": "StageVariables",
                  "context": "Context"}
API_KEY = "$api_key"  # a scheme that is the API key (x-api-key), not an authorizer


@dataclass(frozen=True)
class Security:
    """The schemes of a DefinitionBody: what each name stands for, and the authorizers they define."""

    roles: Mapping[str, str]  # scheme name → an authorizer name, AWS_IAM or API_KEY
    authorizers: tuple[Authorizer, ...] = ()
    ignored: frozenset[str] = frozenset()  # schemes warned about as unsupported


def _schemes(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        return {}
    found = body.get("securityDefinitions")  # Swagger 2.0
    if found is None and isinstance(body.get("components"), dict):
        found = body["components"].get("securitySchemes")  # OpenAPI 3
    return found if isinstance(found, dict) else {}


def _identity(source: Any, ttl: Any) -> dict[str, Any]:
    identity: dict[str, Any] = {} if ttl is None else {"ReauthorizeEvery": ttl}
    for part in cfn_str(source).split(",") if is_scalar(source) and source is not None else ():
        kind, _, name = part.strip().lstrip("$").removeprefix("method.").removeprefix("request.").partition(".")
        if kind in _IDENTITY_KEYS and name:
            identity.setdefault(_IDENTITY_KEYS[kind], []).append(name)
    return identity


def _sam_shape(scheme: Mapping[str, Any], ext: Mapping[str, Any]) -> dict[str, Any] | None:
    """An x-amazon-apigateway-authorizer as the Auth.Authorizers entry SAM would write for it."""
    kind = cfn_str(ext.get("type", "")).lower() if is_scalar(ext.get("type", "")) else ""
    header = scheme.get("name", "Authorization")
    ttl = ext.get("authorizerResultTtlInSeconds")
    if kind == "cognito_user_pools":
        return {"UserPoolArn": ext.get("providerARNs"), "Identity": {"Header": header}}
    if kind == "jwt":
        return {"JwtConfiguration": ext.get("jwtConfiguration") or {},
                "IdentitySource": ext.get("identitySource", "$request.header.Authorization")}
    if kind == "token":
        identity = {"Header": header, **({} if ttl is None else {"ReauthorizeEvery": ttl})}
        if "identityValidationExpression" in ext:
            identity["ValidationExpression"] = ext["identityValidationExpression"]
        return {"FunctionArn": ext.get("authorizerUri", ""), "FunctionPayloadType": "TOKEN", "Identity": identity}
    if kind == "request":
        shape = {"FunctionArn": ext.get("authorizerUri", ""), "FunctionPayloadType": "REQUEST",
                 "Identity": _identity(ext.get("identitySource"), ttl)}
        for key, sam_key in (("authorizerPayloadFormatVersion", "AuthorizerPayloadFormatVersion"),
                             ("enableSimpleResponses", "EnableSimpleResponses")):
            if key in ext:
                shape[sam_key] = ext[key]
        return shape
    return None


def definition_security(ctx: LoadContext, api_id: str, kind: str, body: Any, reader: AuthReader,
                        taken: Collection[str]) -> Security:
    """The body's security schemes; `taken` are Auth.Authorizers names, which win over a scheme of the same name."""
    roles: dict[str, str] = {}
    authorizers = []
    ignored = set()
    for name, scheme in sorted(_schemes(body).items()):
        name = str(name)
        where = f"DefinitionBody.securitySchemes.{name}"
        scheme = scheme if isinstance(scheme, dict) else {}
        ext = scheme.get(_AUTHORIZER)
        authtype = cfn_str(scheme.get(_AUTHTYPE, "")).lower() if is_scalar(scheme.get(_AUTHTYPE, "")) else ""
        if name in taken:
            roles[name] = name
        elif isinstance(ext, dict):
            shape = _sam_shape(scheme, ext)
            if shape is None:
                ctx.warn(api_id, where, f"authorizer type {ext.get('type')!r} not supported; its routes are open")
                ignored.add(name)
                continue
            authorizers.append(reader.authorizer(api_id, kind, name, shape, ("Resources", api_id, "Properties",
                                                                              "DefinitionBody", name)))
            roles[name] = name
        elif authtype == "awssigv4":
            roles[name] = IAM_AUTHORIZER
        elif scheme.get("type") == "apiKey" and str(scheme.get("name", "")).lower() == "x-api-key":
            roles[name] = API_KEY
        else:
            ctx.warn(api_id, where, "neither an x-amazon-apigateway-authorizer, awsSigv4 nor x-api-key; "
                     "its routes are open")
            ignored.add(name)
    return Security(roles, tuple(authorizers), frozenset(ignored))


def _guard(ctx: LoadContext, api_id: str, where: str, requirement: Any,
           security: Security) -> tuple[str | None, bool, tuple[str, ...]]:
    """(authorizer, API key required, scopes) of a `security` list: API Gateway takes its first requirement."""
    if not isinstance(requirement, list) or not requirement:
        return None, False, ()
    if len(requirement) > 1:
        ctx.warn(api_id, f"{where}.security", "API Gateway uses one requirement per method: the first applies")
    first = requirement[0] if isinstance(requirement[0], dict) else {}
    authorizer, api_key, scopes = None, False, ()
    for name, wanted in first.items():
        role = security.roles.get(str(name))
        if role is None:
            if str(name) in security.ignored:
                continue  # an unsupported scheme, warned about with the schemes
            ctx.fail(("Resources", api_id, "Properties", "DefinitionBody"),
                     f"{where}: security names {name}, which is not a security scheme of the body")
        elif role == API_KEY:
            api_key = True
        else:
            authorizer = role
            scopes = tuple(cfn_str(s) for s in wanted or () if is_scalar(s))
    return authorizer, api_key, scopes



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


def definition_routes(ctx: LoadContext, api_id: str, body: Any, functions: Collection[str],
                      security: Security | None = None) -> tuple[DefinitionRoute, ...]:
    """Routes of a resolved DefinitionBody; `functions` are the template's function names (ARN targets)."""
    security = security or Security({})
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
            if target is None:
                continue
            requirement = operation.get("security", body.get("security"))
            guard = _guard(ctx, api_id, where, requirement, security) if requirement is not None else (None, False, ())
            routes.append(DefinitionRoute(path=str(path), method=method, function=target[0], payload_format=target[1],
                                          secured=requirement is not None, authorizer=guard[0], api_key=guard[1],
                                          scopes=guard[2]))
    return tuple(sorted(routes, key=lambda r: (r.path, r.method)))
