"""Which AWS services the box emulates, and the local error every other service answers (never real AWS)."""

from __future__ import annotations

import json
import uuid
from typing import Callable, Iterable
from xml.sax.saxutils import escape

from esb_runtime.stores.auth import Environ, StartResponse, WsgiApp
from esb_runtime.stores.mutations import scope_service

# SigV4 signing names moto serves for the box (DynamoDB Streams signs as "dynamodb"). moto implements
# more, but a half-emulated service would look like it works; these are the ones the box stands behind.
EMULATED = frozenset({"s3", "dynamodb", "sqs", "sns", "events", "logs", "ssm", "secretsmanager", "kinesis"})
ERROR_CODE = "UnsupportedService"

ProtocolOf = Callable[[str], "str | None"]


def botocore_protocol(service: str) -> str | None:
    """The wire protocol botocore's model gives the service (json, rest-json, query, rest-xml, ec2)."""
    import botocore.session  # only the (rare) refused request pays for loading a model

    try:
        return str(botocore.session.get_session().get_service_model(service).metadata["protocol"])
    except Exception:  # the signing name is not a model name (or no such model): guess from the request
        return None


def _guess_protocol(environ: Environ) -> str:
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in environ.get("QUERY_STRING", ""):
        return "query"
    return "rest-json" if "json" in content_type else "rest-xml"


def error_answer(protocol: str, service: str) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of the error in the shape the service's protocol family parses."""
    message = f"{service} is not emulated by this box (it emulates {', '.join(sorted(EMULATED))})"
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-ErrorType", ERROR_CODE), ("x-amzn-RequestId", request_id)]
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        body = json.dumps({"__type": ERROR_CODE, "message": message}).encode()
        return [*headers, ("Content-Type", content_type)], body
    error = f"<Error><Type>Sender</Type><Code>{ERROR_CODE}</Code><Message>{escape(message)}</Message></Error>"
    if protocol == "ec2":
        xml = f"<Response><Errors>{error}</Errors><RequestID>{request_id}</RequestID></Response>"
    else:
        xml = f"<ErrorResponse>{error}<RequestId>{request_id}</RequestId></ErrorResponse>"
    return [*headers, ("Content-Type", "text/xml")], xml.encode()


class ServiceGate:
    """WSGI middleware: a signed request for a service outside EMULATED gets a fast 400 UnsupportedService.

    400 with a non-retryable code: SDKs fail at once instead of retrying or waiting for a timeout."""

    def __init__(self, app: WsgiApp, protocol_of: ProtocolOf = botocore_protocol) -> None:
        self.app = app
        self.protocol_of = protocol_of
        self._protocols: dict[str, str | None] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        service = scope_service(environ)
        if service is None or service in EMULATED:  # unsigned requests are S3's (presigned URLs, ...)
            return self.app(environ, start_response)
        if service not in self._protocols:
            self._protocols[service] = self.protocol_of(service)
        headers, body = error_answer(self._protocols[service] or _guess_protocol(environ), service)
        start_response("400 Bad Request", [*headers, ("Content-Length", str(len(body)))])
        return [body]
