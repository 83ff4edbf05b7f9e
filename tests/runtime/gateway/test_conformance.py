"""API Gateway conformance, golden against AWS's documented formats.

Events: REST proxy integration input (payload 1.0), HTTP API payload 1.0 and 2.0
(docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html and
http-api-develop-integrations-lambda.html). Responses: the proxy output rules of both. CORS: SAM's REST
OPTIONS mock and HTTP API CorsConfiguration. Requests go through the real Falcon app with an in-memory manager.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

REST_CORS = {"allow_origins": ["*"], "allow_methods": ["GET"], "allow_headers": ["origin", "x-requested-with"],
             "expose_headers": [], "allow_credentials": True, "max_age": 510}
GLOBAL_CORS = {"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": [], "expose_headers": [],
               "allow_credentials": False, "max_age": None}
HTTP_CORS = {"allow_origins": ["https://abc", "http://xyz:3000"], "allow_methods": ["GET", "OPTIONS", "POST"],
             "allow_headers": ["Accept", "My-Custom-Header"], "expose_headers": ["X-Total"],
             "allow_credentials": True, "max_age": 3600}


def _route(path: str, method: str, function: str, api: str, event: str = "Api", payload: str = "") -> dict[str, Any]:
    return {"path": path, "method": method, "function": function, "event": event, "api": api, "auth": False,
            "payload": payload}


ROUTING = {
    "apis": {
        "Rest": {"kind": "Api", "stage": "dev", "cors": REST_CORS, "variables": {"VarName": "varValue"}},
        "Global": {"kind": "Api", "stage": "Prod", "cors": GLOBAL_CORS},
        "Plain": {"kind": "Api", "stage": "Prod", "cors": None},
        "Http": {"kind": "HttpApi", "stage": "dev-http", "cors": HTTP_CORS, "variables": {"VarNameHttpApi": "v2"}},
        "Star": {"kind": "HttpApi", "stage": "$default", "cors": GLOBAL_CORS},
    },
    "routes": [
        _route("/echobase64eventbody", "POST", "echo", "Rest"),
        _route("/echoeventbody", "GET", "echo", "Rest"),
        _route("/global", "GET", "echo", "Global"),
        _route("/global", "POST", "echo", "Global"),
        _route("/result", "GET", "result", "Plain"),
        _route("/own-options", "OPTIONS", "result", "Global"),
        _route("/http", "ANY", "echo", "Http", "HttpApi"),
        _route("/http-v1", "GET", "echo", "Http", "HttpApi", "1.0"),
        _route("/http-v1-result", "GET", "result", "Http", "HttpApi", "1.0"),
        _route("/http-result", "GET", "result", "Star", "HttpApi"),
        _route("$default", "ANY", "echo", "Star", "HttpApi"),
    ],
}
FUNCTIONS = {"account_id": "123456789012", "functions": {"echo": {}, "result": {}}}
OPTIONS_ALL = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"


class Results:
    """What the `result` function returns next."""

    value: Any = None


@pytest.fixture
def result() -> Results:
    return Results()


@pytest.fixture
def manager(result: Results) -> FakeManager:
    return FakeManager({"echo": lambda event: {"statusCode": 200, "body": json.dumps(event)},
                        "result": lambda event: result.value})


def make_client(tmp_path: Path, manager: FakeManager, routing: dict[str, Any]) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(routing, functions_config(FUNCTIONS))),
                     manager=manager, secrets=BoxSecrets.generate(), ids=lambda: "req-id", clock=lambda: 1583349317.135)
    return testing.TestClient(app)


@pytest.fixture
def client(tmp_path: Path, manager: FakeManager) -> testing.TestClient:
    return make_client(tmp_path, manager, ROUTING)


def cors_of(result: testing.Result) -> dict[str, str]:
    return {k.lower(): v for k, v in result.headers.items() if k.lower().startswith("access-control-")}


# ---- events --------------------------------------------------------------------------------------------------

REST_IDENTITY_KEYS = {"cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "accessKey", "sourceIp",
                      "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent", "user"}


def test_rest_event_is_the_documented_proxy_input(client: testing.TestClient) -> None:
    event = client.simulate_get("/echoeventbody", query_string="a=1&a=2", remote_addr="192.0.2.1",
                                headers={"Header2": "x", "X-Forwarded-For": "198.51.100.7"}).json
    assert set(event) == {"resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
                          "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext",
                          "body", "isBase64Encoded"}
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/echoeventbody", "/echoeventbody", "GET")
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    # API Gateway adds the forwarding headers; the client's address is appended to a chain it sent.
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Forwarded-Port"] == "80"
    assert event["headers"]["X-Forwarded-For"] == "198.51.100.7, 192.0.2.1"
    assert event["multiValueHeaders"]["X-Forwarded-Proto"] == ["http"]
    assert event["stageVariables"] == {"VarName": "varValue"}
    assert (event["pathParameters"], event["body"], event["isBase64Encoded"]) == (None, None, False)
    rc = event["requestContext"]
    assert set(rc) == {"accountId", "apiId", "resourceId", "resourcePath", "httpMethod", "requestId",
                       "extendedRequestId", "requestTime", "requestTimeEpoch", "stage", "path", "protocol",
                       "domainName", "identity"}
    assert set(rc["identity"]) == REST_IDENTITY_KEYS
    assert (rc["stage"], rc["path"], rc["requestId"]) == ("dev", "/dev/echoeventbody", "req-id")
    assert (rc["requestTime"], rc["requestTimeEpoch"]) == ("04/Mar/2020:19:15:17 +0000", 1583349317135)


def test_http_api_payload_1_0_event(client: testing.TestClient) -> None:
    event = client.simulate_get("/http-v1", headers={"Cookie": "a=1"}).json
    assert event["version"] == "1.0"
    assert set(event) == {"version", "resource", "path", "httpMethod", "headers", "multiValueHeaders",
                          "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                          "stageVariables", "requestContext", "body", "isBase64Encoded"}
    assert event["headers"]["Cookie"] == "a=1"  # 1.0 keeps cookies as a header
    assert event["stageVariables"] == {"VarNameHttpApi": "v2"}
    rc = event["requestContext"]
    assert rc["resourceId"] is None and rc["domainPrefix"] and rc["stage"] == "dev-http"
    assert rc["path"] == "/dev-http/http-v1"


def test_http_api_payload_2_0_event(client: testing.TestClient) -> None:
    event = client.simulate_post("/http", query_string="k=v&k=w", body="hi",
                                 headers={"Content-Type": "text/plain", "Cookie": "a=1; b=2", "X-Mixed": "1"}).json
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /http"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"k": "v,w"}
    assert event["headers"]["x-mixed"] == "1" and event["headers"]["x-forwarded-proto"] == "http"
    assert all(name == name.lower() for name in event["headers"])
    assert event["stageVariables"] == {"VarNameHttpApi": "v2"}
    assert (event["body"], event["isBase64Encoded"]) == ("hi", False)
    assert "multiValueHeaders" not in event and "multiValueQueryStringParameters" not in event
    assert event["requestContext"]["routeKey"] == "ANY /http"


def test_default_route_event(client: testing.TestClient) -> None:
    event = client.simulate_get("/").json
    assert event["routeKey"] == "$default" and event["requestContext"]["routeKey"] == "$default"
    assert event["rawPath"] == "/"
    # Optional fields are left out, not null.
    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert key not in event
    assert client.simulate_delete("/any/where/at/all").json["routeKey"] == "$default"


# ---- responses -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "status", "body", "content_type"), [
    ({"body": "x"}, 200, b"x", "application/json"),  # no statusCode: 200
    ({"statusCode": 200, "body": 42}, 200, b"42", "application/json"),  # a number body is its text
    ({"statusCode": "201"}, 201, b"", "application/json"),  # an integer string status
    ({"statusCode": 200, "body": "R0lG", "isBase64Encoded": True, "headers": {"Content-Type": "image/gif"}},
     200, b"GIF", "image/gif"),
    ({"statusCode": 200, "body": "R0lG", "base64Encoded": True}, 200, b"GIF", "application/json"),
    ({"foo": "bar"}, 502, b'{"message": "Internal server error"}', "application/json"),  # unknown keys
    ("This is invalid", 502, b'{"message": "Internal server error"}', "application/json"),
    ({"statusCode": 200, "body": {"a": 1}}, 502, b'{"message": "Internal server error"}', "application/json"),
])
def test_rest_proxy_output(client: testing.TestClient, result: Results, value: Any, status: int, body: bytes,
                           content_type: str) -> None:
    result.value = value
    answer = client.simulate_get("/result")
    assert (answer.status_code, answer.content, answer.headers["Content-Type"]) == (status, body, content_type)


def test_rest_headers_and_multi_value_headers_merge(client: testing.TestClient, result: Results) -> None:
    result.value = {"statusCode": 200, "body": "hello",
                    "headers": {"Content-Type": "text/plain", "MyCustomHeader": "Custom", "Same": "1"},
                    "multiValueHeaders": {"MyCustomHeader": ["Value1", "Value2"], "Same": ["1"]}}
    answer = client.simulate_get("/result")
    assert answer.headers["MyCustomHeader"] == "Value1, Value2, Custom"
    assert answer.headers["Same"] == "1"  # the same pair in both maps appears once


@pytest.mark.parametrize(("value", "status", "body"), [
    ({"statusCode": 200, "body": "ok", "extra": "skipped"}, 200, b"ok"),  # HTTP APIs skip unknown keys
    ({"statusCode": 200, "body": 42}, 200, b"42"),
    ({"body": "x"}, 502, b'{"message": "Internal server error"}'),  # 1.0 on an HTTP API needs statusCode
    ("This is invalid", 502, b'{"message": "Internal server error"}'),
])
def test_http_api_payload_1_0_output(client: testing.TestClient, result: Results, value: Any, status: int,
                                     body: bytes) -> None:
    result.value = value
    answer = client.simulate_get("/http-v1-result")
    assert (answer.status_code, answer.content) == (status, body)


@pytest.mark.parametrize(("value", "status", "body"), [
    ({"errorType": "Error", "errorMessage": ""}, 200, b'{"errorType": "Error", "errorMessage": ""}'),
    ("This is invalid", 200, b"This is invalid"),
    (2, 200, b"2"),
    ({"statusCode": 200, "body": "x", "key": "value"}, 200, b"x"),
])
def test_http_api_payload_2_0_output(client: testing.TestClient, result: Results, value: Any, status: int,
                                     body: bytes) -> None:
    # A result returned normally is never a Lambda failure: 2.0 reads any non-response JSON as a 200 body.
    result.value = value
    answer = client.simulate_get("/http-result")
    assert (answer.status_code, answer.content) == (status, body)


def test_http_api_2_0_cookies_and_header_names(client: testing.TestClient, result: Results) -> None:
    result.value = {"statusCode": 200, "cookies": ["a=1", "b=2"], "headers": {"X-Up": "1"}}
    answer = client.simulate_get("/http-result")
    assert [c.name for c in answer.cookies.values()] == ["a", "b"]
    assert answer.headers["x-up"] == "1" and answer.content == b""


# ---- CORS ----------------------------------------------------------------------------------------------------

REST_GRANTS = {"access-control-allow-origin": "*", "access-control-allow-headers": "origin,x-requested-with",
               "access-control-allow-methods": "GET", "access-control-allow-credentials": "true",
               "access-control-max-age": "510"}


@pytest.mark.parametrize("headers", [
    {"Origin": "https://abc", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-a"},
    {"Origin": "https://abc"},
    {},  # a bare OPTIONS (curl, health checkers)
])
def test_rest_preflight_is_sams_options_mock(client: testing.TestClient, manager: FakeManager,
                                             headers: dict[str, str]) -> None:
    answer = client.simulate_options("/echobase64eventbody", headers=headers)
    assert answer.status_code == 200 and cors_of(answer) == REST_GRANTS
    assert manager.calls == []


def test_rest_preflight_without_allow_methods_lists_the_paths_methods(client: testing.TestClient) -> None:
    assert cors_of(client.simulate_options("/global"))["access-control-allow-methods"] == "GET,OPTIONS,POST"


@pytest.mark.parametrize("origin", ["https://abc", None])
def test_rest_actual_response_carries_the_configured_headers(client: testing.TestClient,
                                                             origin: str | None) -> None:
    answer = client.simulate_get("/echoeventbody", headers={"Origin": origin} if origin else {})
    assert answer.status_code == 200 and cors_of(answer) == REST_GRANTS


def test_rest_function_cors_header_wins(client: testing.TestClient, manager: FakeManager) -> None:
    manager.handlers["echo"] = lambda e: {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://f"}}
    answer = client.simulate_get("/echoeventbody", headers={"Origin": "https://abc"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://f"
    assert answer.headers["Access-Control-Max-Age"] == "510"


def test_explicit_options_route_is_answered_by_the_function(client: testing.TestClient, result: Results) -> None:
    result.value = {"statusCode": 204}
    answer = client.simulate_options("/own-options", headers={"Origin": "https://abc",
                                                              "Access-Control-Request-Method": "GET"})
    assert answer.status_code == 204 and client.simulate_options("/own-options").status_code == 204


@pytest.mark.parametrize("origin", ["https://abc", "http://xyz:3000"])
def test_http_api_preflight_and_response_match_the_origin(client: testing.TestClient, origin: str) -> None:
    pre = client.simulate_options("/http", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    grants = {"access-control-allow-origin": origin, "access-control-allow-headers": "Accept,My-Custom-Header",
              "access-control-allow-methods": "GET,OPTIONS,POST", "access-control-allow-credentials": "true",
              "access-control-max-age": "3600", "access-control-expose-headers": "X-Total"}
    assert pre.status_code == 204 and cors_of(pre) == grants
    actual = client.simulate_post("/http", headers={"Origin": origin})
    assert actual.status_code == 200 and cors_of(actual) == grants
    assert actual.headers["Vary"] == "Origin"


def test_http_api_refused_origin_gets_no_cors_headers(client: testing.TestClient) -> None:
    for answer in (client.simulate_options("/http", headers={"Origin": "https://unknown"}),
                   client.simulate_options("/http"), client.simulate_post("/http", headers={"Origin": "https://x"})):
        assert cors_of(answer) == {}


def test_http_api_wildcard_origin_is_a_star_not_an_echo(client: testing.TestClient, result: Results) -> None:
    result.value = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://function"}}
    answer = client.simulate_get("/http-result", headers={"Origin": "https://abc"})
    # HTTP APIs replace the integration's CORS headers with the configured ones.
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    bare = client.simulate_options("/http-result")
    assert bare.status_code == 204 and bare.headers["Access-Control-Allow-Origin"] == "*"
    asked = client.simulate_options("/http-result", headers={"Origin": "https://abc",
                                                             "Access-Control-Request-Method": "PUT",
                                                             "Access-Control-Request-Headers": "x-a"})
    # AllowMethods ["*"] grants what the browser asks for (it refuses "*" on credentialed requests).
    assert asked.headers["Access-Control-Allow-Methods"] == "PUT"
    assert "Access-Control-Allow-Headers" not in asked.headers  # none configured


# ---- unmatched requests --------------------------------------------------------------------------------------

def test_rest_unknown_method_or_path_is_missing_authentication_token(client: testing.TestClient) -> None:
    for answer in (client.simulate_get("/echobase64eventbody"), client.simulate_put("/result")):
        assert answer.status_code == 403 and answer.json == {"message": "Missing Authentication Token"}


def test_http_api_unknown_route_is_not_found(tmp_path: Path, manager: FakeManager) -> None:
    routing = {"apis": {"Http": ROUTING["apis"]["Http"]}, "routes": [_route("/only", "GET", "echo", "Http", "HttpApi")]}
    client = make_client(tmp_path, manager, routing)
    for answer in (client.simulate_get("/nope"), client.simulate_delete("/only")):
        assert answer.status_code == 404 and answer.json == {"message": "Not Found"}
