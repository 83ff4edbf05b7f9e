"""View-model and renderer of config/routing.yml (the gateway's routes)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Iterator

from esb.auth_options import AuthOptions
from esb.errors import BuildError
from esb.model import Api, Application, Authorizer, Cors, UsagePlan, UserPool
from esb.project import Compat
from esb.sam.cognito import box_pool_for
from esb.render.environment import render
from esb_runtime.gateway.auth_config import validity_view

_AUTHORIZER_KEYS = (("pools", "pools"), ("header", "header"), ("issuer", "issuer"), ("audience", "audience"),
                    ("identity", "identity"), ("function", "function"), ("ttl_s", "ttl"),
                    ("simple_responses", "simple_responses"), ("payload", "payload"), ("validation", "validation"))
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


def _route_auth(authorizer: str | None, api_key: bool, scopes: tuple[str, ...]) -> dict[str, Any]:
    """Only what guards the route: an open route's entry says nothing about auth."""
    view: dict[str, Any] = {}
    if authorizer:
        view["authorizer"] = authorizer
    if api_key:
        view["api_key"] = True
    if scopes:
        view["scopes"] = list(scopes)
    return view


def authorizer_view(authorizer: Authorizer) -> dict[str, Any]:
    """The fields of one authorizer that differ from the gateway's defaults (routing.yml stays short)."""
    defaults = Authorizer(authorizer.name, authorizer.type)
    view: dict[str, Any] = {"type": authorizer.type}
    for name, key in _AUTHORIZER_KEYS:
        value = getattr(authorizer, name)
        if value != getattr(defaults, name):
            view[key] = list(value) if isinstance(value, tuple) else value
    return view


def _api_view(api: Api) -> dict[str, Any]:
    view = {"kind": api.kind, "stage": api.stage, "cors": cors_view(api.cors), "variables": dict(api.variables)}
    if api.binary_media_types:  # only when set: the routing of templates without them keeps its bytes
        view["binary_media_types"] = list(api.binary_media_types)
    if api.authorizers:
        view["authorizers"] = {a.name: authorizer_view(a) for a in api.authorizers}
    if api.usage_plan is not None:
        view["usage_plan"] = _plan_view(api.usage_plan)
    if api.key_plans:
        view["usage_plans"] = [_plan_view(plan) for plan in api.key_plans]
    return view


def _plan_view(plan: UsagePlan) -> dict[str, Any]:
    view = {key: value for key, value in asdict(plan).items() if value is not None and key != "keys"}
    if plan.keys:
        view["keys"] = list(plan.keys)
    return view


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
                "payload": _payload(ev.kind, ev.payload_format),
                **_route_auth(ev.authorizer, ev.api_key, ev.scopes),
            }
    for api in app.apis:
        for route in api.definition_routes:
            yield api.logical_id, f"{api.logical_id}.DefinitionBody.paths.{route.path}", {
                "path": route.path,
                "method": route.method,
                "function": route.function,
                "event": api.kind,
                "api": api.logical_id,
                "payload": _payload(api.kind, route.payload_format if api.kind == "HttpApi" else None),
                # An operation without `security` (its own or the body's) follows the API's Auth.
                **(_route_auth(route.authorizer, route.api_key, route.scopes) if route.secured
                   else _route_auth(api.default_authorizer, api.api_key_required, ())),
            }


def _pool_ids(pools: dict[str, UserPool], names: tuple[str, ...], what: str) -> list[str]:
    unknown = [name for name in names if name not in pools]
    if unknown:
        raise BuildError(f"{what} names {unknown[0]}, which is not an AWS::Cognito::UserPool of the template",
                         where="generator.yml", hint=f"use one of {', '.join(sorted(pools))}")
    return [pools[name].pool_id for name in names]


def _pool_view(pool: UserPool) -> dict[str, Any]:
    view: dict[str, Any] = {"name": pool.name, "clients": list(pool.clients)}
    if pool.validity:  # only when a client sets lifetimes: other templates' routing keeps its bytes
        view["validity"] = {client: validity_view(validity) for client, validity in pool.validity}
    return view


def auth_view(app: Application, compat: Compat, options: AuthOptions) -> dict[str, Any]:
    """Pools (the template's and the box's), users without passwords, the login pool, offline JWKS."""
    box = box_pool_for(app.stack_name, app.region)
    pools = {pool.logical_id: pool for pool in (*app.user_pools, box)}
    if options.login_pool:
        login = _pool_ids(pools, (options.login_pool,), "auth.login_pool")[0]
    else:  # the seed's login serves the template's pool when there is exactly one
        login = app.user_pools[0].pool_id if len(app.user_pools) == 1 else box.pool_id
    users = []
    for user in options.users:
        entry: dict[str, Any] = {"username": user.username}
        if user.pools is not None:
            entry["pools"] = _pool_ids(pools, user.pools, f"auth.users ({user.username})")
        if user.attributes:
            entry["attributes"] = dict(user.attributes)
        if user.groups:
            entry["groups"] = list(user.groups)
        users.append(entry)
    view: dict[str, Any] = {
        "default_pool": box.pool_id,
        "login_pool": login,
        "pools": {p.pool_id: _pool_view(p) for p in pools.values()},
        "require_token_on_every_route": options.require_token_on_every_route,
    }
    optional = {"users": users, "api_keys": list(app.api_keys), "unsigned_invoke": compat.unsigned_invoke,
                "issuers": {issuer: json.loads(text) for issuer, text in options.jwks}}
    view.update({key: value for key, value in optional.items() if value})
    return view


def routing_view(app: Application, compat: Compat | None = None, auth: AuthOptions | None = None) -> dict[str, Any]:
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
        "apis": {
            api_id: _api_view(api) for api_id, api in sorted(apis.items())
        },
        "auth": auth_view(app, compat or Compat(), auth or AuthOptions()),
        "compat": {"seed_status_codes": (compat or Compat()).seed_status_codes},
        "routes": [routes[key][1] for key in sorted(routes)],
    }


def render_routing(app: Application, compat: Compat | None = None, auth: AuthOptions | None = None) -> str:
    return render("routing.yml.j2", source=app.template_path.name, document=routing_view(app, compat, auth))
