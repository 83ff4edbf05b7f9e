"""The auth part of routing.yml: user pools, users, authorizers per API, offline JWKS, and the box-wide switches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

BOX_AUTHORIZER = "$esb"  # the box login every route needs with auth.require_token_on_every_route (or a legacy `auth: true`)
IAM_AUTHORIZER = "AWS_IAM"  # a route's `authorizer: AWS_IAM`: SigV4 with the box's credentials, no config of its own
AUTHORIZER_TYPES = frozenset({"cognito", "jwt", "token", "request"})


@dataclass(frozen=True)
class UserPool:
    id: str  # <region>_<9 characters>, as Cognito's
    name: str
    clients: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenValidity:
    """An app client's token lifetimes in seconds (UserPoolClient IdTokenValidity, ...); None: the box's default."""

    id_s: int | None = None
    access_s: int | None = None
    refresh_s: int | None = None


_VALIDITY_KEYS = (("id", "id_s"), ("access", "access_s"), ("refresh", "refresh_s"))


def validity_view(validity: TokenValidity) -> dict[str, int]:
    """routing.yml's shape of a client's lifetimes: only those the template sets."""
    return {key: getattr(validity, name) for key, name in _VALIDITY_KEYS if getattr(validity, name) is not None}


def parse_validity(data: Mapping[str, Any]) -> TokenValidity:
    return TokenValidity(**{name: int(data[key]) for key, name in _VALIDITY_KEYS if data.get(key) is not None})


@dataclass(frozen=True)
class PoolUser:
    """A user of generator.yml (its password is derived from the box's secrets, never written anywhere)."""

    username: str
    pools: tuple[str, ...] | None = None  # pool ids; None: every pool of the box
    attributes: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthorizerConfig:
    name: str
    type: str  # cognito | jwt | token | request
    pools: tuple[str, ...] = ()  # cognito: pool ids
    header: str = "Authorization"  # cognito and token: where the token is
    issuer: str = ""  # jwt
    audience: tuple[str, ...] = ()  # jwt
    identity: tuple[str, ...] = ()  # jwt/request identity sources ($request.header.X, method.request.querystring.Y)
    function: str = ""  # token/request: the authorizer function's name
    ttl_s: int = 300  # token/request: ReauthorizeEvery / ResultTtlInSeconds (0: no cache)
    simple_responses: bool = False  # HttpApi lambda: {"isAuthorized": ...}
    payload: str = "1.0"  # HttpApi lambda: AuthorizerPayloadFormatVersion
    validation: str = ""  # token: Identity.ValidationExpression


@dataclass(frozen=True)
class UsagePlanConfig:
    """The throttle and quota every API key gets on the ApiKeyRequired routes of the plan's APIs."""

    name: str  # <Api>UsagePlan (PER_API) or ServerlessUsagePlan (SHARED: one budget across its APIs)
    rate: float | None = None  # Throttle.RateLimit: requests per second, steady
    burst: int | None = None  # Throttle.BurstLimit; None with a rate: the rate rounded up
    limit: int | None = None  # Quota.Limit: requests per period
    period: str = "DAY"  # Quota.Period: DAY | WEEK | MONTH (UTC)
    offset: int = 0  # Quota.Offset: the day a WEEK (0 Sunday) or MONTH (0 the 1st) starts
    # AWS::ApiGateway::UsagePlanKey: the API key values the plan meters. Empty: every key (SAM's Auth.UsagePlan).
    keys: tuple[str, ...] = ()


QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")


def parse_usage_plan(data: Mapping[str, Any] | None) -> UsagePlanConfig | None:
    if not data:
        return None
    period = str(data.get("period") or "DAY")
    if period not in QUOTA_PERIODS:
        raise ValueError(f"usage plan {data.get('name')}: unknown quota period {period!r}")
    rate, burst, limit = data.get("rate"), data.get("burst"), data.get("limit")
    return UsagePlanConfig(
        name=str(data.get("name") or ""), rate=None if rate is None else float(rate),
        burst=None if burst is None else int(burst), limit=None if limit is None else int(limit),
        period=period, offset=int(data.get("offset") or 0), keys=_strings(data.get("keys")),
    )


@dataclass(frozen=True)
class AuthSettings:
    pools: Mapping[str, UserPool] = field(default_factory=dict)
    users: tuple[PoolUser, ...] = ()
    default_pool: str = ""  # the box's own pool (always there)
    login_pool: str = ""  # the pool behind POST /user/auth/v1
    require_token: bool = False  # generator.yml auth.require_token_on_every_route
    issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # offline JWKS documents by issuer
    api_keys: tuple[str, ...] = ()  # the template's AWS::ApiGateway::ApiKey values (the box's own key always works)
    unsigned_invoke: bool = False  # generator.yml compat.unsigned_invoke (loopback boxes only)
    validity: Mapping[str, TokenValidity] = field(default_factory=dict)  # by app client id (none: the defaults)

    @property
    def box_authorizer(self) -> AuthorizerConfig:
        return AuthorizerConfig(BOX_AUTHORIZER, "cognito", pools=tuple(sorted(self.pools)))


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in (value or ()))


def default_pool_for(region: str) -> UserPool:
    """The pool a box has when routing.yml names none (an older build, or a unit test)."""
    return UserPool(f"{region}_esbDefaul", "esb-default", ("esbdefaultclient0000000000",))


def parse_authorizer(name: str, data: Mapping[str, Any]) -> AuthorizerConfig:
    kind = str(data.get("type", ""))
    if kind not in AUTHORIZER_TYPES:
        raise ValueError(f"authorizer {name}: unknown type {kind!r}")
    return AuthorizerConfig(
        name=name, type=kind, pools=_strings(data.get("pools")), header=str(data.get("header") or "Authorization"),
        issuer=str(data.get("issuer") or ""), audience=_strings(data.get("audience")),
        identity=_strings(data.get("identity")), function=str(data.get("function") or ""),
        ttl_s=int(data.get("ttl", 300)), simple_responses=bool(data.get("simple_responses", False)),
        payload=str(data.get("payload") or "1.0"), validation=str(data.get("validation") or ""),
    )


def parse_authorizers(data: Mapping[str, Any] | None) -> dict[str, AuthorizerConfig]:
    return {str(name): parse_authorizer(str(name), spec or {}) for name, spec in (data or {}).items()}


def _user(data: Mapping[str, Any]) -> PoolUser:
    pools = data.get("pools")
    return PoolUser(
        username=str(data["username"]),
        pools=None if pools is None else _strings(pools),
        attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()},
        groups=_strings(data.get("groups")),
    )


def parse_auth(data: Mapping[str, Any] | None, region: str) -> AuthSettings:
    data = data or {}
    pools = {
        str(pid): UserPool(str(pid), str((p or {}).get("name") or pid), _strings((p or {}).get("clients")))
        for pid, p in (data.get("pools") or {}).items()
    }
    default = str(data.get("default_pool") or "")
    if not default:
        fallback = default_pool_for(region)
        pools.setdefault(fallback.id, fallback)
        default = fallback.id
    return AuthSettings(
        pools=pools,
        users=tuple(_user(u) for u in data.get("users") or ()),
        default_pool=default,
        login_pool=str(data.get("login_pool") or default),
        require_token=bool(data.get("require_token_on_every_route", False)),
        issuers={str(k): dict(v) for k, v in (data.get("issuers") or {}).items()},
        api_keys=_strings(data.get("api_keys")),
        unsigned_invoke=bool(data.get("unsigned_invoke", False)),
        validity={str(client): parse_validity(v or {}) for p in (data.get("pools") or {}).values()
                  for client, v in ((p or {}).get("validity") or {}).items()},
    )
