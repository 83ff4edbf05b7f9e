"""The gateway app end to end in-process (Falcon test client) with an in-memory manager."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from falcon import testing

from esb_runtime.errors import EngineError, FunctionNotFound, ManagerTimeout, ManagerUnavailable, TooManyRequests
from esb_runtime.gateway.app import create_app, new_request_id
from esb_runtime.gateway.config_source import FileConfigSource, StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.manager_client import InvokeResult
from esb_runtime.gateway.responses import MAX_SYNC_PAYLOAD
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

ROUTING = {
    "apis": {
        "RestApi": {"kind": "Api", "stage": "Prod", "cors": None},
        "HttpApi": {"kind": "HttpApi", "stage": "$default", "cors": {
            "allow_origins": ["https://app.example"], "allow_methods": ["GET", "POST"],
            "allow_headers": ["Content-Type", "Authorization"], "expose_headers": ["X-Req"],
            "allow_credentials": True, "max_age": 600}},
    },
    "routes": [
        {"path": "/hello/{name}", "method": "GET", "function": "hello", "event": "Api", "api": "RestApi", "auth": False},
        {"path": "/v2/{proxy+}", "method": "ANY", "function": "echo2", "event": "HttpApi", "api": "HttpApi", "auth": False},
        {"path": "/secure", "method": "GET", "function": "hello", "event": "Api", "api": "RestApi", "auth": True},
        {"path": "/items", "method": "POST", "function": "hello", "event": "Api", "api": "RestApi", "auth": False},
        {"path": "/fail", "method": "GET", "function": "fails", "event": "Api", "api": "RestApi", "auth": False},
        {"path": "/ghost", "method": "GET", "function": "ghost", "event": "Api", "api": "RestApi", "auth": False},
    ],
}
FUNCTIONS = {"project": "t", "region": "eu-west-1", "account_id": "123456789012",
             "functions": {name: {"timeout": 3, "handler": "app.handler", "code_dir": f"functions/{name}"}
                           for name in ("hello", "echo2", "fails")}}
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def hello(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"path": event["path"], "params": event["pathParameters"],
                                "claims": event["requestContext"].get("authorizer")})}


@pytest.fixture
def secrets() -> BoxSecrets:
    return BoxSecrets.generate()


@pytest.fixture
def manager() -> FakeManager:
    return FakeManager({"hello": hello, "echo2": lambda event: event})


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(tmp_path: Path, secrets: BoxSecrets, manager: FakeManager, records: list) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))),
                     manager=manager, secrets=secrets, log_sink=records.append, health_ttl_s=0.0)
    return testing.TestClient(app)


def test_api_route_invokes_function_with_v1_event(client: testing.TestClient, manager: FakeManager) -> None:
    result = client.simulate_get("/hello/ada", headers={"X-Amzn-Trace-Id": TRACE})
    assert result.status_code == 200
    assert result.json == {"path": "/hello/ada", "params": {"name": "ada"}, "claims": None}
    assert manager.calls[0].trace_id == TRACE
    assert result.headers["X-Amzn-Trace-Id"] == TRACE
    assert result.headers["x-amzn-RequestId"] == manager.calls[0].event["requestContext"]["requestId"]


def test_generated_trace_id_is_well_formed(client: testing.TestClient, manager: FakeManager) -> None:
    result = client.simulate_get("/hello/ada", headers={"X-Amzn-Trace-Id": "garbage"})
    header = result.headers["X-Amzn-Trace-Id"]
    assert header.startswith("Root=1-") and header.endswith(";Sampled=1")
    assert manager.calls[0].trace_id == header


def test_http_api_route_gets_v2_event_and_simple_response(client: testing.TestClient) -> None:
    result = client.simulate_post("/v2/a/b", query_string="q=1&q=2", body=b"\x00\xff",
                                  headers={"Content-Type": "application/octet-stream", "Cookie": "c=1"})
    assert result.status_code == 200
    event = result.json
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /v2/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["queryStringParameters"] == {"q": "1,2"}
    assert event["cookies"] == ["c=1"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"


def test_unmatched_requests_get_api_gateways_answers(client: testing.TestClient) -> None:
    # A REST API answers an unknown path or method 403 Missing Authentication Token, an HTTP API 404.
    missing = client.simulate_get("/nope")
    assert missing.status_code == 403 and missing.json == {"message": "Missing Authentication Token"}
    assert "X-Amzn-Trace-Id" in missing.headers
    wrong = client.simulate_delete("/items")
    assert wrong.status_code == 403 and "Allow" not in wrong.headers


def test_seed_status_codes_compat(tmp_path: Path, secrets: BoxSecrets, manager: FakeManager) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    routing = dict(ROUTING, compat={"seed_status_codes": True})
    app = create_app(settings, routes_source=StaticConfigSource(build_config(routing, functions_config(FUNCTIONS))),
                     manager=manager, secrets=secrets)
    client = testing.TestClient(app)
    missing = client.simulate_get("/nope")
    assert missing.status_code == 404 and missing.json == {"message": "Not Found"}
    wrong = client.simulate_delete("/items")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"


def test_auth_required_route(client: testing.TestClient, secrets: BoxSecrets) -> None:
    assert client.simulate_get("/secure").status_code == 401
    bad = client.simulate_get("/secure", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json == {"message": "Unauthorized"}
    login = client.simulate_post("/user/auth/v1", headers={"x-api-key": secrets.api_key}, json={
        "AuthParameters": {"USERNAME": secrets.username, "PASSWORD": secrets.password}})
    token = login.json["AuthenticationResult"]["IdToken"]
    ok = client.simulate_get("/secure", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json["claims"]["claims"]["cognito:username"] == secrets.username
    # An unknown path is refused before auth is looked at, as on AWS.
    assert client.simulate_get("/secure/missing").status_code == 403


def test_function_error_and_timeout(client: testing.TestClient, manager: FakeManager) -> None:
    manager.handlers["fails"] = lambda e: InvokeResult(200, "error", "r", b'{"errorMessage":"x"}')
    err = client.simulate_get("/fail")
    assert err.status_code == 502 and err.json == {"message": "Internal server error"}
    manager.handlers["fails"] = lambda e: InvokeResult(200, "timeout", "r", b"Task timed out after 3.00 seconds")
    slow = client.simulate_get("/fail")
    # API Gateway: a function timing out within the integration timeout is a failed integration.
    assert slow.status_code == 502 and slow.json == {"message": "Internal server error"}
    manager.handlers["fails"] = lambda e: {"no": "statusCode"}
    assert client.simulate_get("/fail").status_code == 502


@pytest.mark.parametrize(("error", "status"), [
    (TooManyRequests("busy"), 429), (EngineError("cannot start"), 503), (ManagerUnavailable("down"), 503),
    (FunctionNotFound("gone"), 502),
])
def test_manager_refusals(client: testing.TestClient, manager: FakeManager, error: Exception, status: int) -> None:
    def refuse(event: Any) -> Any:
        raise error
    manager.handlers["fails"] = refuse
    result = client.simulate_get("/fail")
    assert result.status_code == status
    assert "message" in result.json


def test_body_over_limit_is_413(client: testing.TestClient, manager: FakeManager) -> None:
    result = client.simulate_post("/items", body=b"x" * (MAX_SYNC_PAYLOAD + 1))
    assert result.status_code == 413
    assert manager.calls == []


def test_cors_preflight_and_headers(client: testing.TestClient, manager: FakeManager) -> None:
    pre = client.simulate_options("/v2/x", headers={"Origin": "https://app.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "Content-Type,Authorization"
    assert pre.headers["Access-Control-Max-Age"] == "600"
    assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    assert manager.calls == []
    actual = client.simulate_get("/v2/x", headers={"Origin": "https://app.example"})
    assert actual.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert actual.headers["Access-Control-Expose-Headers"] == "X-Req"
    stranger = client.simulate_get("/v2/x", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_log_record_per_request(client: testing.TestClient, records: list[dict[str, Any]]) -> None:
    client.simulate_get("/hello/ada", headers={"X-Amzn-Trace-Id": TRACE})
    client.simulate_get("/nope")
    first, second = records
    assert first["source"] == "gateway" and first["function"] == "hello" and first["status"] == 200
    assert first["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert first["latency_ms"] >= 0 and first["request_id"]
    assert second["status"] == 403 and second["function"] is None


def test_health(client: testing.TestClient, manager: FakeManager) -> None:
    assert client.simulate_get("/health").json == {"status": "healthy", "manager": {"status": "ok", "engine": "fake", "notes": []}}
    manager.healthy = False
    down = client.simulate_get("/health")
    assert down.status_code == 503 and down.json["manager"] == {"status": "unreachable"}
    assert "manager" in down.json["reason"]


def test_routes_reload_when_files_change(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "routing.yml").write_text(yaml.safe_dump(ROUTING))
    (config_dir / "functions.yml").write_text(yaml.safe_dump(FUNCTIONS))
    now = [0.0]
    source = FileConfigSource(config_dir, monotonic=lambda: now[0])
    old = source.current()
    assert len(old.router.routes) == len(ROUTING["routes"])
    changed = dict(ROUTING, routes=ROUTING["routes"][:1])
    (config_dir / "routing.yml").write_text(yaml.safe_dump(changed))
    future = time.time() + 5
    os.utime(config_dir / "routing.yml", (future, future))
    assert source.current() is old  # checked at most once a second
    now[0] = 2.0
    new = source.current()
    assert len(new.router.routes) == 1
    assert len(old.router.routes) == len(ROUTING["routes"])  # the old snapshot is untouched
    (config_dir / "routing.yml").write_text("routes: [{broken")
    os.utime(config_dir / "routing.yml", (future + 5, future + 5))
    now[0] = 4.0
    assert source.current() is new  # a broken file keeps the last good table


def test_integration_timeout_is_504(client: testing.TestClient, manager: FakeManager) -> None:
    """Past API Gateway's integration timeout (29 s REST, 30 s HTTP API) the gateway stops waiting: 504."""

    def never_answers(event: Any) -> Any:
        raise ManagerTimeout("manager did not answer in time")

    manager.handlers["fails"] = never_answers
    manager.handlers["echo2"] = never_answers
    late = client.simulate_get("/fail")
    assert late.status_code == 504 and late.json == {"message": "Endpoint request timed out"}
    assert client.simulate_get("/v2/x").status_code == 504
    assert [call.timeout for call in manager.calls] == [29.0, 30.0]


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = [new_request_id() for _ in range(200)]
    parsed = [uuid.UUID(value) for value in ids]
    assert all(p.version == 4 and p.variant == uuid.RFC_4122 and str(p) == value for p, value in zip(parsed, ids))
    assert len(set(ids)) == len(ids)
