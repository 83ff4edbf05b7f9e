"""Provisioning the emulated services' resources and the asynchronous event wiring into a real stores process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import pytest

from esb.box.provision import provision
from esb.box.provision_services import generated_secret
from esb.paths import P
from esb.sam import load_application
from test_provision import Creds, client, endpoint  # noqa: F401 (endpoint is a fixture)

pytestmark = pytest.mark.integration


@dataclass
class Stores:
    endpoint: str
    secrets: Creds

    def client(self, service: str):
        return client(service, self.endpoint)


@pytest.fixture
def stores(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "000000000000")  # as the stores process sets it
    yield Stores(endpoint, Creds())


def _provision(stores: Stores):
    app = load_application(P.fixtures / "events" / "template.yaml")
    return provision(app, stores.endpoint, stores.endpoint, stores.secrets, "us-east-1",
                     services_endpoint=stores.endpoint)


def test_template_resources_are_created_once_then_unchanged(stores: Stores) -> None:
    first = _provision(stores)
    statuses = {(r.kind, r.name): r.status for r in first.results}
    for key in [("queue", "events-jobs"), ("queue", "events-jobs-dlq"), ("topic", "events-news"),
                ("param", "/events/mode"), ("secret", "events-api-key"), ("stream", "events-clicks"),
                ("logs", "/events/audit")]:
        assert statuses[key] == "created", key
    second = _provision(stores)
    assert [r for r in second.results if r.status != "unchanged"] == []
    sqs = stores.client("sqs")
    url = sqs.get_queue_url(QueueName="events-jobs")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "2"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:events-jobs-dlq", "maxReceiveCount": 2}
    secret = json.loads(stores.client("secretsmanager").get_secret_value(SecretId="events-api-key")["SecretString"])
    assert secret["user"] == "svc" and len(secret["password"]) == 24 and secret["password"].isalnum()
    assert secret["password"] not in first.text() + second.text()  # the generated value is never shown
    assert stores.client("ssm").get_parameter(Name="/events/mode")["Parameter"]["Value"] == "edge"


def test_async_sources_deliver_into_their_queues(stores: Stores) -> None:
    _provision(stores)
    s3 = stores.client("s3")
    config = s3.get_bucket_notification_configuration(Bucket="events-uploads")["QueueConfigurations"]
    assert [(c["QueueArn"], c["Events"]) for c in config] == [
        ("arn:aws:sqs:us-east-1:000000000000:esb-deliver-events-uploads-Uploaded", ["s3:ObjectCreated:*"])]
    subs = stores.client("sns").list_subscriptions_by_topic(
        TopicArn="arn:aws:sns:us-east-1:000000000000:events-news")["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == ["arn:aws:sqs:us-east-1:000000000000:esb-deliver-events-news-News"]
    targets = stores.client("events").list_targets_by_rule(Rule="events-rule-Shipped")["Targets"]
    assert [t["Arn"] for t in targets] == ["arn:aws:sqs:us-east-1:000000000000:esb-deliver-events-rule-Shipped"]


def test_generated_secret_follows_the_spec() -> None:
    picks = []

    def token(length: int, alphabet: str) -> str:
        picks.append(alphabet)
        return "x" * length

    assert generated_secret({"PasswordLength": 5}, token) == "xxxxx"
    assert "!" in picks[0]
    assert generated_secret({"ExcludePunctuation": True, "ExcludeCharacters": "abc", "PasswordLength": 2,
                             "SecretStringTemplate": '{"u": 1}', "GenerateStringKey": "p"}, token) == \
        '{"u": 1, "p": "xx"}'
    assert "!" not in picks[1] and "a" not in picks[1] and "d" in picks[1]
