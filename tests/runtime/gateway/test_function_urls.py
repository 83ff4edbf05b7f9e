"""Function URLs in the gateway app (Falcon test client, in-memory manager): payload, auth, CORS, hosts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.function_urls import (FileUrlSource, StaticUrlSource, UrlTable, build_table,
                                               target_of)
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config, functions_document

CORS = {"allow_origins": ["https://app.example"], "allow_methods": ["GET", "POST"], "allow_headers": ["X-Thing"],
        "expose_headers": [], "allow_credentials": False, "max_age": 60}
FUNCTIONS = {"project": "t", "region": "eu-west-1", "account_id": "123456789012", "functions": {
    "open-fn": {"timeout": 3, "function_url": {"auth_type": "NONE", "cors": CORS}},
    "iam-fn": {"timeout": 3, "function_url": {"auth_type": "AWS_IAM", "cors": None}},
    "plain-fn": {"timeout": 3, "function_url": None},
}}
ROUTING = {"apis": {}, "routes": [
    {"path": "/health2", "method": "GET", "function": "plain-fn", "event": "Api", "api": "A", "auth": False},
]}


@pytest.fixture
def secrets() -> BoxSecrets:
    return BoxSecrets.generate()


@pytest.fixture
def manager() -> FakeManager:
    def echo(event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 201, "headers": {"x-seen": event["rawPath"]}, "body": json.dumps(event)}

    return FakeManager({"open-fn": echo, "iam-fn": echo, "plain-fn": lambda event: {"statusCode": 200, "body": "plain"}})


@pytest.fixture
def client(tmp_path: Path, secrets: BoxSecrets, manager: FakeManager) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))),
                     manager=manager, secrets=secrets, url_source=StaticUrlSource(build_table(functions_config(FUNCTIONS))))
    return testing.TestClient(app)


def test_path_style_url_builds_the_function_url_payload(client: testing.TestClient, manager: FakeManager) -> None:
    answer = client.simulate_post("/lambda-url/open-fn/a/b%20c", query_string="x=1&x=2", body=b'{"k": 1}',
                                  headers={"Content-Type": "application/json", "Cookie": "c=1", "Host": "127.0.0.1:8443"})
    assert answer.status_code == 201
    assert answer.headers["x-seen"] == "/a/b%20c"
    event = manager.calls[0].event
    assert manager.calls[0].function == "open-fn"
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b%20c" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"} and event["cookies"] == ["c=1"]
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["pathParameters"] is None and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["routeKey"] == "$default" and context["stage"] == "$default"
    assert context["domainName"] == "open-fn.lambda-url.localhost" and context["domainPrefix"] == "open-fn"
    assert context["apiId"] == "open-fn" and context["accountId"] == "anonymous"
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/a/b c"
    assert "authorizer" not in context
    assert event["headers"]["x-amzn-trace-id"] == answer.headers["X-Amzn-Trace-Id"]


def test_host_style_url_maps_any_path_even_gateway_paths(client: testing.TestClient, manager: FakeManager) -> None:
    answer = client.simulate_get("/health", headers={"Host": "open-fn.lambda-url.localhost:8443"})
    assert answer.status_code == 201
    event = manager.calls[0].event
    assert event["rawPath"] == "/health"
    assert event["requestContext"]["domainName"] == "open-fn.lambda-url.localhost"
    assert event["headers"]["host"] == "open-fn.lambda-url.localhost:8443"


def test_bare_prefix_is_root_path(client: testing.TestClient, manager: FakeManager) -> None:
    assert client.simulate_get("/lambda-url/open-fn").status_code == 201
    assert manager.calls[0].event["rawPath"] == "/"


def test_functions_without_url_are_not_reachable(client: testing.TestClient, manager: FakeManager) -> None:
    assert client.simulate_get("/lambda-url/plain-fn/x").status_code == 404
    assert client.simulate_get("/x", headers={"Host": "ghost.lambda-url.localhost"}).status_code == 404
    assert manager.calls == []
    assert client.simulate_get("/health2").text == "plain"  # ordinary routes are untouched


def _signed_headers(secrets: BoxSecrets, path: str, host: str, body: bytes = b"", secret: str | None = None
                    ) -> dict[str, str]:
    request = AWSRequest(method="POST", url=f"https://{host}{path}", data=body)
    creds = BotoCredentials(secrets.aws_access_key_id, secret or secrets.aws_secret_access_key)
    SigV4Auth(creds, "lambda", "eu-west-1").add_auth(request)
    return {**dict(request.headers.items()), "Host": host}


def test_aws_iam_requires_a_valid_signature(client: testing.TestClient, manager: FakeManager,
                                            secrets: BoxSecrets) -> None:
    unsigned = client.simulate_post("/lambda-url/iam-fn/run", body=b"{}")
    assert unsigned.status_code == 403 and unsigned.json == {"Message": "Forbidden"}
    bad = _signed_headers(secrets, "/lambda-url/iam-fn/run", "127.0.0.1:8443", b"{}", secret="wrong")
    assert client.simulate_post("/lambda-url/iam-fn/run", body=b"{}", headers=bad).status_code == 403
    assert manager.calls == []
    good = _signed_headers(secrets, "/lambda-url/iam-fn/run", "127.0.0.1:8443", b"{}")
    answer = client.simulate_post("/lambda-url/iam-fn/run", body=b"{}", headers=good)
    assert answer.status_code == 201, answer.text
    context = manager.calls[0].event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["authorizer"]["iam"]["accessKey"] == secrets.aws_access_key_id


def test_aws_iam_by_host(client: testing.TestClient, manager: FakeManager, secrets: BoxSecrets) -> None:
    host = "iam-fn.lambda-url.localhost:8443"
    answer = client.simulate_post("/deep/path", body=b"x", headers=_signed_headers(secrets, "/deep/path", host, b"x"))
    assert answer.status_code == 201
    assert manager.calls[0].event["rawPath"] == "/deep/path"


def test_cors_preflight_and_response_headers(client: testing.TestClient, manager: FakeManager) -> None:
    pre = client.simulate_options("/lambda-url/open-fn/x", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert pre.headers["Access-Control-Max-Age"] == "60"
    assert manager.calls == []
    answer = client.simulate_get("/lambda-url/open-fn/x", headers={"Origin": "https://app.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.simulate_get("/lambda-url/open-fn/x", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_function_errors_map_like_http_api(tmp_path: Path, secrets: BoxSecrets) -> None:
    from esb_runtime.errors import TooManyRequests
    from esb_runtime.gateway.manager_client import InvokeResult

    def throttled(event: Any) -> Any:
        raise TooManyRequests("busy")

    manager = FakeManager({"open-fn": throttled, "iam-fn": lambda e: InvokeResult(200, "error", "r", b'{"x":1}')})
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    table = build_table(functions_config({"functions": {"open-fn": {"function_url": {"auth_type": "NONE"}},
                                       "iam-fn": {"function_url": {"auth_type": "NONE"}}}}))
    app = create_app(settings, routes_source=StaticConfigSource(build_config({}, functions_config({}))), manager=manager,
                     secrets=secrets, url_source=StaticUrlSource(table))
    client = testing.TestClient(app)
    assert client.simulate_get("/lambda-url/open-fn/").status_code == 429
    assert client.simulate_get("/lambda-url/iam-fn/").status_code == 502


def test_plain_json_result_is_the_body(client: testing.TestClient, manager: FakeManager) -> None:
    manager.handlers["open-fn"] = lambda event: {"just": "data"}
    answer = client.simulate_get("/lambda-url/open-fn/")
    assert answer.status_code == 200 and answer.json == {"just": "data"}


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("hello.lambda-url.localhost", "/a", ("hello", "/a", True)),
    ("Hello.LAMBDA-URL.localhost:8443", "/", ("Hello", "/", True)),
    ("127.0.0.1:8443", "/lambda-url/hello/x/y", ("hello", "/x/y", False)),
    ("127.0.0.1:8443", "/lambda-url/hello", ("hello", "/", False)),
    ("127.0.0.1:8443", "/lambda-url/", None),
    ("127.0.0.1:8443", "/hello", None),
    (".lambda-url.localhost", "/", None),
])
def test_target_of(host: str, path: str, expected: tuple[str, str, bool] | None) -> None:
    assert target_of(host, path) == expected


def test_table_lookup_ignores_case() -> None:
    table = build_table(functions_config({"functions": {"MyFn": {"function_url": {"auth_type": "aws_iam"}}}}))
    found = table.find("myfn")
    assert found is not None and found.function == "MyFn" and found.auth_type == "AWS_IAM"
    assert UrlTable().find("x") is None


def test_file_source_rereads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "functions.yml"
    now = [0.0]
    source = FileUrlSource(path, monotonic=lambda: now[0])
    assert source.current().urls == {}
    path.write_text(yaml.safe_dump(functions_document(FUNCTIONS)), encoding="utf-8")
    now[0] = 2.0
    assert set(source.current().urls) == {"open-fn", "iam-fn"}
    path.write_text("functions: [broken", encoding="utf-8")
    os.utime(path, ns=(1, 1))
    now[0] = 4.0
    assert set(source.current().urls) == {"open-fn", "iam-fn"}  # the last good table stays
