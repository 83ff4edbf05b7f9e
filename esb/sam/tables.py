"""AWS::DynamoDB::Table and AWS::Serverless::SimpleTable → model Table."""

from __future__ import annotations

from typing import Any

from esb.model import Index, KeyElement, Table
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar, to_bool, to_int

Path = tuple[str, ...]
_TABLE_PROPS = frozenset({
    "TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
    "BillingMode", "ProvisionedThroughput", "StreamSpecification", "TimeToLiveSpecification",
})
_TABLE_QUIET = frozenset({
    "SSESpecification", "PointInTimeRecoverySpecification", "Tags", "DeletionProtectionEnabled",
    "ContributorInsightsSpecification", "KinesisStreamSpecification", "TableClass", "ResourcePolicy",
    "OnDemandThroughput", "WarmThroughput", "ImportSourceSpecification",
})
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def build_table(ctx: LoadContext, logical_id: str, name: str, props: dict[str, Any]) -> Table:
    path = ("Resources", logical_id, "Properties")
    for key in props:
        if key not in _TABLE_PROPS and key not in _TABLE_QUIET:
            ctx.warn(logical_id, key, "not supported, ignored")
    attributes = _attributes(ctx, props.get("AttributeDefinitions"), (*path, "AttributeDefinitions"))
    key_schema = _key_schema(ctx, props.get("KeySchema"), (*path, "KeySchema"), attributes)
    read, write = _throughput(ctx, props.get("ProvisionedThroughput"), (*path, "ProvisionedThroughput"))
    billing = cfn_str(props.get("BillingMode", "PROVISIONED" if read is not None else "PAY_PER_REQUEST"))
    if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
        ctx.fail((*path, "BillingMode"), "BillingMode must be PROVISIONED or PAY_PER_REQUEST")
    return Table(
        logical_id=logical_id,
        name=name,
        attributes=tuple(sorted(attributes.items())),
        key_schema=key_schema,
        gsis=_indexes(ctx, props.get("GlobalSecondaryIndexes"), (*path, "GlobalSecondaryIndexes"), attributes),
        lsis=_indexes(ctx, props.get("LocalSecondaryIndexes"), (*path, "LocalSecondaryIndexes"), attributes),
        billing_mode=billing,
        read_capacity=read,
        write_capacity=write,
        stream_view_type=_stream(ctx, props.get("StreamSpecification"), (*path, "StreamSpecification")),
        ttl_attribute=_ttl(ctx, props.get("TimeToLiveSpecification"), (*path, "TimeToLiveSpecification")),
    )


def build_simple_table(ctx: LoadContext, logical_id: str, name: str, props: dict[str, Any]) -> Table:
    path = ("Resources", logical_id, "Properties")
    for key in props:
        if key not in ("PrimaryKey", "ProvisionedThroughput", "TableName", "SSESpecification", "Tags"):
            ctx.warn(logical_id, key, "not supported, ignored")
    primary = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    if not isinstance(primary, dict) or not is_scalar(primary.get("Name")):
        ctx.fail((*path, "PrimaryKey"), "PrimaryKey needs Name and Type")
    key_type = cfn_str(primary.get("Type", "String"))
    if key_type not in _SIMPLE_TYPES:
        ctx.fail((*path, "PrimaryKey", "Type"), "PrimaryKey.Type must be String, Number or Binary")
    key_name = cfn_str(primary["Name"])
    read, write = _throughput(ctx, props.get("ProvisionedThroughput"), (*path, "ProvisionedThroughput"))
    return Table(
        logical_id=logical_id,
        name=name,
        attributes=((key_name, _SIMPLE_TYPES[key_type]),),
        key_schema=(KeyElement(key_name, "HASH"),),
        billing_mode="PAY_PER_REQUEST" if read is None else "PROVISIONED",
        read_capacity=read,
        write_capacity=write,
    )


def _attributes(ctx: LoadContext, value: Any, path: Path) -> dict[str, str]:
    if not isinstance(value, list) or not value:
        ctx.fail(path, "AttributeDefinitions must list the key attributes")
    result: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not is_scalar(item.get("AttributeName")):
            ctx.fail((*path, str(i)), "each attribute needs AttributeName and AttributeType")
        attr_type = cfn_str(item.get("AttributeType", ""))
        if attr_type not in ("S", "N", "B"):
            ctx.fail((*path, str(i), "AttributeType"), "AttributeType must be S, N or B")
        result[cfn_str(item["AttributeName"])] = attr_type
    return result


def _key_schema(ctx: LoadContext, value: Any, path: Path, attributes: dict[str, str]) -> tuple[KeyElement, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        ctx.fail(path, "KeySchema must list a HASH key and optionally a RANGE key")
    keys = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            ctx.fail((*path, str(i)), "each key needs AttributeName and KeyType")
        name, key_type = cfn_str(item.get("AttributeName", "")), cfn_str(item.get("KeyType", ""))
        if key_type not in ("HASH", "RANGE"):
            ctx.fail((*path, str(i), "KeyType"), "KeyType must be HASH or RANGE")
        if name not in attributes:
            ctx.fail((*path, str(i)), f"key attribute '{name}' is not in AttributeDefinitions", "declare it there")
        keys.append(KeyElement(name, key_type))  # type: ignore[arg-type]
    if keys[0].key_type != "HASH" or len({k.key_type for k in keys}) != len(keys):
        ctx.fail(path, "KeySchema must be one HASH key, then optionally one RANGE key")
    return tuple(keys)


def _indexes(ctx: LoadContext, value: Any, path: Path, attributes: dict[str, str]) -> tuple[Index, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ctx.fail(path, "indexes must be a list")
    result = []
    for i, item in enumerate(value):
        ipath = (*path, str(i))
        if not isinstance(item, dict) or not is_scalar(item.get("IndexName")):
            ctx.fail(ipath, "each index needs IndexName, KeySchema and Projection")
        projection = item.get("Projection") or {}
        non_key = projection.get("NonKeyAttributes") or [] if isinstance(projection, dict) else []
        read, write = _throughput(ctx, item.get("ProvisionedThroughput"), (*ipath, "ProvisionedThroughput"))
        result.append(Index(
            name=cfn_str(item["IndexName"]),
            key_schema=_key_schema(ctx, item.get("KeySchema"), (*ipath, "KeySchema"), attributes),
            projection_type=cfn_str(projection.get("ProjectionType", "ALL")) if isinstance(projection, dict) else "ALL",
            non_key_attributes=tuple(sorted(cfn_str(a) for a in non_key)),
            read_capacity=read,
            write_capacity=write,
        ))
    return tuple(sorted(result, key=lambda index: index.name))


def _throughput(ctx: LoadContext, value: Any, path: Path) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        ctx.fail(path, "ProvisionedThroughput needs ReadCapacityUnits and WriteCapacityUnits")
    try:
        return to_int(value["ReadCapacityUnits"]), to_int(value["WriteCapacityUnits"])
    except (KeyError, ValueError):
        ctx.fail(path, "ProvisionedThroughput needs whole-number ReadCapacityUnits and WriteCapacityUnits")


def _stream(ctx: LoadContext, value: Any, path: Path) -> str | None:
    if value is None:
        return None
    view = value.get("StreamViewType") if isinstance(value, dict) else None
    if view not in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        ctx.fail(path, "StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES")
    return view


def _ttl(ctx: LoadContext, value: Any, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not is_scalar(value.get("AttributeName")):
        ctx.fail(path, "TimeToLiveSpecification needs AttributeName and Enabled")
    try:
        enabled = to_bool(value.get("Enabled", False))
    except ValueError:
        ctx.fail((*path, "Enabled"), "Enabled must be true or false")
    return cfn_str(value["AttributeName"]) if enabled else None
