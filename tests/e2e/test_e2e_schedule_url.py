"""End to end: `esb up -d` on fixtures/schedule_url — function URLs over HTTPS and Schedule events firing."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from boxkit import Box, copy_app, esb, running_box

pytestmark = pytest.mark.integration

# Schedule time 60x the wall clock: cron(* * * * ? *) and rate(1 minute) fire about every second
# (when `esb up` hands ESB_SCHEDULE_SCALE to the manager; otherwise the cron one still fires within a minute).
SCALE = {"ESB_SCHEDULE_SCALE": "60"}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("schedule_url", tmp_path_factory.mktemp("schedule_url"))
    with running_box(project, env=SCALE) as running:
        yield running


def _port(box: Box) -> str:
    return box.url.rsplit(":", 1)[1]


def _signed(box: Box, method: str, path: str, body: bytes, secret: str | None = None) -> dict[str, str]:
    aws = box.status["aws"]
    host = f"127.0.0.1:{_port(box)}"
    request = AWSRequest(method=method, url=f"https://{host}{path}", data=body)
    creds = BotoCredentials(aws["access_key_id"], secret or aws["secret_access_key"])
    SigV4Auth(creds, "lambda", aws["region"]).add_auth(request)
    return dict(request.headers.items())


def test_status_lists_function_urls(box: Box) -> None:
    urls = {u["function"]: u for u in box.status["function_urls"]}
    assert set(urls) == {"su-open", "su-iam"}
    assert urls["su-open"]["auth_type"] == "NONE" and urls["su-iam"]["auth_type"] == "AWS_IAM"
    assert urls["su-open"]["url"] == f"{box.url}/lambda-url/su-open/"


def test_open_url_answers_over_https(box: Box) -> None:
    answer = box.client.post("/lambda-url/su-open/some/path?a=1", content=b'{"x": 1}',
                             headers={"Content-Type": "application/json", "Origin": "https://app.example"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    event = answer.json()["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "a=1"
    assert event["body"] == '{"x": 1}'
    assert event["requestContext"]["domainPrefix"] == "su-open"
    assert event["requestContext"]["http"]["method"] == "POST"


def test_url_by_host_header(box: Box) -> None:
    answer = box.client.get("/health", headers={"Host": f"su-open.lambda-url.localhost:{_port(box)}"})
    assert answer.status_code == 200, answer.text
    event = answer.json()["event"]
    assert event["rawPath"] == "/health"
    assert event["requestContext"]["domainName"] == "su-open.lambda-url.localhost"


def test_aws_iam_url_rejects_unsigned_and_accepts_signed(box: Box) -> None:
    unsigned = box.client.post("/lambda-url/su-iam/run", content=b"{}")
    assert unsigned.status_code == 403 and unsigned.json() == {"Message": "Forbidden"}
    wrong = box.client.post("/lambda-url/su-iam/run", content=b"{}",
                            headers=_signed(box, "POST", "/lambda-url/su-iam/run", b"{}", secret="nope"))
    assert wrong.status_code == 403
    answer = box.client.post("/lambda-url/su-iam/run", content=b"{}",
                             headers=_signed(box, "POST", "/lambda-url/su-iam/run", b"{}"))
    assert answer.status_code == 200, answer.text
    context = answer.json()["event"]["requestContext"]
    assert context["authorizer"]["iam"]["accessKey"] == box.status["aws"]["access_key_id"]


def _records(box: Box, capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert esb(box.project, "logs", *argv, "--json") == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_schedules_fire_through_the_manager(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    wanted = {"TICK-MARKER Scheduled Event", "TICK-MARKER from-input"}
    seen: set[str] = set()
    deadline = time.monotonic() + 90  # scaled: about a second; unscaled: rate(1 minute) after the box started
    while time.monotonic() < deadline and not wanted <= seen:
        seen = {r["message"] for r in _records(box, capsys, "su-tick", "--grep", "TICK-MARKER")}
        time.sleep(0.5)
    assert wanted <= seen
    assert "TICK-MARKER disabled-schedule" not in seen
    event = next(r for r in _records(box, capsys, "su-tick", "--grep", "TICK-MARKER Scheduled")
                 if isinstance(r.get("event"), dict))["event"]
    assert event["source"] == "aws.events" and event["detail"] == {}
    assert event["resources"] == [f"arn:aws:events:{box.status['aws']['region']}:{event['account']}"
                                  f":rule/su-tick-EveryMinute"]
    fired = _records(box, capsys, "su-tick", "--grep", "schedule EveryMinute fired")
    assert any(r["source"] == "manager" and r.get("schedule") == "EveryMinute" for r in fired)


def test_unknown_function_url_is_not_found(box: Box) -> None:
    assert box.client.get("/lambda-url/su-tick/").status_code == 404
