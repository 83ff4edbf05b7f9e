"""The box's generated credentials: created once, kept 0600 in secrets/box.json, never rendered elsewhere."""

from __future__ import annotations

import json
import os
import string
from dataclasses import asdict, dataclass
from pathlib import Path

_ALNUM = string.ascii_letters + string.digits


def _token(length: int, alphabet: str = _ALNUM) -> str:
    # Imported only to generate: it imports hmac, so OpenSSL's libcrypto, which the manager never needs (issue 14).
    import secrets

    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class BoxSecrets:
    api_key: str
    username: str
    password: str
    jwt_secret: str
    aws_access_key_id: str
    aws_secret_access_key: str

    @classmethod
    def generate(cls) -> "BoxSecrets":
        import secrets  # see _token

        return cls(
            api_key=_token(40),
            username="esb-user",
            password=_token(24),
            jwt_secret=secrets.token_hex(32),
            aws_access_key_id="AKIA" + _token(16, string.ascii_uppercase + string.digits),
            aws_secret_access_key=_token(40),
        )


def load(path: Path) -> BoxSecrets:
    data = json.loads(path.read_text(encoding="utf-8"))
    return BoxSecrets(**{k: data[k] for k in BoxSecrets.__dataclass_fields__})


def ensure(path: Path) -> BoxSecrets:
    """Load the secrets, generating them on first use (file 0600, directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Every time, not only at creation: a tree made by an older esb or copied with other modes may be open.
    os.chmod(path.parent, 0o700)
    if path.exists():
        os.chmod(path, 0o600)
        return load(path)
    value = BoxSecrets.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(value), handle, indent=2, sort_keys=True)
    return value


def unknown_key_message(given: str, box_key_id: str) -> str:
    """Why a request signed with another key (often the emulators' conventional `test`) is refused, and the fix."""
    return (f"unknown access key id {given[:40]!r}: this box accepts only its own keys (access key id "
            f"{box_key_id}); `eval \"$(esb env)\"` exports them, or see `esb status`")
