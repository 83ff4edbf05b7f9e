"""Stream pollers (DynamoDB Streams, Kinesis): per shard, in order, with Lambda's retry and bisect rules."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable

from esb_runtime.config import EventSource
from esb_runtime.sources import shapes
from esb_runtime.sources.asynchronous import Destinations, invocation_record
from esb_runtime.sources.invoking import Caller, Outcome, SourceStats

IDLE_S = 0.1  # between empty reads of a shard (Lambda reads each shard several times a second)


class StreamPoller:
    """Reads every shard from StartingPosition and hands batches of up to BatchSize to the function.

    A failed batch is retried (MaximumRetryAttempts, -1 = until MaximumRecordAgeInSeconds, the default
    keeps trying); BisectBatchOnFunctionError splits it in halves first; ReportBatchItemFailures
    checkpoints before the first reported record. A batch that is given up goes to the OnFailure
    destination (as a record naming the batch) and the shard moves on."""

    def __init__(self, src: EventSource, client: Callable[[str], Any], caller: Caller, destinations: Destinations,
                 region: str, account: str, stats: SourceStats, sleep: Callable[[float], None] = time.sleep) -> None:
        self.src, self._client, self._caller, self._destinations = src, client, caller, destinations
        self._region, self._account, self.stats, self._sleep = region, account, stats, sleep
        self._kinesis = src.kind == "Kinesis"
        self._batch = int(src.option("BatchSize", 100))
        self._retries = int(src.option("MaximumRetryAttempts", -1))
        self._bisect = str(src.option("BisectBatchOnFunctionError", False)).lower() == "true"
        self._partial = "ReportBatchItemFailures" in (src.option("FunctionResponseTypes") or [])
        self._iterators: dict[str, str | None] = {}
        self.arn = src.source

    # -- reading ------------------------------------------------------------------------------
    def _api(self) -> Any:
        return self._client("kinesis" if self._kinesis else "dynamodbstreams")

    def _stream_arn(self) -> str:
        """A table's stream ARN carries its creation time, which the template cannot know: ask the table."""
        if self._kinesis or "/stream/" not in self.src.source:
            return self.src.source
        table = self.src.source.split(":table/", 1)[1].split("/stream/", 1)[0]
        return str(self._client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"])

    def _open_shards(self) -> None:
        self.arn = self._stream_arn()
        position = str(self.src.option("StartingPosition", "LATEST"))
        # moto's Kinesis shard iterators only work when asked for by stream name.
        stream = {"StreamName": self.arn.split(":stream/", 1)[1]} if self._kinesis else {"StreamArn": self.arn}
        shards = self._api().describe_stream(**stream)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] in self._iterators:
                continue
            kwargs: dict[str, Any] = {**stream, "ShardId": shard["ShardId"], "ShardIteratorType": position}
            if position == "AT_TIMESTAMP":
                kwargs["Timestamp"] = self.src.option("StartingPositionTimestamp")
            self._iterators[shard["ShardId"]] = self._api().get_shard_iterator(**kwargs)["ShardIterator"]

    def poll_once(self) -> int:
        if not self._iterators:
            self._open_shards()
        read = 0
        for shard, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self._api().get_records(ShardIterator=iterator, Limit=self._batch)
            records = list(answer.get("Records") or [])
            if records:
                self._handle(shard, records)
            self._iterators[shard] = answer.get("NextShardIterator")
            read += len(records)
        if not read:
            self._sleep(IDLE_S)
        return read

    # -- delivering ---------------------------------------------------------------------------
    def _shape(self, shard: str, record: dict[str, Any]) -> dict[str, Any]:
        if self._kinesis:
            role = f"arn:aws:iam::{self._account}:role/{self.src.function}-role"
            return shapes.kinesis_record(record, self.arn, shard, self._region, role)
        return shapes.dynamodb_record(record, self.arn)

    def _sequence(self, record: dict[str, Any]) -> str:
        return str(record["SequenceNumber"] if self._kinesis else record["dynamodb"]["SequenceNumber"])

    def _handle(self, shard: str, records: list[dict[str, Any]]) -> None:
        pending = [records]
        while pending:
            batch = pending.pop(0)
            left = self._deliver_with_retries(shard, batch)
            if left and self._bisect and len(left) > 1:
                half = len(left) // 2
                pending[:0] = [left[:half], left[half:]]
            elif left:
                self._give_up(shard, left)

    def _deliver_with_retries(self, shard: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Deliver until it works or retries run out (a bisecting source gets one try per half first);
        the records still failing, from the first failed one on."""
        attempt = 0
        while True:
            outcome = self._caller.call(self.src.function, {"Records": [self._shape(shard, r) for r in batch]},
                                        source=self.arn, kind=self.src.kind, records=len(batch))
            left = self._left_over(batch, outcome)
            self.stats.delivered += len(batch) - len(left)
            if not left:
                return []
            self.stats.failed += len(left)
            self.stats.last_error = outcome.error or "partial batch failure"
            batch = left
            attempt += 1
            if (self._bisect and len(batch) > 1) or (0 <= self._retries < attempt):
                return batch
            self._sleep(min(1.0, 0.1 * attempt))

    def _left_over(self, batch: list[dict[str, Any]], outcome: Outcome) -> list[dict[str, Any]]:
        if not outcome.ok:
            return batch
        if not self._partial or not isinstance(outcome.json(), dict):
            return []
        failed = {str(i.get("itemIdentifier")) for i in outcome.json().get("batchItemFailures") or []
                  if isinstance(i, dict)}
        for index, record in enumerate(batch):
            if self._sequence(record) in failed:
                return batch[index:]  # checkpoint before the first failure
        return []

    def _give_up(self, shard: str, batch: list[dict[str, Any]]) -> None:
        target = ((self.src.option("DestinationConfig") or {}).get("OnFailure"))
        if not target:
            return
        info = {"shardId": shard, "startSequenceNumber": self._sequence(batch[0]),
                "endSequenceNumber": self._sequence(batch[-1]), "batchSize": len(batch), "streamArn": self.arn}
        key = "KinesisBatchInfo" if self._kinesis else "DDBStreamBatchInfo"
        record = invocation_record(function_arn=f"arn:aws:lambda:{self._region}:{self._account}:function:"
                                                f"{self.src.function}", payload={}, outcome=Outcome(False, b""),
                                   attempts=self._retries + 1, condition="RetryAttemptsExhausted",
                                   now=dt.datetime.now(dt.timezone.utc))
        record.pop("requestPayload")
        record[key] = info
        try:
            self._destinations.send(target, record, self.src.function, False)
            self.stats.dead_lettered += len(batch)
        except Exception as exc:
            self.stats.last_error = f"destination: {exc}"
