"""Names the toolchain (provisioning) and the manager (pollers) agree on for the box's own delivery queues."""

from __future__ import annotations

import re

from esb_runtime.names_digest import sha256_hex

# S3 notifications, SNS subscriptions and EventBridge rules deliver into one queue per (function, event):
# moto matches filters and patterns and keeps the event; the manager polls the queue and invokes.
ASYNC_KINDS = ("S3", "SNS", "EventBridgeRule", "CloudWatchEvent")
_PREFIX = "esb-deliver-"
_MAX = 80  # SQS queue name limit


def delivery_queue(function: str, event: str) -> str:
    """A valid, stable SQS queue name; long names keep a hash so two never collide."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{_PREFIX}{function}-{event}")
    if len(name) <= _MAX:
        return name
    digest = sha256_hex(name)[:10]
    return f"{name[:_MAX - 11]}-{digest}"


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def rule_name(function: str, event: str, explicit: str | None) -> str:
    return explicit or re.sub(r"[^A-Za-z0-9_.-]", "-", f"{function}-{event}")[:64]
