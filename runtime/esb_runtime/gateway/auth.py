"""Client auth: the /user/auth/v1 login that issues an HS256 IdToken, and Bearer checks on routes."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import Any, Callable

import jwt

from esb_runtime.gateway.responses import ProxyResponse, json_error
from esb_runtime.secrets import BoxSecrets

ISSUER = "esb"
AUDIENCE = "esb"
_JSON = [("Content-Type", "application/json")]


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Authenticator:
    def __init__(self, secrets: BoxSecrets, *, lifetime_s: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self._secrets = secrets
        self._lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, username: str) -> str:
        now = int(self._clock())
        claims = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"esb:user:{username}")),
            "cognito:username": username,
            "token_use": "id",
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": now,
            "exp": now + self._lifetime_s,
        }
        return jwt.encode(claims, self._secrets.jwt_secret, algorithm="HS256")

    def claims_from_bearer(self, authorization: str | None) -> dict[str, Any] | None:
        """The token's claims when the header carries a valid, unexpired IdToken; None otherwise."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            claims = jwt.decode(
                token.strip(), self._secrets.jwt_secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                # Expiry is checked below against the injected clock, so tests can move time.
                options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self._clock():
            return None
        return claims

    def login(self, api_key: str | None, body: bytes) -> ProxyResponse:
        """POST /user/auth/v1: the key first (401), then the body's shape (400), then credentials (401)."""
        if not _same(api_key, self._secrets.api_key):
            return json_error(401, "Unauthorized")
        params = _auth_parameters(body)
        if params is None:
            return json_error(400, "Bad Request: expected {\"AuthParameters\": {\"USERNAME\", \"PASSWORD\"}}")
        username, password = params
        # Both comparisons always run so timing does not tell which one failed.
        user_ok = _same(username, self._secrets.username)
        password_ok = _same(password, self._secrets.password)
        if not (user_ok and password_ok):
            return json_error(401, "Incorrect username or password.", [("PADMA_USER_AUTHORIZED", "true")])
        result = {
            "AuthenticationResult": {
                "IdToken": self.issue(username),
                "ExpiresIn": self._lifetime_s,
                "TokenType": "Bearer",
            }
        }
        return ProxyResponse(200, list(_JSON), json.dumps(result).encode())


def _auth_parameters(body: bytes) -> tuple[str, str] | None:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    params = data.get("AuthParameters") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        return None
    username, password = params.get("USERNAME"), params.get("PASSWORD")
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    return username, password
