"""End to end through real HTTPS: `esb up -d` on the e2e fixture app, genuine RIE sandboxes."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Iterator

import botocore.exceptions
import pytest

from boxkit import Box, copy_app, engine_box, esb, processes_under, running_box
from esb.box.processes import pid_alive

pytestmark = pytest.mark.integration

TRACE = "Root=1-5f84c7a9-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture(scope="module", params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    """The same end-to-end cases on both engines (docker: one container per sandbox, images built locally)."""
    with engine_box("e2e", request.param, tmp_path_factory.mktemp(f"e2e-{request.param}")) as running:
        yield running


def _json(answer) -> dict:
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_v1_event_fields(box: Box) -> None:
    answer = box.client.post(
        "/echo/alice?x=1&x=2&y=3", content=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "X-Custom": "v"},
    )
    data = _json(answer)
    event = data["event"]
    assert event["resource"] == "/echo/{name}"
    assert event["path"] == "/echo/alice"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"name": "alice"}
    assert event["queryStringParameters"]["y"] == "3"
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["headers"]["X-Custom"] == "v"
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "Prod"
    assert event["requestContext"]["resourcePath"] == "/echo/{name}"
    assert data["layer"] == "from-layer"
    assert data["stage"] == "test"
    assert re.fullmatch(r"[0-9a-f-]{36}", data["request_id"])


def test_v1_binary_body_is_base64_and_empty_body_is_null(box: Box) -> None:
    raw = bytes(range(200, 256))
    event = _json(box.client.put("/echo/bin", content=raw, headers={"Content-Type": "application/octet-stream"}))["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert _json(box.client.get("/echo/empty"))["event"]["body"] is None


def test_v2_event_fields(box: Box) -> None:
    answer = box.client.get("/v2/echo/bob?a=1&b=2", headers={"Cookie": "c1=x; c2=y", "X-Thing": "T"})
    event = _json(answer)["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /v2/echo/{name}"
    assert event["rawPath"] == "/v2/echo/bob"
    assert event["rawQueryString"] == "a=1&b=2"
    assert event["cookies"] == ["c1=x", "c2=y"]
    assert event["headers"]["x-thing"] == "T"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["pathParameters"] == {"name": "bob"}


def test_greedy_proxy_route(box: Box) -> None:
    event = _json(box.client.get("/files/a/b/c.txt"))["event"]
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["resource"] == "/files/{proxy+}"


def test_response_mapping(box: Box) -> None:
    text = box.client.get("/respond/text")
    assert text.status_code == 200 and text.text == '"quoted" text'
    binary = box.client.get("/respond/binary")
    assert binary.content == bytes(range(256))
    multi = box.client.get("/respond/multi")
    assert multi.status_code == 201
    assert multi.headers["x-one"] == "1"
    assert multi.headers.get_list("x-many") == ["a", "b"] or multi.headers["x-many"] == "a, b"
    cookies = box.client.get("/v2/respond/cookies")
    assert sorted(cookies.headers.get_list("set-cookie")) == ["a=1; Path=/", "b=2; Path=/"]
    simple = box.client.get("/v2/respond/simple")
    assert simple.status_code == 200 and simple.json() == {"simple": True, "n": 1}


def test_error_statuses(box: Box) -> None:
    assert box.client.get("/respond/error").status_code == 502
    assert box.client.get("/respond/error").json() == {"message": "Internal server error"}
    assert box.client.get("/respond/malformed").status_code == 502
    # The app has a REST API: unknown paths and methods get its 403 Missing Authentication Token.
    assert box.client.get("/nowhere").status_code == 403
    assert box.client.get("/nowhere").json() == {"message": "Missing Authentication Token"}
    assert box.client.delete("/respond/text").status_code == 403
    big = b"x" * 6_291_557
    assert box.client.post("/echo/big", content=big).status_code == 413


def test_api_gateway_conformance_cases(box: Box) -> None:
    for headers in ({"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, {}):
        preflight = box.client.options("/echo/x", headers=headers)  # a browser's preflight and a bare OPTIONS
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
        assert preflight.headers["access-control-allow-methods"] == "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    simple = box.client.get("/echo/x", headers={"Origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
    event = _json(simple)["event"]
    assert event["stageVariables"] == {"Tier": "e2e"}
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    v1 = _json(box.client.get("/v1http/echo/y"))["event"]
    assert v1["version"] == "1.0" and v1["pathParameters"] == {"name": "y"}
    no_status = box.client.get("/respond/nostatus")
    assert (no_status.status_code, no_status.text) == (200, "x")
    number = box.client.get("/respond/intbody")
    assert (number.status_code, number.text) == (200, "42")


def test_function_timeout_is_502_and_next_call_works(box: Box) -> None:
    # Timeout: 1, sleeps 3 s. Within API Gateway's 29 s integration timeout a function timeout is 502.
    answer = box.client.get("/slow")
    assert (answer.status_code, answer.json()) == (502, {"message": "Internal server error"})
    assert box.client.get("/echo/after").status_code == 200


def test_crash_is_502_then_recovers(box: Box) -> None:
    assert box.client.get("/respond/crash").status_code == 502
    assert box.client.get("/respond/text").status_code == 200


def test_auth_required_and_token_accepted(box: Box) -> None:
    assert box.client.get("/secure").status_code == 401
    assert box.client.get("/secure", headers={"Authorization": "Bearer nope"}).status_code == 401
    token = box.token()
    answer = box.client.get("/secure", headers={"Authorization": f"Bearer {token}"})
    event = _json(answer)["event"]
    assert event["requestContext"]["authorizer"]["claims"]["cognito:username"] == box.status["auth"]["username"]


def test_auth_endpoint_error_matrix(box: Box) -> None:
    auth = box.status["auth"]
    path = auth["auth_path"]
    good = {"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": auth["password"]}}
    bad_password = {"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": "wrong"}}
    assert box.client.post(path, json=good).status_code == 401  # no api key
    assert box.client.post(path, json=good, headers={"x-api-key": "wrong"}).status_code == 401
    denied = box.client.post(path, json=bad_password, headers={"x-api-key": auth["api_key"]})
    assert denied.status_code == 401
    assert denied.headers["PADMA_USER_AUTHORIZED"] == "true"
    assert box.client.post(path, content=b"{", headers={"x-api-key": auth["api_key"]}).status_code == 400


def test_trace_id_reaches_handler_and_is_echoed(box: Box) -> None:
    answer = box.client.get("/echo/trace", headers={"X-Amzn-Trace-Id": TRACE})
    assert answer.headers["x-amzn-trace-id"].startswith("Root=1-5f84c7a9-0123456789abcdef01234567")
    assert "Root=1-5f84c7a9-0123456789abcdef01234567" in _json(answer)["trace"]
    assert answer.headers["x-amzn-requestid"]
    generated = box.client.get("/echo/plain").headers["x-amzn-trace-id"]
    assert re.match(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", generated)


def test_function_calls_another_through_boto3(box: Box) -> None:
    answer = box.client.post("/call", headers={"X-Amzn-Trace-Id": TRACE})
    data = _json(answer)
    assert data["sync_status"] == 200
    assert data["event_status"] == 202
    assert data["callee"]["event"]["pathParameters"] == {"name": "chained"}
    assert "0123456789abcdef01234567" in data["my_trace"]
    assert "0123456789abcdef01234567" in (data["callee"]["trace"] or "")


def test_invoke_api_with_boto3(box: Box) -> None:
    client = box.boto3("lambda")
    result = client.invoke(FunctionName="e2e-echo", Payload=b'{"pathParameters": {"name": "direct"}}', LogType="Tail")
    assert result["StatusCode"] == 200
    assert result["ExecutedVersion"] == "$LATEST"
    body = json.loads(json.loads(result["Payload"].read())["body"])
    assert body["event"]["pathParameters"] == {"name": "direct"}
    assert "echo called" in base64.b64decode(result["LogResult"]).decode()
    failed = client.invoke(FunctionName="e2e-responses", Payload=b'{"pathParameters": {"kind": "error"}}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"
    assert client.invoke(FunctionName="e2e-echo", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert client.invoke(FunctionName="e2e-echo", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.invoke(FunctionName="nope", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invoke_api_rejects_unsigned(box: Box) -> None:
    answer = box.client.post("/2015-03-31/functions/e2e-echo/invocations", content=b"{}")
    assert answer.status_code == 403


def test_stores_through_handlers(box: Box) -> None:
    def op(name: str, payload: dict) -> object:
        answer = box.client.post(f"/store/{name}", json=payload)
        assert answer.status_code == 200, answer.text
        return answer.json()

    op("put", {"item": {"pk": "p1", "sk": "a", "owner": "ann"}, "key": "docs/one.txt", "body": "one"})
    op("put", {"item": {"pk": "p1", "sk": "b", "owner": "ann"}, "key": "docs/two.txt", "body": "two"})
    got = op("get", {"key": {"pk": "p1", "sk": "a"}, "object": "docs/one.txt"})
    assert got["item"]["owner"] == "ann"
    assert got["object"] == "one" and got["content_type"] == "text/plain" and got["meta"] == {"owner": "ann"}
    assert op("update", {"key": {"pk": "p1", "sk": "a"}, "color": "red"})["color"] == "red"
    assert op("query", {"owner": "ann"}) == ["a", "b"]
    assert op("list", {"prefix": "docs/"}) == ["docs/one.txt", "docs/two.txt"]
    op("delete", {"key": {"pk": "p1", "sk": "b"}, "object": "docs/two.txt"})
    assert op("list", {"prefix": "docs/"}) == ["docs/one.txt"]


def test_status_lists_routes_functions_and_sandboxes(box: Box) -> None:
    assert box.client.get("/echo/warm").status_code == 200
    status = box.refresh()
    names = {fn["name"] for fn in status["functions"]}
    assert {"e2e-echo", "e2e-slow", "e2e-caller"} <= names
    assert {"method": "GET", "path": "/slow", "function": "e2e-slow"}.items() <= next(
        r for r in status["routes"] if r["path"] == "/slow").items()
    assert any(fn["sandboxes"] >= 1 for fn in status["functions"] if fn["name"] == "e2e-echo")
    assert status["stores"]["s3_endpoint"].startswith("http://127.0.0.1:")
    assert "e2e-items-test" in status["stores"]["tables"]
    assert "e2e-files-test" in status["stores"]["buckets"]


def test_down_leaves_no_process(tmp_path: Path) -> None:
    project = copy_app("sample", tmp_path)
    with running_box(project) as box:
        assert box.client.get("/hello").status_code == 200
        pids = [proc["pid"] for proc in box.refresh()["processes"]]
        sandboxes = box.status["sandboxes"]
        assert len(pids) == 3 and sandboxes
        assert processes_under(project / ".esb")  # the sandbox runs in its staged code dir
    assert not any(pid_alive(pid) for pid in pids)
    assert processes_under(project) == []
    assert esb(project, "down") == 3  # nothing left to stop: "no box running"


def test_logs_by_trace_find_gateway_caller_and_callee(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    trace = "Root=1-6a000000-fedcba9876543210fedcba98;Sampled=1"
    assert box.client.post("/call", headers={"X-Amzn-Trace-Id": trace}).status_code == 200
    deadline = time.monotonic() + 10
    seen: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        capsys.readouterr()
        assert esb(box.project, "logs", "--trace", "1-6a000000-fedcba9876543210fedcba98", "--json") == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        seen = {(r.get("source"), r.get("function")) for r in records}
        if {("gateway", "e2e-caller"), ("sandbox", "e2e-caller"), ("sandbox", "e2e-echo")} <= seen:
            break
        time.sleep(0.3)
    assert ("gateway", "e2e-caller") in seen
    assert ("sandbox", "e2e-caller") in seen
    assert ("sandbox", "e2e-echo") in seen


def test_second_up_reports_the_running_box_and_leaves_it_alone(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_app("sample", tmp_path)
    with running_box(project) as box:
        pids = [proc["pid"] for proc in box.refresh()["processes"]]
        capsys.readouterr()
        assert esb(project, "up", "--engine", "process") == 0  # foreground form: returns at once
        assert "box already running" in capsys.readouterr().out
        assert all(pid_alive(pid) for pid in pids)
        assert box.client.get("/hello").status_code == 200
