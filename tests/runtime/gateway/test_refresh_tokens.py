"""Refresh tokens: opaque, kept only hashed (0600 files), expiring, bound to their app client, bounded in number."""

from __future__ import annotations

from pathlib import Path

from esb_runtime.gateway.refresh_tokens import RefreshGrant, RefreshTokens


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_redeemed_by_its_client_until_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    tokens = RefreshTokens(tmp_path, lifetime_s=60, clock=clock)
    token = tokens.issue("pool", "client", "alice")
    assert tokens.redeem(token, "client") == RefreshGrant("pool", "client", "alice", 1_060.0)
    assert tokens.redeem(token, "other-client") is None
    # Another worker (another instance on the same directory) redeems it too.
    assert RefreshTokens(tmp_path, clock=clock).redeem(token, "client") is not None
    clock.now += 60
    assert tokens.redeem(token, "client") is None
    assert list(tmp_path.iterdir()) == []  # an expired token is deleted when met


def test_tokens_are_opaque_and_only_their_hash_is_kept(tmp_path: Path) -> None:
    tokens = RefreshTokens(tmp_path)
    token = tokens.issue("pool", "client", "alice")
    assert len(token) >= 64 and "alice" not in token and token != tokens.issue("pool", "client", "alice")
    files = list(tmp_path.iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert not any(token in f.name or token in f.read_text() for f in files)


def test_the_oldest_tokens_go_when_too_many_are_issued(tmp_path: Path) -> None:
    clock = Clock()
    tokens = RefreshTokens(tmp_path, max_tokens=2, clock=clock)
    issued = []
    for name in ("a", "b", "c"):
        issued.append(tokens.issue("pool", "client", name))
        clock.now += 1
    assert tokens.redeem(issued[0], "client") is None
    assert tokens.redeem(issued[1], "client") is not None and tokens.redeem(issued[2], "client") is not None
    assert len(list(tmp_path.iterdir())) == 2
