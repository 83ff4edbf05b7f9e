"""A plain view of one HTTP request, built from the WSGI environ, that event builders read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import quote

_SPECIAL = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
_names: dict[str, str] = {}  # environ key -> header name ("" for keys that are no header), for the keys seen most


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent on the request line (percent-encoded)
    query_string: str
    headers: tuple[tuple[str, str], ...]  # (Name-As-Title-Case, value); WSGI keeps no original case
    body: bytes
    source_ip: str
    protocol: str
    host: str

    def with_header(self, name: str, value: str) -> "IncomingRequest":
        """A copy where `name` has exactly this value."""
        return self.with_headers(((name, value),))

    def with_headers(self, pairs: Sequence[tuple[str, str]]) -> "IncomingRequest":
        """A copy where each named header has exactly its value, added in this order (one copy for all)."""
        wanted = {name.lower() for name, _ in pairs}
        kept = tuple(pair for pair in self.headers if pair[0].lower() not in wanted)
        return self.but(headers=(*kept, *pairs))

    def but(self, **changes: Any) -> "IncomingRequest":
        """A copy with these fields changed (dataclasses.replace, without its per-call field introspection: this
        runs several times per proxied request)."""
        return IncomingRequest(**{**self.__dict__, **changes})

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default


def _title(wsgi_key: str) -> str:
    return "-".join(part.capitalize() for part in wsgi_key[5:].split("_"))


def _name_of(key: str) -> str:
    if key.startswith("HTTP_"):
        return _title(key)
    return _SPECIAL.get(key, "")


def headers_from_environ(env: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for key, value in env.items():
        name = _names.get(key)
        if name is None:
            name = _name_of(key)
            if len(_names) < 1024:  # header names are the client's: a bounded cache of them
                _names[key] = name
        if name and (value or key not in _SPECIAL):
            pairs.append((name, value))
    return tuple(pairs)


def raw_path_of(env: Mapping[str, Any], path: str) -> str:
    """The path as the client sent it: gunicorn keeps RAW_URI; other servers only give it decoded."""
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0]
        if raw.startswith("/"):
            return raw
    return quote(path, safe="/-_.~!$&'()*+,;=:@")


def from_environ(env: Mapping[str, Any], path: str, body: bytes) -> IncomingRequest:
    host = env.get("HTTP_HOST") or f"{env.get('SERVER_NAME', 'localhost')}:{env.get('SERVER_PORT', '')}"
    return IncomingRequest(
        method=env.get("REQUEST_METHOD", "GET").upper(),
        path=path,
        raw_path=raw_path_of(env, path),
        query_string=env.get("QUERY_STRING", ""),
        headers=headers_from_environ(env),
        body=body,
        source_ip=env.get("REMOTE_ADDR", "127.0.0.1"),
        protocol=env.get("SERVER_PROTOCOL", "HTTP/1.1"),
        host=host,
    )


def forwarding_headers(request: IncomingRequest, env: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The X-Forwarded-For/-Proto/-Port headers API Gateway adds before the request reaches the function.

    The client's address is appended to any X-Forwarded-For it sent, as a proxy does.
    """
    scheme = str(env.get("wsgi.url_scheme") or "http")
    port = str(env.get("SERVER_PORT") or ("443" if scheme == "https" else "80"))
    sent = request.header("X-Forwarded-For")
    chain = f"{sent}, {request.source_ip}" if sent else request.source_ip
    return [("X-Forwarded-For", chain), ("X-Forwarded-Proto", scheme), ("X-Forwarded-Port", port)]
