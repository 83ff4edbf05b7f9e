"""Lambda authorizers: the TOKEN/REQUEST event, the policy or simple answer, and the result cache."""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.gateway.auth_config import AuthorizerConfig
from esb_runtime.gateway.proxy_events import EventContext, api_id_for, build_v1, build_v2
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.request import IncomingRequest

_ALLOW_ACTIONS = ("execute-api:invoke", "execute-api:*", "*")


@dataclass(frozen=True)
class Verdict:
    """What an authorizer said: allowed (with what the event's requestContext.authorizer carries) or the answer."""

    allowed: bool
    status: int = 200
    body: Mapping[str, Any] | None = None  # the JSON of a refusal
    authorizer: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] | None = None  # payload 1.0: fields of requestContext.identity (AWS_IAM's caller)
    pending_signature: bool = False  # AWS_IAM: allowed so far, the signature over the body is checked once read

    def applied_to(self, ctx: EventContext) -> EventContext:
        """The event context with what this verdict hands the function."""
        if self.authorizer is ctx.authorizer and self.identity is ctx.identity:
            return ctx  # an open route hands on nothing: no copy
        return replace(ctx, authorizer=self.authorizer, identity=self.identity)


def unauthorized() -> Verdict:
    return Verdict(False, 401, {"message": "Unauthorized"})


def forbidden(rest: bool, explicit: bool = False) -> Verdict:
    if not rest:
        return Verdict(False, 403, {"message": "Forbidden"})
    suffix = " with an explicit deny" if explicit else ""
    return Verdict(False, 403, {"Message": f"User is not authorized to access this resource{suffix}"})


def configuration_error() -> Verdict:
    return Verdict(False, 500, {"message": None})


def method_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def identity_values(sources: tuple[str, ...], request: IncomingRequest, stage_variables: Mapping[str, str]
                    ) -> tuple[str, ...] | None:
    """The values of the identity sources, or None when one is missing (API Gateway then answers 401 at once)."""
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    values = []
    for source in sources:
        kind, _, name = source.lstrip("$").removeprefix("method.").removeprefix("request.").partition(".")
        if kind == "header":
            value = request.header(name)
        elif kind == "querystring":
            value = query.get(name)
        elif kind == "stageVariables":
            value = stage_variables.get(name)
        else:
            continue  # $context values are the gateway's own, never missing
        if not value:
            return None
        values.append(value)
    return tuple(values)


def _resource_matches(pattern: str, arn: str) -> bool:
    # API Gateway resource wildcards: `*` (any run of characters, slashes included) and `?`; nothing else is special.
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement") if isinstance(policy, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    return [s for s in statements or () if isinstance(s, Mapping)]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or () if isinstance(v, str)]


def policy_effect(policy: Any, arn: str) -> str:
    """Deny (an explicit Deny matches), Allow (an Allow matches) or None (nothing matches) for one method ARN."""
    effect = "None"
    for statement in _statements(policy):
        actions = [a.lower() for a in _listed(statement.get("Action"))]
        if not any(a in _ALLOW_ACTIONS for a in actions):
            continue
        if not any(_resource_matches(r, arn) for r in _listed(statement.get("Resource"))):
            continue
        kind = str(statement.get("Effect", "")).capitalize()
        if kind == "Deny":
            return "Deny"
        if kind == "Allow":
            effect = "Allow"
    return effect


@dataclass
class _Cached:
    expires: float
    answer: Mapping[str, Any]


@dataclass
class AuthorizerCache:
    """The authorizers' answers by (authorizer, identity), each kept for its authorizer's TTL; bounded LRU."""

    clock: Callable[[], float] = time.monotonic
    max_entries: int = 4096
    _entries: OrderedDict[tuple[str, ...], _Cached] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, ...]) -> Mapping[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self.clock():
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return entry.answer

    def put(self, key: tuple[str, ...], answer: Mapping[str, Any], ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._entries[key] = _Cached(self.clock() + ttl_s, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _stringified(context: Any) -> dict[str, str]:
    # A 1.0 payload hands the authorizer's context to the function with every value as a string.
    return {str(k): _text(v) for k, v in context.items()} if isinstance(context, Mapping) else {}


class LambdaAuthorizer:
    """Runs a TOKEN or REQUEST authorizer function through the manager and turns its answer into a Verdict."""

    def __init__(self, manager: ManagerClient, cache: AuthorizerCache, *, timeout_s: float) -> None:
        self._manager = manager
        self._cache = cache
        self._timeout_s = timeout_s

    def decide(self, authorizer: AuthorizerConfig, request: IncomingRequest, ctx: EventContext, *,
               region: str, trace: str) -> Verdict:
        rest = ctx.route.event != "HttpApi"
        arn = method_arn(region, ctx.account_id, api_id_for(ctx.route.api), ctx.stage, request.method, request.path)
        if authorizer.type == "token":
            token = request.header(authorizer.header)
            if not token or (authorizer.validation and not re.fullmatch(authorizer.validation, token)):
                return unauthorized()
            identity: tuple[str, ...] = (token,)
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
        else:
            found = identity_values(authorizer.identity, request, ctx.stage_variables or {})
            if found is None:
                return unauthorized()
            identity = found
            event = _request_event(authorizer, request, ctx, arn, identity)
        key = (ctx.route.api, authorizer.name, *identity)
        answer = self._cache.get(key)
        if answer is None:
            answer = self._invoke(authorizer, event, trace)
            if answer is None:
                return configuration_error()
            if answer.get("__unauthorized__"):
                return unauthorized()
            # Cached only with identity sources: without them every request is a new question (HTTP APIs).
            if identity:
                self._cache.put(key, answer, authorizer.ttl_s)
        return _verdict(authorizer, answer, arn, rest)

    def _invoke(self, authorizer: AuthorizerConfig, event: Mapping[str, Any], trace: str) -> Mapping[str, Any] | None:
        payload = json.dumps(event, separators=(",", ":")).encode()
        try:
            result = self._manager.invoke(authorizer.function, payload, trace_id=trace, timeout=self._timeout_s)
        except RuntimeBoxError:
            return None
        try:
            answer = json.loads(result.payload or b"null")
        except ValueError:
            return None
        if result.outcome != "ok":
            # `throw new Error("Unauthorized")` / `raise Exception("Unauthorized")` is the documented way to say 401.
            message = answer.get("errorMessage") if isinstance(answer, Mapping) else None
            return {"__unauthorized__": True} if message == "Unauthorized" else None
        return answer if isinstance(answer, Mapping) else None


def _request_event(authorizer: AuthorizerConfig, request: IncomingRequest, ctx: EventContext, arn: str,
                   identity: tuple[str, ...]) -> dict[str, Any]:
    if ctx.route.event == "HttpApi" and authorizer.payload == "2.0":
        event = build_v2(request, ctx)
        event.pop("body", None)
        event.pop("isBase64Encoded", None)
        return {**event, "type": "REQUEST", "routeArn": arn, "identitySource": list(identity)}
    event = build_v1(request, ctx)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    extra = {"identitySource": ",".join(identity)} if ctx.route.event == "HttpApi" else {}
    return {**event, **extra, "type": "REQUEST", "methodArn": arn}


def _verdict(authorizer: AuthorizerConfig, answer: Mapping[str, Any], arn: str, rest: bool) -> Verdict:
    context = answer.get("context")
    if not rest and authorizer.simple_responses and "isAuthorized" in answer:
        if answer.get("isAuthorized") is not True:
            return forbidden(rest)
        return Verdict(True, authorizer={"lambda": dict(context) if isinstance(context, Mapping) else {}})
    effect = policy_effect(answer.get("policyDocument"), arn)
    if effect != "Allow":
        return forbidden(rest, explicit=effect == "Deny")
    principal = answer.get("principalId")
    if not rest and authorizer.payload == "2.0":
        return Verdict(True, authorizer={"lambda": dict(context) if isinstance(context, Mapping) else {},
                                         "principalId": principal})
    return Verdict(True, authorizer={**_stringified(context), "principalId": principal, "integrationLatency": 0})
