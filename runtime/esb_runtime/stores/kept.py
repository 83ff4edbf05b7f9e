"""Configuration writes of the services snapshots do not hold as data: journaled, and carried into each snapshot.

Snapshots dump S3 and DynamoDB as data. For SQS, SNS, EventBridge, CloudWatch Logs, SSM, Secrets Manager
and Kinesis the box keeps their *configuration* (queues, topics and subscriptions, rules and targets, log
groups, parameters, secrets, streams) as the requests that made it: every snapshot carries these records
forward and a restore replays them. Traffic (messages, records, log events) is not kept: replaying
receives and deletes would depend on timing, and carrying traffic forward would grow without bound.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs

from esb_runtime.stores.auth import Environ

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
    return service in KEPT_WRITES and action_of(environ) in KEPT_WRITES[service]
