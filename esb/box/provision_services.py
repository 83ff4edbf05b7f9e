"""Create the template's queues, topics, rules, parameters, secrets, streams and log groups; never destructive."""

from __future__ import annotations

import json
import secrets as pysecrets
import string
from typing import Any, Callable

from botocore.exceptions import ClientError

from esb.model import AwsResource
from esb.box.provision_results import ResourceResult
from esb.sam import service_refs as T

Client = Callable[[str], Any]  # service -> boto3 client of the box's stores

_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                     "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                     "FifoThroughputLimit", "RedrivePolicy", "RedriveAllowPolicy")
_FIXED_QUEUE_ATTRIBUTES = ("FifoQueue",)  # SQS cannot change these on an existing queue
_KINDS = {T.QUEUE: "queue", T.TOPIC: "topic", T.SUBSCRIPTION: "subscription", T.RULE: "rule",
          T.EVENT_BUS: "bus", T.PARAMETER: "param", T.SECRET: "secret", T.STREAM: "stream", T.LOG_GROUP: "logs"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def _same(have: str | None, want: str) -> bool:
    if have == want:
        return True
    try:  # policies: compare as JSON, whatever the spacing and number spelling
        return json.loads(have or "null") == json.loads(want)
    except ValueError:
        return False


def _existing(read: Callable[[], Any], *missing: str) -> Any | None:
    """What `read` answers, or None when the store says the resource does not exist (any code in `missing`)."""
    try:
        return read()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if not any(name in code for name in missing):
            raise
        return None


def queue_attributes(props: dict) -> dict[str, str]:
    attributes = {key: _text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    if "RedrivePolicy" in attributes:  # SQS spells maxReceiveCount as a number either way
        policy = json.loads(attributes["RedrivePolicy"])
        attributes["RedrivePolicy"] = json.dumps({**policy, "maxReceiveCount": int(policy["maxReceiveCount"])})
    return attributes


def reconcile_queue(sqs: Any, res: AwsResource) -> ResourceResult:
    want = queue_attributes(res.props)
    found = _existing(lambda: sqs.get_queue_url(QueueName=res.name), "NonExistentQueue")
    if found is None:
        sqs.create_queue(QueueName=res.name, Attributes=want)
        return _result(res, "created")
    url = found["QueueUrl"]
    have = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    differ = {k: v for k, v in want.items() if not _same(have.get(k), v)}
    fixed = [k for k in differ if k in _FIXED_QUEUE_ATTRIBUTES]
    if fixed:
        return _result(res, "changed-needs-reset", *(f"{k} cannot change" for k in fixed))
    if differ:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=differ)
        return _result(res, "updated", *(f"{k} set" for k in sorted(differ)))
    return _result(res, "unchanged")


def reconcile_topic(sns: Any, res: AwsResource) -> ResourceResult:
    props = res.props
    attributes = {k: _text(props[k]) for k in ("DisplayName", "FifoTopic", "ContentBasedDeduplication") if k in props}
    existing = {t["TopicArn"] for t in sns.list_topics().get("Topics", [])}
    arn = sns.create_topic(Name=res.name, Attributes=attributes)["TopicArn"]  # idempotent for the same attributes
    for sub in props.get("Subscription") or []:
        subscribe(sns, arn, str(sub["Protocol"]), str(sub["Endpoint"]), {})
    return _result(res, "unchanged" if arn in existing else "created")


def subscribe(sns: Any, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str]) -> bool:
    """Subscribe unless the same endpoint is already subscribed (then only its attributes are set); True: new."""
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
        if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
            for name, value in attributes.items():
                sns.set_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"], AttributeName=name,
                                                AttributeValue=value)
            return False
    sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes)
    return True


def reconcile_subscription(sns: Any, res: AwsResource) -> ResourceResult:
    props = res.props
    if props["Protocol"] == "lambda":
        return _result(res, "unchanged", "lambda subscriptions: give the function an SNS event instead")
    attributes = {k: _text(props[k]) for k in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                                               "RedrivePolicy") if k in props}
    new = subscribe(sns, str(props["TopicArn"]), str(props["Protocol"]), str(props.get("Endpoint", "")), attributes)
    return _result(res, "created" if new else "unchanged")


def reconcile_bus(events: Any, res: AwsResource) -> ResourceResult:
    names = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
    if res.name in names:
        return _result(res, "unchanged")
    events.create_event_bus(Name=res.name)
    return _result(res, "created")


def reconcile_rule(events: Any, res: AwsResource) -> ResourceResult:
    props = res.props
    bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
    existing = {r["Name"] for r in events.list_rules(EventBusName=bus).get("Rules", [])}
    rule: dict[str, Any] = {"Name": res.name, "EventBusName": bus, "State": str(props.get("State") or "ENABLED")}
    if props.get("EventPattern") is not None:
        pattern = props["EventPattern"]
        rule["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern, sort_keys=True)
    events.put_rule(**rule)
    targets, skipped = [], []
    for target in props.get("Targets") or []:
        if ":lambda:" in str(target.get("Arn")):
            skipped.append(f"target {target.get('Id')}: give the function an EventBridgeRule event instead")
            continue
        targets.append({k: target[k] for k in ("Id", "Arn", "Input", "InputPath") if k in target})
    if targets:
        events.put_targets(Rule=res.name, EventBusName=bus, Targets=targets)
    return _result(res, "unchanged" if res.name in existing else "created", *skipped)


def reconcile_parameter(ssm: Any, res: AwsResource) -> ResourceResult:
    props = res.props
    want = {"Name": res.name, "Value": str(props["Value"]), "Type": str(props["Type"])}
    for key in ("Description", "AllowedPattern", "Tier", "DataType"):
        if key in props:
            want[key] = str(props[key])
    found = _existing(lambda: ssm.get_parameter(Name=res.name), "ParameterNotFound")
    if found is None:
        ssm.put_parameter(**want)
        return _result(res, "created")
    have = found["Parameter"]
    if have.get("Value") == want["Value"] and have.get("Type") == want["Type"]:
        return _result(res, "unchanged")
    ssm.put_parameter(**want, Overwrite=True)  # the template is the parameter's source of truth
    return _result(res, "updated", "value set from the template")


def generated_secret(spec: dict, token: Callable[[int, str], str] | None = None) -> str:
    """GenerateSecretString: a random password, alone or as GenerateStringKey inside SecretStringTemplate."""
    alphabet = string.ascii_letters + string.digits
    if str(spec.get("ExcludeUppercase")).lower() == "true":
        alphabet = alphabet.translate(str.maketrans("", "", string.ascii_uppercase))
    if str(spec.get("ExcludeLowercase")).lower() == "true":
        alphabet = alphabet.translate(str.maketrans("", "", string.ascii_lowercase))
    if str(spec.get("ExcludeNumbers")).lower() == "true":
        alphabet = alphabet.translate(str.maketrans("", "", string.digits))
    if str(spec.get("ExcludePunctuation")).lower() != "true":
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if str(spec.get("IncludeSpace")).lower() == "true":
        alphabet += " "
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    length = int(spec.get("PasswordLength", 32))
    make = token or (lambda n, chars: "".join(pysecrets.choice(chars) for _ in range(n)))
    password = make(length, alphabet)
    template = spec.get("SecretStringTemplate")
    if template is None:
        return password
    document = json.loads(template) if isinstance(template, str) else dict(template)
    document[str(spec.get("GenerateStringKey", "password"))] = password
    return json.dumps(document)


def reconcile_secret(secretsmanager: Any, res: AwsResource) -> ResourceResult:
    """A secret is created once; its value is never replaced (a generated one would change on every `up`)."""
    props = res.props
    if _existing(lambda: secretsmanager.describe_secret(SecretId=res.name), "ResourceNotFoundException"):
        return _result(res, "unchanged")
    if "GenerateSecretString" in props:
        value = generated_secret(props["GenerateSecretString"])
    else:
        value = str(props.get("SecretString", ""))
    extra = {"Description": str(props["Description"])} if "Description" in props else {}
    secretsmanager.create_secret(Name=res.name, SecretString=value, **extra)
    return _result(res, "created", "value generated" if "GenerateSecretString" in props else "value from the template")


def reconcile_stream(kinesis: Any, res: AwsResource) -> ResourceResult:
    props = res.props
    found = _existing(lambda: kinesis.describe_stream_summary(StreamName=res.name), "ResourceNotFoundException")
    if found is None:
        mode = (props.get("StreamModeDetails") or {}).get("StreamMode")
        if mode == "ON_DEMAND":
            kinesis.create_stream(StreamName=res.name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            kinesis.create_stream(StreamName=res.name, ShardCount=int(props.get("ShardCount", 1)))
        _retention(kinesis, res.name, 24, props)
        return _result(res, "created")
    have = int(found["StreamDescriptionSummary"]["RetentionPeriodHours"])
    details = ["retention set"] if _retention(kinesis, res.name, have, props) else []
    return _result(res, "updated" if details else "unchanged", *details)


def _retention(kinesis: Any, name: str, have: int, props: dict) -> bool:
    want = int(props.get("RetentionPeriodHours", have))
    if want > have:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=want)
    elif want < have:
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=want)
    return want != have


def reconcile_log_group(logs: Any, res: AwsResource) -> ResourceResult:
    groups = logs.describe_log_groups(logGroupNamePrefix=res.name).get("logGroups", [])
    have = next((g for g in groups if g["logGroupName"] == res.name), None)
    if have is None:
        logs.create_log_group(logGroupName=res.name)
    days = res.props.get("RetentionInDays")
    changed = days is not None and (have is None or have.get("retentionInDays") != int(days))
    if changed:
        logs.put_retention_policy(logGroupName=res.name, retentionInDays=int(days))
    if have is None:
        return _result(res, "created")
    return _result(res, "updated" if changed else "unchanged", *(["retention set"] if changed else []))


def _result(res: AwsResource, status: str, *details: str) -> ResourceResult:
    return ResourceResult(_KINDS[res.type], res.name, res.logical_id, status, tuple(details))  # type: ignore[arg-type]


_RECONCILERS: dict[str, tuple[str, Callable[[Any, AwsResource], ResourceResult]]] = {
    T.QUEUE: ("sqs", reconcile_queue), T.TOPIC: ("sns", reconcile_topic),
    T.SUBSCRIPTION: ("sns", reconcile_subscription), T.EVENT_BUS: ("events", reconcile_bus),
    T.RULE: ("events", reconcile_rule), T.PARAMETER: ("ssm", reconcile_parameter),
    T.SECRET: ("secretsmanager", reconcile_secret), T.STREAM: ("kinesis", reconcile_stream),
    T.LOG_GROUP: ("logs", reconcile_log_group),
}
# Dead-letter queues, buses and topics before what refers to them.
_ORDER = (T.EVENT_BUS, T.QUEUE, T.TOPIC, T.SUBSCRIPTION, T.RULE, T.PARAMETER, T.SECRET, T.STREAM, T.LOG_GROUP)


def _order(res: AwsResource) -> tuple[int, bool, str]:
    return _ORDER.index(res.type), "RedrivePolicy" in res.props, res.logical_id


def services_of(resources: tuple[AwsResource, ...]) -> set[str]:
    """The AWS services `reconcile_resources` calls for these resources."""
    return {_RECONCILERS[res.type][0] for res in resources}


def reconcile_resources(resources: tuple[AwsResource, ...], client: Client,
                        guard: Callable[[str, str], Any]) -> list[ResourceResult]:
    """Each resource in dependency order; `guard(kind, name)` turns a store error into one clear error."""
    results = []
    for res in sorted(resources, key=_order):
        service, reconcile = _RECONCILERS[res.type]
        with guard(_KINDS[res.type], res.name):
            results.append(reconcile(client(service), res))
    return results
