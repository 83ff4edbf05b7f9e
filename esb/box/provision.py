"""Create the template's tables and buckets in the box's stores, idempotently, never destructively."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from esb.box.provision_results import ResourceResult
from esb.errors import BoxError
from esb.model import Application, Bucket, Index, KeyElement, Table
from esb.seams import AwsClientFactory



class AwsCredentials(Protocol):
    aws_access_key_id: str
    aws_secret_access_key: str



@dataclass
class ProvisionReport:
    results: list[ResourceResult] = field(default_factory=list)

    @property
    def needs_reset(self) -> list[ResourceResult]:
        return [r for r in self.results if r.status == "changed-needs-reset"]

    @property
    def changed(self) -> bool:
        return any(r.status != "unchanged" for r in self.results)

    def text(self) -> str:
        width = max((len(r.name) for r in self.results), default=0)
        lines = []
        for r in self.results:
            detail = f"  ({'; '.join(r.details)})" if r.details else ""
            lines.append(f"{r.kind:<6} {r.name:<{width}}  {r.status}{detail}")
        if self.needs_reset:
            lines.append("run `esb reset` to recreate the resources marked changed-needs-reset (deletes their data)")
        return "\n".join(lines)


def _keys(elements: tuple[KeyElement, ...]) -> list[dict]:
    return [{"AttributeName": k.name, "KeyType": k.key_type} for k in elements]


def _projection(index: Index) -> dict:
    projection: dict[str, Any] = {"ProjectionType": index.projection_type}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return projection


def _throughput(read: int | None, write: int | None) -> dict:
    return {"ReadCapacityUnits": read or 1, "WriteCapacityUnits": write or 1}


def _gsi(table: Table, index: Index) -> dict:
    spec = {"IndexName": index.name, "KeySchema": _keys(index.key_schema), "Projection": _projection(index)}
    if table.billing_mode == "PROVISIONED":
        spec["ProvisionedThroughput"] = _throughput(
            index.read_capacity or table.read_capacity, index.write_capacity or table.write_capacity
        )
    return spec


def create_table_params(table: Table) -> dict:
    """CreateTable arguments for a template table (TTL is set separately, after creation)."""
    params: dict[str, Any] = {
        "TableName": table.name,
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes],
        "KeySchema": _keys(table.key_schema),
        "BillingMode": table.billing_mode,
    }
    if table.billing_mode == "PROVISIONED":
        params["ProvisionedThroughput"] = _throughput(table.read_capacity, table.write_capacity)
    if table.gsis:
        params["GlobalSecondaryIndexes"] = [_gsi(table, i) for i in table.gsis]
    if table.lsis:
        params["LocalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _keys(i.key_schema), "Projection": _projection(i)} for i in table.lsis
        ]
    if table.stream_view_type:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    return params


def _index_shape(spec: dict) -> tuple:
    projection = spec.get("Projection", {})
    return (
        json.dumps(spec["KeySchema"], sort_keys=True),
        projection.get("ProjectionType", "ALL"),
        tuple(sorted(projection.get("NonKeyAttributes", []))),
    )


@contextlib.contextmanager
def _translate(kind: str, resource: str) -> Iterator[None]:
    """One place where boto errors become a BoxError naming the resource."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise BoxError(f"{kind} {resource}: {error.get('Code')}: {error.get('Message')}", where=resource) from exc
    except BotoCoreError as exc:
        raise BoxError(f"{kind} {resource}: {exc}", where=resource) from exc


def _ttl(ddb: Any, name: str) -> str | None:
    desc = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    return desc.get("AttributeName") if desc.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None


def _set_ttl(ddb: Any, name: str, attribute: str, enabled: bool) -> None:
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute})


def reconcile_table(ddb: Any, table: Table) -> ResourceResult:
    want = create_table_params(table)
    try:
        desc = ddb.describe_table(TableName=table.name)["Table"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        ddb.create_table(**want)
        if table.ttl_attribute:
            _set_ttl(ddb, table.name, table.ttl_attribute, True)
        return ResourceResult("table", table.name, table.logical_id, "created")
    reset: list[str] = []
    applied: list[str] = []
    if json.dumps(desc["KeySchema"], sort_keys=True) != json.dumps(want["KeySchema"], sort_keys=True):
        reset.append("key schema differs")
    have_lsi = {i["IndexName"]: _index_shape(i) for i in desc.get("LocalSecondaryIndexes", [])}
    want_lsi = {i["IndexName"]: _index_shape(i) for i in want.get("LocalSecondaryIndexes", [])}
    if have_lsi != want_lsi:
        reset.append("local secondary indexes differ")
    have_gsi = {i["IndexName"]: _index_shape(i) for i in desc.get("GlobalSecondaryIndexes", [])}
    for spec in want.get("GlobalSecondaryIndexes", []):
        name = spec["IndexName"]
        if name not in have_gsi:
            attrs = {k["AttributeName"] for k in spec["KeySchema"]}
            definitions = [a for a in want["AttributeDefinitions"] if a["AttributeName"] in attrs]
            try:
                ddb.update_table(TableName=table.name, AttributeDefinitions=definitions,
                                 GlobalSecondaryIndexUpdates=[{"Create": spec}])
                applied.append(f"added GSI {name}")
            except ClientError:
                reset.append(f"GSI {name} missing")
        elif have_gsi[name] != _index_shape(spec):
            reset.append(f"GSI {name} differs")
    for name in set(have_gsi) - {s["IndexName"] for s in want.get("GlobalSecondaryIndexes", [])}:
        reset.append(f"GSI {name} no longer in template")
    applied += _reconcile_table_settings(ddb, table, desc)
    if reset:
        return ResourceResult("table", table.name, table.logical_id, "changed-needs-reset", tuple(reset + applied))
    return ResourceResult("table", table.name, table.logical_id, "updated" if applied else "unchanged", tuple(applied))


def _reconcile_table_settings(ddb: Any, table: Table, desc: dict) -> list[str]:
    """Billing, streams and TTL can change in place; apply them."""
    applied = []
    billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing != table.billing_mode:
        extra = {}
        if table.billing_mode == "PROVISIONED":
            extra["ProvisionedThroughput"] = _throughput(table.read_capacity, table.write_capacity)
        ddb.update_table(TableName=table.name, BillingMode=table.billing_mode, **extra)
        applied.append(f"billing {billing} -> {table.billing_mode}")
    stream = desc.get("StreamSpecification") or {}
    have_stream = stream.get("StreamViewType") if stream.get("StreamEnabled") else None
    if have_stream != table.stream_view_type:
        spec = {"StreamEnabled": bool(table.stream_view_type)}
        if table.stream_view_type:
            spec["StreamViewType"] = table.stream_view_type
        ddb.update_table(TableName=table.name, StreamSpecification=spec)
        applied.append(f"stream {have_stream} -> {table.stream_view_type}")
    have_ttl = _ttl(ddb, table.name)
    if have_ttl != table.ttl_attribute:
        if have_ttl:
            _set_ttl(ddb, table.name, have_ttl, False)
        if table.ttl_attribute:
            _set_ttl(ddb, table.name, table.ttl_attribute, True)
        applied.append(f"TTL {have_ttl} -> {table.ttl_attribute}")
    return applied


def _normal_cors(rules: Any) -> str:
    return json.dumps([{k: v for k, v in r.items() if v not in (None, [], "") and k != "ID"} for r in rules],
                      sort_keys=True)


def reconcile_bucket(s3: Any, bucket: Bucket, region: str) -> ResourceResult:
    details: list[str] = []
    try:
        s3.head_bucket(Bucket=bucket.name)
        created = False
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs: dict[str, Any] = {"Bucket": bucket.name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        created = True
    status = s3.get_bucket_versioning(Bucket=bucket.name).get("Status")
    if bucket.versioning and status != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        details.append("versioning enabled")
    elif not bucket.versioning and status == "Enabled":
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Suspended"})
        details.append("versioning suspended")
    try:
        have_cors = s3.get_bucket_cors(Bucket=bucket.name)["CORSRules"]
    except ClientError:
        have_cors = []
    if _normal_cors(have_cors) != _normal_cors(bucket.cors_rules):
        if bucket.cors_rules:
            s3.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": list(bucket.cors_rules)})
        else:
            s3.delete_bucket_cors(Bucket=bucket.name)
        details.append("CORS set")
    lambdas = [n for n in bucket.notifications if n.get("Type") not in ("Queue", "Topic")]
    if lambdas:
        details.append(f"{len(lambdas)} notification(s) recorded, not delivered (give the function an S3 event)")
    if created:
        return ResourceResult("bucket", bucket.name, bucket.logical_id, "created", tuple(details))
    changed = [d for d in details if "notification" not in d]
    return ResourceResult("bucket", bucket.name, bucket.logical_id, "updated" if changed else "unchanged",
                          tuple(details))


def wait_for_store(check: Callable[[], object], endpoint: str, deadline_s: float,
                   clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    end = clock() + deadline_s
    while True:
        try:
            check()
            return
        except (ClientError, BotoCoreError) as exc:
            if clock() >= end:
                raise BoxError(
                    f"the store at {endpoint} did not answer within {deadline_s:g}s ({exc})",
                    hint="is the stores process running? see `esb status` and the stores log",
                ) from exc
            sleep(0.2)


def cached_clients(credentials: AwsCredentials, region: str) -> AwsClientFactory:
    """boto3 clients for the box's stores, one per (service, endpoint), made on first use."""
    made: dict[tuple[str, str], Any] = {}

    def client(service: str, endpoint: str) -> Any:
        if (service, endpoint) not in made:
            made[service, endpoint] = boto3.client(
                service, endpoint_url=endpoint, region_name=region, aws_access_key_id=credentials.aws_access_key_id,
                aws_secret_access_key=credentials.aws_secret_access_key,
                config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}))
        return made[service, endpoint]

    return client


def warm_clients(app: Application, clients: AwsClientFactory, s3_endpoint: str, dynamodb_endpoint: str,
                 services_endpoint: str | None = None) -> None:
    """Make the clients `provision` will ask `clients` for (a cached factory keeps them): `esb up` does it while
    the stores boot, so provisioning starts with its first request once they are ready."""
    clients("dynamodb", dynamodb_endpoint)
    clients("s3", s3_endpoint)
    if services_endpoint:
        from esb.box.provision_services import services_of

        for service in sorted({"sqs", *services_of(app.resources)}):  # sqs: the deliveries' queues
            clients(service, services_endpoint)


def provision(app: Application, s3_endpoint: str, dynamodb_endpoint: str, credentials: AwsCredentials,
              region: str, deadline_s: float = 30, clients: AwsClientFactory | None = None,
              services_endpoint: str | None = None) -> ProvisionReport:
    """Bring the stores in line with the template; report each resource, apply nothing destructive.

    With `services_endpoint` (the embedded stores), also the queues, topics, rules, parameters, secrets,
    streams and log groups, and the delivery queues of the asynchronous event sources."""

    make = clients or cached_clients(credentials, region)
    ddb, s3 = make("dynamodb", dynamodb_endpoint), make("s3", s3_endpoint)
    started = time.monotonic()
    wait_for_store(ddb.list_tables, dynamodb_endpoint, deadline_s)
    wait_for_store(s3.list_buckets, s3_endpoint, max(0.0, deadline_s - (time.monotonic() - started)))
    report = ProvisionReport()
    for table in app.tables:
        with _translate("table", table.name):
            report.results.append(reconcile_table(ddb, table))
    for bucket in app.buckets:
        with _translate("bucket", bucket.name):
            report.results.append(reconcile_bucket(s3, bucket, region))
    if services_endpoint:
        from esb.box.provision_deliveries import wire_deliveries
        from esb.box.provision_services import reconcile_resources

        def service_client(service: str) -> Any:
            return s3 if service == "s3" else make(service, services_endpoint)

        report.results.extend(reconcile_resources(app.resources, service_client, _translate))
        report.results.extend(wire_deliveries(app, service_client, _translate))
    return report
