"""The stored token-signing key is read on first use, once."""

from __future__ import annotations

from pathlib import Path

from esb_runtime import signing_key


def test_stored_key_loads_on_first_use_and_once(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / signing_key.KEY_FILE
    loads: list[Path] = []

    def load(where: Path) -> signing_key.SigningKey:
        loads.append(where)
        return signing_key.ensure(where)

    stored = signing_key.StoredKey(path, load=load)
    assert loads == [] and not path.exists()  # nothing read or made until a token needs it
    kid = stored.kid
    assert loads == [path] and path.exists()
    assert stored.jwk()["kid"] == kid == signing_key.ensure(path).kid
    assert stored.private_key.key_size == 2048
    assert loads == [path]
    assert "BEGIN" not in repr(stored)
