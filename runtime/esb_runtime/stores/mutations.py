"""Which store requests change data, and how one is kept in the journal (a replayable WSGI request)."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote

from esb_runtime.stores.auth import Environ
from esb_runtime.stores.kept import KEPT_WRITES, kept_write

_DYNAMODB_TARGET = "DynamoDB_"  # DynamoDBStreams_ is a read-only API
# DynamoDB reads by X-Amz-Target operation; every other operation may write.
_DYNAMODB_READS = ("Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List")
_S3_READS = ("GET", "HEAD", "OPTIONS")
# Query parameters that only authenticate a presigned request: not needed to replay it, not kept.
_SIGNATURE_PARAMS = ("X-Amz-Signature", "Signature")
_LENGTH = struct.Struct("<I")
# moto's request handler keeps the spelling of underscored S3 metadata headers here (WSGI folds `_` into `-`).
_HEADER_NAMES = "moto.preserved_header_names"


def scope_service(environ: Environ) -> str | None:
    """The signing service of a SigV4 request (header or presigned query), which is what moto routes by."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = ""
    if auth.startswith("AWS4-HMAC-SHA256 "):
        credential = auth.split(" ", 1)[1].split(",")[0].strip().removeprefix("Credential=")
    else:
        for part in environ.get("QUERY_STRING", "").split("&"):
            key, _, value = part.partition("=")
            if key == "X-Amz-Credential":
                credential = unquote(value)
    pieces = credential.split("/")
    return pieces[3] if len(pieces) == 5 else None


def journaled_service(environ: Environ) -> str | None:
    """'s3' or 'dynamodb' for a request that may change their data, the service of a kept configuration
    write or kept traffic (kept.py: queues, topics, parameters, ..., Kinesis records, log events), else None.

    Other calls of the other services are not journaled as requests: what they change in queues (sends,
    publishes, deletes) is journaled as queue contents (queued.py).
    """
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    service = scope_service(environ)
    if service in KEPT_WRITES:
        return service if kept_write(service, environ) else None
    if target:
        if not target.startswith(_DYNAMODB_TARGET) or service not in (None, "dynamodb"):
            return None
        return None if target.rpartition(".")[2].startswith(_DYNAMODB_READS) else "dynamodb"
    # moto sends unsigned and SigV2 requests without a target to S3, so they count as S3 here too.
    if service not in (None, "s3") or environ.get("REQUEST_METHOD", "GET") in _S3_READS:
        return None
    return "s3"


def _strip_signature(auth: str) -> str:
    """Keep the credential scope (moto derives account, region and service from it), drop the MAC."""
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return ""
    scope = auth.split(" ", 1)[1].split(",")[0].strip()
    return f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=journaled"


@dataclass
class Mutation:
    """One acknowledged write: the request as moto saw it, plus ids moto generated in its answer."""

    method: str
    path: str  # PATH_INFO (WSGI's latin-1 view of the raw bytes)
    raw_path: str
    query: str
    headers: dict[str, str]  # WSGI environ keys (HTTP_*, CONTENT_TYPE)
    body: bytes
    ids: dict[str, str] = field(default_factory=dict)  # e.g. uploadId / versionId moto generated
    header_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Environ, body: bytes) -> "Mutation":
        headers = {k: v for k, v in environ.items() if k.startswith("HTTP_") and isinstance(v, str)}
        if "HTTP_AUTHORIZATION" in headers:
            headers["HTTP_AUTHORIZATION"] = _strip_signature(headers["HTTP_AUTHORIZATION"])
        if environ.get("CONTENT_TYPE"):
            headers["CONTENT_TYPE"] = environ["CONTENT_TYPE"]
        query = "&".join(p for p in environ.get("QUERY_STRING", "").split("&")
                         if p and p.partition("=")[0] not in _SIGNATURE_PARAMS)
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        return cls(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"), raw.split("?", 1)[0],
                   query, headers, body, header_names=dict(environ.get(_HEADER_NAMES) or {}))

    def encode(self) -> bytes:
        meta = json.dumps({"m": self.method, "p": self.path, "r": self.raw_path, "q": self.query,
                           "h": self.headers, "i": self.ids,
                           "n": self.header_names}, separators=(",", ":")).encode("utf-8")
        return _LENGTH.pack(len(meta)) + meta + self.body

    @classmethod
    def decode(cls, payload: bytes) -> "Mutation":
        (size,) = _LENGTH.unpack_from(payload)
        meta = json.loads(payload[_LENGTH.size:_LENGTH.size + size])
        return cls(meta["m"], meta["p"], meta["r"], meta["q"], meta["h"], payload[_LENGTH.size + size:], meta["i"],
                   meta.get("n", {}))

    def service(self) -> str | None:
        return scope_service({"HTTP_AUTHORIZATION": self.headers.get("HTTP_AUTHORIZATION", "")})

    def region(self) -> str | None:
        scope = self.headers.get("HTTP_AUTHORIZATION", "").split(" ", 1)[-1].split(",")[0].split("/")
        return scope[2] if len(scope) == 5 else None

    def environ(self, query: str | None = None) -> Environ:
        """A WSGI environ that makes moto do this request again (optionally with a rewritten query)."""
        query = self.query if query is None else query
        environ: Environ = {
            "REQUEST_METHOD": self.method, "PATH_INFO": self.path, "SCRIPT_NAME": "",
            "RAW_URI": self.raw_path + (f"?{query}" if query else ""), "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "4566", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(self.body), "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "CONTENT_LENGTH": str(len(self.body)),
        }
        environ.update(self.headers)
        if self.header_names:
            environ[_HEADER_NAMES] = dict(self.header_names)
        return environ
