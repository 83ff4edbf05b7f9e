"""The gateway's dispatcher: the data path without Falcon, the box's own APIs through it, and who wins a path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.responses import ProxyResponse
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

RUNTIME = Path(__file__).resolve().parents[3] / "runtime"
ROUTING = {
    "apis": {"RestApi": {"kind": "Api", "stage": "Prod", "cors": None}},
    "routes": [
        {"path": "/hello", "method": "ANY", "function": "hello", "event": "Api", "api": "RestApi", "auth": False},
        # The same path as the box's sign-in: the box's own API wins, as Falcon's routes won over its sink.
        {"path": "/user/auth/v1", "method": "POST", "function": "hello", "event": "Api", "api": "RestApi",
         "auth": False},
        {"path": "/greet/{name}", "method": "GET", "function": "hello", "event": "Api", "api": "RestApi",
         "auth": False},
        {"path": "/boom", "method": "GET", "function": "boom", "event": "Api", "api": "RestApi", "auth": False},
    ],
}
FUNCTIONS = {"project": "t", "region": "eu-west-1", "account_id": "123456789012", "functions": {
    "hello": {"timeout": 3, "function_url": None},
    "boom": {"timeout": 3, "function_url": None},
    "user": {"timeout": 3, "function_url": {"auth_type": "NONE", "cors": None}},
}}


def hello(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "multiValueHeaders": {"X-Many": ["a", "b"], "Set-Cookie": ["c=1", "d=2"]},
            "body": json.dumps({"path": event.get("rawPath") or event.get("path")})}


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(tmp_path: Path, records: list[dict[str, Any]]) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)

    def boom(event: dict[str, Any]) -> Any:
        raise ValueError("a bug in the gateway's path, not the function's")

    manager = FakeManager({"hello": hello, "boom": boom, "user": hello})
    # The fake's ValueError is no RuntimeBoxError: it plays an unexpected failure inside the data path.
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))),
                     manager=manager, secrets=BoxSecrets.generate(), log_sink=records.append, health_ttl_s=0.0)
    return testing.TestClient(app)


def test_proxied_answer_keeps_the_gateways_wire_form(client: testing.TestClient) -> None:
    result = client.simulate_get("/hello")
    assert result.status_code == 200
    raw = dict(result.headers)
    assert raw["x-many"] == "a, b"  # one line per name, values joined (as under Falcon)
    assert {name: c.value for name, c in result.cookies.items()} == {"c": "1", "d": "2"}  # one line per cookie
    assert raw["content-type"] == "application/json" and raw["x-amzn-trace-id"].startswith("Root=1-")
    assert len(raw["x-amzn-requestid"]) == 36


def test_a_utf8_path_arrives_decoded(client: testing.TestClient) -> None:
    # PEP 3333: the server hands the path's bytes over as latin-1 text; the function sees the UTF-8 characters.
    result = client.simulate_get("/greet/\u00e9t\u00e9")
    assert result.status_code == 200 and result.json == {"path": "/greet/\u00e9t\u00e9"}


def test_head_has_the_length_of_get_and_no_body(client: testing.TestClient, records: list[dict[str, Any]]) -> None:
    get = client.simulate_get("/hello")
    head = client.simulate_head("/hello")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert records[-1]["method"] == "HEAD" and records[-1]["status"] == 200


def test_the_box_api_wins_over_a_template_route_on_its_path(client: testing.TestClient) -> None:
    result = client.simulate_post("/user/auth/v1", json={"AuthParameters": {}})
    assert result.status_code == 401  # the sign-in refused a missing x-api-key; the function never ran
    assert "path" not in result.text


def test_a_function_url_wins_over_the_box_api(client: testing.TestClient) -> None:
    result = client.simulate_post("/user/auth/v1", headers={"Host": "user.lambda-url.localhost"})
    assert result.status_code == 200 and result.json == {"path": "/user/auth/v1"}


def test_health_get_is_the_data_paths_and_other_methods_get_405(client: testing.TestClient) -> None:
    assert client.simulate_get("/health").json["status"] == "healthy"
    refused = client.simulate_post("/health")
    assert refused.status_code == 405 and "GET" in refused.headers["allow"]
    assert refused.headers["x-amzn-trace-id"].startswith("Root=1-")  # the box's APIs carry the same headers


def test_a_failure_inside_the_data_path_is_a_json_500_and_a_record(client: testing.TestClient,
                                                                   records: list[dict[str, Any]]) -> None:
    result = client.simulate_get("/boom")
    assert result.status_code == 500 and result.json == {"message": "Internal server error"}
    assert result.headers["x-amzn-trace-id"].startswith("Root=1-")
    assert records[-1]["status"] == 500 and records[-1]["level"] == "error"


def test_serving_the_data_path_loads_no_falcon_until_a_box_api_is_asked(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json
        import sys
        sys.path[:0] = [{str(RUNTIME)!r}, {str(Path(__file__).resolve().parents[2])!r}]
        from pathlib import Path
        from esb_runtime.gateway.app import create_app
        from esb_runtime.gateway.config_source import StaticConfigSource, build_config
        from esb_runtime.gateway.fake_manager import FakeManager
        from esb_runtime.secrets import BoxSecrets
        from esb_runtime.settings import RuntimeSettings
        from fakes import functions_config
        routing = {json.dumps(ROUTING)!r}
        tmp = Path({str(tmp_path)!r})
        app = create_app(RuntimeSettings(output_dir=tmp, manager_socket=tmp / "m.sock", rie_path=None),
                         routes_source=StaticConfigSource(build_config(json.loads(routing),
                                                                       functions_config({FUNCTIONS!r}))),
                         manager=FakeManager({{"hello": lambda event: {{"statusCode": 200, "body": "hi"}}}}),
                         secrets=BoxSecrets.generate())
        def call(method, path):
            import io
            seen = []
            env = {{"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "x",
                   "SERVER_PORT": "1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(b""),
                   "wsgi.url_scheme": "https", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "x",
                   "wsgi.errors": sys.stderr, "SCRIPT_NAME": ""}}
            body = b"".join(app(env, lambda status, headers, exc=None: seen.append(status)))
            return seen[0], body
        print(call("GET", "/hello"), call("GET", "/health")[0], "falcon" in sys.modules)
        print(call("POST", "/user/auth/v1")[0], "falcon" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "('200 OK', b'hi') 200 OK False"
    assert out[1] == "401 Unauthorized True"


def test_the_answer_of_a_204_gets_no_default_content_type() -> None:
    from esb_runtime.gateway.exchange import wsgi_headers

    assert wsgi_headers(ProxyResponse(204), [], [("X-Amzn-Trace-Id", "t")]) == [("x-amzn-trace-id", "t")]
    assert wsgi_headers(ProxyResponse(200, [("Content-Type", "text/plain"), ("X-A", "1")]), [("x-a", "2")], []) == [
        ("content-type", "text/plain"), ("x-a", "2")]
