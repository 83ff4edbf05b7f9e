"""The box's local CA and server certificate: generated once, reused while valid."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from esb_runtime import tls_checked
from esb_runtime.tls_checked import TlsFiles

__all__ = ["TlsFiles", "ensure_tls"]

CA_DAYS = 3650
# The public-web maximum (CA/Browser Forum, 397 days); renewed RENEW_BEFORE its end at the next gateway start.
SERVER_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)
_BASE_NAMES = ("localhost", "127.0.0.1", "::1")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san_entries(hostnames: Iterable[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    seen: set[str] = set()
    for name in (*_BASE_NAMES, *hostnames):
        if not name or name in seen or name in ("0.0.0.0", "::"):
            continue
        seen.add(name)
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _permitted(entries: list[x509.GeneralName]) -> list[x509.GeneralName]:
    """Name constraints for the CA: exactly the box's names (and their subdomains), each IP as a /32 or /128."""
    permitted: list[x509.GeneralName] = []
    for entry in entries:
        if isinstance(entry, x509.IPAddress):
            permitted.append(x509.IPAddress(ipaddress.ip_network(entry.value)))  # type: ignore[arg-type]
        else:
            # A constraint on a domain covers its subdomains: *.lambda-url.localhost is permitted by its base.
            base = x509.DNSName(entry.value.removeprefix("*."))
            if base not in permitted:
                permitted.append(base)
    return permitted


def _constraints_cover(ca: x509.Certificate, entries: list[x509.GeneralName]) -> bool:
    try:
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return False  # a CA from before name constraints could vouch for any name: replace it
    return set(_permitted(entries)) <= set(constraints.permitted_subtrees or ())


def _make_ca(tls_dir: Path, entries: list[x509.GeneralName]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Edge Serverless Box local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # Trusting this CA must not let its key vouch for anyone else's names.
        .add_extension(x509.NameConstraints(permitted_subtrees=_permitted(entries), excluded_subtrees=None),
                       critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(tls_dir / "ca-key.pem", _key_pem(key), 0o600)
    _write(tls_dir / "ca.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _make_server(tls_dir: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                 hostnames: Iterable[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_san_entries(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(tls_dir / "server-key.pem", _key_pem(key), 0o600)
    _write(tls_dir / "server.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _load_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((tls_dir / "ca-key.pem").read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _fresh(cert):
        return None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    return cert, key


def _server_valid(tls_dir: Path, ca: x509.Certificate, hostnames: Iterable[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
        key = serialization.load_pem_private_key((tls_dir / "server-key.pem").read_bytes(), password=None)
        cert.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    if not _fresh(cert) or cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        return False
    if cert.not_valid_after_utc - cert.not_valid_before_utc > dt.timedelta(days=SERVER_DAYS, minutes=5):
        return False  # issued under an older, longer policy
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(_san_entries(hostnames)) <= set(sans)


def ensure_tls(tls_dir: Path, hostnames: Iterable[str] = ()) -> TlsFiles:
    """CA + server certificate under tls_dir, created or renewed only when missing, expiring or not matching;
    checked again only once the files, the names or the time window change (tls_checked)."""
    asked = list(hostnames)
    files = TlsFiles.under(tls_dir)
    if tls_checked.current(tls_dir, asked):
        return files
    hostnames = [*asked, socket.gethostname()]
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    entries = _san_entries(hostnames)
    ca = _load_ca(tls_dir)
    if ca is not None and not _constraints_cover(ca[0], entries):
        ca = None
    renew_server = ca is None
    if ca is None:
        ca = _make_ca(tls_dir, entries)
    if renew_server or not _server_valid(tls_dir, ca[0], hostnames):
        _make_server(tls_dir, ca[0], ca[1], hostnames)
    server = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    due = min(ca[0].not_valid_after_utc, server.not_valid_after_utc) - RENEW_BEFORE
    tls_checked.record(tls_dir, asked, due.timestamp())
    return files
