"""Cognito user pools of a template (and the box's own): stable ids, Ref/GetAtt values, the model objects."""

from __future__ import annotations

import hashlib
from typing import Any

from esb.model import UserPool
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar

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
_QUIET_CLIENT = frozenset({
    "AccessTokenValidity", "AllowedOAuthFlows", "AllowedOAuthFlowsUserPoolClient", "AllowedOAuthScopes",
    "CallbackURLs", "ClientName", "DefaultRedirectURI", "EnableTokenRevocation", "ExplicitAuthFlows",
    "IdTokenValidity", "LogoutURLs", "PreventUserExistenceErrors", "ReadAttributes", "RefreshTokenValidity",
    "SupportedIdentityProviders", "TokenValidityUnits", "UserPoolId", "WriteAttributes",
})


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
    for lid, props in sorted(clients.items()):
        _quiet(ctx, lid, props, _QUIET_CLIENT)
        owner = by_id.get(cfn_str(props["UserPoolId"])) if is_scalar(props.get("UserPoolId")) else None
        if owner is None:
            ctx.fail(("Resources", lid, "Properties", "UserPoolId"),
                     "UserPoolId must refer to an AWS::Cognito::UserPool of this template", "use !Ref <the pool>")
        members[owner].append(client_id_for(ctx.stack_name, lid))
    result = []
    for lid, props in sorted(pools.items()):
        _quiet(ctx, lid, props, _QUIET_POOL)
        name = cfn_str(props["UserPoolName"]) if is_scalar(props.get("UserPoolName")) else lid
        result.append(UserPool(lid, pool_id_for(ctx.stack_name, ctx.region, lid), name, tuple(members[lid])))
    return tuple(result)


def _quiet(ctx: LoadContext, logical_id: str, props: dict[str, Any], quiet: frozenset[str]) -> None:
    for key in props:
        if key not in quiet:
            ctx.warn(logical_id, key, "not supported by the box's user pools, ignored")
