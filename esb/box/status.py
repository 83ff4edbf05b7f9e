"""`esb status`: what the box serves, where, with which credentials, and its live sandboxes."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from esb.box import launch as box
from esb.box import health as boxhealth
from esb.box.state import BoxState
from esb.paths import BuildTree
from esb_runtime import secrets as box_secrets
from esb_runtime.config import FunctionConfig, FunctionsConfigError, load_functions
from esb_runtime.contract import read_python_record
from esb_runtime.gateway.manager_client import UnixHTTPConnection

AUTH_PATH = "/user/auth/v1"
COGNITO_PATH = "/_esb/cognito-idp"


def _cognito(auth: dict[str, Any], secrets: Any, gateway_url: str | None) -> dict[str, Any]:
    """Where boto3's cognito-idp client signs in, with which client id, and generator.yml's users."""
    pools = auth.get("pools") or {}
    login = pools.get(auth.get("login_pool")) or {}
    return {
        "cognito_endpoint": f"{gateway_url}{COGNITO_PATH}" if gateway_url else None,
        "login_pool": auth.get("login_pool"),
        "login_client": (login.get("clients") or [None])[0],
        "pools": pools,
        "users": [{"username": u["username"], "password": _password(secrets, u["username"]) if secrets else None}
                  for u in auth.get("users") or []],
    }


def _password(secrets: Any, username: str) -> str:
    from esb_runtime.gateway.user_pools import derived_password  # PyJWT and cryptography: only when users show

    return derived_password(secrets, username)


def collect(tree: BuildTree) -> dict[str, Any]:
    """Status as the documented JSON shape; works whether or not the box is running."""
    state = box.running_state(tree)
    functions, config_notes = _functions(tree)
    routing = _read_yaml(tree.routing)
    sandboxes = _manager_get(tree.manager_socket, "/v1/sandboxes", []) if state else []
    health = _manager_get(tree.manager_socket, "/v1/health", {}) if state else {}
    breakers = _manager_get(tree.manager_socket, "/v1/breakers", {}) if state else {}
    sources = _manager_get(tree.manager_socket, "/v1/sources", []) if state else []
    secrets_file = tree.secrets / "box.json"
    secrets = box_secrets.load(secrets_file) if secrets_file.exists() else None
    counts: dict[str, int] = {}
    for sandbox in sandboxes:
        counts[sandbox.get("function", "")] = counts.get(sandbox.get("function", ""), 0) + 1
    parts = boxhealth.assess(state)
    require_token = bool((routing.get("auth") or {}).get("require_token_on_every_route"))
    return {
        "running": state is not None,  # kept for scripts written before `state`: true for degraded too
        "state": parts["state"],  # running | degraded | stopped
        "since": parts["since"],
        "degraded": parts["degraded"],  # [{part, state, since, restarts, last_exit}] while degraded
        "engine": state.engine if state else None,
        "gateway": {
            "url": state.gateway_url if state else None,
            "ca_file": state.ca_file if state else str(tree.tls / "ca.pem"),
        },
        "auth": {
            "api_key": secrets.api_key if secrets else None,
            "username": secrets.username if secrets else None,
            "password": secrets.password if secrets else None,
            "auth_path": AUTH_PATH,
            **_cognito(routing.get("auth") or {}, secrets, state.gateway_url if state else None),
        },
        "aws": {
            "access_key_id": secrets.aws_access_key_id if secrets else None,
            "secret_access_key": secrets.aws_secret_access_key if secrets else None,
            "region": state.region if state else None,
            "lambda_endpoint": state.lambda_endpoint if state else None,
        },
        "functions": [
            {"name": name, "sandboxes": counts.get(name, 0), "memory_size": fn.memory_size,
             "timeout": fn.timeout, "breaker": breakers.get(name)}
            for name, fn in sorted(functions.items())
        ],
        "routes": [
            {"method": r["method"], "path": r["path"], "function": r["function"], "event": r.get("event"),
             "auth": bool(r.get("authorizer") or r.get("auth") or require_token),
             "authorizer": r.get("authorizer") or ("box login" if require_token or r.get("auth") else None)}
            for r in routing.get("routes") or []
        ],
        # Path form; <function>.lambda-url.localhost (any path) reaches the same function.
        "function_urls": [
            {"function": name, "auth_type": fn.function_url.auth_type,
             "url": f"{state.gateway_url}/lambda-url/{name}/" if state else None}
            for name, fn in sorted(functions.items()) if fn.function_url is not None
        ],
        "sandboxes": sandboxes,
        # Per event source: delivered, failed, dead_lettered (by the box), in_dlq (waiting in the redrive DLQ).
        "event_sources": sources,
        "notes": list(dict.fromkeys([*config_notes, *_python_notes(functions, state),
                                     *(health.get("notes") or [])])),
        "stores": {
            "s3_endpoint": state.s3_endpoint if state else None,
            "dynamodb_endpoint": state.dynamodb_endpoint if state else None,
            "aws_endpoint": state.aws_endpoint if state else None,  # what `esb env` exports
            "data_dir": str(tree.data),
            **_store_contents(state, secrets),
        },
        "processes": _processes(state),
        "supervisor": ({"pid": state.supervisor.pid, "alive": state.supervisor.alive()}
                       if state and state.supervisor else None),
    }


def _processes(state: BoxState | None) -> list[dict[str, Any]]:
    if state is None:
        return []
    return [{"name": p.name, "pid": p.pid, "alive": p.alive(), "restarts": state.part(p.name).restarts}
            for p in state.procs]


def render_text(status: dict[str, Any]) -> str:
    lines: list[str] = []
    gw = status["gateway"]
    if not status["running"]:
        lines.append("box: not running (start it with `esb up -d`)")
    elif status.get("state") == "degraded":
        lines.append(f"box: degraded ({status['engine']} engine): {boxhealth.describe(status['degraded'])}")
        lines.append("     the supervisor restarts what stopped; `esb up -d` repairs now, `esb down` stops it")
        lines.append(f"gateway: {gw['url']}   CA: {gw['ca_file']}")
    else:
        lines.append(f"box: running ({status['engine']} engine)")
        lines.append(f"gateway: {gw['url']}   CA: {gw['ca_file']}")
        stores = status["stores"]
        lines.append(f"stores: s3 {stores['s3_endpoint']}  dynamodb {stores['dynamodb_endpoint']}")
        if stores.get("aws_endpoint"):
            lines.append(f"        for AWS tools: {stores['aws_endpoint']}  (eval \"$(esb env)\")")
        lines.append(f"        tables: {', '.join(stores['tables']) or '-'}  buckets: {', '.join(stores['buckets']) or '-'}")
        lines.append(f"        data: {stores['data_dir']}")
    auth = status["auth"]
    if auth["api_key"]:
        lines.append(f"auth: POST {auth['auth_path']}  x-api-key: {auth['api_key']}")
        lines.append(f"      username: {auth['username']}  password: {auth['password']}")
        if auth.get("cognito_endpoint"):
            lines.append(f"      cognito-idp: {auth['cognito_endpoint']}  login client: {auth['login_client']}")
        for user in auth.get("users", []):
            lines.append(f"      user {user['username']}  password: {user['password']}")
        aws = status["aws"]
        lines.append(f"aws: access key {aws['access_key_id']}  secret {aws['secret_access_key']}")
    for note in status.get("notes", []):
        lines.append(f"note: {note}")
    lines.append("")
    lines.append(f"{'METHOD':<8} {'PATH':<32} {'FUNCTION':<28} AUTH")
    for route in status["routes"]:
        auth_text = route.get("authorizer") or ("jwt" if route["auth"] else "none")
        lines.append(f"{route['method']:<8} {route['path']:<32} {route['function']:<28} {auth_text}")
    for url in status.get("function_urls", []):
        where = url["url"] or f"/lambda-url/{url['function']}/ (box not running)"
        lines.append(f"URL      {where:<60} {url['function']} ({url['auth_type']})")
    lines.append("")
    lines.append(f"{'FUNCTION':<36} SANDBOXES")
    for fn in status["functions"]:
        breaker = fn.get("breaker") or {}
        marker = {"open": f"  [crash loop: 502 for {breaker.get('retry_in_s')} s]",
                  "half_open": "  [crash loop: trying again]"}.get(breaker.get("state"), "")
        lines.append(f"{fn['name']:<36} {fn['sandboxes']}{marker}")
    if status.get("event_sources"):
        lines.append("")
        lines.append(f"{'EVENT SOURCE':<36} {'KIND':<16} DELIVERED  FAILED  IN DLQ")
        for src in status["event_sources"]:
            dlq = src["dead_lettered"] + (src["in_dlq"] or 0)
            lines.append(f"{src['function'] + '/' + src['event']:<36} {src['kind']:<16} {src['delivered']:>9}  "
                         f"{src['failed']:>6}  {dlq:>6}")
    return "\n".join(lines)


def render_json(status: dict[str, Any]) -> str:
    return json.dumps(status, indent=2, sort_keys=True)


def _store_contents(state: Any, secrets: Any) -> dict[str, list[str]]:
    """Tables and buckets as the running store has them (not as the template wishes)."""
    if state is None or secrets is None:
        return {"tables": [], "buckets": []}
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    def client(service: str, endpoint: str) -> Any:
        return boto3.client(
            service, endpoint_url=endpoint, region_name=state.region,
            aws_access_key_id=secrets.aws_access_key_id, aws_secret_access_key=secrets.aws_secret_access_key,
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
        )

    try:
        tables = client("dynamodb", state.dynamodb_endpoint).list_tables().get("TableNames", [])
        buckets = [b["Name"] for b in client("s3", state.s3_endpoint).list_buckets().get("Buckets", [])]
    except (BotoCoreError, ClientError):
        return {"tables": [], "buckets": [], "error": ["store did not answer"]}
    return {"tables": sorted(tables), "buckets": sorted(buckets)}


def _functions(tree: BuildTree) -> tuple[Mapping[str, FunctionConfig], list[str]]:
    """The built functions (none before the first build), and a note when functions.yml cannot be read."""
    if not tree.functions_config.exists():
        return {}, []
    try:
        return load_functions(tree.functions_config, tree.root).functions, []
    except FunctionsConfigError as exc:
        return {}, [str(exc)]


def _python_notes(functions: Mapping[str, FunctionConfig], state: Any) -> list[str]:
    """Which python runtimes the process engine runs on another Python than declared (the build's choice)."""
    if state is not None and state.engine != "process":
        return []
    dirs = sorted({fn.runtime_dir for fn in functions.values() if fn.runtime_dir and fn.runtime.startswith("python")})
    records = [read_python_record(path) for path in dirs]
    return [record.note for record in records if record is not None and record.note]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}


def _manager_get(sock: Path, path: str, default: Any) -> Any:
    # The standard library's client: `esb up` prints this status, and httpx was a fifth of its import time.
    conn = UnixHTTPConnection(str(sock), 2.0)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read()
        return json.loads(body) if answer.status == 200 else default
    except (OSError, http.client.HTTPException, ValueError):
        return default
    finally:
        conn.close()
