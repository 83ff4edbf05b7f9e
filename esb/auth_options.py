"""generator.yml `auth:`: the box's users, the login pool, offline JWKS of outside issuers, the seed's switch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from esb.errors import ConfigError
from esb.sam.scalars import to_bool

_KEYS = frozenset({"require_token_on_every_route", "users", "login_pool", "jwks"})
_USER_KEYS = frozenset({"username", "pools", "attributes", "groups"})


@dataclass(frozen=True)
class AuthUser:
    """A user of the box's pools; the password is derived from the box's secrets (see `esb status`)."""

    username: str
    pools: tuple[str, ...] | None = None  # logical ids of the template's pools ("$esb": the box's); None: all
    attributes: tuple[tuple[str, str], ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthOptions:
    # true: every route without an authorizer of its own needs the box's token (the seed's behaviour).
    require_token_on_every_route: bool = False
    users: tuple[AuthUser, ...] = ()
    login_pool: str | None = None  # the pool behind POST /user/auth/v1 (a logical id)
    jwks: tuple[tuple[str, str], ...] = ()  # (issuer, JWKS JSON text) for JWT authorizers of outside issuers


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of strings", where=where)
    return tuple(value)


def _user(data: Any, where: str) -> AuthUser:
    if not isinstance(data, Mapping) or not isinstance(data.get("username"), str) or not data["username"]:
        raise ConfigError("each of `auth.users` needs a `username`", where=where,
                          hint="e.g. users: [{username: alice, attributes: {email: alice@example.com}}]")
    unknown = sorted(set(data) - _USER_KEYS)
    if unknown:
        raise ConfigError(f"unknown key `auth.users.{unknown[0]}`", where=where,
                          hint="passwords are never written in generator.yml: `esb status` shows them")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ConfigError("`auth.users.attributes` must be a mapping", where=where)
    return AuthUser(
        username=data["username"],
        pools=None if data.get("pools") is None else _strings(data["pools"], where, "auth.users.pools"),
        attributes=tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
        groups=_strings(data.get("groups") or [], where, "auth.users.groups"),
    )


def _jwks(issuers: Any, where: str, base: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(issuers, Mapping):
        raise ConfigError("`auth.jwks` must map an issuer URL to a JWKS file", where=where)
    loaded = []
    for issuer, file in sorted(issuers.items()):
        path = base / str(file)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the JWKS of {issuer}: {path}", where=where,
                              hint="save the issuer's /.well-known/jwks.json there") from exc
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise ConfigError(f"{path} is not a JWKS (no `keys` list)", where=where)
        loaded.append((str(issuer), json.dumps(document, sort_keys=True)))
    return tuple(loaded)


def parse_auth(values: Mapping[str, Any], where: str, base: Path) -> AuthOptions:
    """The `auth:` section; JWKS files are read relative to generator.yml's directory (`base`)."""
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key `auth.{unknown[0]}`", where=where, hint=f"known keys: {', '.join(sorted(_KEYS))}")
    try:
        require = to_bool(values.get("require_token_on_every_route", False))
    except ValueError as exc:
        raise ConfigError("`auth.require_token_on_every_route` must be true or false", where=where) from exc
    users = values.get("users") or []
    if not isinstance(users, list):
        raise ConfigError("`auth.users` must be a list", where=where)
    login = values.get("login_pool")
    return AuthOptions(
        require_token_on_every_route=require,
        users=tuple(_user(u, where) for u in users),
        login_pool=str(login) if login else None,
        jwks=_jwks(values.get("jwks") or {}, where, base),
    )
