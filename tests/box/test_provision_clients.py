"""esb.box.provision's client factory and warm-up: `esb up` makes every client provisioning uses while the stores
boot, and provisioning then reuses them (no store needed: clients talk to nobody until called)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from esb.box.provision import cached_clients, warm_clients
from esb.box.provision_services import services_of
from esb.model import Application, AwsResource
from esb.sam import service_refs as T


@dataclasses.dataclass(frozen=True)
class Creds:
    aws_access_key_id: str = "AKIAEXAMPLEEXAMPLE00"
    aws_secret_access_key: str = "secret"


def _app(*resources: AwsResource) -> Application:
    return Application(template_path=Path("template.yaml"), stack_name="app", region="eu-west-1", account_id="000000000000",
                       resources=resources)


def test_cached_clients_make_one_client_per_service_and_endpoint() -> None:
    clients = cached_clients(Creds(), "eu-west-1")
    ddb = clients("dynamodb", "http://127.0.0.1:1")
    assert clients("dynamodb", "http://127.0.0.1:1") is ddb
    other = clients("dynamodb", "http://127.0.0.1:2")
    assert other is not ddb and other.meta.endpoint_url == "http://127.0.0.1:2"
    assert ddb.meta.region_name == "eu-west-1" and ddb.meta.service_model.service_name == "dynamodb"


def test_warm_clients_asks_for_every_client_provisioning_uses() -> None:
    asked: list[tuple[str, str]] = []

    def clients(service: str, endpoint: str) -> Any:
        asked.append((service, endpoint))
        return object()

    app = _app(AwsResource("Jobs", T.QUEUE, "jobs"), AwsResource("News", T.TOPIC, "news"),
               AwsResource("Key", T.PARAMETER, "/app/key"))
    warm_clients(app, clients, s3_endpoint="http://s3", dynamodb_endpoint="http://ddb", services_endpoint="http://svc")
    assert asked == [("dynamodb", "http://ddb"), ("s3", "http://s3"), ("sns", "http://svc"), ("sqs", "http://svc"),
                     ("ssm", "http://svc")]
    asked.clear()
    warm_clients(app, clients, s3_endpoint="http://s3", dynamodb_endpoint="http://ddb")  # external stores
    assert asked == [("dynamodb", "http://ddb"), ("s3", "http://s3")]


def test_services_of_names_the_service_of_each_resource_once() -> None:
    resources = (AwsResource("A", T.QUEUE, "a"), AwsResource("B", T.QUEUE, "b"), AwsResource("S", T.STREAM, "s"),
                 AwsResource("L", T.LOG_GROUP, "l"))
    assert services_of(resources) == {"sqs", "kinesis", "logs"}
    assert services_of(()) == set()
