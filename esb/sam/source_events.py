"""Function events the box delivers from its stores: SQS, Kinesis, DynamoDB, S3, SNS, EventBridgeRule."""

from __future__ import annotations

import json
from typing import Any

from esb.model import Event
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar

Path = tuple[str, ...]
# The property naming the source, per event type (EventBridge rules default to the default bus).
_SOURCE_PROPERTY = {"SQS": "Queue", "Kinesis": "Stream", "DynamoDB": "Stream", "S3": "Bucket", "SNS": "Topic",
                    "EventBridgeRule": "EventBusName", "CloudWatchEvent": "EventBusName"}
_KNOWN = {
    "SQS": {"BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "Enabled", "ScalingConfig"},
    "Kinesis": {"StartingPosition", "StartingPositionTimestamp", "BatchSize", "BisectBatchOnFunctionError",
                "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "FunctionResponseTypes", "DestinationConfig",
                "Enabled", "MaximumBatchingWindowInSeconds"},
    "S3": {"Events", "Filter"},
    "SNS": {"FilterPolicy", "FilterPolicyScope", "Region"},
    "EventBridgeRule": {"Pattern", "Input", "InputPath", "State", "Enabled", "RuleName", "Target",
                        "DeadLetterConfig", "RetryPolicy"},
}
_KNOWN["DynamoDB"] = _KNOWN["Kinesis"]
_KNOWN["CloudWatchEvent"] = _KNOWN["EventBridgeRule"]
_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


def is_source_event(etype: str) -> bool:
    return etype in _SOURCE_PROPERTY


def build_source_event(ctx: LoadContext, function_id: str, name: str, etype: str, props: dict[str, Any],
                       path: Path) -> Event:
    key = _SOURCE_PROPERTY[etype]
    source = props.get(key, "default" if key == "EventBusName" else None)
    if not is_scalar(source) or cfn_str(source) == "":
        ctx.fail((*path, key), f"{etype} event needs {key}", f"e.g. {key}: !GetAtt <resource>.Arn"
                 if key != "Bucket" else "e.g. Bucket: !Ref <the AWS::S3::Bucket>")
    options = {k: v for k, v in props.items() if k != key}
    for unknown in sorted(set(options) - _KNOWN[etype]):
        ctx.warn(function_id, f"Events.{name}.{unknown}", "not supported, ignored")
        del options[unknown]
    if etype in ("Kinesis", "DynamoDB"):
        position = options.get("StartingPosition")
        if cfn_str(position) not in _POSITIONS if is_scalar(position) else True:
            ctx.fail((*path, "StartingPosition"), f"{etype} event needs StartingPosition",
                     f"use one of {', '.join(_POSITIONS)}")
    if etype == "S3" and "Events" not in options:
        ctx.fail((*path, "Events"), "S3 event needs Events", "e.g. Events: s3:ObjectCreated:*")
    enabled = str(options.get("Enabled", True)).lower() != "false" and \
        str(options.get("State", "ENABLED")).upper() == "ENABLED"
    return Event(name=name, kind=etype, source=cfn_str(source), enabled=enabled,  # type: ignore[arg-type]
                 options=json.dumps(options, sort_keys=True, default=str))
