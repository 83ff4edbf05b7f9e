"""TLS policy: AEAD-only suites, a server certificate of at most 397 days, a CA name-constrained to the box."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from esb_runtime.gateway.worker import harden
from esb_runtime.tls import SERVER_DAYS, ensure_tls


def test_ca_is_name_constrained_to_the_box_names(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, ["box.local"])
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    ext = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    permitted = set(ext.value.permitted_subtrees or ())
    assert x509.DNSName("box.local") in permitted and x509.DNSName("localhost") in permitted
    assert x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")) in permitted
    assert all(not isinstance(n, x509.DNSName) or n.value != "example.com" for n in permitted)


def test_server_cert_is_short_lived_ecdsa(tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(ensure_tls(tmp_path).cert_file.read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= SERVER_DAYS <= 397
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_old_ca_without_constraints_is_replaced(tmp_path: Path) -> None:
    from esb_runtime import tls

    files = tls.ensure_tls(tmp_path)
    ca_key = tmp_path / "ca-key.pem"
    # A CA as earlier boxes made it: same key, no name constraints.
    key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    old = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.subject)
               .public_key(old.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(old.not_valid_before_utc).not_valid_after(old.not_valid_after_utc)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True))
    files.ca_file.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))  # type: ignore[arg-type]
    tls.ensure_tls(tmp_path)
    renewed = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    renewed.extensions.get_extension_for_class(x509.NameConstraints)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[str | None, tuple | None]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    result: dict[str, object] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        wrapped = server.wrap_socket(conn, server_side=True)
        try:
            wrapped.do_handshake()  # harden() leaves the handshake to the caller
            wrapped.recv(1)
        except (ssl.SSLError, OSError) as exc:
            result["error"] = exc
        finally:
            wrapped.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1") as sock:
            return sock.version(), sock.cipher()
    finally:
        thread.join(5)
        listener.close()


def server_context(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    files = ensure_tls(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(files.cert_file), str(files.key_file))
    return harden(context), files.ca_file


def test_only_aead_suites_are_offered(tmp_path: Path) -> None:
    server, _ = server_context(tmp_path)
    names = [c["name"] for c in server.get_ciphers()]
    assert names and all(("GCM" in n) or ("CHACHA20" in n) for n in names)
    assert not any("CBC" in n or n.endswith("SHA") for n in names)


def test_tls12_cbc_client_is_refused_and_aead_client_served(tmp_path: Path) -> None:
    server, ca = server_context(tmp_path)
    cbc = ssl.create_default_context(cafile=str(ca))
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
    with pytest.raises(ssl.SSLError):
        handshake(server, cbc)
    aead = ssl.create_default_context(cafile=str(ca))
    aead.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = handshake(server, aead)
    assert version == "TLSv1.2" and cipher is not None and ("GCM" in cipher[0] or "CHACHA20" in cipher[0])
