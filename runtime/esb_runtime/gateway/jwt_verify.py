"""RS256 token checks against an issuer's JWKS: the box's own pools, or an offline JWKS from generator.yml."""

from __future__ import annotations

import functools
import json
from typing import Any, Collection, Mapping

from esb_runtime.gateway.auth_config import AuthSettings
from esb_runtime.gateway.user_pools import issuer_for
from esb_runtime.signing_key import TokenKey

_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384")
# PyJWT (and the cryptography under it) is imported by the first token check, not with the gateway: a box whose
# routes take no tokens never loads it (~15 MB of the gateway's RSS, issue 14).


def bearer_token(value: str | None) -> str | None:
    """The token of an Authorization-style header value; a `Bearer ` prefix is optional, as API Gateway takes it."""
    if not value:
        return None
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    return token or None


@functools.lru_cache(maxsize=64)
def _jwk_key(document: str) -> Any:
    import jwt

    return jwt.PyJWK(json.loads(document)).key


class KeyRing:
    """The verification keys of every issuer the box knows, by issuer URL."""

    def __init__(self, box_key: TokenKey, region: str, auth: AuthSettings) -> None:
        self._box_key = box_key
        self._box_issuers = {issuer_for(region, pool_id) for pool_id in auth.pools}
        self._offline = auth.issuers

    def key_for(self, issuer: str, kid: str | None) -> Any | None:
        import jwt

        if issuer in self._box_issuers:
            return self._box_key.private_key.public_key() if kid in (None, self._box_key.kid) else None
        document: Mapping[str, Any] | None = self._offline.get(issuer) or self._offline.get(issuer.rstrip("/"))
        for jwk in (document or {}).get("keys") or ():
            if isinstance(jwk, Mapping) and (kid is None or jwk.get("kid") == kid):
                try:
                    return _jwk_key(json.dumps(jwk, sort_keys=True))
                except (jwt.PyJWTError, ValueError, TypeError):
                    return None
        return None


def verify(token: str, ring: KeyRing, *, issuers: Collection[str], now: float,
           audience: Collection[str] = ()) -> dict[str, Any] | None:
    """The token's claims when it is signed by its issuer's key, from one of `issuers`, current, and (when
    `audience` is given) meant for one of them (`aud`, or an access token's `client_id`); None otherwise."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = unverified.get("iss")
    if header.get("alg") not in _ALGORITHMS or not isinstance(issuer, str) or issuer not in issuers:
        return None
    key = ring.key_for(issuer, header.get("kid"))
    if key is None:
        return None
    try:
        # Times are checked below against the injected clock, so tests can move time.
        claims = jwt.decode(token, key, algorithms=[header["alg"]],
                            options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                                     "verify_nbf": False, "require": ["exp", "iss"]})
    except jwt.PyJWTError:
        return None
    if not _current(claims, now):
        return None
    if audience and not _meant_for(claims, audience):
        return None
    return claims


def _current(claims: Mapping[str, Any], now: float) -> bool:
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp <= now:
        return False
    return not (isinstance(nbf, (int, float)) and nbf > now)


def _meant_for(claims: Mapping[str, Any], audience: Collection[str]) -> bool:
    aud = claims.get("aud")
    given = set(aud) if isinstance(aud, list) else {aud} if isinstance(aud, str) else set()
    if isinstance(claims.get("client_id"), str):
        given.add(claims["client_id"])
    return bool(given & set(audience))
