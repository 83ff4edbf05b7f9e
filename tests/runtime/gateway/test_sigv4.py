"""SigV4 verification against requests signed by botocore's own signer."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from unittest import mock
from urllib.parse import unquote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from esb_runtime.gateway import sigv4
from esb_runtime.gateway.request import IncomingRequest

CREDS = sigv4.Credentials("AKIATESTKEY000000000", "s3cr3t/Key+With=Chars")
HOST = "127.0.0.1:8443"
FN_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations"


def signed(secret: str = CREDS.secret_access_key, *, when: dt.datetime | None = None,
           url_path: str = FN_PATH, query: str = "", body: bytes = b'{"a":1}',
           region: str = "us-east-1") -> tuple[IncomingRequest, float]:
    url = f"https://{HOST}{url_path}" + (f"?{query}" if query else "")
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"X-Amz-Invocation-Type": "RequestResponse"})
    signer = SigV4Auth(BotoCredentials(CREDS.access_key_id, secret), "lambda", region)
    moment = when or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        signer.add_auth(request)
    headers = tuple((k, v) for k, v in request.headers.items()) + (("Host", HOST),)
    incoming = IncomingRequest(method="POST", path=unquote(url_path), raw_path=url_path, query_string=query,
                               headers=headers, body=body, source_ip="127.0.0.1", protocol="HTTP/1.1", host=HOST)
    return incoming, moment.replace(tzinfo=dt.timezone.utc).timestamp()


def test_accepts_botocore_signature() -> None:
    request, now = signed(query="Qualifier=%24LATEST")
    assert sigv4.verify(request, CREDS, service="lambda", now=now) == "us-east-1"


def test_accepts_when_server_only_has_decoded_path() -> None:
    request, now = signed()
    decoded_only = replace(request, raw_path=request.path)
    assert sigv4.verify(decoded_only, CREDS, service="lambda", now=now + 60) == "us-east-1"


def test_rejects_wrong_secret() -> None:
    request, now = signed(secret="not-the-secret")
    with pytest.raises(sigv4.SignatureError) as info:
        sigv4.verify(request, CREDS, service="lambda", now=now)
    assert info.value.code == "InvalidSignatureException"


def test_rejects_stale_date() -> None:
    request, now = signed(when=dt.datetime(2020, 1, 1, 12, 0, 0))
    with pytest.raises(sigv4.SignatureError) as info:
        sigv4.verify(request, CREDS, service="lambda", now=now + 16 * 60)
    assert info.value.code == "InvalidSignatureException"
    assert "expired" in info.value.message
    assert sigv4.verify(request, CREDS, service="lambda", now=now + 14 * 60)


def test_rejects_tampered_body() -> None:
    request, now = signed()
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(replace(request, body=b'{"a":2}'), CREDS, service="lambda", now=now)


def test_rejects_unknown_key_and_missing_header() -> None:
    request, now = signed()
    other = sigv4.Credentials("AKIAOTHER00000000000", CREDS.secret_access_key)
    with pytest.raises(sigv4.SignatureError) as info:
        sigv4.verify(request, other, service="lambda", now=now)
    assert info.value.code == "UnrecognizedClientException"
    bare = replace(request, headers=tuple(h for h in request.headers if h[0].lower() != "authorization"))
    with pytest.raises(sigv4.SignatureError) as info:
        sigv4.verify(bare, CREDS, service="lambda", now=now)
    assert info.value.code == "MissingAuthenticationTokenException"


def test_rejects_other_service_scope() -> None:
    request, now = signed()
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(request, CREDS, service="s3", now=now)


def test_canonical_helpers() -> None:
    assert sigv4.canonical_query("b=2&a=%7E&a=1") == "a=1&a=~&b=2"
    assert sigv4.canonical_uri("/a/./b/../c%3A") == "/a/c%253A"
