"""View-model and renderer of config/routing.yml (the gateway's routes)."""

from __future__ import annotations

from typing import Any, Iterator

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


def _event_routes(app: Application, apis: dict[str, Api]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(owner for messages, where, route) of every Api/HttpApi event and DefinitionBody route."""
    for fn in app.functions:
        for ev in fn.events:
            if ev.kind not in DEFAULT_APIS or ev.path is None:
                continue
            api_id = ev.api_id or DEFAULT_APIS[ev.kind][0]
            yield fn.logical_id, f"{fn.logical_id}.Events.{ev.name}", {
                "path": ev.path,
                "method": (ev.method or "ANY").upper(),
                "function": fn.name,
                "event": ev.kind,
                "api": api_id,
                "auth": bool(ev.auth and apis[api_id].auth_default),
                "payload": _payload(ev.kind, ev.payload_format),
            }
    for api in app.apis:
        for route in api.definition_routes:
            yield api.logical_id, f"{api.logical_id}.DefinitionBody.paths.{route.path}", {
                "path": route.path,
                "method": route.method,
                "function": route.function,
                "event": api.kind,
                "api": api.logical_id,
                # Authorizers of an OpenAPI body are not read: its routes need a token when the API's default does.
                "auth": api.auth_default,
                "payload": _payload(api.kind, route.payload_format if api.kind == "HttpApi" else None),
            }


def _api_view(api: Api) -> dict[str, Any]:
    view = {"kind": api.kind, "stage": api.stage, "cors": cors_view(api.cors), "variables": dict(api.variables)}
    if api.binary_media_types:  # only when set: the routing of templates without them keeps its bytes
        view["binary_media_types"] = list(api.binary_media_types)
    return view


def routing_view(app: Application, compat: Compat | None = None) -> dict[str, Any]:
    """Routes sorted by (path, method); the same method+path twice is a BuildError naming both owners."""
    apis = _apis(app)
    routes: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for owner, where, route in _event_routes(app, apis):
        key = (route["path"], route["method"])
        if key in routes and routes[key][1] != route:
            raise BuildError(
                f"duplicate route {route['method']} {route['path']} in {routes[key][0]} and {owner}",
                where=where,
                hint="give each route a distinct path or method",
            )
        routes[key] = (owner, route)
    return {
        "apis": {api_id: _api_view(api) for api_id, api in sorted(apis.items())},
        "compat": {"seed_status_codes": (compat or Compat()).seed_status_codes},
        "routes": [routes[key][1] for key in sorted(routes)],
    }


def render_routing(app: Application, compat: Compat | None = None) -> str:
    return render("routing.yml.j2", source=app.template_path.name, document=routing_view(app, compat))
