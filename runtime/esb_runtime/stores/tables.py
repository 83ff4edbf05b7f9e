"""Dump and restore DynamoDB tables (definition, TTL and every item) through the public API."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

_BATCH = 25


def _encode(value: Any) -> Any:
    """A typed attribute value as JSON: binary becomes base64 text (tagged by its B/BS type)."""
    out = {}
    for kind, inner in value.items():
        if kind == "B":
            out[kind] = base64.b64encode(inner).decode("ascii")
        elif kind == "BS":
            out[kind] = [base64.b64encode(b).decode("ascii") for b in inner]
        elif kind == "M":
            out[kind] = {k: _encode(v) for k, v in inner.items()}
        elif kind == "L":
            out[kind] = [_encode(v) for v in inner]
        else:
            out[kind] = inner
    return out


def _decode(value: Any) -> Any:
    out = {}
    for kind, inner in value.items():
        if kind == "B":
            out[kind] = base64.b64decode(inner)
        elif kind == "BS":
            out[kind] = [base64.b64decode(b) for b in inner]
        elif kind == "M":
            out[kind] = {k: _decode(v) for k, v in inner.items()}
        elif kind == "L":
            out[kind] = [_decode(v) for v in inner]
        else:
            out[kind] = inner
    return out


def create_params(desc: dict) -> dict:
    """CreateTable arguments that rebuild a table from its DescribeTable answer."""
    billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    params: dict[str, Any] = {
        "TableName": desc["TableName"],
        "AttributeDefinitions": desc["AttributeDefinitions"],
        "KeySchema": desc["KeySchema"],
        "BillingMode": billing,
    }

    def throughput(src: dict) -> dict:
        tp = src.get("ProvisionedThroughput", {})
        return {"ReadCapacityUnits": tp.get("ReadCapacityUnits") or 1, "WriteCapacityUnits": tp.get("WriteCapacityUnits") or 1}

    if billing == "PROVISIONED":
        params["ProvisionedThroughput"] = throughput(desc)
    gsis = []
    for gsi in desc.get("GlobalSecondaryIndexes", []):
        entry = {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"], "Projection": gsi["Projection"]}
        if billing == "PROVISIONED":
            entry["ProvisionedThroughput"] = throughput(gsi)
        gsis.append(entry)
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {"IndexName": lsi["IndexName"], "KeySchema": lsi["KeySchema"], "Projection": lsi["Projection"]}
        for lsi in desc.get("LocalSecondaryIndexes", [])
    ]
    if lsis:
        params["LocalSecondaryIndexes"] = lsis
    stream = desc.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return params


def dump_region(client: Any, region: str, target: Path) -> list[dict]:
    """Write `<target>/<region>.<table>.jsonl` per table; return the manifest entries."""
    entries = []
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            desc = client.describe_table(TableName=name)["Table"]
            ttl = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
            items_file = f"{region}.{name}.jsonl"
            count = 0
            with open(target / items_file, "w", encoding="utf-8") as handle:
                for scan in client.get_paginator("scan").paginate(TableName=name):
                    for item in scan["Items"]:
                        handle.write(json.dumps(_encode({"M": item})["M"], separators=(",", ":")) + "\n")
                        count += 1
            entries.append(
                {
                    "region": region,
                    "create": create_params(desc),
                    "ttl_attribute": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
                    "items_file": items_file,
                    "items": count,
                }
            )
    return entries


def restore_table(client: Any, entry: dict, source: Path) -> None:
    name = entry["create"]["TableName"]
    client.create_table(**entry["create"])
    if entry.get("ttl_attribute"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": entry["ttl_attribute"]}
        )
    batch: list[dict] = []
    with open(source / entry["items_file"], encoding="utf-8") as handle:
        for line in handle:
            batch.append({"PutRequest": {"Item": _decode({"M": json.loads(line)})["M"]}})
            if len(batch) == _BATCH:
                _write_batch(client, name, batch)
                batch = []
    if batch:
        _write_batch(client, name, batch)


def _write_batch(client: Any, name: str, batch: list[dict]) -> None:
    pending: dict = {name: batch}
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
