"""Function event sources: Api and HttpApi routes, Schedule rules, store sources (source_events.py); others warn."""

from __future__ import annotations

import json
from typing import Any

from esb.model import Api, Event
from esb.sam.apis import IMPLICIT_HTTP, IMPLICIT_REST
from esb.sam.auth import AuthReader
from esb.sam.cognito import box_pool
from esb.sam.context import LoadContext
from esb.sam.limits import route_path_problem
from esb.sam.scalars import cfn_str, is_scalar, to_bool
from esb.sam.source_events import build_source_event, is_source_event

Path = tuple[str, ...]
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_IMPLICIT = {"Api": IMPLICIT_REST, "HttpApi": IMPLICIT_HTTP}
_API_ID_PROP = {"Api": "RestApiId", "HttpApi": "ApiId"}
DEFAULT_ROUTE = "$default"


def implicit_api_kinds(events: Any) -> set[str]:
    """Which implicit APIs a function's raw Events need (routes without RestApiId/ApiId)."""
    kinds: set[str] = set()
    if not isinstance(events, dict):
        return kinds
    for event in events.values():
        if isinstance(event, dict) and event.get("Type") in _API_ID_PROP:
            props = event.get("Properties") or {}
            if not (isinstance(props, dict) and _API_ID_PROP[event["Type"]] in props):
                kinds.add(event["Type"])
    return kinds


def build_events(ctx: LoadContext, function_id: str, events: Any, apis: dict[str, Api],
                 auth: AuthReader | None = None) -> tuple[Event, ...]:
    """Resolved Events mapping → Event tuples sorted by name."""
    path = ("Resources", function_id, "Properties", "Events")
    if events is None:
        return ()
    if not isinstance(events, dict):
        ctx.fail(path, "Events must be a mapping of event name to {Type, Properties}")
    result = []
    for name, event in events.items():
        epath = (*path, name)
        if not isinstance(event, dict) or "Type" not in event:
            ctx.fail(epath, "an event needs Type and Properties")
        props = event.get("Properties") or {}
        if not isinstance(props, dict):
            ctx.fail((*epath, "Properties"), "event Properties must be a mapping")
        etype = event["Type"]
        if etype in ("Api", "HttpApi"):
            reader = auth or AuthReader(ctx, (), box_pool(ctx), ())
            result.append(_route(ctx, name, etype, props, (*epath, "Properties"), apis, reader))
        elif etype == "Schedule":
            result.append(_schedule(ctx, name, props, (*epath, "Properties")))
        elif is_source_event(etype):
            result.append(build_source_event(ctx, function_id, name, etype, props, (*epath, "Properties")))
        else:
            ctx.warn(function_id, f"Events.{name}", f"event type {etype} not supported, ignored")
    return tuple(sorted(result, key=lambda e: e.name))


def _route(ctx: LoadContext, name: str, kind: str, props: dict, path: Path, apis: dict[str, Api],
           auth: AuthReader) -> Event:
    api_prop = _API_ID_PROP[kind]
    api_id = cfn_str(props[api_prop]) if is_scalar(props.get(api_prop)) else props.get(api_prop)
    if api_id is None:
        api_id = _IMPLICIT[kind]
    elif not isinstance(api_id, str) or api_id not in apis or apis[api_id].kind != kind:
        ctx.fail(
            (*path, api_prop),
            f"{api_prop} must refer to an AWS::Serverless::{kind} in this template",
            f"use !Ref <the {kind} resource>",
        )
    path_value, method = props.get("Path"), props.get("Method")
    if kind == "HttpApi" and path_value is None and method is None:
        path_value, method = DEFAULT_ROUTE, "ANY"  # every path and method no other route takes
    for key, value in (("Path", path_value), ("Method", method)):
        if not is_scalar(value) or cfn_str(value) == "":
            ctx.fail((*path, key), f"{kind} event needs {key}")
    route_path, verb = cfn_str(path_value), cfn_str(method).upper()
    problem = None if route_path == DEFAULT_ROUTE else route_path_problem(route_path)
    if problem is not None:
        ctx.fail((*path, "Path"), problem, "e.g. /items/{id}, or /files/{proxy+} as the last segment")
    if verb not in _METHODS:
        ctx.fail((*path, "Method"), f"unknown HTTP method '{method}'", f"use one of {', '.join(sorted(_METHODS))}")
    authorizer, api_key, scopes = auth.route(apis[api_id], props.get("Auth"), (*path, "Auth"))
    return Event(
        name=name, kind=kind, path=route_path, method=verb, api_id=api_id,  # type: ignore[arg-type]
        authorizer=authorizer, api_key=api_key, scopes=scopes,
        payload_format=_payload_format(ctx, kind, props.get("PayloadFormatVersion"), (*path, "PayloadFormatVersion")),
    )


def _payload_format(ctx: LoadContext, kind: str, value: Any, path: Path) -> str | None:
    """HttpApi PayloadFormatVersion "1.0" or "2.0" (YAML may read an unquoted 1.0 as a number)."""
    if value is None:
        return None
    text = f"{value:.1f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else cfn_str(value)
    if kind != "HttpApi" or text not in ("1.0", "2.0"):
        ctx.fail(path, "PayloadFormatVersion must be \"1.0\" or \"2.0\" on an HttpApi event")
    return text


def _schedule(ctx: LoadContext, name: str, props: dict, path: Path) -> Event:
    expression = props.get("Schedule")
    if not is_scalar(expression) or not cfn_str(expression).startswith(("rate(", "cron(")):
        ctx.fail((*path, "Schedule"), "Schedule needs rate(...) or cron(...)", "e.g. Schedule: rate(5 minutes)")
    raw_input = props.get("Input")
    if raw_input is not None and not isinstance(raw_input, str):
        raw_input = json.dumps(raw_input, sort_keys=True)  # CloudFormation wants JSON text here
    enabled = True
    try:
        if "Enabled" in props:
            enabled = to_bool(props["Enabled"])
        if "State" in props:
            enabled = cfn_str(props["State"]).upper() == "ENABLED"
    except ValueError:
        ctx.fail((*path, "Enabled"), "Enabled must be true or false")
    return Event(
        name=name, kind="Schedule", schedule=cfn_str(expression), input=raw_input, enabled=enabled
    )
