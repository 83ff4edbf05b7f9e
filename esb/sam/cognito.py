"""Cognito user pools of a template (and the box's own): stable ids, Ref/GetAtt values, the model objects."""

from __future__ import annotations

import hashlib
from typing import Any

from esb.model import UserPool
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar
from esb_runtime.gateway.auth_config import TokenValidity

POOL_TYPE = "AWS::Cognito::UserPool"
CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
BOX_POOL = "$esb"  # the logical id the box's own pool is known by
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Properties that shape a hosted pool but not a local sign-in.
_QUIET_POOL = frozenset({
    "AccountRecoverySetting", "AdminCreateUserConfig", "AliasAttributes", "AutoVerifiedAttributes",
    "DeletionProtection", "DeviceConfiguration", "EmailConfiguration", "EmailVerificationMessage",
    "EmailVerificationSubject", "Policies", "Schema", "UserPoolName", "UserPoolTags",
    "UsernameAttributes", "UsernameConfiguration", "VerificationMessageTemplate", "UserAttributeUpdateSettings",
})
# Properties without a local effect, and the token lifetimes client_validity reads.
_QUIET_CLIENT = frozenset({
    "AccessTokenValidity", "AllowedOAuthFlows", "AllowedOAuthFlowsUserPoolClient", "AllowedOAuthScopes",
    "CallbackURLs", "ClientName", "DefaultRedirectURI", "EnableTokenRevocation", "ExplicitAuthFlows",
    "IdTokenValidity", "LogoutURLs", "PreventUserExistenceErrors", "ReadAttributes", "RefreshTokenValidity",
    "SupportedIdentityProviders", "TokenValidityUnits", "UserPoolId", "WriteAttributes",
})


_UNIT_S = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_MINUTE, _DAY = 60, 86400
# (property, its TokenValidityUnits key, the unit when none is given, shortest, longest) as Cognito has them.
_VALIDITY = (("IdTokenValidity", "IdToken", "hours", 5 * _MINUTE, _DAY),
             ("AccessTokenValidity", "AccessToken", "hours", 5 * _MINUTE, _DAY),
             ("RefreshTokenValidity", "RefreshToken", "days", 60 * _MINUTE, 3650 * _DAY))


def _stable(text: str, length: int, alphabet: str = _ALPHABET) -> str:
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def pool_id_for(stack: str, region: str, logical_id: str) -> str:
    return f"{region}_{_stable(f'{stack}:{logical_id}', 9)}"


def client_id_for(stack: str, logical_id: str) -> str:
    return _stable(f"{stack}:client:{logical_id}", 26, "abcdefghijklmnopqrstuvwxyz0123456789")


def pool_arn(region: str, account: str, pool_id: str) -> str:
    return f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}"


def pool_attributes(ctx: LoadContext, logical_id: str) -> dict[str, str]:
    """What Fn::GetAtt gives for a pool of the template."""
    pool_id = pool_id_for(ctx.stack_name, ctx.region, logical_id)
    provider = f"cognito-idp.{ctx.region}.amazonaws.com/{pool_id}"
    return {"Arn": pool_arn(ctx.region, ctx.account_id, pool_id), "ProviderName": provider,
            "ProviderURL": f"https://{provider}", "UserPoolId": pool_id}


def box_pool_for(stack: str, region: str) -> UserPool:
    """The box's own pool: the seed's admin user and generator.yml's users sign in there."""
    return UserPool(BOX_POOL, pool_id_for(stack, region, BOX_POOL), "esb-default", (client_id_for(stack, BOX_POOL),))


def box_pool(ctx: LoadContext) -> UserPool:
    return box_pool_for(ctx.stack_name, ctx.region)


def build_pools(ctx: LoadContext, pools: dict[str, dict[str, Any]], clients: dict[str, dict[str, Any]]
                ) -> tuple[UserPool, ...]:
    """Pools from resolved properties by logical id; each client joins the pool its UserPoolId names."""
    by_id = {pool_id_for(ctx.stack_name, ctx.region, lid): lid for lid in pools}
    members: dict[str, list[str]] = {lid: [] for lid in pools}
    lifetimes: dict[str, list[tuple[str, TokenValidity]]] = {lid: [] for lid in pools}
    for lid, props in sorted(clients.items()):
        _quiet(ctx, lid, props, _QUIET_CLIENT)
        owner = by_id.get(cfn_str(props["UserPoolId"])) if is_scalar(props.get("UserPoolId")) else None
        if owner is None:
            ctx.fail(("Resources", lid, "Properties", "UserPoolId"),
                     "UserPoolId must refer to an AWS::Cognito::UserPool of this template", "use !Ref <the pool>")
        client_id = client_id_for(ctx.stack_name, lid)
        members[owner].append(client_id)
        validity = client_validity(ctx, lid, props)
        if validity != TokenValidity():
            lifetimes[owner].append((client_id, validity))
    result = []
    for lid, props in sorted(pools.items()):
        _quiet(ctx, lid, props, _QUIET_POOL)
        name = cfn_str(props["UserPoolName"]) if is_scalar(props.get("UserPoolName")) else lid
        result.append(UserPool(lid, pool_id_for(ctx.stack_name, ctx.region, lid), name, tuple(members[lid]),
                               tuple(sorted(lifetimes[lid]))))
    return tuple(result)


def client_validity(ctx: LoadContext, logical_id: str, props: dict[str, Any]) -> TokenValidity:
    """IdTokenValidity, AccessTokenValidity and RefreshTokenValidity in seconds, in their TokenValidityUnits."""
    path = ("Resources", logical_id, "Properties")
    units = props.get("TokenValidityUnits") or {}
    if not isinstance(units, dict):
        ctx.fail((*path, "TokenValidityUnits"), "TokenValidityUnits must be a mapping of IdToken, AccessToken, "
                 "RefreshToken to seconds, minutes, hours or days")
    seconds: list[int | None] = []
    for prop, unit_key, default_unit, shortest, longest in _VALIDITY:
        unit = cfn_str(units.get(unit_key, default_unit)).lower() if is_scalar(units.get(unit_key, "")) else ""
        if unit not in _UNIT_S:
            ctx.fail((*path, "TokenValidityUnits", unit_key), f"{unit_key} must be seconds, minutes, hours or days")
        if prop not in props:
            seconds.append(None)
            continue
        text = cfn_str(props[prop]) if is_scalar(props[prop]) else ""
        value = int(text) * _UNIT_S[unit] if text.isdigit() else -1
        if not shortest <= value <= longest:
            ctx.fail((*path, prop), f"{prop} must be from {_span(shortest)} to {_span(longest)}, "
                     f"got {text or 'no number'} {unit}")
        seconds.append(value)
    return TokenValidity(*seconds)


def _span(seconds: int) -> str:
    for unit in ("days", "hours", "minutes"):
        count = seconds // _UNIT_S[unit]
        if seconds % _UNIT_S[unit] == 0:
            return f"{count} {unit[:-1] if count == 1 else unit}"
    return f"{seconds} seconds"


def _quiet(ctx: LoadContext, logical_id: str, props: dict[str, Any], quiet: frozenset[str]) -> None:
    for key in props:
        if key not in quiet:
            ctx.warn(logical_id, key, "not supported by the box's user pools, ignored")
