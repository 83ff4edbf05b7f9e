"""Acknowledged traffic (SQS sends and deletes, SNS publishes, EventBridge events, Kinesis records, log events)
survives kill -9 of a real stores process and compactions, at least once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from test_stores import Stores, wait_for_snapshot_after

pytestmark = pytest.mark.integration
_ACCOUNT = "000000000000"  # the box's account (StoresSettings.account_id)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Stores]:
    # Small compaction thresholds: snapshots are taken while traffic goes on.
    stores = Stores(tmp_path / ".esb", interval=0.2, ESB_STORES_COMPACT_RECORDS="8")
    stores.start()
    yield stores
    stores.stop(signal.SIGKILL)


def _restart(box: Stores) -> None:
    box.stop(signal.SIGKILL)
    box.start()


def _drain(sqs, url: str, delete: bool = True) -> dict[str, dict]:
    """Every visible message by id (attributes included), deleting them unless told not to."""
    found: dict[str, dict] = {}
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                  AttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
        if not got:
            return found
        for message in got:
            found[message["MessageId"]] = message
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_sent_messages_survive_kill_and_deleted_ones_stay_gone(box: Stores) -> None:
    sqs = box.client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"m{i}",
                             MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)},
                                                "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})["MessageId"]
            for i in range(6)]
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"b{i}"} for i in range(3)])
    sent += [entry["MessageId"] for entry in batch["Successful"]]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=300)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])  # the other stays in flight
    wait_for_snapshot_after(box, 0)
    _restart(box)
    sqs = box.client("sqs")
    back = _drain(sqs, url, delete=False)
    # In flight before the crash: delivered again, with the same id and the receive it already had.
    assert set(back) == set(sent) - {received[0]["MessageId"]}
    assert back[received[1]["MessageId"]]["Attributes"]["ApproximateReceiveCount"] == "2"
    first = back[sent[0]] if sent[0] in back else back[sent[1]]
    assert first["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xff"
    assert first["MessageAttributes"]["n"]["StringValue"] in ("0", "1")
    for message in back.values():
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    _restart(box)
    assert _drain(box.client("sqs"), url) == {}
    _restart(box)  # a second generation carries nothing twice
    assert _drain(box.client("sqs"), url) == {}


def test_publishes_and_events_in_delivery_queues_survive_kill(box: Stores) -> None:
    sqs, sns, events = box.client("sqs"), box.client("sns"), box.client("events")
    url = sqs.create_queue(QueueName="deliveries")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{_ACCOUNT}:deliveries"
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": arn}])
    for i in range(5):
        sns.publish(TopicArn=topic, Message=f"alert {i}")
    events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"n": i})}
                               for i in range(4)])
    _restart(box)
    bodies = [m["Body"] for m in _drain(box.client("sqs"), url).values()]
    assert sorted(b for b in bodies if b.startswith("alert")) == [f"alert {i}" for i in range(5)]
    assert sorted(json.loads(b)["detail"]["n"] for b in bodies if b.startswith("{")) == [0, 1, 2, 3]
    _restart(box)
    assert _drain(box.client("sqs"), url) == {}


def test_receive_counts_survive_so_redrive_still_moves_to_the_dlq(box: Stores) -> None:
    sqs = box.client("sqs")
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    policy = {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{_ACCOUNT}:dead", "maxReceiveCount": 2}
    url = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(policy)})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    _restart(box)
    sqs = box.client("sqs")
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]  # second receive
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the third is redriven
    _restart(box)
    assert [m["Body"] for m in _drain(box.client("sqs"), dlq).values()] == ["poison"]
    assert _drain(box.client("sqs"), url) == {}


def test_kinesis_records_and_log_events_survive_kill_and_compaction(box: Stores) -> None:
    kinesis, logs = box.client("kinesis"), box.client("logs")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    put = [kinesis.put_record(StreamName="clicks", Data=f"r{i}".encode(), PartitionKey="k") for i in range(4)]
    put += kinesis.put_records(StreamName="clicks", Records=[{"Data": b"r4", "PartitionKey": "k"}])["Records"]
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app", logStreamName="s",
                        logEvents=[{"timestamp": now, "message": "hello"}, {"timestamp": now, "message": "again"}])
    wait_for_snapshot_after(box, 0)
    for generation in range(2):
        _restart(box)
        kinesis = box.client("kinesis")
        shard = kinesis.list_shards(StreamName="clicks")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator)["Records"]
        assert [r["Data"] for r in records] == [f"r{i}".encode() for i in range(5)], generation
        assert [r["SequenceNumber"] for r in records] == [p["SequenceNumber"] for p in put]
        got = box.client("logs").get_log_events(logGroupName="/app", logStreamName="s")["events"]
        assert [e["message"] for e in got] == ["hello", "again"]
