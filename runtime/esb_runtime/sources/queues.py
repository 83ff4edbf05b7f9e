"""Queue pollers: SQS event sources (batches, partial failures) and the delivery queues of async sources."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from esb_runtime.config import EventSource
from esb_runtime.sources import shapes
from esb_runtime.sources.asynchronous import AsyncInvoker, ClientOf, queue_url
from esb_runtime.sources.invoking import Caller, SourceStats
from esb_runtime.sources.names import delivery_queue, queue_arn

WAIT_S = 2  # long poll: a message wakes the poller at once; the wait bounds how late a stop is noticed
_ALL = ["All"]


class SqsPoller:
    """An SQS event source: batches of up to BatchSize within MaximumBatchingWindowInSeconds; a failed
    batch stays in the queue (visible again after its visibility timeout, to the DLQ after maxReceiveCount);
    with ReportBatchItemFailures only the reported messages stay."""

    def __init__(self, src: EventSource, client: ClientOf, caller: Caller, region: str, stats: SourceStats,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.src, self._client, self._caller, self._region, self.stats = src, client, caller, region, stats
        self._clock = clock
        self.url = queue_url(src.source)
        self._batch = int(src.option("BatchSize", 10))
        self._window = float(src.option("MaximumBatchingWindowInSeconds", 0))
        self._partial = "ReportBatchItemFailures" in (src.option("FunctionResponseTypes") or [])
        self._dlq_url: str | None = None
        self._dlq_checked = 0.0

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        answer = self._client("sqs").receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max(1, min(10, count)), WaitTimeSeconds=wait,
            AttributeNames=_ALL, MessageSystemAttributeNames=_ALL, MessageAttributeNames=_ALL)
        return list(answer.get("Messages") or [])

    def poll_once(self) -> int:
        """Receive one batch and deliver it; the number of messages received."""
        messages = self._receive(self._batch, WAIT_S)
        deadline = self._clock() + self._window
        while messages and len(messages) < self._batch and self._clock() < deadline:
            more = self._receive(self._batch - len(messages), min(WAIT_S, max(0, int(deadline - self._clock()))))
            messages += more
        if messages:
            self._deliver(messages)
        self._refresh_dlq()
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [shapes.sqs_record(m, self.src.source, self._region) for m in messages]}
        outcome = self._caller.call(self.src.function, event, source=self.src.source, kind="SQS",
                                    records=len(messages))
        if not outcome.ok:
            self.stats.failed += len(messages)
            self.stats.last_error = outcome.error
            return
        failed = self._reported_failures(outcome.json()) if self._partial else set()
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._client("sqs").delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        self.stats.delivered += len(done)
        self.stats.failed += len(messages) - len(done)

    @staticmethod
    def _reported_failures(response: Any) -> set[str]:
        if not isinstance(response, dict):
            return set()
        return {str(item.get("itemIdentifier")) for item in response.get("batchItemFailures") or []
                if isinstance(item, dict)}

    def _refresh_dlq(self) -> None:
        """How many messages wait in the queue's redrive DLQ (checked at most every 2 s)."""
        if self._clock() - self._dlq_checked < 2:
            return
        self._dlq_checked = self._clock()
        sqs = self._client("sqs")
        if self._dlq_url is None:
            policy = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"]).get(
                "Attributes", {}).get("RedrivePolicy")
            if not policy:
                return
            self._dlq_url = queue_url(json.loads(policy)["deadLetterTargetArn"])
        attributes = sqs.get_queue_attributes(QueueUrl=self._dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.stats.in_dlq = sum(int(v) for v in attributes.values())


class DeliveryPoller:
    """An S3, SNS or EventBridge event source: moto matched the filter or pattern and queued the event in
    the function's delivery queue; each event becomes one asynchronous invocation (AsyncInvoker), run on
    its own worker so a retrying event does not hold up the next ones."""

    def __init__(self, src: EventSource, client: ClientOf, invoker: AsyncInvoker, region: str, account: str,
                 stats: SourceStats, workers: int = 8) -> None:
        self.src, self._client, self._invoker, self.stats = src, client, invoker, stats
        self._region, self._account = region, account
        self.url = queue_url(queue_arn(region, account, delivery_queue(src.function, src.name)))
        self._slots = threading.BoundedSemaphore(workers)

    def payload(self, body: str) -> dict[str, Any] | None:
        message = json.loads(body)
        if self.src.kind == "S3":
            return shapes.s3_event(message, self._account)
        if self.src.kind == "SNS":
            subscription = f"{message.get('TopicArn', self.src.source)}:{self.src.function}-{self.src.name}"
            return shapes.sns_event(message, subscription)
        if self.src.option("Input") is not None or self.src.option("InputPath") or not isinstance(message, dict):
            return message  # the rule's target input replaces the event
        return shapes.eventbridge_event(message, self._account)

    def poll_once(self) -> int:
        answer = self._client("sqs").receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S)
        messages = list(answer.get("Messages") or [])
        for message in messages:
            self._slots.acquire()
            threading.Thread(target=self._one, args=(message,), daemon=True,
                             name=f"deliver-{self.src.key}").start()
        return len(messages)

    def _one(self, message: dict[str, Any]) -> None:
        try:
            payload = self.payload(message.get("Body", ""))
            if payload is not None:
                self._invoker.deliver(self.src, payload, self.stats, origin=self.src.source)
            self._client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as exc:  # the message stays; it is offered again after the visibility timeout
            self.stats.last_error = str(exc)
        finally:
            self._slots.release()
