"""The box's RS256 token-signing key: generated once, kept 0600 under secrets/, published only as a JWKS."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from esb_runtime.contract import SIGNING_KEY_FILE as KEY_FILE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

# cryptography is imported where a key is made or read, not here: the manager and the gunicorn master never
# touch a key (~10 MB of RSS each, issue 14).
__all__ = ["KEY_FILE", "SigningKey", "StoredKey", "TokenKey", "ensure"]


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> "SigningKey":
        from cryptography.hazmat.primitives.asymmetric import rsa

        return cls.from_private(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def from_private(cls, key: rsa.RSAPrivateKey) -> "SigningKey":
        numbers = key.public_key().public_numbers()
        # The kid is a digest of the public key, so a regenerated key never shares a kid with an old one.
        kid = hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:32]
        return cls(key, kid)

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an RSA private key")
        return cls.from_private(key)

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {"alg": "RS256", "e": _b64url_uint(numbers.e), "kid": self.kid, "kty": "RSA",
                "n": _b64url_uint(numbers.n), "use": "sig"}

    def __repr__(self) -> str:  # never print key material, even in a traceback
        return f"SigningKey(kid={self.kid!r})"


def ensure(path: Path) -> SigningKey:
    """Load the key, generating it on first use; safe when several processes race (the first link wins)."""
    if path.exists():
        os.chmod(path, 0o600)
        return SigningKey.from_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = SigningKey.generate()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.pem())
        try:
            os.link(tmp, path)  # fails if another process got there first: then theirs is the key
        except FileExistsError:
            return SigningKey.from_pem(path.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return key


class TokenKey(Protocol):
    """What token issuers and checkers read of the box's key."""

    @property
    def private_key(self) -> rsa.RSAPrivateKey: ...

    @property
    def kid(self) -> str: ...

    def jwk(self) -> dict[str, Any]: ...


class StoredKey:
    """The stored key, read (or made) on first use: a gateway that never issues or checks a box token never
    loads cryptography (~15 MB of RSS, issue 14)."""

    def __init__(self, path: Path, load: Callable[[Path], SigningKey] = ensure) -> None:
        self.path = path
        self._load = load

    @functools.cached_property
    def _key(self) -> SigningKey:
        return self._load(self.path)

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return self._key.private_key

    @property
    def kid(self) -> str:
        return self._key.kid

    def jwk(self) -> dict[str, Any]:
        return self._key.jwk()

    def __repr__(self) -> str:
        return f"StoredKey({self.path})"
