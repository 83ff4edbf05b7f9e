"""Verification of AWS Signature Version 4 (AWS4-HMAC-SHA256 in the Authorization header)."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import quote, unquote

from esb_runtime.gateway.request import IncomingRequest
from esb_runtime.secrets import unknown_key_message

MAX_SKEW_S = 15 * 60
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


class SignatureError(Exception):
    """A rejected signature; `code` is the AWS error type the client sees (HTTP 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def _remove_dot_segments(path: str) -> str:
    # As botocore's normalize_url_path: RFC 3986 dot segments go, and so do empty segments.
    out: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    result = "/" + "/".join(out)
    if path.endswith("/") and result != "/":
        result += "/"
    return result


def canonical_uri(raw_path: str) -> str:
    # Non-S3 services sign the already-encoded path encoded once more.
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def canonical_query(query_string: str) -> str:
    pairs = []
    for pair in query_string.split("&") if query_string else ():
        key, _, value = pair.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _trim(value: str) -> str:
    return " ".join(value.split())


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(f"AWS4{secret}".encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _timestamp(value: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))
    except ValueError as exc:
        raise SignatureError("IncompleteSignatureException", f"invalid X-Amz-Date: {value}") from exc


def _path_candidates(request: IncomingRequest) -> Iterable[str]:
    # The raw path is what the client signed; when the server gave only the decoded path, the
    # AWS encoding of it (everything but unreserved characters) is what SDKs send.
    yield request.raw_path
    fallback = quote(request.path, safe="/-_.~")
    if fallback != request.raw_path:
        yield fallback


@dataclass(frozen=True)
class SignedHeaders:
    """What the Authorization header claims; checked against the key, clock and headers, not yet the body."""

    date: str
    region: str
    amz_date: str
    signed: str
    signature: str
    declared_hash: str | None


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_headers(request: IncomingRequest, credentials: Credentials, *, service: str, now: float,
                  require_payload_hash: bool = False) -> SignedHeaders:
    """Everything that needs no body: form, access key, scope, clock skew, signed headers, declared hash.

    Run it before reading a body, so unauthenticated uploads are never buffered. `require_payload_hash`
    refuses UNSIGNED-PAYLOAD, as Lambda does (only S3 accepts it).
    """
    authorization = request.header("Authorization")
    if not authorization:
        raise SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTH.match(authorization.strip())
    if not match:
        raise SignatureError("IncompleteSignatureException", "Authorization header is not AWS4-HMAC-SHA256")
    scope = match["cred"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError("IncompleteSignatureException", "malformed credential scope")
    access_key, date, region, scope_service, _ = scope
    if not hmac.compare_digest(access_key.encode(), credentials.access_key_id.encode()):
        raise SignatureError("UnrecognizedClientException", "The security token included in the request is invalid: "
                             + unknown_key_message(access_key, credentials.access_key_id))
    if scope_service != service:
        raise SignatureError("InvalidSignatureException", f"credential scope must name service {service}")
    amz_date = request.header("X-Amz-Date") or ""
    if not amz_date:
        raise SignatureError("IncompleteSignatureException", "X-Amz-Date header is required")
    if abs(now - _timestamp(amz_date)) > MAX_SKEW_S or amz_date[:8] != date:
        raise SignatureError("InvalidSignatureException", "Signature expired: the request time is too skewed.")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise SignatureError("InvalidSignatureException", "the host header must be signed")
    for name in signed:
        if request.header(name) is None:
            raise SignatureError("InvalidSignatureException", f"signed header missing: {name}")
    declared = request.header("X-Amz-Content-SHA256")
    if declared is not None and not _HEX64.match(declared):
        if require_payload_hash or declared != "UNSIGNED-PAYLOAD":
            raise SignatureError("InvalidSignatureException",
                                 "X-Amz-Content-SHA256 must be the hex SHA-256 of the payload")
    return SignedHeaders(date, region, amz_date, match["signed"], match["sig"], declared)


def verify(request: IncomingRequest, credentials: Credentials, *, service: str, now: float,
           require_payload_hash: bool = False) -> str:
    """Check the request's signature over its body; return the signing region, raise SignatureError otherwise."""
    claim = check_headers(request, credentials, service=service, now=now, require_payload_hash=require_payload_hash)
    header_lines = [f"{name}:{_trim(request.header(name) or '')}\n" for name in claim.signed.split(";")]
    payload_hash = hashlib.sha256(request.body).hexdigest()
    if claim.declared_hash is not None and claim.declared_hash != payload_hash:
        if claim.declared_hash != "UNSIGNED-PAYLOAD":
            raise SignatureError("InvalidSignatureException", "X-Amz-Content-SHA256 does not match the body")
        payload_hash = claim.declared_hash
    key = signing_key(credentials.secret_access_key, claim.date, claim.region, service)
    tail = f"{canonical_query(request.query_string)}\n{''.join(header_lines)}\n{claim.signed}\n{payload_hash}"
    for path in _path_candidates(request):
        canonical = f"{request.method}\n{canonical_uri(path)}\n{tail}"
        to_sign = f"AWS4-HMAC-SHA256\n{claim.amz_date}\n{claim.date}/{claim.region}/{service}/aws4_request\n" + \
            hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), claim.signature.encode()):
            return claim.region
    raise SignatureError(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided.",
    )
