"""boto3's Lambda client against the gateway served over HTTPS by a real gevent WSGI server."""

from __future__ import annotations

import base64
import json
import queue
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.config import Config

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.manager_client import InvokeResult
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.tls import TlsFiles, ensure_tls
from fakes import functions_config

SECRETS = BoxSecrets.generate()
FUNCTIONS = {"region": "us-east-1", "account_id": "000000000000",
             "functions": {"hello": {"timeout": 3}, "broken": {"timeout": 3}, "web": {"timeout": 3}}}
ROUTING = {"apis": {"Rest": {"kind": "Api", "stage": "Prod"}},
           "routes": [{"path": "/web", "method": "POST", "function": "web", "event": "Api", "api": "Rest"}]}


def serve(app: Any, tls: TlsFiles) -> Iterator[int]:
    """Run gevent's WSGI server in its own thread (and hub) until the test ends."""
    from gevent import sleep
    from gevent.pywsgi import WSGIServer

    ports: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        from gevent import ssl as gevent_ssl

        context = gevent_ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # gevent's context gives cooperative sockets
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        server = WSGIServer(("127.0.0.1", 0), app, ssl_context=context, log=None, error_log=None)
        server.start()
        ports.put(server.server_port)
        while not stop.is_set():
            sleep(0.02)
        server.stop(timeout=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield ports.get(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls(tmp_path_factory.mktemp("tls"), ["127.0.0.1"])


@pytest.fixture(scope="module")
def manager() -> FakeManager:
    def broken(event: Any) -> InvokeResult:
        return InvokeResult(200, "error", "req-err", b'{"errorMessage": "boom", "errorType": "ValueError"}')

    def web(event: Any) -> dict[str, Any]:
        return {"statusCode": 201, "body": event["body"], "headers": {"X-Trace": event["headers"]["X-Amzn-Trace-Id"]}}

    return FakeManager({"hello": lambda event: {"echo": event}, "broken": broken, "web": web})


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles, manager: FakeManager) -> Iterator[str]:
    out = tmp_path_factory.mktemp("out")
    settings = RuntimeSettings(output_dir=out, manager_socket=out / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))),
                     manager=manager, secrets=SECRETS)
    for port in serve(app, tls):
        yield f"https://127.0.0.1:{port}"


def lambda_client(endpoint: str, tls: TlsFiles, secret: str = SECRETS.aws_secret_access_key) -> Any:
    return boto3.client(
        "lambda", endpoint_url=endpoint, region_name="us-east-1", verify=str(tls.ca_file),
        aws_access_key_id=SECRETS.aws_access_key_id, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_request_response(endpoint: str, tls: TlsFiles, manager: FakeManager) -> None:
    client = lambda_client(endpoint, tls)
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    result = client.invoke(FunctionName="hello", Payload=b'{"x": 1}', ClientContext=context)
    assert result["StatusCode"] == 200
    assert result["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in result
    assert json.loads(result["Payload"].read()) == {"echo": {"x": 1}}
    assert manager.calls[-1].client_context == context
    headers = result["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert manager.calls[-1].trace_id == headers["x-amzn-trace-id"]


def test_full_arn_and_qualifier(endpoint: str, tls: TlsFiles) -> None:
    client = lambda_client(endpoint, tls)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert client.invoke(FunctionName=arn, Payload=b"{}")["StatusCode"] == 200
    assert client.invoke(FunctionName="hello", Qualifier="$LATEST", Payload=b"{}")["StatusCode"] == 200


def test_function_error(endpoint: str, tls: TlsFiles) -> None:
    result = lambda_client(endpoint, tls).invoke(FunctionName="broken", Payload=b"{}")
    assert result["StatusCode"] == 200
    assert result["FunctionError"] == "Unhandled"
    assert json.loads(result["Payload"].read())["errorMessage"] == "boom"


def test_event_dry_run_and_tail(endpoint: str, tls: TlsFiles, manager: FakeManager) -> None:
    client = lambda_client(endpoint, tls)
    assert client.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert manager.calls[-1].invocation_type == "Event"
    calls = len(manager.calls)
    assert client.invoke(FunctionName="hello", InvocationType="DryRun")["StatusCode"] == 204
    assert len(manager.calls) == calls
    tail = client.invoke(FunctionName="hello", LogType="Tail", Payload=b"{}")
    assert "START RequestId" in base64.b64decode(tail["LogResult"]).decode()


def test_event_payload_limit(endpoint: str, tls: TlsFiles) -> None:
    client = lambda_client(endpoint, tls)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="hello", InvocationType="Event", Payload=b'"' + b"x" * 262_144 + b'"')
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_unknown_function(endpoint: str, tls: TlsFiles) -> None:
    client = lambda_client(endpoint, tls)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="missing", Payload=b"{}")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="hello", Qualifier="7", Payload=b"{}")


def test_wrong_secret_is_403(endpoint: str, tls: TlsFiles) -> None:
    client = lambda_client(endpoint, tls, secret="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="hello", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_proxy_route_over_https(endpoint: str, tls: TlsFiles) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    with httpx.Client(verify=ssl.create_default_context(cafile=str(tls.ca_file))) as client:
        result = client.post(f"{endpoint}/web", content=b"ping", headers={"X-Amzn-Trace-Id": trace})
        chunked = client.post(f"{endpoint}/web", content=iter([b"pi", b"ng"]))  # no trace: one is generated
    assert result.status_code == 201 and result.content == b"ping"
    assert result.headers["X-Amzn-Trace-Id"] == trace
    assert result.headers["X-Trace"] == trace  # the function saw the client's trace header
    assert result.headers["x-amzn-RequestId"]
    assert chunked.status_code == 201 and chunked.content == b"ping"
    assert chunked.headers["X-Trace"] == chunked.headers["X-Amzn-Trace-Id"]


def test_tls_files_are_valid(tls: TlsFiles) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    assert Path(tls.key_file).stat().st_mode & 0o777 == 0o600


def test_list_get_function_and_configuration_in_boto3_shapes(endpoint: str, tls: TlsFiles) -> None:
    client = lambda_client(endpoint, tls)
    listed = client.list_functions()["Functions"]
    assert [f["FunctionName"] for f in listed] == ["broken", "hello", "web"]
    assert listed[1]["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert listed[1]["Timeout"] == 3 and listed[1]["Version"] == "$LATEST"
    pages = list(client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))
    assert [[f["FunctionName"] for f in page["Functions"]] for page in pages] == [["broken", "hello"], ["web"]]
    got = client.get_function(FunctionName="hello")
    assert got["Configuration"]["FunctionName"] == "hello" and got["Code"]["RepositoryType"] == "S3"
    by_arn = client.get_function_configuration(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:web")
    assert by_arn["FunctionName"] == "web" and by_arn["State"] == "Active"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="nope")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        lambda_client(endpoint, tls, secret="wrong").list_functions()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
