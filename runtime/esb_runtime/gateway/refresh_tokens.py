"""Cognito refresh tokens: opaque random strings, kept only as their SHA-256, expiring.

Kept as one small file each under the box's state directory, so every gateway worker (and a restarted gateway)
redeems what any of them issued.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

REFRESH_LIFETIME_S = 30 * 86400  # Cognito's default refresh token validity
MAX_TOKENS = 10_000
REFRESH_DIR = "cognito-refresh"  # under the box's state directory
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class RefreshGrant:
    """What a refresh token stands for: a user signed in to one pool through one app client."""

    pool_id: str
    client_id: str
    username: str
    expires: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RefreshTokens:
    """Issued on sign-in, redeemed by REFRESH_TOKEN_AUTH until they expire."""

    def __init__(self, directory: Path, *, lifetime_s: int = REFRESH_LIFETIME_S,
                 clock: Callable[[], float] = time.time, max_tokens: int = MAX_TOKENS) -> None:
        self._dir = directory
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._max_tokens = max_tokens

    def issue(self, pool_id: str, client_id: str, username: str, lifetime_s: int | None = None) -> str:
        """A new token; `lifetime_s` is the client's RefreshTokenValidity (None: the box's default)."""
        token = secrets.token_urlsafe(64)
        grant = RefreshGrant(pool_id, client_id, username, self._clock() + (lifetime_s or self._lifetime_s))
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._dir / _digest(token)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(grant), out)
        os.replace(temporary, path)
        self._prune()
        return token

    def redeem(self, token: str, client_id: str) -> RefreshGrant | None:
        """The grant of a live token issued to `client_id`, else None (unknown, expired, another client's)."""
        path = self._dir / _digest(token)
        grant = self._read(path)
        if grant is None:
            return None
        if grant.expires <= self._clock():
            path.unlink(missing_ok=True)
            return None
        return grant if grant.client_id == client_id else None

    @staticmethod
    def _read(path: Path) -> RefreshGrant | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return RefreshGrant(str(data["pool_id"]), str(data["client_id"]), str(data["username"]),
                                float(data["expires"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _prune(self) -> None:
        """Beyond the bound, expired tokens go, then those that expire first, so the directory stays small."""
        paths = [path for path in self._dir.iterdir() if _HEX.issuperset(path.name)]
        if len(paths) <= self._max_tokens:
            return
        now = self._clock()
        grants = [(self._read(path), path) for path in paths]
        live = sorted((grant.expires, str(path)) for grant, path in grants if grant and grant.expires > now)
        keep = {path for _, path in live[len(live) - self._max_tokens:]}
        for _, path in grants:
            if str(path) not in keep:
                path.unlink(missing_ok=True)
