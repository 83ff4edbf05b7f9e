"""Resources of the emulated services (SQS, SNS, EventBridge, Logs, SSM, Secrets Manager, Kinesis) → AwsResource."""

from __future__ import annotations

import json
from typing import Any

from esb.model import AwsResource
from esb.sam.context import LoadContext
from esb.sam.service_refs import (EVENT_BUS, LOG_GROUP, PARAMETER, QUEUE, RULE, SECRET, STREAM, SUBSCRIPTION,
                                  TOPIC)

# Properties the provisioner applies, per type; _QUIET ones change nothing locally (keys, tags, roles).
_HANDLED: dict[str, frozenset[str]] = {
    QUEUE: frozenset({"QueueName", "FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout",
                      "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds",
                      "RedrivePolicy", "RedriveAllowPolicy", "DeduplicationScope", "FifoThroughputLimit"}),
    TOPIC: frozenset({"TopicName", "FifoTopic", "ContentBasedDeduplication", "DisplayName", "Subscription"}),
    SUBSCRIPTION: frozenset({"TopicArn", "Protocol", "Endpoint", "FilterPolicy", "FilterPolicyScope",
                             "RawMessageDelivery", "RedrivePolicy"}),
    RULE: frozenset({"Name", "EventBusName", "EventPattern", "State", "Targets", "Description"}),
    EVENT_BUS: frozenset({"Name", "Description"}),
    PARAMETER: frozenset({"Name", "Type", "Value", "Description", "AllowedPattern", "Tier", "DataType"}),
    SECRET: frozenset({"Name", "Description", "SecretString", "GenerateSecretString"}),
    STREAM: frozenset({"Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails"}),
    LOG_GROUP: frozenset({"LogGroupName", "RetentionInDays"}),
}
_QUIET = frozenset({"Tags", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "KmsKeyId",
                    "RoleArn", "Policies", "ReplicaRegions", "StreamEncryption", "DataProtectionPolicy",
                    "LogGroupClass", "Region", "ArchivePolicy", "DeliveryStatusLogging", "SignatureVersion"})
_REQUIRED = {PARAMETER: ("Type", "Value"), SUBSCRIPTION: ("TopicArn", "Protocol")}


def build_service_resource(ctx: LoadContext, logical_id: str, rtype: str, name: str,
                           props: dict[str, Any]) -> AwsResource:
    path = ("Resources", logical_id, "Properties")
    for key in props:
        if key not in _HANDLED[rtype] and key not in _QUIET:
            ctx.warn(logical_id, key, "not supported, ignored")
    for key in _REQUIRED.get(rtype, ()):
        if props.get(key) in (None, ""):
            ctx.fail((*path, key), f"{rtype} needs {key}")
    if rtype == SECRET and "SecretString" in props and "GenerateSecretString" in props:
        ctx.fail((*path, "SecretString"), "give SecretString or GenerateSecretString, not both")
    if rtype == RULE and "ScheduleExpression" in props:
        ctx.warn(logical_id, "ScheduleExpression", "not run by the rule: use a function's Schedule event")
    kept = {k: v for k, v in props.items() if k in _HANDLED[rtype]}
    return AwsResource(logical_id, rtype, name, json.dumps(kept, sort_keys=True, default=str))
