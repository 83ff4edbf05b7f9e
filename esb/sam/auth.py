"""Auth of Api/HttpApi resources and of their route events: authorizers, the default one, API keys."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Collection

from esb.model import Api, Authorizer, UsagePlan, UserPool
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar, to_bool
from esb_runtime.gateway.auth_config import IAM_AUTHORIZER, QUOTA_PERIODS

Path = tuple[str, ...]
_FUNCTION_IN_ARN = re.compile(r":function:([A-Za-z0-9_-]+)")
_POOL_IN_ARN = re.compile(r"userpool/([\w-]+)$")
# Auth keys that shape a deployed API but not what a local request may do.
_QUIET_API = frozenset({"AddDefaultAuthorizerToCorsPreflight", "AddApiKeyRequiredToCorsPreflight", "InvokeRole",
                        "Authorizers", "DefaultAuthorizer", "ApiKeyRequired", "EnableIamAuthorizer",
                        "UsagePlan"})
_PLAN_NAMES = {"PER_API": "{api}UsagePlan", "SHARED": "ServerlessUsagePlan"}  # SAM's logical ids of the plans
_QUIET_PLAN = frozenset({"CreateUsagePlan", "Quota", "Throttle", "Description", "Tags", "UsagePlanName"})
_REST_IDENTITY = {"Headers": "header", "QueryStrings": "querystring", "StageVariables": "stageVariables",
                  "Context": "context"}
_REST_DEFAULT_TTL = 300


class AuthReader:
    """Reads Auth with what it may refer to: the template's pools, the box's pool and function names."""

    def __init__(self, ctx: LoadContext, pools: tuple[UserPool, ...], box: UserPool,
                 function_names: Collection[str]) -> None:
        self.ctx, self.pools, self.box, self.functions = ctx, pools, box, function_names

    def api(self, api_id: str, kind: str, auth: Any, path: Path) -> tuple[tuple[Authorizer, ...], str | None, bool]:
        """(authorizers, DefaultAuthorizer, ApiKeyRequired) of one API."""
        if auth is None:
            return (), None, False
        if not isinstance(auth, dict):
            self.ctx.fail(path, "Auth must be a mapping")
        for key in auth:
            if key not in _QUIET_API:
                self.ctx.warn(api_id, f"Auth.{key}", "not supported, ignored")
        specs = auth.get("Authorizers") or {}
        if not isinstance(specs, dict):
            self.ctx.fail((*path, "Authorizers"), "Authorizers must be a mapping of name to authorizer")
        authorizers = tuple(self.authorizer(api_id, kind, str(name), spec, (*path, "Authorizers", str(name)))
                            for name, spec in sorted(specs.items()))
        default = auth.get("DefaultAuthorizer")
        default_name = cfn_str(default) if is_scalar(default) and default is not None else None
        if default_name == "NONE":  # spelled out: routes are open by default anyway
            default_name = None
        known = {a.name for a in authorizers} | {IAM_AUTHORIZER}  # AWS_IAM: SigV4 with the box's credentials
        if default_name is not None and default_name not in known:
            self.ctx.fail((*path, "DefaultAuthorizer"), f"DefaultAuthorizer {default_name} is not in Auth.Authorizers")
        return authorizers, default_name, self._flag(auth, "ApiKeyRequired", path)

    def usage_plan(self, api_id: str, kind: str, auth: Any, path: Path) -> UsagePlan | None:
        """Auth.UsagePlan of a REST API: its Throttle and Quota, enforced per API key on ApiKeyRequired routes."""
        spec = auth.get("UsagePlan") if isinstance(auth, dict) else None
        if spec is None:
            return None
        path = (*path, "UsagePlan")
        if kind != "Api":
            self.ctx.warn(api_id, "Auth.UsagePlan", "HTTP APIs have no usage plans, ignored")
            return None
        if not isinstance(spec, dict):
            self.ctx.fail(path, "UsagePlan must be a mapping with CreateUsagePlan")
        for key in spec:
            if key not in _QUIET_PLAN:
                self.ctx.warn(api_id, f"Auth.UsagePlan.{key}", "not supported, ignored")
        create = cfn_str(spec.get("CreateUsagePlan", "")) if is_scalar(spec.get("CreateUsagePlan", "")) else ""
        if create == "NONE":
            return None
        if create not in _PLAN_NAMES:
            self.ctx.fail((*path, "CreateUsagePlan"), "CreateUsagePlan must be PER_API, SHARED or NONE")
        return self.plan_limits(_PLAN_NAMES[create].format(api=api_id), spec, path)

    def plan_limits(self, name: str, spec: dict, path: Path) -> UsagePlan:
        """Throttle and Quota of a plan: SAM's Auth.UsagePlan and AWS::ApiGateway::UsagePlan spell them alike."""
        throttle = self._section(spec, "Throttle", ("BurstLimit", "RateLimit"), path)
        quota = self._section(spec, "Quota", ("Limit", "Period", "Offset"), path)
        period = cfn_str(quota.get("Period", "DAY")).upper()
        if period not in QUOTA_PERIODS:
            self.ctx.fail((*path, "Quota", "Period"), "Quota.Period must be DAY, WEEK or MONTH")
        return UsagePlan(
            name=name,
            rate=self._number(throttle, "RateLimit", (*path, "Throttle"), float),
            burst=self._number(throttle, "BurstLimit", (*path, "Throttle"), int),
            limit=self._number(quota, "Limit", (*path, "Quota"), int),
            period=period, offset=self._number(quota, "Offset", (*path, "Quota"), int) or 0,
        )

    def _section(self, spec: dict, key: str, known: tuple[str, ...], path: Path) -> dict:
        value = spec.get(key) or {}
        if not isinstance(value, dict) or any(k not in known for k in value):
            self.ctx.fail((*path, key), f"{key} takes {', '.join(known)}")
        return value

    def _number(self, section: dict, key: str, path: Path, kind: type) -> Any:
        if key not in section:
            return None
        value = section[key]
        try:
            number = kind(cfn_str(value)) if is_scalar(value) else None
        except ValueError:
            number = None
        if number is None or number < 0:
            self.ctx.fail((*path, key), f"{key} must be a number of at least 0")
        return number

    def _flag(self, auth: dict, key: str, path: Path) -> bool:
        try:
            return to_bool(auth.get(key, False))
        except ValueError:
            self.ctx.fail((*path, key), f"{key} must be true or false")

    def authorizer(self, api_id: str, kind: str, name: str, spec: Any, path: Path) -> Authorizer:
        """One authorizer from its SAM shape (Auth.Authorizers; a DefinitionBody's schemes are translated to it)."""
        if not isinstance(spec, dict):
            self.ctx.fail(path, f"authorizer {name} must be a mapping")
        identity = spec.get("Identity") if isinstance(spec.get("Identity"), dict) else {}
        if "UserPoolArn" in spec and kind == "Api":
            return Authorizer(name, "cognito", pools=self._pools(api_id, name, spec["UserPoolArn"]),
                              header=cfn_str(identity.get("Header", "Authorization")))
        if "JwtConfiguration" in spec and kind == "HttpApi":
            jwt = spec["JwtConfiguration"] if isinstance(spec["JwtConfiguration"], dict) else {}
            issuer = jwt.get("issuer", jwt.get("Issuer"))
            if not is_scalar(issuer) or not cfn_str(issuer):
                self.ctx.fail((*path, "JwtConfiguration"), "JwtConfiguration needs an issuer")
            audience = jwt.get("audience", jwt.get("Audience")) or []
            source = spec.get("IdentitySource", "$request.header.Authorization")
            return Authorizer(name, "jwt", issuer=cfn_str(issuer), audience=_strings(audience),
                              identity=(cfn_str(source),))
        if "FunctionArn" in spec:
            return self._lambda(kind, name, spec, identity, path)
        self.ctx.fail(path, f"authorizer {name}: needs UserPoolArn (Api), JwtConfiguration (HttpApi) or FunctionArn")

    def _pools(self, api_id: str, name: str, arns: Any) -> tuple[str, ...]:
        known = {pool.pool_id for pool in self.pools}
        ids = []
        for arn in _strings(arns):
            found = _POOL_IN_ARN.search(arn)
            if found and found.group(1) in known:
                ids.append(found.group(1))
            else:
                self.ctx.warn(api_id, f"Auth.Authorizers.{name}.UserPoolArn",
                              f"{arn} is not a pool of this template; the box's own pool signs its users in")
                ids.append(self.box.pool_id)
        return tuple(sorted(set(ids)))

    def _lambda(self, kind: str, name: str, spec: dict, identity: dict, path: Path) -> Authorizer:
        arn = cfn_str(spec["FunctionArn"]) if is_scalar(spec["FunctionArn"]) else ""
        found = _FUNCTION_IN_ARN.search(arn)
        if found is None or found.group(1) not in self.functions:
            self.ctx.fail((*path, "FunctionArn"), "FunctionArn must be the Arn of a function of this template",
                          "use !GetAtt <the function>.Arn")
        function = found.group(1)
        ttl_value = identity.get("ReauthorizeEvery", _REST_DEFAULT_TTL)
        ttl = int(cfn_str(ttl_value)) if is_scalar(ttl_value) and cfn_str(ttl_value).isdigit() else _REST_DEFAULT_TTL
        if kind == "HttpApi":
            payload = spec.get("AuthorizerPayloadFormatVersion", "2.0")
            text = f"{payload:.1f}" if isinstance(payload, float) else cfn_str(payload)
            return Authorizer(name, "request", function=function, identity=_sources(identity, "$request."),
                              ttl_s=ttl, simple_responses=bool(spec.get("EnableSimpleResponses", False)),
                              payload=text)
        if cfn_str(spec.get("FunctionPayloadType", "TOKEN")).upper() == "REQUEST":
            return Authorizer(name, "request", function=function, identity=_sources(identity, "method.request."),
                              ttl_s=ttl)
        return Authorizer(name, "token", function=function, header=cfn_str(identity.get("Header", "Authorization")),
                          ttl_s=ttl, validation=cfn_str(identity.get("ValidationExpression", "")))

    def route(self, api: Api, auth: Any, path: Path) -> tuple[str | None, bool, tuple[str, ...]]:
        """(authorizer, api key required, scopes) of one route event, as SAM gives them."""
        if auth is None:
            return api.default_authorizer, api.api_key_required, ()
        if not isinstance(auth, dict):
            self.ctx.fail(path, "Auth must be a mapping with Authorizer")
        api_key = self._flag(auth, "ApiKeyRequired", path) if "ApiKeyRequired" in auth else api.api_key_required
        scopes = _strings(auth.get("AuthorizationScopes"))
        named = auth.get("Authorizer")
        if named is None:
            return api.default_authorizer, api_key, scopes
        name = cfn_str(named) if is_scalar(named) else ""
        if name == "NONE":
            if api.default_authorizer is None:
                # sam validate refuses this; the route is open either way, so the build goes on with a warning.
                self.ctx.warn(*_owner(path), "Authorizer: NONE is only valid when the API has a DefaultAuthorizer "
                              "(sam validate refuses it); remove it, the route is open without it")
            return None, api_key, scopes
        if name not in {a.name for a in api.authorizers} | {IAM_AUTHORIZER}:
            self.ctx.fail((*path, "Authorizer"), f"authorizer {name} is not defined in the Auth of {api.logical_id}")
        return name, api_key, scopes


def share_usage_plans(apis: dict[str, Api]) -> dict[str, Api]:
    """SHARED plans are one plan: its limits are those of the first API (by logical id) that sets any, as SAM
    advises setting them on one API only."""
    shared = [api for _, api in sorted(apis.items()) if api.usage_plan and api.usage_plan.name == _PLAN_NAMES["SHARED"]]
    limits = [api.usage_plan for api in shared if api.usage_plan != UsagePlan(_PLAN_NAMES["SHARED"])]
    if not limits:
        return apis
    return {**apis, **{api.logical_id: replace(api, usage_plan=limits[0]) for api in shared}}


def _owner(path: Path) -> tuple[str, str]:
    """(resource, property) of a warning about the Auth at `path`."""
    return path[1], ".".join(part for part in path[2:] if part != "Properties")


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(cfn_str(v) for v in items if is_scalar(v))


def _sources(identity: dict, prefix: str) -> tuple[str, ...]:
    """Identity Headers/QueryStrings/... as `<prefix>header.Name` sources, in the order SAM lists them."""
    sources = []
    for key, kind in _REST_IDENTITY.items():
        for name in _strings(identity.get(key)):
            sources.append(f"{prefix}{kind}.{name}" if kind in ("header", "querystring") else f"{kind}.{name}")
    return tuple(sources)
