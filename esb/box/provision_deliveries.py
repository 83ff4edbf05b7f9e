"""Wire the asynchronous event sources (S3, SNS, EventBridge) to the box's delivery queues the manager polls."""

from __future__ import annotations

import json
from typing import Any, Callable

from esb.model import Application, Bucket, Event, Function
from esb.box.provision_results import ResourceResult
from esb.box.provision_services import subscribe
from esb_runtime.sources.names import ASYNC_KINDS, delivery_queue, queue_arn, rule_name

Client = Callable[[str], Any]
# Long enough for an event's retries (Lambda: two, with back-off) before the queue offers it again.
_DELIVERY_VISIBILITY_S = "900"
_TEMPLATE_KINDS = {"Queue": ("QueueConfigurations", "Queue", "QueueArn"),
                   "Topic": ("TopicConfigurations", "Topic", "TopicArn")}


def _s3_filter(options: dict) -> dict | None:
    rules = ((options.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return None
    return {"Key": {"FilterRules": [{"Name": str(r["Name"]).lower(), "Value": str(r["Value"])} for r in rules]}}


def bucket_notifications(bucket: Bucket, deliveries: list[tuple[Function, Event]], region: str,
                         account: str) -> dict:
    """The bucket's whole notification configuration: the template's queue/topic ones plus one queue
    configuration per S3 event of a function (S3 replaces the configuration as a whole)."""
    config: dict[str, list] = {}
    for item in bucket.notifications:
        if item.get("Type") in _TEMPLATE_KINDS:
            key, _, arn_key = _TEMPLATE_KINDS[item["Type"]]
            entry = {"Events": [item["Event"]], arn_key: item.get(item["Type"])}
            if _s3_filter(item):
                entry["Filter"] = _s3_filter(item)
            config.setdefault(key, []).append(entry)
    for fn, event in deliveries:
        options = event.option_values
        names = options["Events"] if isinstance(options["Events"], list) else [options["Events"]]
        entry = {"Id": f"{fn.name}-{event.name}", "Events": [str(n) for n in names],
                 "QueueArn": queue_arn(region, account, delivery_queue(fn.name, event.name))}
        if _s3_filter(options):
            entry["Filter"] = _s3_filter(options)
        config.setdefault("QueueConfigurations", []).append(entry)
    return config


def _comparable(config: dict) -> str:
    shaped = {k: sorted((json.dumps({f: v for f, v in e.items() if f != "Id"}, sort_keys=True) for e in entries))
              for k, entries in config.items() if entries and k != "ResponseMetadata"}
    return json.dumps(shaped, sort_keys=True)


def _deliveries(app: Application) -> list[tuple[Function, Event]]:
    return [(fn, ev) for fn in app.functions for ev in fn.events if ev.kind in ASYNC_KINDS]


def wire_deliveries(app: Application, client: Client, guard: Callable[[str, str], Any]) -> list[ResourceResult]:
    results: list[ResourceResult] = []
    sqs = client("sqs")
    deliveries = _deliveries(app)
    for fn, event in deliveries:
        name = delivery_queue(fn.name, event.name)
        with guard("delivery", name):
            sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": _DELIVERY_VISIBILITY_S})
            arn = queue_arn(app.region, app.account_id, name)
            if event.kind == "SNS":
                _wire_sns(client("sns"), event, arn)
            elif event.kind in ("EventBridgeRule", "CloudWatchEvent"):
                _wire_rule(client("events"), fn, event, arn)
    s3 = client("s3")
    for bucket in app.buckets:
        mine = [(fn, ev) for fn, ev in deliveries if ev.kind == "S3" and ev.source == bucket.name]
        with guard("bucket", bucket.name):
            want = bucket_notifications(bucket, mine, app.region, app.account_id)
            have = s3.get_bucket_notification_configuration(Bucket=bucket.name)
            if _comparable(have) != _comparable(want):
                s3.put_bucket_notification_configuration(Bucket=bucket.name, NotificationConfiguration=want)
                results.append(ResourceResult("bucket", bucket.name, bucket.logical_id, "updated",
                                              (f"{sum(len(v) for v in want.values())} notification(s) set",)))
    for fn, event in deliveries:
        if event.kind == "S3" and event.source not in {b.name for b in app.buckets}:
            results.append(ResourceResult("delivery", delivery_queue(fn.name, event.name), fn.logical_id,
                                          "unchanged", (f"bucket {event.source} is not in the template",)))
    return results


def _wire_sns(sns: Any, event: Event, queue: str) -> None:
    options = event.option_values
    attributes = {}
    if options.get("FilterPolicy") is not None:
        attributes["FilterPolicy"] = json.dumps(options["FilterPolicy"], sort_keys=True)
        attributes["FilterPolicyScope"] = str(options.get("FilterPolicyScope") or "MessageAttributes")
    subscribe(sns, str(event.source), "sqs", queue, attributes)


def _wire_rule(events: Any, fn: Function, event: Event, queue: str) -> None:
    options = event.option_values
    bus = str(event.source or "default").rsplit("/", 1)[-1]
    name = rule_name(fn.name, event.name, options.get("RuleName"))
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(options.get("Pattern") or {}, sort_keys=True),
                    State="ENABLED" if event.enabled else "DISABLED")
    target: dict[str, Any] = {"Id": str((options.get("Target") or {}).get("Id") or "esb-delivery"), "Arn": queue}
    if options.get("Input") is not None:
        target["Input"] = str(options["Input"])
    if options.get("InputPath") is not None:
        target["InputPath"] = str(options["InputPath"])
    events.put_targets(Rule=name, EventBusName=bus, Targets=[target])
