"""Lambda's asynchronous invocation semantics: retries, OnSuccess/OnFailure destinations, dead-letter queue."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Callable

from esb_runtime.config import EventSource
from esb_runtime.sources.invoking import Caller, Outcome, SourceStats, new_trace_id

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
ClientOf = Callable[[str], Any]  # service -> boto3 client of the box's stores


def queue_url(arn: str) -> str:
    """The URL AWS gives the queue of an ARN (the box's SQS accepts it as is)."""
    _, _, _, region, account, name = arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def _kind_of(arn: str, declared: str | None) -> str:
    if declared:
        return declared.upper()
    service = arn.split(":")[2] if arn.count(":") >= 2 else ""
    return {"sqs": "SQS", "sns": "SNS", "events": "EVENTBRIDGE", "lambda": "LAMBDA"}.get(service, service.upper())


def invocation_record(*, function_arn: str, payload: dict, outcome: Outcome, attempts: int,
                      condition: str, now: dt.datetime) -> dict[str, Any]:
    """The record Lambda sends to a destination (version 1.0)."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if not outcome.ok:
        response["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {"requestId": outcome.request_id, "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": payload,
        "responseContext": response,
        "responsePayload": outcome.json(),
    }


class Destinations:
    """Sends invocation records and dead letters to SQS, SNS, EventBridge or another function."""

    def __init__(self, client: ClientOf, caller: Caller) -> None:
        self._client, self._caller = client, caller

    def send(self, target: dict[str, Any], record: dict[str, Any], function_arn: str, success: bool) -> None:
        arn = str(target.get("Destination") or target.get("TargetArn") or "")
        kind = _kind_of(arn, target.get("Type"))
        body = json.dumps(record)
        if kind == "SQS":
            self._client("sqs").send_message(QueueUrl=queue_url(arn), MessageBody=body)
        elif kind == "SNS":
            self._client("sns").publish(TopicArn=arn, Message=body)
        elif kind == "EVENTBRIDGE":
            self._client("events").put_events(Entries=[{
                "Source": "lambda", "EventBusName": arn, "Resources": [function_arn], "Detail": body,
                "DetailType": f"Lambda Function Invocation Result - {'Success' if success else 'Failure'}"}])
        elif kind == "LAMBDA":
            name = arn.split(":function:", 1)[-1].split(":")[0]
            self._caller.call(name, record, source=function_arn, kind="destination", records=1)
        else:
            raise ValueError(f"unknown destination type {kind} ({arn})")

    def dead_letter(self, target: dict[str, Any], payload: dict, outcome: Outcome) -> None:
        """DeadLetterQueue: the event itself, with Lambda's RequestID/ErrorCode/ErrorMessage attributes."""
        arn = str(target.get("TargetArn") or "")
        body = json.dumps(payload)
        error = outcome.json() if isinstance(outcome.json(), dict) else {}
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": outcome.request_id or "-"},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": str(error.get("errorMessage") or outcome.error)[:1024]},
        }
        if _kind_of(arn, target.get("Type")) == "SNS":
            self._client("sns").publish(TopicArn=arn, Message=body, MessageAttributes=attributes)
        else:
            self._client("sqs").send_message(QueueUrl=queue_url(arn), MessageBody=body, MessageAttributes=attributes)


class AsyncInvoker:
    """Delivers one event as Lambda does for an asynchronous invocation: up to 1 + MaximumRetryAttempts
    tries (default 2 retries) within MaximumEventAgeInSeconds, then OnSuccess/OnFailure or the DLQ.

    Lambda waits about 1 and 2 minutes between tries; the box waits `delays` (short by default, so a
    local loop stays quick)."""

    def __init__(self, caller: Caller, destinations: Destinations, function_arn: Callable[[str], str], *,
                 delays: tuple[float, ...] = (1.0, 2.0), sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._caller, self._destinations, self._arn = caller, destinations, function_arn
        self._delays, self._sleep, self._clock = delays, sleep, clock

    def deliver(self, src: EventSource, payload: dict[str, Any], stats: SourceStats, origin: str) -> bool:
        settings = src.async_settings
        config = settings.get("EventInvokeConfig") or {}
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S))
        destinations = config.get("DestinationConfig") or {}
        trace, started, attempts = new_trace_id(), self._clock(), 0
        while True:
            attempts += 1
            outcome = self._caller.call(src.function, payload, source=origin, kind=src.kind, records=1, trace_id=trace)
            if outcome.ok:
                stats.delivered += 1
                self._notify(destinations.get("OnSuccess"), src, payload, outcome, attempts, "Success", stats)
                return True
            stats.failed += 1
            stats.last_error = outcome.error
            if attempts > retries or self._clock() - started >= max_age:
                break
            self._sleep(self._delays[min(attempts - 1, len(self._delays) - 1)])
        condition = "RetriesExhausted" if attempts > retries else "EventAgeExceeded"
        if destinations.get("OnFailure"):
            self._notify(destinations["OnFailure"], src, payload, outcome, attempts, condition, stats)
        elif settings.get("DeadLetterQueue"):
            self._guarded(stats, lambda: self._destinations.dead_letter(settings["DeadLetterQueue"], payload, outcome))
        return False

    def _notify(self, target: dict | None, src: EventSource, payload: dict, outcome: Outcome, attempts: int,
                condition: str, stats: SourceStats) -> None:
        if not target:
            return
        arn = self._arn(src.function)
        record = invocation_record(function_arn=arn, payload=payload, outcome=outcome, attempts=attempts,
                                   condition=condition, now=dt.datetime.now(dt.timezone.utc))
        self._guarded(stats, lambda: self._destinations.send(target, record, arn, outcome.ok),
                      count=not outcome.ok)

    @staticmethod
    def _guarded(stats: SourceStats, send: Callable[[], None], count: bool = True) -> None:
        try:
            send()
        except Exception as exc:  # a destination that does not exist must not stop the source
            stats.last_error = f"destination: {exc}"
            return
        if count:
            stats.dead_lettered += 1
