"""View-model and renderer of config/routing.yml (the gateway's routes)."""

from __future__ import annotations

from typing import Any

from esb.errors import BuildError
from esb.model import Api, Application, Cors
from esb.project import Compat
from esb.render.environment import render

DEFAULT_APIS = {"Api": ("ServerlessRestApi", "Prod"), "HttpApi": ("ServerlessHttpApi", "$default")}


def cors_view(cors: Cors | None) -> dict[str, Any] | None:
    if cors is None:
        return None
    return {
        "allow_origins": list(cors.allow_origins),
        "allow_methods": list(cors.allow_methods),
        "allow_headers": list(cors.allow_headers),
        "expose_headers": list(cors.expose_headers),
        "allow_credentials": cors.allow_credentials,
        "max_age": cors.max_age,
    }


def _apis(app: Application) -> dict[str, Api]:
    apis = {api.logical_id: api for api in app.apis}
    for fn in app.functions:
        for ev in fn.events:
            if ev.kind in DEFAULT_APIS:
                api_id = ev.api_id or DEFAULT_APIS[ev.kind][0]
                # An implicit API the loader did not list: same defaults as SAM's.
                apis.setdefault(api_id, Api(logical_id=api_id, kind=ev.kind, stage=DEFAULT_APIS[ev.kind][1]))
    return apis


def _payload(kind: str, payload_format: str | None) -> str:
    return payload_format or ("2.0" if kind == "HttpApi" else "1.0")


def routing_view(app: Application, compat: Compat | None = None) -> dict[str, Any]:
    """Routes sorted by (path, method); the same method+path twice is a BuildError naming both functions."""
    apis = _apis(app)
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for fn in app.functions:
        for ev in fn.events:
            if ev.kind not in DEFAULT_APIS or ev.path is None:
                continue
            api_id = ev.api_id or DEFAULT_APIS[ev.kind][0]
            method = (ev.method or "ANY").upper()
            key = (ev.path, method)
            if key in routes:
                other = routes[key]["logical_id"]
                raise BuildError(
                    f"duplicate route {method} {ev.path} in {other} and {fn.logical_id}",
                    where=f"{fn.logical_id}.Events.{ev.name}",
                    hint="give each route a distinct path or method",
                )
            routes[key] = {
                "logical_id": fn.logical_id,
                "route": {
                    "path": ev.path,
                    "method": method,
                    "function": fn.name,
                    "event": ev.kind,
                    "api": api_id,
                    "auth": bool(ev.auth and apis[api_id].auth_default),
                    "payload": _payload(ev.kind, ev.payload_format),
                },
            }
    return {
        "apis": {
            api_id: {"kind": api.kind, "stage": api.stage, "cors": cors_view(api.cors), "variables": dict(api.variables)}
            for api_id, api in sorted(apis.items())
        },
        "compat": {"seed_status_codes": (compat or Compat()).seed_status_codes},
        "routes": [routes[key]["route"] for key in sorted(routes)],
    }


def render_routing(app: Application, compat: Compat | None = None) -> str:
    return render("routing.yml.j2", source=app.template_path.name, document=routing_view(app, compat))
