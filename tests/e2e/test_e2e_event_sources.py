"""End to end on the process engine: the events fixture's queue, DLQ, topic, rule, bucket notification, table
stream, Kinesis stream, SSM parameter, secret and log group, each used from a real function (issue 17)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Callable, Iterator

import boto3
import pytest

from boxkit import Box, copy_app, esb, running_box

pytestmark = pytest.mark.integration
WAIT_S = 30  # an upper bound for a delivery to show; a passing run takes well under a second per source


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("events", tmp_path_factory.mktemp("sources"))
    with running_box(project) as running:
        yield running


def client(box: Box, service: str) -> Any:
    aws = box.status["aws"]
    return boto3.client(service, endpoint_url=box.status["stores"]["s3_endpoint"], region_name=aws["region"],
                        aws_access_key_id=aws["access_key_id"], aws_secret_access_key=aws["secret_access_key"])


def probe(box: Box, **payload: Any) -> dict:
    answer = box.boto3("lambda").invoke(FunctionName="events-probe", Payload=json.dumps(payload).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def seen(box: Box, function: str) -> list[dict]:
    items = client(box, "dynamodb").query(
        TableName="events-seen", KeyConditionExpression="pk = :f",
        ExpressionAttributeValues={":f": {"S": function}})["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def wait_for(box: Box, function: str, done: Callable[[list[dict]], bool]) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while True:
        items = seen(box, function)
        if done(items) or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_sqs_batch_failures_are_redelivered_then_dead_lettered(box: Box) -> None:
    probe(box, send=["ok-1", "fail-1"])
    items = wait_for(box, "events-jobs", lambda got: sum(i["body"] == "fail-1" for i in got) >= 2)
    assert [i["receive_count"] for i in items if i["body"] == "ok-1"] == ["1"]
    assert sorted(i["receive_count"] for i in items if i["body"] == "fail-1") == ["1", "2"]
    record = json.loads(items[0]["event"])
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:000000000000:events-jobs"
    assert all(i["trace"].startswith("Root=1-") for i in items)
    sqs = client(box, "sqs")
    dlq = sqs.get_queue_url(QueueName="events-jobs-dlq")["QueueUrl"]
    deadline, bodies = time.monotonic() + WAIT_S, []
    while not bodies and time.monotonic() < deadline:
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])]
    assert bodies == ["fail-1"]  # after maxReceiveCount (2) receives, never a third delivery
    assert sum(i["body"] == "fail-1" for i in seen(box, "events-jobs")) == 2


def test_s3_put_with_matching_suffix_triggers_once(box: Box) -> None:
    probe(box, upload=["in/report.csv", "in/notes.txt"])
    items = wait_for(box, "events-uploads", lambda got: len(got) >= 1)
    time.sleep(1)  # a second (wrong) delivery would have arrived by now
    items = seen(box, "events-uploads")
    assert len(items) == 1
    record = json.loads(items[0]["event"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"] == "in/report.csv"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::events-uploads"


def test_dynamodb_write_reaches_the_stream_function_with_both_images(box: Box) -> None:
    probe(box, order={"id": {"S": "o-1"}, "state": {"S": "new"}})
    probe(box, order={"id": {"S": "o-1"}, "state": {"S": "paid"}})
    items = wait_for(box, "events-orders", lambda got: sum(len(json.loads(i["event"])["Records"]) for i in got) >= 2)
    records = [r for i in sorted(items, key=lambda i: i["sk"]) for r in json.loads(i["event"])["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["state"] == {"S": "new"} and modify["NewImage"]["state"] == {"S": "paid"}
    assert modify["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert records[1]["eventSourceARN"].startswith("arn:aws:dynamodb:us-east-1:000000000000:table/events-orders/stream/")


def test_put_events_matching_the_pattern_triggers_the_rule_target(box: Box) -> None:
    entries = [{"Source": "shop.orders", "DetailType": "OrderShipped", "Detail": json.dumps({"order": "o-9"})},
               {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": "o-8"})}]
    assert probe(box, put_events=entries)["put_events"] == 0
    wait_for(box, "events-rule", lambda got: len(got) >= 1)
    time.sleep(0.5)
    events = [json.loads(i["event"]) for i in seen(box, "events-rule")]
    assert [e["detail"] for e in events] == [{"order": "o-9"}]
    assert events[0]["account"] == "000000000000" and events[0]["detail-type"] == "OrderShipped"


def test_sns_publish_reaches_the_subscribed_function(box: Box) -> None:
    probe(box, publish="hello news")
    items = wait_for(box, "events-news", lambda got: len(got) >= 1)
    record = json.loads(items[0]["event"])["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == "hello news" and record["Sns"]["Subject"] == "hello"
    assert record["Sns"]["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:events-news"
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "greeting"}}


def test_kinesis_record_arrives_base64(box: Box) -> None:
    probe(box, click="button-7")
    items = wait_for(box, "events-clicks", lambda got: len(got) >= 1)
    record = json.loads(items[0]["event"])["Records"][0]
    assert base64.b64decode(record["kinesis"]["data"]) == b"button-7"
    assert record["eventSourceARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/events-clicks"


def test_function_reads_parameter_and_secret(box: Box) -> None:
    got = probe(box, read_config=True)
    assert got["parameter"] == "edge" and got["secret_keys"] == ["password", "user"]


def test_put_log_events_shows_in_esb_logs(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    probe(box, log="audit line 5150")
    capsys.readouterr()
    assert esb(box.project, "logs", "--grep", "audit line 5150", "--json") == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [(r["source"], r["log_group"]) for r in lines] == [("cloudwatch-logs", "/events/audit")]


def test_status_counts_per_source(box: Box) -> None:
    probe(box, send=["ok-status"])
    wait_for(box, "events-jobs", lambda got: any(i["body"] == "ok-status" for i in got))
    time.sleep(2.5)  # the DLQ depth is refreshed every 2 s
    sources = {s["function"]: s for s in box.refresh()["event_sources"]}
    assert set(sources) == {"events-jobs", "events-uploads", "events-orders", "events-clicks", "events-news",
                            "events-rule"}
    assert sources["events-jobs"]["delivered"] >= 2 and sources["events-jobs"]["kind"] == "SQS"
