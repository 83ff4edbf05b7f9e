"""Lambda function URLs: /lambda-url/<fn>/... and Host <fn>.lambda-url.localhost, as payload 2.0 "$default"."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from esb_runtime.gateway import cors
from esb_runtime.config import Cors, FunctionsConfig
from esb_runtime.gateway.config_source import ConfigSource, FileConfigSource, GatewayConfig, build_config
from esb_runtime.gateway.proxy_events import EventContext, build_v2
from esb_runtime.gateway.exchange import Exchange, read_body
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.proxied_invoke import call_timeout, invoke_proxied
from esb_runtime.gateway.request import IncomingRequest, from_environ
from esb_runtime.gateway.responses import MAX_SYNC_PAYLOAD, ProxyResponse, json_error
from esb_runtime.gateway.routing import Route
from esb_runtime.gateway.iam_authorizer import iam_caller
from esb_runtime.gateway.sigv4 import Credentials, SignatureError, verify

log = logging.getLogger(__name__)

PATH_PREFIX = "/lambda-url/"
HOST_SUFFIX = ".lambda-url.localhost"


@dataclass(frozen=True)
class FunctionUrl:
    function: str
    auth_type: str  # NONE | AWS_IAM
    cors: Cors | None = None
    timeout: float = 3.0


@dataclass(frozen=True)
class UrlTable:
    urls: Mapping[str, FunctionUrl] = field(default_factory=dict)  # by function name
    account_id: str = "000000000000"

    def find(self, name: str) -> FunctionUrl | None:
        # Host names arrive lower-cased by many clients; function names keep their case.
        found = self.urls.get(name)
        if found is None:
            found = next((url for fn, url in self.urls.items() if fn.lower() == name.lower()), None)
        return found


def url_table(config: GatewayConfig) -> UrlTable:
    """The function URLs of a gateway config snapshot (functions.yml `function_url` entries)."""
    urls = {
        str(name): FunctionUrl(str(name), info.function_url.auth_type, info.function_url.cors, info.timeout)
        for name, info in config.functions.items() if info.function_url is not None
    }
    return UrlTable(urls, config.account_id)


def build_table(functions: FunctionsConfig) -> UrlTable:
    """The function URLs declared in functions.yml."""
    return url_table(build_config(None, functions))


class UrlSource(Protocol):
    def current(self) -> UrlTable: ...


@dataclass(frozen=True)
class StaticUrlSource:
    table: UrlTable

    def current(self) -> UrlTable:
        return self.table


class ConfigUrlSource:
    """The function URLs of whatever snapshot a ConfigSource holds, rebuilt only when the snapshot changes."""

    def __init__(self, config: ConfigSource) -> None:
        self._config = config
        self._built: tuple[GatewayConfig, UrlTable] | None = None

    def current(self) -> UrlTable:
        snapshot = self._config.current()
        built = self._built
        if built is None or built[0] is not snapshot:
            # One tuple assignment: a concurrent reader sees either the old pair or the new one.
            built = self._built = (snapshot, url_table(snapshot))
        return built[1]


class FileUrlSource(ConfigUrlSource):
    """The function URLs of <dir>/functions.yml, read through a FileConfigSource of that directory."""

    def __init__(self, functions_yml: Path, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(FileConfigSource(functions_yml.parent, monotonic=monotonic))


def target_of(host: str, path: str) -> tuple[str, str, bool] | None:
    """(function, path after the prefix, addressed by host) when the request is for a function URL."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if hostname.lower().endswith(HOST_SUFFIX) and len(hostname) > len(HOST_SUFFIX):
        return hostname[: -len(HOST_SUFFIX)], path or "/", True
    if path.startswith(PATH_PREFIX):
        name, _, rest = path[len(PATH_PREFIX):].partition("/")
        if name:
            return name, "/" + rest, False
    return None


def _strip_raw(raw_path: str, name: str) -> str:
    prefix = f"{PATH_PREFIX}{name}"
    return raw_path[len(prefix):] or "/" if raw_path.startswith(prefix) else raw_path


def url_event(request: IncomingRequest, url: FunctionUrl, *, domain: str, request_id: str, now: float,
              account_id: str, caller: Credentials | None) -> dict[str, Any]:
    """The function URL request payload: HTTP API 2.0 with the sentinel "$default" route and stage."""
    ctx = EventContext(route=Route("$default", "ANY", url.function, "HttpApi", url.function), stage="$default",
                       params={}, request_id=request_id, now=now, account_id=account_id)
    event = build_v2(request, ctx)
    event["routeKey"] = "$default"
    context = event["requestContext"]
    context.update(routeKey="$default", apiId=url.function, domainName=domain, domainPrefix=url.function,
                   accountId=account_id if caller else "anonymous", authentication=None)
    if caller is not None:
        context["authorizer"] = {"iam": iam_caller(caller, account_id)}
    event["pathParameters"] = None
    event["stageVariables"] = None
    return event


def _forbidden(extra: list[tuple[str, str]]) -> tuple[ProxyResponse, list[tuple[str, str]]]:
    body = json.dumps({"Message": "Forbidden"}).encode()
    return ProxyResponse(403, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")],
                         body), extra


class FunctionUrls:
    """Answers function URL requests (before the template's routes, so no route shadows them)."""

    def __init__(self, *, urls: UrlSource, manager: ManagerClient, credentials: Credentials,
                 clock: Callable[[], float], acquire_timeout_s: float) -> None:
        self._urls, self._manager, self._credentials = urls, manager, credentials
        self._clock, self._acquire_timeout_s = clock, acquire_timeout_s

    def answer(self, req: Exchange, name: str, sub_path: str,
               by_host: bool) -> tuple[ProxyResponse, list[tuple[str, str]]]:
        """The answer to a request `target_of` names a function URL target for."""
        table = self._urls.current()
        url = table.find(name)
        if url is None:
            return json_error(404, f"No function URL for {name}"), []
        req.context.function = url.function
        origin = req.get_header("Origin")
        request_method = req.get_header("Access-Control-Request-Method")
        if url.cors is not None and cors.is_preflight(req.method, origin, request_method):
            return cors.preflight(url.cors, origin, request_method or "",
                                  req.get_header("Access-Control-Request-Headers")), []
        extra = cors.response_headers(url.cors, origin) if url.cors else []
        body = read_body(req, MAX_SYNC_PAYLOAD)
        if body is None:
            return json_error(413, "Request Entity Too Large"), extra
        signed = from_environ(req.env, req.path, body)  # what the client signed: the full path
        caller = None
        if url.auth_type == "AWS_IAM":
            try:
                verify(signed, self._credentials, service="lambda", now=self._clock())
            except SignatureError as exc:
                log.info("function URL %s refused: %s", url.function, exc.message)
                return _forbidden(extra)
            caller = self._credentials
        request = signed if by_host else signed.but(path=sub_path, raw_path=_strip_raw(signed.raw_path, name))
        request = request.with_header("X-Amzn-Trace-Id", req.context.trace.header)
        domain = request.host.rsplit(":", 1)[0] if by_host else f"{url.function}{HOST_SUFFIX}"
        event = url_event(request, url, domain=domain, request_id=req.context.request_id, now=self._clock(),
                          account_id=table.account_id, caller=caller)
        return self._invoke(req, url, event), extra

    def _invoke(self, req: Exchange, url: FunctionUrl, event: dict[str, Any]) -> ProxyResponse:
        return invoke_proxied(self._manager, req, url.function, event, event_kind="HttpApi",
                              timeout_s=call_timeout(url.timeout, self._acquire_timeout_s))
