"""SigV4 check in front of moto (which accepts any credentials): only the box's key pair gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape as xml_escape

from esb_runtime.secrets import unknown_key_message

Environ = dict
StartResponse = Callable[..., object]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

HEALTH_PATH = "/_esb/health"
_READ_TARGETS = ("Get", "BatchGet", "Query", "Scan", "Describe", "List")
_MAX_SKEW = timedelta(minutes=15)
# A declared payload hash that can be checked; UNSIGNED-PAYLOAD and the STREAMING-* forms are S3's other options.
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Query parameters that are part of a SigV2 string to sign (S3 "sub-resources").
_V2_SUBRESOURCES = frozenset(
    "accelerate acl cors defaultObjectAcl location logging partNumber policy requestPayment torrent "
    "versioning versionId versions website uploads uploadId response-content-type response-content-language "
    "response-expires response-cache-control response-content-disposition response-content-encoding delete "
    "lifecycle tagging restore storageClass notification replication analytics metrics inventory select "
    "select-type object-lock".split()
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical_query(query: str, skip: str | None = None) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        key, value = unquote(key.replace("+", " ")), unquote(value.replace("+", " "))
        if key != skip:
            pairs.append((_uri_encode(key), _uri_encode(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header(environ: Environ, name: str) -> str | None:
    lowered = name.lower()
    if lowered == "content-type":
        return environ.get("CONTENT_TYPE")
    if lowered == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _raw_path(environ: Environ) -> str:
    """The path exactly as the client sent (and signed) it, still percent-encoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
    return raw.split("?", 1)[0] or "/"


def _fields(header: str) -> dict[str, str]:
    """`AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=x;y, Signature=z` as a dict."""
    _, _, rest = header.partition(" ")
    out = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        out[key] = value
    return out


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


@dataclass
class SigV4Verifier:
    """Recomputes the signature of a request (header or presigned form) with the box's secret key."""

    credentials: Credentials
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def check(self, environ: Environ, body: bytes) -> str | None:
        """None when the request is signed by the box's key, else the reason it is refused."""
        auth = _header(environ, "Authorization") or ""
        query = environ.get("QUERY_STRING", "")
        if auth.startswith("AWS4-HMAC-SHA256 "):
            parts = _fields(auth)
            credential, signed, signature = parts.get("Credential", ""), parts.get("SignedHeaders", ""), parts.get("Signature", "")
            amz_date = _header(environ, "X-Amz-Date") or ""
            refused = self.precheck(environ)
            if refused is not None:
                return refused
            payload = _header(environ, "X-Amz-Content-Sha256") or _sha256(body)
            if _HEX64.match(payload) and not hmac.compare_digest(payload, _sha256(body)):
                return "XAmzContentSHA256Mismatch: the body does not match X-Amz-Content-Sha256"
            canonical_qs = _canonical_query(query)
        elif "X-Amz-Signature=" in query:
            params = {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in query.split("&"))}
            credential, signed = params.get("X-Amz-Credential", ""), params.get("X-Amz-SignedHeaders", "")
            signature, amz_date = params.get("X-Amz-Signature", ""), params.get("X-Amz-Date", "")
            payload = "UNSIGNED-PAYLOAD"
            canonical_qs = _canonical_query(query, skip="X-Amz-Signature")
            if self._expired(amz_date, params.get("X-Amz-Expires", "0")):
                return "presigned URL expired"
        elif "Signature=" in query and "AWSAccessKeyId=" in query:
            return self._check_v2_query(environ, query)
        else:
            return "missing AWS SigV4 credentials"
        key_id, _, scope = credential.partition("/")
        if not hmac.compare_digest(key_id, self.credentials.access_key_id):
            return unknown_key_message(key_id, self.credentials.access_key_id)
        path = _raw_path(environ)
        headers = []
        for name in signed.split(";"):
            value = _header(environ, name) or ""
            headers.append(f"{name}:{' '.join(value.split())}\n")
        canonical = "\n".join(
            [environ["REQUEST_METHOD"].upper(), path, canonical_qs, "".join(headers), signed, payload]
        )
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, _sha256(canonical.encode("utf-8"))])
        key = ("AWS4" + self.credentials.secret_access_key).encode("utf-8")
        for piece in scope.split("/"):
            key = _hmac(key, piece)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "signature does not match"
        return None

    def precheck(self, environ: Environ) -> str | None:
        """The header-form checks that need no body (key id, date skew), run before the body is read."""
        auth = _header(environ, "Authorization") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return None  # query-signed (presigned) forms carry no body worth guarding; check() decides
        key_id, _, scope = _fields(auth).get("Credential", "").partition("/")
        if not hmac.compare_digest(key_id, self.credentials.access_key_id):
            return unknown_key_message(key_id, self.credentials.access_key_id)
        amz_date = _header(environ, "X-Amz-Date") or ""
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return "X-Amz-Date is missing or malformed"
        # As AWS: RequestTimeTooSkewed beyond 15 minutes either way, and the scope's day is the request's.
        if abs(self.clock() - signed_at) > _MAX_SKEW or scope[:8] != amz_date[:8]:
            return "RequestTimeTooSkewed: the request time is more than 15 minutes from the server time"
        return None

    def _check_v2_query(self, environ: Environ, query: str) -> str | None:
        """S3 presigned URLs in the legacy (SigV2) form, which boto3 still produces by default."""
        params = {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in query.split("&"))}
        if not hmac.compare_digest(params.get("AWSAccessKeyId", ""), self.credentials.access_key_id):
            return "unknown access key id"
        expires = params.get("Expires", "0")
        if not expires.isdigit() or self.clock().timestamp() > int(expires):
            return "presigned URL expired"
        path = _raw_path(environ)
        sub = sorted((k, v) for k, v in params.items() if k in _V2_SUBRESOURCES)
        if sub:
            path += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
        amz = sorted(
            (k[5:].lower().replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_X_AMZ_")
        )
        lines = [environ["REQUEST_METHOD"].upper(), _header(environ, "Content-MD5") or "",
                 _header(environ, "Content-Type") or "", expires]
        lines += [f"{k}:{v}" for k, v in amz]
        to_sign = "\n".join(lines + [path])
        digest = hmac.new(self.credentials.secret_access_key.encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), params.get("Signature", "")):
            return "signature does not match"
        return None

    def _expired(self, amz_date: str, expires: str) -> bool:
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            return self.clock() > signed_at + timedelta(seconds=int(expires)) + _MAX_SKEW
        except ValueError:
            return True


def region_of(environ: Environ) -> str | None:
    auth = _header(environ, "Authorization") or ""
    credential = _fields(auth).get("Credential", "") if auth else ""
    if not credential:
        query = environ.get("QUERY_STRING", "")
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "X-Amz-Credential":
                credential = unquote(value)
    pieces = credential.split("/")
    return pieces[2] if len(pieces) > 3 else None


def is_write(environ: Environ) -> bool:
    """Whether a request may change state (so a snapshot is due)."""
    target = _header(environ, "X-Amz-Target")
    if target:
        operation = target.rpartition(".")[2]
        return not operation.startswith(_READ_TARGETS)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


MAX_HEALTH_WAIT_S = 2.0


def health_wait(query: str) -> float:
    """Seconds `GET /_esb/health?wait=S` may be held while the stores are not ready yet (0 to MAX_HEALTH_WAIT_S):
    `esb up` learns the moment they are, without polling them while they restore."""
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "wait":
            try:
                return min(max(float(value), 0.0), MAX_HEALTH_WAIT_S)
            except ValueError:
                return 0.0
    return 0.0


class AuthMiddleware:
    """Refuses unsigned or foreign requests, serves the health route, tracks writes and regions."""

    def __init__(self, app: WsgiApp, verifier: SigV4Verifier | None, health: Callable[[float], dict]) -> None:
        self.app = app
        self.verifier = verifier
        self.health = health
        self.dirty = threading.Event()
        self.regions: set[str] = set()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == HEALTH_PATH:
            status = self.health(health_wait(environ.get("QUERY_STRING", "")))
            code = "200 OK" if status.get("status") == "ok" else "503 Service Unavailable"
            return self._json(start_response, code, status)
        if path.startswith("/moto-api"):
            # moto's control API can reset every backend; the box never exposes it.
            return self._json(start_response, "404 Not Found", {"error": "NotFound"})
        if self.verifier is not None:
            refused = self.verifier.precheck(environ)  # before the body: strangers' uploads are never buffered
            if refused is not None:
                # The body stays unread, so this connection cannot carry another request.
                return self._refuse(environ, start_response, refused, close=True)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        if length:
            body = stream.read(length)
        else:  # chunked uploads carry no length; werkzeug ends the stream for us
            body = stream.read() if environ.get("wsgi.input_terminated") else b""
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        if self.verifier is not None:
            reason = self.verifier.check(environ, body)
            if reason is not None:
                return self._refuse(environ, start_response, reason)
        region = region_of(environ)
        if region:
            self.regions.add(region)
        if is_write(environ):
            self.dirty.set()
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(environ: Environ, start_response: StartResponse, reason: str, close: bool = False) -> list[bytes]:
        """403 in the caller's protocol, so SDKs and the CLI show the reason: JSON (X-Amz-Target) or S3's XML."""
        unknown_key = reason.startswith("unknown access key id")
        headers = [("Connection", "close")] if close else []
        if _header(environ, "X-Amz-Target"):
            kind = "UnrecognizedClientException" if unknown_key else "AccessDeniedException"
            data = json.dumps({"__type": kind, "message": reason}).encode("utf-8")
            headers.append(("Content-Type", "application/x-amz-json-1.0"))
        else:
            code = "InvalidAccessKeyId" if unknown_key else "AccessDenied"
            data = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                    f"<Message>{xml_escape(reason)}</Message></Error>").encode("utf-8")
            headers.append(("Content-Type", "application/xml"))
        start_response("403 Forbidden", headers + [("Content-Length", str(len(data)))])
        return [data]

    @staticmethod
    def _json(start_response: StartResponse, status: str, body: dict, close: bool = False) -> list[bytes]:
        data = json.dumps(body).encode("utf-8")
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        start_response(status, headers + [("Connection", "close")] if close else headers)
        return [data]
