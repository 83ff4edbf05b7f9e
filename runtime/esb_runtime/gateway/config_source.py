"""The gateway's view of routing.yml and functions.yml, reloaded atomically when their mtime changes."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import yaml

from esb_runtime.config import Cors, FunctionConfig, FunctionsConfig, FunctionsConfigError, load_functions, parse_cors
from esb_runtime.gateway.auth_config import (AuthorizerConfig, AuthSettings, UsagePlanConfig, parse_auth,
                                             parse_authorizers, parse_usage_plan)
from esb_runtime.gateway.routing import Route, Router

log = logging.getLogger(__name__)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RELOAD_INTERVAL_S = 1.0


@dataclass(frozen=True)
class ApiConfig:
    id: str
    kind: str  # Api | HttpApi
    stage: str
    cors: Cors | None = None
    variables: Mapping[str, str] = field(default_factory=dict)  # stage variables, as the event's stageVariables
    binary_media_types: tuple[str, ...] = ()  # REST: request bodies of these types reach the function base64
    authorizers: Mapping[str, AuthorizerConfig] = field(default_factory=dict)
    usage_plan: UsagePlanConfig | None = None  # limits of its ApiKeyRequired routes, per API key
    key_plans: tuple[UsagePlanConfig, ...] = ()  # AWS::ApiGateway::UsagePlans of its stage, each for its keys


@dataclass(frozen=True)
class GatewayConfig:
    """One immutable snapshot: every request reads a single snapshot from start to end."""

    router: Router = field(default_factory=Router)
    apis: Mapping[str, ApiConfig] = field(default_factory=dict)
    functions: Mapping[str, FunctionConfig] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "000000000000"
    project: str = ""
    # generator.yml compat.seed_status_codes: unmatched requests get the seed's 404/405 instead of AWS's answers.
    seed_status_codes: bool = False
    # Without an auth section the box still has its own pool (an older routing.yml, a unit test).
    auth: AuthSettings = field(default_factory=lambda: parse_auth(None, "us-east-1"))


class ConfigSource(Protocol):
    def current(self) -> GatewayConfig: ...


class StaticConfigSource:
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config

    def current(self) -> GatewayConfig:
        return self._config


def _plans(data: Any) -> Iterator[UsagePlanConfig]:
    for item in data or ():
        plan = parse_usage_plan(item)
        if plan is not None:
            yield plan


def build_config(routing: Mapping[str, Any] | None, functions: FunctionsConfig | None) -> GatewayConfig:
    """A snapshot of routing.yml (as loaded from YAML) and the parsed functions.yml."""
    routing = routing or {}
    functions = functions or FunctionsConfig(project="", region="us-east-1", account_id="000000000000")
    apis = {
        api_id: ApiConfig(api_id, str(a.get("kind", "Api")), str(a.get("stage", "Prod")), parse_cors(a.get("cors")),
                          {str(k): str(v) for k, v in (a.get("variables") or {}).items()},
                          tuple(str(t) for t in a.get("binary_media_types") or ()),
                          parse_authorizers(a.get("authorizers")), parse_usage_plan(a.get("usage_plan")),
                          tuple(_plans(a.get("usage_plans"))))
        for api_id, a in (routing.get("apis") or {}).items()
    }
    routes = [
        Route(
            path=str(r["path"]),
            method=str(r.get("method", "ANY")).upper(),
            function=str(r["function"]),
            event=str(r.get("event", "Api")),
            api=str(r.get("api", "")),
            auth=bool(r.get("auth", False)),
            payload=str(r.get("payload") or ""),
            authorizer=str(r.get("authorizer") or ""),
            api_key=bool(r.get("api_key", False)),
            scopes=tuple(str(s) for s in r.get("scopes") or ()),
        )
        for r in routing.get("routes") or ()
    ]
    return GatewayConfig(
        router=Router.of(routes),
        apis=apis,
        functions=functions.functions,
        region=functions.region,
        account_id=functions.account_id,
        project=functions.project,
        seed_status_codes=bool((routing.get("compat") or {}).get("seed_status_codes", False)),
        auth=parse_auth(routing.get("auth"), functions.region),
    )


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def _load_yaml(path: Path) -> Any:
    if not path.exists():
        return None
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


class FileConfigSource:
    """Reads <config_dir>/routing.yml and functions.yml; re-reads them (at most once a second) on change."""

    def __init__(self, config_dir: Path, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._routing = config_dir / "routing.yml"
        self._functions = config_dir / "functions.yml"
        self._monotonic = monotonic
        self._stamp: tuple[int | None, int | None] | None = None
        self._checked_at = float("-inf")
        self._config = GatewayConfig()
        self._refresh()

    def current(self) -> GatewayConfig:
        now = self._monotonic()
        if now - self._checked_at >= RELOAD_INTERVAL_S:
            self._checked_at = now
            self._refresh()
        return self._config

    def _refresh(self) -> None:
        stamp = (_mtime(self._routing), _mtime(self._functions))
        if stamp == self._stamp:
            return
        try:
            functions = load_functions(self._functions) if self._functions.exists() else None
            config = build_config(_load_yaml(self._routing), functions)
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError,
                FunctionsConfigError) as exc:
            # A half-written or broken file must not take the gateway down: keep serving the last
            # good table and try again at the next check.
            log.warning("gateway config not reloaded: %s", exc)
            return
        self._stamp = stamp
        # One reference assignment: requests already holding the old snapshot finish with it.
        self._config = config
