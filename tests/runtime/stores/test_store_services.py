"""The stores answer the services the box emulates, and a local UnsupportedService error for every other one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from esb_runtime.stores.services import EMULATED, error_answer
from test_stores import Stores, wait_for_snapshot_after

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    stores = Stores(tmp_path_factory.mktemp("services") / ".esb")
    stores.start()
    yield stores
    stores.stop()


def _client(box: Stores, service: str):
    # Default retry settings, as a handler has them: a retryable answer would show in RetryAttempts.
    return boto3.client(service, endpoint_url=box.endpoint, region_name="us-east-1",
                        aws_access_key_id=box.secrets.aws_access_key_id,
                        aws_secret_access_key=box.secrets.aws_secret_access_key)


@pytest.mark.parametrize(("service", "call"), [
    ("textract", lambda c: c.detect_document_text(Document={"Bytes": b"x"})),  # json
    ("polly", lambda c: c.list_lexicons()),  # rest-json
    ("route53", lambda c: c.list_hosted_zones()),  # rest-xml
    ("sts", lambda c: c.get_caller_identity()),  # query
    ("ec2", lambda c: c.describe_vpcs()),  # ec2
    ("cognito-idp", lambda c: c.list_user_pools(MaxResults=1)),  # json, moto implements it: still refused
])
def test_service_outside_the_box_fails_at_once_with_the_local_error(box: Stores, service: str, call) -> None:
    with pytest.raises(ClientError) as caught:
        call(_client(box, service))
    error = caught.value.response["Error"]
    assert error["Code"] == "UnsupportedService"
    signing = _client(box, service).meta.service_model.signing_name
    assert error["Message"].startswith(f"{signing} is not emulated by this box")
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0


def test_error_shape_without_a_botocore_model_follows_the_request() -> None:
    headers, body = error_answer("query", "mystery")
    assert b"<Code>UnsupportedService</Code>" in body and ("Content-Type", "text/xml") in headers
    headers, body = error_answer("json", "mystery")
    assert json.loads(body)["__type"] == "UnsupportedService"


def test_emulated_services_answer(box: Stores) -> None:
    assert {"sqs", "sns", "events", "logs", "ssm", "secretsmanager", "kinesis"} <= EMULATED
    sqs = _client(box, "sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == "arn:aws:sqs:us-east-1:000000000000:jobs"  # the account every ARN of the box uses
    # The URL AWS gives (what `Ref` of a queue resolves to) reaches the same local queue.
    sqs.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/000000000000/jobs", MessageBody="hi")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hi"
    assert _client(box, "sns").create_topic(Name="news")["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:news"
    _client(box, "ssm").put_parameter(Name="/app/mode", Value="edge", Type="String")
    assert _client(box, "ssm").get_parameter(Name="/app/mode")["Parameter"]["Value"] == "edge"
    secrets = _client(box, "secretsmanager")
    secrets.create_secret(Name="db", SecretString="s3cret")
    assert secrets.get_secret_value(SecretId="db")["SecretString"] == "s3cret"


def test_health_lists_the_emulated_services(box: Stores, tmp_path: Path) -> None:
    import httpx

    assert httpx.get(box.endpoint + "/_esb/health").json()["services"] == sorted(EMULATED)


def _configure(box: Stores) -> None:
    sqs = _client(box, "sqs")
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "7"})
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"MessageRetentionPeriod": "600"})
    topic = _client(box, "sns").create_topic(Name="alerts")["TopicArn"]
    _client(box, "sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:dead")
    events = _client(box, "events")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:000000000000:dead"}])
    _client(box, "logs").create_log_group(logGroupName="/app/audit")
    _client(box, "ssm").put_parameter(Name="/app/limit", Value="5", Type="String")
    _client(box, "ssm").put_parameter(Name="/app/limit", Value="6", Type="String", Overwrite=True)
    _client(box, "secretsmanager").create_secret(Name="api-key", SecretString="k-1")
    _client(box, "kinesis").create_stream(StreamName="clicks", ShardCount=1)
    sqs.send_message(QueueUrl=dlq, MessageBody="a queued message")


def _configuration(box: Stores) -> dict:
    sqs = _client(box, "sqs")
    queues = sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", []))
    fifo = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="work.fifo")["QueueUrl"],
                                    AttributeNames=["VisibilityTimeout", "FifoQueue"])["Attributes"]
    subs = _client(box, "sns").list_subscriptions()["Subscriptions"]
    targets = _client(box, "events").list_targets_by_rule(Rule="orders")["Targets"]
    return {
        "queues": queues, "fifo": fifo,
        "subscriptions": [(s["TopicArn"], s["Endpoint"]) for s in subs],
        "targets": [t["Arn"] for t in targets],
        "groups": [g["logGroupName"] for g in _client(box, "logs").describe_log_groups()["logGroups"]],
        "parameter": _client(box, "ssm").get_parameter(Name="/app/limit")["Parameter"]["Value"],
        "secret": _client(box, "secretsmanager").get_secret_value(SecretId="api-key")["SecretString"],
        "streams": _client(box, "kinesis").list_streams()["StreamNames"],
    }


def test_configuration_survives_restart_and_compaction(tmp_path: Path) -> None:
    box = Stores(tmp_path / ".esb", interval=0.2, ESB_STORES_COMPACT_RECORDS="5")
    box.start()
    try:
        _configure(box)
        before = _configuration(box)
        assert before["parameter"] == "6" and before["fifo"]["VisibilityTimeout"] == "7"
        wait_for_snapshot_after(box, 0)  # the kept records now live in the snapshot, not the journal
        from esb_runtime.stores.snapshot import PENDING, current_snapshot

        assert (current_snapshot(box.out / "data") / PENDING).stat().st_size > 0
        box.stop()
        box.start()
        assert _configuration(box) == before
        box.stop()
        box.start()  # a second generation replays the carried records once, not twice
        assert _configuration(box) == before
    finally:
        box.stop()


def test_unsubscribe_holds_across_restarts_and_compactions(tmp_path: Path) -> None:
    box = Stores(tmp_path / ".esb", interval=0.2, ESB_STORES_COMPACT_RECORDS="3")
    box.start()
    try:
        sns = _client(box, "sns")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        arns = [sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:000000000000:q{i}",
                              ReturnSubscriptionArn=True)["SubscriptionArn"] for i in range(3)]
        sns.unsubscribe(SubscriptionArn=arns[0])  # journaled before any restart
        wait_for_snapshot_after(box, 0)
        box.stop()
        box.start()
        # The ARNs a client got before the restart are still the subscriptions' ARNs...
        assert sorted(s["SubscriptionArn"] for s in _client(box, "sns").list_subscriptions()["Subscriptions"]) \
            == sorted(arns[1:])
        _client(box, "sns").unsubscribe(SubscriptionArn=arns[1])  # ... so this one finds its subscription
        for _ in range(2):  # and every later generation replays both unsubscribes
            box.stop()
            box.start()
            subs = _client(box, "sns").list_subscriptions()["Subscriptions"]
            assert [(s["SubscriptionArn"], s["Endpoint"]) for s in subs] == [
                (arns[2], "arn:aws:sqs:us-east-1:000000000000:q2")]
    finally:
        box.stop()


def test_put_log_events_also_land_in_the_box_log_store(box: Stores) -> None:
    from esb_runtime.logs.records import rfc3339
    from esb_runtime.logs.stores import JsonLinesStore, LogQuery

    logs = _client(box, "logs")
    now_ms = int(time.time()) * 1000
    logs.create_log_group(logGroupName="/aws/lambda/audit-fn")
    logs.create_log_stream(logGroupName="/aws/lambda/audit-fn", logStreamName="s1")
    logs.put_log_events(logGroupName="/aws/lambda/audit-fn", logStreamName="s1",
                        logEvents=[{"timestamp": now_ms, "message": "order 42 shipped"}])
    got = list(JsonLinesStore(box.out / "logs").query(LogQuery(function="audit-fn", grep="order 42")))
    assert [(r["message"], r["source"], r["log_stream"], r["time"]) for r in got] == [
        ("order 42 shipped", "cloudwatch-logs", "s1", rfc3339(now_ms / 1000))]
    # moto still holds them: GetLogEvents answers as AWS does.
    events = logs.get_log_events(logGroupName="/aws/lambda/audit-fn", logStreamName="s1")["events"]
    assert [e["message"] for e in events] == ["order 42 shipped"]
