"""SigV4 as AWS checks it: Lambda refuses UNSIGNED-PAYLOAD, stores check skew and the declared payload hash,
and neither reads a body before the headers prove the caller holds the box's key."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any
from unittest import mock
from urllib.parse import unquote

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from falcon import testing

from esb_runtime.gateway import sigv4
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.request import IncomingRequest
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.stores.auth import AuthMiddleware, Credentials, SigV4Verifier
from fakes import functions_config

KEY, SECRET = "AKIATESTKEY000000000", "s3cr3t/Key+With=Chars"
HOST = "127.0.0.1:8443"
FN_PATH = "/2015-03-31/functions/hello/invocations"
NOW = dt.datetime(2025, 3, 1, 12, 0, 0)


def botocore_sign(method: str, url: str, body: bytes, *, service: str, when: dt.datetime = NOW,
                  headers: dict[str, str] | None = None, unsigned_payload: bool = False,
                  key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if unsigned_payload:
        request.context["payload_signing_enabled"] = False
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer_class(BotoCredentials(key, secret), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def lambda_request(body: bytes, sent_body: bytes | None = None, **kwargs: Any) -> IncomingRequest:
    headers = botocore_sign("POST", f"https://{HOST}{FN_PATH}", body, service="lambda", **kwargs)
    return IncomingRequest(method="POST", path=unquote(FN_PATH), raw_path=FN_PATH, query_string="",
                           headers=(*headers.items(), ("Host", HOST)), body=body if sent_body is None else sent_body,
                           source_ip="127.0.0.1", protocol="HTTP/1.1", host=HOST)


def at(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()


# --- gateway (Lambda Invoke API) --------------------------------------------------------------

def test_unsigned_payload_with_swapped_body_is_refused_for_lambda() -> None:
    request = lambda_request(b'{"amount": 1}', sent_body=b'{"amount": 1000000}', unsigned_payload=True,
                             headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    creds = sigv4.Credentials(KEY, SECRET)
    with pytest.raises(sigv4.SignatureError, match="hex SHA-256"):
        sigv4.verify(request, creds, service="lambda", now=at(NOW), require_payload_hash=True)
    # The same request is what an S3-style verifier (payload hash optional) would have let through.
    assert sigv4.verify(request, creds, service="lambda", now=at(NOW)) == "us-east-1"


def test_declared_hash_of_another_body_is_refused() -> None:
    original = b'{"amount": 1}'
    request = lambda_request(original, sent_body=b'{"amount": 2}',
                             headers={"X-Amz-Content-SHA256": hashlib.sha256(original).hexdigest()})
    with pytest.raises(sigv4.SignatureError, match="does not match the body"):
        sigv4.verify(request, sigv4.Credentials(KEY, SECRET), service="lambda", now=at(NOW),
                     require_payload_hash=True)


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-20), dt.timedelta(days=-7), dt.timedelta(minutes=20)])
def test_lambda_skew_beyond_15_minutes_is_refused(offset: dt.timedelta) -> None:
    request = lambda_request(b"{}", when=NOW + offset)
    with pytest.raises(sigv4.SignatureError, match="too skewed"):
        sigv4.check_headers(request, sigv4.Credentials(KEY, SECRET), service="lambda", now=at(NOW))


class CountingInput(io.BytesIO):
    """A request body that records how much of it the app read."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def invoke_client(tmp_path: Any, secrets: BoxSecrets) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    functions = {"project": "t", "region": "us-east-1", "account_id": "000000000000",
                 "functions": {"hello": {"timeout": 3}}}
    app = create_app(settings, routes_source=StaticConfigSource(build_config({"apis": {}, "routes": []}, functions_config(functions))),
                     manager=FakeManager({"hello": lambda event: event}), secrets=secrets, clock=lambda: at(NOW))
    return testing.TestClient(app)


def test_unauthenticated_invoke_body_is_never_read(tmp_path: Any) -> None:
    secrets = BoxSecrets.generate()
    client = invoke_client(tmp_path, secrets)
    body = CountingInput(b"x" * 6_000_000)
    result = client.simulate_post(FN_PATH, headers={"Content-Length": "6000000", "Content-Type": "application/json"},
                                  extras={"wsgi.input": body})
    assert result.status_code == 403 and body.read_bytes == 0


def test_signed_invoke_still_works_and_swapped_unsigned_payload_is_403(tmp_path: Any) -> None:
    secrets = BoxSecrets.generate()
    box_key = {"key": secrets.aws_access_key_id, "secret": secrets.aws_secret_access_key}
    client = invoke_client(tmp_path, secrets)
    good = botocore_sign("POST", f"https://{HOST}{FN_PATH}", b'{"a": 1}', service="lambda", **box_key)
    unsigned = botocore_sign("POST", f"https://{HOST}{FN_PATH}", b'{"a": 1}', service="lambda",
                             unsigned_payload=True, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, **box_key)
    ok = client.simulate_post(FN_PATH, headers={**good, "Host": HOST}, body=b'{"a": 1}')
    assert ok.status_code == 200 and ok.json == {"a": 1}
    swapped = client.simulate_post(FN_PATH, headers={**unsigned, "Host": HOST}, body=b'{"a": 2}')
    assert swapped.status_code == 403


# --- stores (S3 / DynamoDB behind moto) -------------------------------------------------------

def store_environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "RAW_URI": path, "QUERY_STRING": "",
                               "CONTENT_LENGTH": str(len(body)), "wsgi.input": CountingInput(body)}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def s3_put(body: bytes, sent: bytes | None = None, when: dt.datetime = NOW) -> dict[str, Any]:
    headers = botocore_sign("PUT", "http://127.0.0.1:4566/bucket/key", body, service="s3", when=when,
                            headers={"Host": "127.0.0.1:4566"})
    return store_environ("PUT", "/bucket/key", body if sent is None else sent, headers)


def verifier(now: dt.datetime = NOW) -> SigV4Verifier:
    return SigV4Verifier(Credentials(KEY, SECRET), clock=lambda: now.replace(tzinfo=dt.timezone.utc))


def test_store_accepts_a_fresh_signed_put() -> None:
    environ = s3_put(b"hello")
    assert verifier().check(environ, b"hello") is None


@pytest.mark.parametrize("age", [dt.timedelta(minutes=20), dt.timedelta(days=7)])
def test_store_refuses_old_signatures(age: dt.timedelta) -> None:
    environ = s3_put(b"hello", when=NOW - age)
    assert "RequestTimeTooSkewed" in (verifier().check(environ, b"hello") or "")


def test_store_refuses_a_body_swapped_after_signing() -> None:
    environ = s3_put(b"hello", sent=b"evil!")
    assert "XAmzContentSHA256Mismatch" in (verifier().check(environ, b"evil!") or "")


def test_store_middleware_answers_strangers_before_reading_the_body() -> None:
    reached: list[bool] = []

    def app(environ: dict, start_response: Any) -> list[bytes]:
        reached.append(True)
        start_response("200 OK", [])
        return [b""]

    middleware = AuthMiddleware(app, verifier(), health=lambda wait_s: {"status": "ok"})
    environ = s3_put(b"x" * 1000, when=NOW - dt.timedelta(days=7))
    statuses: list[str] = []
    middleware(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["403 Forbidden"] and environ["wsgi.input"].read_bytes == 0 and reached == []
    fresh = s3_put(b"x" * 1000)
    middleware(fresh, lambda status, headers: statuses.append(status))
    assert statuses[-1] == "200 OK" and reached == [True]
