"""Lambda's asynchronous semantics and the stream retry rules, with a fake invoke and fake store clients."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from esb_runtime.config import EventSource
from esb_runtime.sources.asynchronous import AsyncInvoker, Destinations
from esb_runtime.sources.invoking import Caller, SourceStats
from esb_runtime.sources.streams import StreamPoller


@dataclass
class Result:
    outcome: str
    body: bytes
    request_id: str = "r-1"


class FakeFunction:
    """Fails the first `failures` calls (or every call whose batch holds a record marked bad)."""

    def __init__(self, failures: int = 0, bad: str | None = None) -> None:
        self.failures, self.bad, self.calls = failures, bad, []

    def __call__(self, name: str, payload: bytes, *, trace_id: str | None = None) -> Result:
        self.calls.append((name, json.loads(payload), trace_id))
        if len(self.calls) <= self.failures or (self.bad and self.bad.encode() in payload):
            return Result("error", b'{"errorType": "RuntimeError", "errorMessage": "boom"}')
        return Result("ok", b'{"fine": true}')


class FakeClients:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def __call__(self, service: str) -> Any:
        clients = self

        class Client:
            def __getattr__(self, op: str) -> Any:
                return lambda **kw: clients.sent.append((service, op, kw)) or {}
        return Client()


def _invoker(function: FakeFunction, clients: FakeClients, records: list) -> AsyncInvoker:
    caller = Caller(function, records.append)
    return AsyncInvoker(caller, Destinations(clients, caller), lambda f: f"arn:aws:lambda:us-east-1:0:function:{f}",
                        sleep=lambda s: None)


def _source(**async_config: Any) -> EventSource:
    return EventSource("fn", "Ev", "SNS", "arn:aws:sns:us-east-1:0:t", async_config=json.dumps(async_config))


def test_two_retries_then_on_failure_destination_with_the_invocation_record() -> None:
    function, clients, logs, stats = FakeFunction(failures=5), FakeClients(), [], SourceStats()
    source = _source(EventInvokeConfig={"DestinationConfig": {
        "OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:us-east-1:0:failed"}}})
    assert _invoker(function, clients, logs).deliver(source, {"k": 1}, stats, origin="t") is False
    assert len(function.calls) == 3 and len({trace for _, _, trace in function.calls}) == 1  # one trace id
    service, op, kw = clients.sent[0]
    record = json.loads(kw["MessageBody"])
    assert (service, op, kw["QueueUrl"]) == ("sqs", "send_message", "https://sqs.us-east-1.amazonaws.com/0/failed")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"k": 1} and record["responseContext"]["functionError"] == "Unhandled"
    assert (stats.failed, stats.delivered, stats.dead_lettered) == (3, 0, 1)
    assert all(r["trace_id"] for r in logs) and len(logs) == 3


def test_success_after_a_retry_goes_to_on_success() -> None:
    function, clients, stats = FakeFunction(failures=1), FakeClients(), SourceStats()
    source = _source(EventInvokeConfig={"DestinationConfig": {
        "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:0:done"}}})
    assert _invoker(function, clients, []).deliver(source, {}, stats, origin="t") is True
    service, op, kw = clients.sent[0]
    assert (service, op) == ("sns", "publish")
    assert json.loads(kw["Message"])["requestContext"]["condition"] == "Success"
    assert (stats.failed, stats.delivered, stats.dead_lettered) == (1, 1, 0)


def test_dead_letter_queue_gets_the_event_itself_and_retries_can_be_zero() -> None:
    function, clients, stats = FakeFunction(failures=9), FakeClients(), SourceStats()
    source = _source(EventInvokeConfig={"MaximumRetryAttempts": 0},
                     DeadLetterQueue={"Type": "SQS", "TargetArn": "arn:aws:sqs:us-east-1:0:dlq"})
    _invoker(function, clients, []).deliver(source, {"e": 1}, stats, origin="t")
    assert len(function.calls) == 1
    _, _, kw = clients.sent[0]
    assert json.loads(kw["MessageBody"]) == {"e": 1}
    assert kw["MessageAttributes"]["ErrorMessage"]["StringValue"] == "boom"


class FakeStream:
    """A Kinesis API over one shard holding `records`."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records

    def __call__(self, service: str) -> Any:
        stream = self

        class Api:
            def describe_stream(self, **kw: Any) -> dict:
                return {"StreamDescription": {"Shards": [{"ShardId": "shardId-0"}]}}

            def get_shard_iterator(self, **kw: Any) -> dict:
                return {"ShardIterator": "0"}

            def get_records(self, ShardIterator: str, Limit: int) -> dict:
                start = int(ShardIterator)
                return {"Records": stream.records[start:start + Limit], "NextShardIterator": str(start + Limit)}
        return Api()


def _kinesis(**options: Any) -> EventSource:
    return EventSource("fn", "K", "Kinesis", "arn:aws:kinesis:us-east-1:0:stream/s",
                       options=json.dumps({"StartingPosition": "TRIM_HORIZON", **options}))


def _records(n: int) -> list[dict]:
    return [{"SequenceNumber": str(i), "PartitionKey": "p", "Data": f"r{i}".encode()} for i in range(n)]


def test_bisect_isolates_the_bad_record_and_on_failure_names_its_batch() -> None:
    function, clients, stats = FakeFunction(bad="cjI="), FakeClients(), SourceStats()  # base64 of b"r2"
    caller = Caller(function, lambda r: None)
    poller = StreamPoller(_kinesis(BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                                   DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:0:f"}}),
                          FakeStream(_records(4)), caller, Destinations(clients, caller), "us-east-1", "0", stats,
                          sleep=lambda s: None)
    assert poller.poll_once() == 4
    assert stats.delivered == 3 and stats.dead_lettered == 1
    record = json.loads(clients.sent[0][2]["MessageBody"])
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == "2" and record["KinesisBatchInfo"]["batchSize"] == 1


def test_stream_retries_until_the_limit_in_order() -> None:
    function, clients, stats = FakeFunction(failures=2), FakeClients(), SourceStats()
    caller = Caller(function, lambda r: None)
    poller = StreamPoller(_kinesis(BatchSize=10, MaximumRetryAttempts=5), FakeStream(_records(3)), caller,
                          Destinations(clients, caller), "us-east-1", "0", stats, sleep=lambda s: None)
    poller.poll_once()
    assert len(function.calls) == 3 and stats.delivered == 3 and stats.failed == 6
    assert [r["kinesis"]["sequenceNumber"] for r in function.calls[-1][1]["Records"]] == ["0", "1", "2"]
