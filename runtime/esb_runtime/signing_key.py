"""The box's RS256 token-signing key: generated once, kept 0600 under secrets/, published only as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "cognito-signing-key.pem"  # under secrets/

def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls.from_private(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def from_private(cls, key: rsa.RSAPrivateKey) -> "SigningKey":
        numbers = key.public_key().public_numbers()
        # The kid is a digest of the public key, so a regenerated key never shares a kid with an old one.
        kid = hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:32]
        return cls(key, kid)

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an RSA private key")
        return cls.from_private(key)

    def pem(self) -> bytes:
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
