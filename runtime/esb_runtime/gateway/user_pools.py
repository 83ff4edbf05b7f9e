"""The box as a local Cognito user pool: USER_PASSWORD_AUTH sign-in and RS256 tokens shaped as Cognito's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable

from esb_runtime.gateway.auth_config import AuthSettings, PoolUser, TokenValidity, UserPool
from esb_runtime.gateway.refresh_tokens import RefreshTokens
from esb_runtime.secrets import BoxSecrets
from esb_runtime.signing_key import TokenKey

ACCESS_SCOPE = "aws.cognito.signin.user.admin"


class CognitoError(Exception):
    """An error Cognito answers with `{"__type": kind, "message": ...}` (HTTP 400)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def issuer_for(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def derived_password(secrets: BoxSecrets, username: str) -> str:
    """A generator.yml user's password: derived from the box's secret, so no file ever holds it.

    `esb status` shows it; it changes only when the box's secrets are regenerated (esb reset).
    """
    digest = hmac.new(secrets.jwt_secret.encode(), f"esb-user-password:{username}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:20] + "a1!"


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    expires_in: int
    refresh_token: str | None = None  # only a sign-in gets one; a refresh does not


class UserPools:
    """Signs in users of the box's pools and issues their tokens; the JWKS is `key.jwk()`."""

    def __init__(self, key: TokenKey, secrets: BoxSecrets, *, refresh: RefreshTokens, lifetime_s: int = 3600,
                 clock: Callable[[], float] = time.time, ids: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.key = key
        self._refresh = refresh
        self._secrets = secrets
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._ids = ids

    def _user(self, auth: AuthSettings, pool: UserPool, username: str) -> tuple[PoolUser, str] | None:
        if username == self._secrets.username:  # the seed's admin user is in every pool
            return PoolUser(username), self._secrets.password
        for user in auth.users:
            if user.username == username and (user.pools is None or pool.id in user.pools):
                return user, derived_password(self._secrets, username)
        return None

    def sign_in(self, auth: AuthSettings, region: str, pool: UserPool, client_id: str, username: str,
                password: str) -> Tokens:
        """USER_PASSWORD_AUTH; a wrong user and a wrong password give the same answer, as Cognito's."""
        found = self._user(auth, pool, username)
        # The comparison runs even for an unknown user so timing does not tell users apart.
        password_ok = _same(password, found[1] if found else self._secrets.password)
        if found is None or not password_ok:
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.")
        validity = auth.validity.get(client_id, TokenValidity())
        tokens = self._tokens(region, pool, client_id, found[0], validity)
        return replace(tokens, refresh_token=self._refresh.issue(pool.id, client_id, username, validity.refresh_s))

    def refresh(self, auth: AuthSettings, region: str, pool: UserPool, client_id: str, token: str) -> Tokens:
        """REFRESH_TOKEN_AUTH: new id and access tokens for a live refresh token of this client and a user who
        is still in the pool."""
        grant = self._refresh.redeem(token, client_id)
        found = self._user(auth, pool, grant.username) if grant is not None and grant.pool_id == pool.id else None
        if found is None:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        return self._tokens(region, pool, client_id, found[0], auth.validity.get(client_id, TokenValidity()))

    def _tokens(self, region: str, pool: UserPool, client_id: str, user: PoolUser, validity: TokenValidity
                ) -> Tokens:
        import jwt  # on the first sign-in: see jwt_verify (issue 14)

        now = int(self._clock())
        id_s, access_s = validity.id_s or self._lifetime_s, validity.access_s or self._lifetime_s
        sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"esb:{pool.id}:{user.username}"))
        origin = self._ids()
        common = {"sub": sub, "iss": issuer_for(region, pool.id), "origin_jti": origin, "event_id": self._ids(),
                  "auth_time": now, "iat": now}
        groups = {"cognito:groups": list(user.groups)} if user.groups else {}
        id_claims = {**common, **groups, "aud": client_id, "token_use": "id", "cognito:username": user.username,
                     "jti": self._ids(), "exp": now + id_s,
                     **{k: v for k, v in user.attributes.items() if k not in common and k != "exp"}}
        access_claims = {**common, **groups, "client_id": client_id, "token_use": "access", "scope": ACCESS_SCOPE,
                         "username": user.username, "jti": self._ids(), "exp": now + access_s}
        headers = {"kid": self.key.kid}
        return Tokens(
            id_token=jwt.encode(id_claims, self.key.private_key, algorithm="RS256", headers=headers),
            access_token=jwt.encode(access_claims, self.key.private_key, algorithm="RS256", headers=headers),
            expires_in=access_s,  # Cognito's ExpiresIn is the access token's
        )


def pool_of_client(auth: AuthSettings, client_id: str) -> UserPool:
    for pool in auth.pools.values():
        if client_id in pool.clients:
            return pool
    raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")


def authentication_result(tokens: Tokens) -> dict[str, Any]:
    result = {"AccessToken": tokens.access_token, "ExpiresIn": tokens.expires_in, "TokenType": "Bearer",
              "IdToken": tokens.id_token}
    if tokens.refresh_token is not None:
        result["RefreshToken"] = tokens.refresh_token
    return {"AuthenticationResult": result, "ChallengeParameters": {}}
