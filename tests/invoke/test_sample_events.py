"""`esb generate-event`: the shapes of AWS's documented sample events, their options, the CLI in-process."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from esb.cli import main
from esb.errors import ConfigError
from esb.invoke.sample_events import SAMPLES, generate


def _event(service: str, event: str, **values: str) -> dict:
    return json.loads(generate(service, event, {k.replace("_", "-"): v for k, v in values.items()}))


def test_rest_proxy_event_has_the_payload_1_0_shape() -> None:
    event = _event("apigateway", "aws-proxy", path="/items/7", method="put", body='{"a": 1}', query="x=1&x=2")
    assert set(event) == {"body", "resource", "path", "httpMethod", "isBase64Encoded", "queryStringParameters",
                          "multiValueQueryStringParameters", "pathParameters", "stageVariables", "headers",
                          "multiValueHeaders", "requestContext"}
    assert (event["path"], event["httpMethod"], event["body"], event["isBase64Encoded"]) == \
        ("/items/7", "PUT", '{"a": 1}', False)
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["requestContext"]["path"] == "/prod/items/7"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_base64_body_option() -> None:
    event = _event("apigateway", "aws-proxy", body="hi", base64="true")
    assert (base64.b64decode(event["body"]), event["isBase64Encoded"]) == (b"hi", True)


def test_http_api_event_has_the_payload_2_0_shape() -> None:
    event = _event("apigateway", "http-api", path="/p", method="get", query="a=1&a=2", body="")
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == \
        ("2.0", "$default", "/p", "a=1&a=2")
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "body" not in event and event["isBase64Encoded"] is False


def test_s3_put_names_bucket_and_url_encoded_key() -> None:
    record = _event("s3", "put", bucket="photos", key="in box/a+b.png", region="eu-west-1")["Records"][0]
    assert (record["eventSource"], record["eventName"], record["awsRegion"]) == \
        ("aws:s3", "ObjectCreated:Put", "eu-west-1")
    assert record["s3"]["bucket"] == {"name": "photos", "ownerIdentity": {"principalId": "EXAMPLE"},
                                      "arn": "arn:aws:s3:::photos"}
    assert record["s3"]["object"]["key"] == "in+box/a%2Bb.png"
    assert record["s3"]["object"]["size"] == 1024


def test_s3_size_must_be_a_number() -> None:
    with pytest.raises(ConfigError, match="--size"):
        _event("s3", "put", size="big")


def test_sqs_message_carries_its_body_checksum_and_queue() -> None:
    record = _event("sqs", "receive-message", body="hello", queue="jobs", account_id="111122223333")["Records"][0]
    assert record["body"] == "hello"
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:111122223333:jobs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_dynamodb_update_is_insert_modify_remove() -> None:
    records = _event("dynamodb", "update", table="Orders")["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert "OldImage" not in records[0]["dynamodb"] and "NewImage" not in records[2]["dynamodb"]
    assert records[1]["dynamodb"]["OldImage"] == records[0]["dynamodb"]["NewImage"]
    assert all(":table/Orders/stream/" in r["eventSourceARN"] for r in records)


def test_scheduled_event_under_both_names() -> None:
    event = _event("eventbridge", "scheduled-event", rule="nightly")
    assert (event["detail-type"], event["source"], event["detail"]) == ("Scheduled Event", "aws.events", {})
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/nightly"]
    assert _event("cloudwatch", "scheduled-event", rule="nightly") == event


def test_every_sample_is_valid_json_with_defaults() -> None:
    for sample in SAMPLES:
        assert isinstance(json.loads(generate(sample.service, sample.event)), dict)


def test_cli_prints_the_event_on_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-event", "s3", "put", "--bucket", "cli-bucket", "--key", "k"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["Records"][0]["s3"]["bucket"]["name"] == "cli-bucket"
    assert err == ""


def test_cli_unknown_event_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-event", "sqs", "send"]) == 2
    assert "invalid choice: 'send'" in capsys.readouterr().err
