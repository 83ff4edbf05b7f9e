"""AWS::S3::Bucket → model Bucket (CORS rules in boto3's shape, notifications recorded)."""

from __future__ import annotations

import json
from typing import Any

from esb.model import Bucket
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar, to_int

Path = tuple[str, ...]
_QUIET = frozenset({
    "AccessControl", "AccelerateConfiguration", "AnalyticsConfigurations", "BucketEncryption",
    "IntelligentTieringConfigurations", "InventoryConfigurations", "LifecycleConfiguration",
    "LoggingConfiguration", "MetricsConfigurations", "ObjectLockConfiguration", "ObjectLockEnabled",
    "OwnershipControls", "PublicAccessBlockConfiguration", "ReplicationConfiguration", "Tags",
    "WebsiteConfiguration",
})
# CloudFormation CorsRule key → boto3 put_bucket_cors key.
_CORS_KEYS = {
    "AllowedHeaders": "AllowedHeaders",
    "AllowedMethods": "AllowedMethods",
    "AllowedOrigins": "AllowedOrigins",
    "ExposedHeaders": "ExposeHeaders",
    "Id": "ID",
    "MaxAge": "MaxAgeSeconds",
}
_NOTIFICATION_KINDS = {
    "LambdaConfigurations": "Lambda",
    "QueueConfigurations": "Queue",
    "TopicConfigurations": "Topic",
}


def build_bucket(ctx: LoadContext, logical_id: str, name: str, props: dict[str, Any]) -> Bucket:
    path = ("Resources", logical_id, "Properties")
    handled = ("BucketName", "VersioningConfiguration", "CorsConfiguration", "NotificationConfiguration")
    for key in props:
        if key not in handled and key not in _QUIET:
            ctx.warn(logical_id, key, "not supported, ignored")
    versioning = props.get("VersioningConfiguration") or {}
    status = versioning.get("Status") if isinstance(versioning, dict) else None
    return Bucket(
        logical_id=logical_id,
        name=name,
        versioning=status == "Enabled",
        cors_rules=_cors_rules(ctx, props.get("CorsConfiguration"), (*path, "CorsConfiguration")),
        notifications=_notifications(ctx, logical_id, props.get("NotificationConfiguration")),
    )


def _cors_rules(ctx: LoadContext, value: Any, path: Path) -> tuple[dict, ...]:
    if value is None:
        return ()
    rules = value.get("CorsRules") if isinstance(value, dict) else None
    if not isinstance(rules, list):
        ctx.fail(path, "CorsConfiguration needs a CorsRules list")
    result = []
    for i, rule in enumerate(rules):
        rpath = (*path, "CorsRules", str(i))
        if not isinstance(rule, dict) or "AllowedMethods" not in rule or "AllowedOrigins" not in rule:
            ctx.fail(rpath, "a CORS rule needs AllowedMethods and AllowedOrigins")
        shaped: dict[str, Any] = {}
        for key, item in rule.items():
            if key not in _CORS_KEYS:
                ctx.fail((*rpath, key), f"unknown CORS rule key {key}", f"use {', '.join(_CORS_KEYS)}")
            if key == "MaxAge":
                shaped["MaxAgeSeconds"] = to_int(item)
            elif key == "Id":
                shaped["ID"] = cfn_str(item)
            elif isinstance(item, list) and all(is_scalar(v) for v in item):
                shaped[_CORS_KEYS[key]] = [cfn_str(v) for v in item]
            else:
                ctx.fail((*rpath, key), f"{key} must be a list of strings")
        result.append(shaped)
    return tuple(result)


def _notifications(ctx: LoadContext, logical_id: str, value: Any) -> tuple[dict, ...]:
    if not isinstance(value, dict):
        return ()
    result = []
    for key, items in value.items():
        if key == "EventBridgeConfiguration":
            result.append({"Type": "EventBridge", **(items if isinstance(items, dict) else {})})
        elif key in _NOTIFICATION_KINDS and isinstance(items, list):
            result.extend({"Type": _NOTIFICATION_KINDS[key], **item} for item in items if isinstance(item, dict))
        else:
            ctx.warn(logical_id, f"NotificationConfiguration.{key}", "not understood, ignored")
    if any(n["Type"] in ("Lambda", "EventBridge") for n in result):
        ctx.warn(logical_id, "NotificationConfiguration",
                 "recorded only (Lambda/EventBridge notifications): give the function an S3 event instead")
    return tuple(sorted(result, key=lambda n: json.dumps(n, sort_keys=True)))
