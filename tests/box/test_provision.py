"""Tests of the provisioner against a real moto server on loopback."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from esb.errors import BoxError
from esb.model import Application, Bucket, Index, KeyElement, Table
from esb.box.provision import provision

pytestmark = pytest.mark.integration


@dataclasses.dataclass(frozen=True)
class Creds:
    aws_access_key_id: str = "AKIAEXAMPLEEXAMPLE00"
    aws_secret_access_key: str = "secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends are process-global: start every test from empty stores.
    httpx.post(f"http://127.0.0.1:{port}/moto-api/reset").raise_for_status()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def client(service: str, endpoint: str):
    c = Creds()
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=c.aws_access_key_id, aws_secret_access_key=c.aws_secret_access_key)


ORDERS = Table(
    logical_id="Orders", name="app-orders",
    attributes=(("customer", "S"), ("id", "S"), ("placed", "N"), ("status", "S")),
    key_schema=(KeyElement("id", "HASH"), KeyElement("placed", "RANGE")),
    gsis=(Index("by-customer", (KeyElement("customer", "HASH"),), "INCLUDE", ("total",)),),
    lsis=(Index("by-status", (KeyElement("id", "HASH"), KeyElement("status", "RANGE")), "KEYS_ONLY"),),
    billing_mode="PROVISIONED", read_capacity=5, write_capacity=3,
    stream_view_type="NEW_IMAGE", ttl_attribute="expires",
)
SIMPLE = Table(logical_id="Simple", name="app-simple", attributes=(("pk", "S"),),
               key_schema=(KeyElement("pk", "HASH"),))
UPLOADS = Bucket(logical_id="Uploads", name="app-uploads", versioning=True,
                 cors_rules=({"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"]},),
                 notifications=({"Event": "s3:ObjectCreated:*"},))


def app(tables: tuple[Table, ...] = (ORDERS,), buckets: tuple[Bucket, ...] = (UPLOADS,)) -> Application:
    return Application(template_path=Path("template.yaml"), stack_name="app", region="us-east-1",
                       account_id="000000000000", tables=tables, buckets=buckets)


def run(endpoint: str, application: Application):
    return provision(application, endpoint, endpoint, Creds(), "us-east-1", deadline_s=5)


def test_creates_exactly_the_template(endpoint: str) -> None:
    report = run(endpoint, app())
    assert [(r.name, r.status) for r in report.results] == [("app-orders", "created"), ("app-uploads", "created")]
    ddb = client("dynamodb", endpoint)
    desc = ddb.describe_table(TableName="app-orders")["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "placed", "KeyType": "RANGE"}]
    gsi = desc["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == "by-customer"
    assert gsi["KeySchema"] == [{"AttributeName": "customer", "KeyType": "HASH"}]
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["total"]}
    lsi = desc["LocalSecondaryIndexes"][0]
    assert (lsi["IndexName"], lsi["Projection"]["ProjectionType"]) == ("by-status", "KEYS_ONLY")
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ttl = ddb.describe_time_to_live(TableName="app-orders")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires"
    assert ddb.list_tables()["TableNames"] == ["app-orders"]
    s3 = client("s3", endpoint)
    assert s3.get_bucket_versioning(Bucket="app-uploads")["Status"] == "Enabled"
    assert s3.get_bucket_cors(Bucket="app-uploads")["CORSRules"][0]["AllowedMethods"] == ["GET", "PUT"]
    assert "notification(s) recorded" in report.text()


def test_second_run_is_unchanged(endpoint: str) -> None:
    run(endpoint, app())
    before = client("dynamodb", endpoint).describe_table(TableName="app-orders")["Table"]
    report = run(endpoint, app())
    assert [r.status for r in report.results] == ["unchanged", "unchanged"]
    assert not report.changed
    after = client("dynamodb", endpoint).describe_table(TableName="app-orders")["Table"]
    assert after["CreationDateTime"] == before["CreationDateTime"]
    assert after["GlobalSecondaryIndexes"] == before["GlobalSecondaryIndexes"]


def test_adding_a_table_creates_only_that_one(endpoint: str) -> None:
    run(endpoint, app())
    ddb = client("dynamodb", endpoint)
    ddb.put_item(TableName="app-orders", Item={"id": {"S": "1"}, "placed": {"N": "1"}})
    report = run(endpoint, app(tables=(ORDERS, SIMPLE)))
    assert {r.name: r.status for r in report.results} == {
        "app-orders": "unchanged", "app-simple": "created", "app-uploads": "unchanged"}
    assert ddb.scan(TableName="app-orders")["Count"] == 1


def test_key_change_is_reported_not_applied(endpoint: str) -> None:
    run(endpoint, app(tables=(SIMPLE,), buckets=()))
    ddb = client("dynamodb", endpoint)
    ddb.put_item(TableName="app-simple", Item={"pk": {"S": "keep"}})
    changed = dataclasses.replace(SIMPLE, attributes=(("pk", "S"), ("sk", "S")),
                                  key_schema=(KeyElement("pk", "HASH"), KeyElement("sk", "RANGE")))
    report = run(endpoint, app(tables=(changed,), buckets=()))
    assert report.results[0].status == "changed-needs-reset"
    assert "key schema differs" in report.results[0].details
    assert "esb reset" in report.text()
    desc = ddb.describe_table(TableName="app-simple")["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert ddb.scan(TableName="app-simple")["Count"] == 1


def test_new_gsi_is_added_in_place(endpoint: str) -> None:
    run(endpoint, app(tables=(SIMPLE,), buckets=()))
    with_gsi = dataclasses.replace(SIMPLE, attributes=(("pk", "S"), ("email", "S")),
                                   gsis=(Index("by-email", (KeyElement("email", "HASH"),)),))
    report = run(endpoint, app(tables=(with_gsi,), buckets=()))
    assert report.results[0].status == "updated"
    desc = client("dynamodb", endpoint).describe_table(TableName="app-simple")["Table"]
    assert [g["IndexName"] for g in desc["GlobalSecondaryIndexes"]] == ["by-email"]
    assert run(endpoint, app(tables=(with_gsi,), buckets=())).results[0].status == "unchanged"


def test_unreachable_store_fails_with_a_clear_message() -> None:
    port = free_port()
    with pytest.raises(BoxError, match=f"127.0.0.1:{port} did not answer within 0.5s"):
        provision(app(), f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", Creds(), "us-east-1", deadline_s=0.5)


def test_report_text_one_line_per_resource(endpoint: str) -> None:
    text = run(endpoint, app(tables=(ORDERS, SIMPLE))).text()
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("table  app-orders") and lines[0].rstrip().endswith("created")
    assert lines[2].startswith("bucket app-uploads")
