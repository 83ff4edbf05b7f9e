"""The box's local CA and server certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from esb_runtime.tls import ensure_tls


def test_creates_ca_and_server_cert(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path / "tls", ["box.local"])
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc) > dt.timedelta(days=3649)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) <= dt.timedelta(days=826)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "box.local", socket.gethostname()} <= set(sans.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")} <= set(
        sans.get_values_for_type(x509.IPAddress))
    for key in (files.key_file, tmp_path / "tls" / "ca-key.pem"):
        assert os.stat(key).st_mode & 0o777 == 0o600


def test_reused_when_valid_and_renewed_for_new_hostname(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, ["a.local"])
    ca_bytes, cert_bytes = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    ensure_tls(tmp_path, ["a.local"])
    assert first.cert_file.read_bytes() == cert_bytes
    ensure_tls(tmp_path, ["a.local"])
    assert first.ca_file.read_bytes() == ca_bytes  # the CA clients trust stays while the names do
    ensure_tls(tmp_path, ["b.local"])
    assert first.cert_file.read_bytes() != cert_bytes  # new SAN needed
    # The CA is name-constrained to the box's names: a new name needs a new CA (clients re-read ca.pem).
    assert first.ca_file.read_bytes() != ca_bytes


def test_broken_server_cert_is_replaced(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    files.cert_file.write_text("garbage")
    ensure_tls(tmp_path)
    x509.load_pem_x509_certificate(files.cert_file.read_bytes())


def test_handshake_verifies_against_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(files.cert_file), str(files.key_file))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.sendall(b"hi")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(files.ca_file))
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as conn:
            assert conn.recv(2) == b"hi"
    thread.join(timeout=5)
    listener.close()
