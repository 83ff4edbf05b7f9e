"""Names, Ref and Fn::GetAtt of the resources of the emulated services, as CloudFormation gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"
RULE = "AWS::Events::Rule"
EVENT_BUS = "AWS::Events::EventBus"
PARAMETER = "AWS::SSM::Parameter"
SECRET = "AWS::SecretsManager::Secret"
STREAM = "AWS::Kinesis::Stream"
LOG_GROUP = "AWS::Logs::LogGroup"
SERVICE_TYPES = (QUEUE, TOPIC, SUBSCRIPTION, RULE, EVENT_BUS, PARAMETER, SECRET, STREAM, LOG_GROUP)

NAME_PROPERTY = {
    QUEUE: "QueueName", TOPIC: "TopicName", RULE: "Name", EVENT_BUS: "Name", PARAMETER: "Name",
    SECRET: "Name", STREAM: "Name", LOG_GROUP: "LogGroupName",
}

Prop = Callable[[str], Any]  # a resolved property of the resource (None when absent)


def default_name(rtype: str, stack_name: str, logical_id: str, prop: Prop) -> str:
    """The name CloudFormation would generate, without its random suffix (the box's names are stable)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{stack_name}-{logical_id}")
    if rtype == QUEUE:
        return base[:75] + (".fifo" if str(prop("FifoQueue")).lower() == "true" else "")
    if rtype == TOPIC:
        return base[:251] + (".fifo" if str(prop("FifoTopic")).lower() == "true" else "")
    if rtype == PARAMETER:
        return f"CFN-{logical_id}"
    return base


@dataclass(frozen=True)
class ServiceRefs:
    region: str
    account: str

    def arn(self, rtype: str, name: str, prop: Prop) -> str:
        r, a = self.region, self.account
        if rtype == QUEUE:
            return f"arn:aws:sqs:{r}:{a}:{name}"
        if rtype == TOPIC:
            return f"arn:aws:sns:{r}:{a}:{name}"
        if rtype == RULE:
            bus = prop("EventBusName")
            bus_name = str(bus).rsplit("/", 1)[-1] if bus else "default"
            return f"arn:aws:events:{r}:{a}:rule/{name}" if bus_name == "default" else \
                f"arn:aws:events:{r}:{a}:rule/{bus_name}/{name}"
        if rtype == EVENT_BUS:
            return f"arn:aws:events:{r}:{a}:event-bus/{name}"
        if rtype == SECRET:
            # AWS appends 6 random characters; the partial ARN names the same secret for every API.
            return f"arn:aws:secretsmanager:{r}:{a}:secret:{name}"
        if rtype == STREAM:
            return f"arn:aws:kinesis:{r}:{a}:stream/{name}"
        if rtype == LOG_GROUP:
            return f"arn:aws:logs:{r}:{a}:log-group:{name}:*"
        if rtype == PARAMETER:
            return f"arn:aws:ssm:{r}:{a}:parameter/{name.lstrip('/')}"
        return f"arn:aws:sns:{r}:{a}:{name}"  # a subscription: its topic's ARN plus an id

    def queue_url(self, name: str) -> str:
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"

    def ref(self, rtype: str, name: str, prop: Prop) -> str:
        if rtype == QUEUE:
            return self.queue_url(name)
        if rtype in (TOPIC, SECRET, SUBSCRIPTION):
            return self.arn(rtype, name, prop)
        return name

    def attributes(self, rtype: str, name: str, prop: Prop) -> dict[str, str]:
        arn = self.arn(rtype, name, prop)
        if rtype == QUEUE:
            return {"Arn": arn, "QueueName": name, "QueueUrl": self.queue_url(name)}
        if rtype == TOPIC:
            return {"TopicArn": arn, "TopicName": name}
        if rtype == EVENT_BUS:
            return {"Arn": arn, "Name": name}
        if rtype == PARAMETER:
            return {"Type": str(prop("Type") or "String"), "Value": str(prop("Value") or "")}
        if rtype == SECRET:
            return {"Id": arn}
        if rtype == SUBSCRIPTION:
            return {"Arn": arn}
        return {"Arn": arn}
