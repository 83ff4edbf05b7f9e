"""Configuration writes of the services snapshots do not hold as data: journaled, and carried into each snapshot.

Snapshots dump S3 and DynamoDB as data. For SQS, SNS, EventBridge, CloudWatch Logs, SSM, Secrets Manager
and Kinesis the box keeps their *configuration* (queues, topics and subscriptions, rules and targets, log
groups, parameters, secrets, streams) as the requests that made it: every snapshot carries these records
forward and a restore replays them. Kinesis records and CloudWatch Logs events are kept the same way (the request
is the data; nothing consumes it), but only while the stream's or group's retention keeps them, which bounds
what snapshots carry. Queue messages are kept as queue contents instead (queued.py).
"""

from __future__ import annotations

import calendar
import io
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs

from esb_runtime.stores.auth import Environ

if TYPE_CHECKING:
    from esb_runtime.stores.mutations import Mutation

KEPT_WRITES: dict[str, frozenset[str]] = {
    "sqs": frozenset({"CreateQueue", "DeleteQueue", "SetQueueAttributes", "TagQueue", "UntagQueue"}),
    "sns": frozenset({"CreateTopic", "DeleteTopic", "Subscribe", "Unsubscribe", "SetTopicAttributes",
                      "SetSubscriptionAttributes", "TagResource", "UntagResource"}),
    "events": frozenset({"CreateEventBus", "DeleteEventBus", "PutRule", "DeleteRule", "PutTargets",
                         "RemoveTargets", "EnableRule", "DisableRule", "TagResource", "UntagResource"}),
    "logs": frozenset({"CreateLogGroup", "DeleteLogGroup", "CreateLogStream", "DeleteLogStream",
                       "PutRetentionPolicy", "DeleteRetentionPolicy"}),
    "ssm": frozenset({"PutParameter", "DeleteParameter", "DeleteParameters", "LabelParameterVersion",
                      "AddTagsToResource", "RemoveTagsFromResource"}),
    "secretsmanager": frozenset({"CreateSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret",
                                 "RestoreSecret", "UpdateSecretVersionStage", "TagResource", "UntagResource"}),
    "kinesis": frozenset({"CreateStream", "DeleteStream", "IncreaseStreamRetentionPeriod",
                          "DecreaseStreamRetentionPeriod", "AddTagsToStream", "RemoveTagsFromStream"}),
}
KEPT_TRAFFIC: dict[str, frozenset[str]] = {
    "kinesis": frozenset({"PutRecord", "PutRecords"}),
    "logs": frozenset({"PutLogEvents"}),
}
_DAY_S = 86400
# moto (like CloudWatch Logs) refuses events older than 14 days, so a replay could not restore older ones;
# the box's own log store (esb logs) keeps them anyway.
_LOGS_REPLAYABLE_S = 14 * _DAY_S


def action_of(environ: Environ) -> str | None:
    """The operation: X-Amz-Target's suffix (JSON protocol) or the Action parameter (query protocol)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in params:
        stream = environ.get("wsgi.input")
        if isinstance(stream, io.BytesIO):  # the auth middleware buffered the body
            params = parse_qs(stream.getvalue().decode("utf-8", "replace"))
    actions = params.get("Action")
    return actions[0] if actions else None


def kept_write(service: str | None, environ: Environ) -> bool:
    action = action_of(environ)
    return (service in KEPT_WRITES and action in KEPT_WRITES[service]) or (
        service in KEPT_TRAFFIC and action in KEPT_TRAFFIC[service])


def _moto_retention_s(service: str, name: str) -> float:
    """Seconds moto's stream or log group keeps (and can replay) data; 0 when it no longer exists."""
    if service == "kinesis":
        from moto.kinesis.models import kinesis_backends as backends
    else:
        from moto.logs.models import logs_backends as backends
    for account in list(backends.values()):
        for backend in list(account.values()):
            if service == "kinesis" and name in backend.streams:
                return float(backend.streams[name].retention_period_hours) * 3600
            if service == "logs" and name in backend.groups:
                days = backend.groups[name].retention_in_days
                return min(float(days) * _DAY_S, _LOGS_REPLAYABLE_S) if days else _LOGS_REPLAYABLE_S
    return 0.0


def _written_at(mutation: Mutation) -> float:
    stamp = mutation.headers.get("HTTP_X_AMZ_DATE", "")
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        return time.time()  # unsigned: keep it for a whole retention from now


def _target(service: str, body: bytes) -> str:
    try:
        request: Any = json.loads(body or b"{}")
    except ValueError:
        return ""
    if service == "logs":
        return str(request.get("logGroupName", ""))
    return str(request.get("StreamName") or str(request.get("StreamARN", "")).rpartition("/")[2])


@dataclass
class Carried:
    """Kinesis puts and log events, replayed in order; a snapshot carries those still within retention."""

    retention_s: Callable[[str, str], float] = _moto_retention_s
    clock: Callable[[], float] = time.time
    records: list[tuple[str, str, float, bytes]] = field(default_factory=list)

    def add(self, mutation: Mutation, payload: bytes) -> bool:
        """Keep `payload` if it is traffic of a kept service; False for anything else."""
        service = mutation.service() or ""
        if action_of(mutation.environ()) not in KEPT_TRAFFIC.get(service, ()):
            return False
        self.records.append((service, _target(service, mutation.body), _written_at(mutation), payload))
        return True

    def retained(self) -> list[bytes]:
        now, limits = self.clock(), {}
        kept = []
        for service, name, written, payload in self.records:
            if (service, name) not in limits:
                limits[service, name] = self.retention_s(service, name)
            if now - written < limits[service, name]:
                kept.append(payload)
        return kept
