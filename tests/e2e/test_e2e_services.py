"""End to end on the process engine: a handler's AWS SDK reaches only the box, for every service."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from boxkit import Box, copy_app, running_box

pytestmark = pytest.mark.integration

SERVICES = ["s3", "dynamodb", "dynamodbstreams", "sqs", "sns", "events", "logs", "ssm", "secretsmanager", "kinesis",
            "textract", "rekognition", "sts"]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("events", tmp_path_factory.mktemp("services"))
    with running_box(project) as running:
        yield running


def invoke(box: Box, function: str, payload: dict) -> dict:
    answer = box.boto3("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def test_every_service_resolves_to_the_box(box: Box) -> None:
    got = invoke(box, "events-probe", {"services": [*SERVICES, "lambda"]})["endpoints"]
    stores = box.status["stores"]["s3_endpoint"]
    assert {name: got[name] for name in SERVICES} == {name: stores for name in SERVICES}
    assert got["lambda"] == box.status["aws"]["lambda_endpoint"]
    assert not any("amazonaws.com" in url for url in got.values())


def test_a_service_the_box_lacks_fails_at_once_with_the_local_error(box: Box) -> None:
    error = invoke(box, "events-probe", {"unsupported": "textract"})["error"]
    assert error["code"] == "UnsupportedService"
    assert error["message"].startswith("textract is not emulated by this box")
    assert error["retries"] == 0  # a fast, final answer: no SDK retry, no connect timeout
