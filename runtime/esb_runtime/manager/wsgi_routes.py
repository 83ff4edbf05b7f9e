"""A routes table served as a WSGI app: the manager's whole web framework (issue 14: no Falcon in the manager).

Eight fixed routes on a unix socket need a path match, a method check, JSON in and out and one error translation;
Falcon brought ~7 MB of idle RSS (asyncio, email, http.client, ssl) for that.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from esb_runtime.errors import RuntimeBoxError

log = logging.getLogger("esb_runtime.manager")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_FIELD = re.compile(r"\{(\w+)\}")


class NoRoute(RuntimeBoxError):
    """No route has the path (404), or the route has no handler for the method (405, `allowed` names those)."""

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status, self.code = (405, "MethodNotAllowed") if allowed else (404, "NotFound")


@dataclass
class Request:
    environ: dict[str, Any]
    params: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_")) or None

    def body(self) -> bytes:
        length = self.environ.get("CONTENT_LENGTH") or ""
        stream = self.environ["wsgi.input"]
        return bytes(stream.read(int(length))) if length.isdigit() else bytes(stream.read())


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(value).encode(), [("Content-Type", "application/json")])


Handler = Callable[[Request], Reply]


def template_pattern(template: str, capture: bool = True) -> re.Pattern[str]:
    """A path template's pattern: each `{field}` matches one non-empty path segment (a group named `field` when
    `capture`; patterns combined with `|` must not capture, as they may repeat a name)."""
    parts = _FIELD.split(template)  # literal, name, literal, name, ..., literal
    field = "(?P<{}>[^/]+)" if capture else "[^/]+"
    return re.compile("".join(re.escape(p) if i % 2 == 0 else field.format(p) for i, p in enumerate(parts)) + r"\Z")


class Routes:
    """WSGI app: `{field}` in a path template matches one path segment; RuntimeBoxError → its status, JSON body."""

    def __init__(self, table: dict[str, dict[str, Handler]]) -> None:
        self._table = [(template_pattern(path), methods) for path, methods in table.items()]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self._dispatch(environ)
        except RuntimeBoxError as exc:
            reply = Reply.of_json({"error": exc.code, "message": exc.message}, exc.status)
        except Exception:
            log.exception("manager API %s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            reply = Reply.of_json({"error": RuntimeBoxError.code, "message": "internal error"}, 500)
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Unknown')}", headers)
        return [reply.body]

    def _dispatch(self, environ: dict[str, Any]) -> Reply:
        # PEP 3333: PATH_INFO holds the decoded bytes as latin-1; names are UTF-8.
        path = str(environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", "replace")
        for pattern, methods in self._table:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(str(environ.get("REQUEST_METHOD", "GET")))
            if handler is None:
                raise NoRoute(f"{environ.get('REQUEST_METHOD')} {path}: allowed {', '.join(methods)}", tuple(methods))
            return handler(Request(environ, match.groupdict()))
        raise NoRoute(f"no route {path}")
