"""AWS_IAM on API routes: SigV4 (service execute-api) with the box's keys, the caller in the event, body signed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

SECRETS = BoxSecrets.generate()
HOST = "127.0.0.1:8443"
ROUTING = {
    "apis": {"Rest": {"kind": "Api", "stage": "Prod"}, "Http": {"kind": "HttpApi", "stage": "$default"}},
    "routes": [
        {"path": "/rest/{id}", "method": "POST", "function": "echo", "event": "Api", "api": "Rest",
         "authorizer": "AWS_IAM"},
        {"path": "/http", "method": "POST", "function": "echo", "event": "HttpApi", "api": "Http",
         "authorizer": "AWS_IAM"},
        {"path": "/keyed", "method": "POST", "function": "echo", "event": "Api", "api": "Rest",
         "authorizer": "AWS_IAM", "api_key": True},
    ],
}
FUNCTIONS = {"region": "eu-west-1", "account_id": "123456789012", "functions": {"echo": {}}}


@pytest.fixture
def manager() -> FakeManager:
    return FakeManager({"echo": lambda event: {"statusCode": 200, "body": json.dumps(event["requestContext"])}})


@pytest.fixture
def client(tmp_path: Path, manager: FakeManager) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    config = build_config(ROUTING, functions_config(FUNCTIONS))
    return testing.TestClient(create_app(settings, routes_source=StaticConfigSource(config), manager=manager,
                                         secrets=SECRETS))


def signed(path: str, body: bytes, *, service: str = "execute-api", secret: str | None = None,
           **extra: str) -> dict[str, str]:
    request = AWSRequest(method="POST", url=f"https://{HOST}{path}", data=body, headers=extra)
    creds = BotoCredentials(SECRETS.aws_access_key_id, secret or SECRETS.aws_secret_access_key)
    SigV4Auth(creds, service, "eu-west-1").add_auth(request)
    return {**dict(request.headers.items()), "Host": HOST}


def post(client: testing.TestClient, path: str, body: bytes, headers: dict[str, str]) -> testing.Result:
    return client.simulate_post(path, body=body, headers=headers)


def test_rest_route_takes_a_signed_request_and_names_the_caller(client: testing.TestClient,
                                                                manager: FakeManager) -> None:
    answer = post(client, "/rest/7", b'{"a": 1}', signed("/rest/7", b'{"a": 1}'))
    assert answer.status_code == 200, answer.text
    identity = answer.json["identity"]
    assert identity["accessKey"] == SECRETS.aws_access_key_id and identity["accountId"] == "123456789012"
    assert identity["userArn"] == "arn:aws:iam::123456789012:root" and identity["caller"] == "123456789012"
    assert identity["sourceIp"] and "authorizer" not in answer.json
    assert len(manager.calls) == 1


def test_http_route_puts_the_caller_under_authorizer_iam(client: testing.TestClient) -> None:
    answer = post(client, "/http", b"{}", signed("/http", b"{}"))
    assert answer.status_code == 200, answer.text
    iam = answer.json["authorizer"]["iam"]
    assert iam["accessKey"] == SECRETS.aws_access_key_id and iam["userArn"] == "arn:aws:iam::123456789012:root"


@pytest.mark.parametrize(("headers", "message"), [
    ({}, "Missing Authentication Token"),
    (signed("/rest/7", b"{}", secret="wrong"), "The request signature we calculated does not match"),
    (signed("/rest/7", b"{}", service="lambda"), "credential scope must name service execute-api"),
    (signed("/rest/8", b"{}"), "The request signature we calculated does not match"),  # another path
    (signed("/rest/7", b"{}"), "The request signature we calculated does not match"),  # another body (below)
])
def test_rest_route_refuses_what_is_not_signed_by_the_box(client: testing.TestClient, manager: FakeManager,
                                                          headers: dict[str, str], message: str) -> None:
    answer = post(client, "/rest/7", b'{"changed": true}', headers)
    assert answer.status_code == 403 and answer.json["message"].startswith(message)
    assert manager.calls == []


def test_http_route_refusal_is_a_bare_forbidden(client: testing.TestClient, manager: FakeManager) -> None:
    answer = post(client, "/http", b"{}", signed("/http", b"{}", secret="wrong"))
    assert answer.status_code == 403 and answer.json == {"message": "Forbidden"}
    assert post(client, "/http", b"{}", {}).json == {"message": "Forbidden"}
    assert manager.calls == []


def test_api_key_is_checked_after_the_signature(client: testing.TestClient) -> None:
    assert post(client, "/keyed", b"", signed("/keyed", b"")).status_code == 403
    with_key = signed("/keyed", b"", **{"x-api-key": SECRETS.api_key})
    assert post(client, "/keyed", b"", with_key).status_code == 200
