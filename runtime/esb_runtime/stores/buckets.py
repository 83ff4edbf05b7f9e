"""Dump and restore S3 buckets (versioning, CORS, every current object with its headers) via the API."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

# Object headers worth keeping besides the body; user metadata travels separately.
_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")
_WORKERS = 8


def _cors(client: Any, name: str) -> list[dict]:
    try:
        return client.get_bucket_cors(Bucket=name)["CORSRules"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchCORSConfiguration", "NoSuchCORS"):
            return []
        raise


def _previous_objects(previous: Path | None, entries: list[dict], name: str) -> tuple[Path | None, dict]:
    """The last snapshot's records of a bucket, by key, so unchanged objects are hard-linked, not fetched."""
    for entry in entries:
        if previous is not None and entry["name"] == name:
            folder = previous / entry["folder"]
            with open(folder / "objects.jsonl", encoding="utf-8") as handle:
                return folder, {o["key"]: o for o in map(json.loads, handle) if "version" in o}
    return None, {}


def dump(client: Any, target: Path, previous: Path | None = None, previous_entries: list[dict] = ()) -> list[dict]:
    """Write `<target>/<n>/` per bucket (objects.jsonl + blobs); return the manifest entries."""
    entries = []
    for number, bucket in enumerate(client.list_buckets().get("Buckets", [])):
        name = bucket["Name"]
        folder = target / str(number)
        folder.mkdir()
        listed = [
            (obj["Key"], f"{obj.get('ETag')}|{obj['LastModified'].isoformat()}")
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name)
            for obj in page.get("Contents", [])
        ]
        old_folder, old = _previous_objects(previous, list(previous_entries), name)

        def fetch(pair: tuple[int, tuple[str, str]]) -> dict:
            index, (key, version) = pair
            blob = folder / f"{index}.bin"
            known = old.get(key)
            if old_folder is not None and known and known["version"] == version:
                try:
                    os.link(old_folder / known["blob"], blob)
                    return {**known, "blob": blob.name}
                except OSError:
                    pass  # fall back to fetching it
            obj = client.get_object(Bucket=name, Key=key)
            blob.write_bytes(obj["Body"].read())
            meta = {h: obj[h] for h in _HEADERS if obj.get(h)}
            return {"key": key, "blob": blob.name, "metadata": obj.get("Metadata", {}), "headers": meta,
                    "version": version}

        with ThreadPoolExecutor(_WORKERS) as pool:
            objects = list(pool.map(fetch, enumerate(listed)))
        with open(folder / "objects.jsonl", "w", encoding="utf-8") as handle:
            for obj in objects:
                handle.write(json.dumps(obj, separators=(",", ":")) + "\n")
        location = client.get_bucket_location(Bucket=name).get("LocationConstraint")
        versioning = client.get_bucket_versioning(Bucket=name).get("Status")
        entries.append(
            {"name": name, "folder": str(number), "location": location, "versioning": versioning,
             "cors": _cors(client, name), "objects": len(objects)}
        )
    return entries


def restore(client: Any, entry: dict, source: Path) -> None:
    name = entry["name"]
    kwargs: dict[str, Any] = {"Bucket": name}
    if entry.get("location") and entry["location"] != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": entry["location"]}
    client.create_bucket(**kwargs)
    if entry.get("versioning"):
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": entry["versioning"]})
    if entry.get("cors"):
        client.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": entry["cors"]})
    folder = source / entry["folder"]
    with open(folder / "objects.jsonl", encoding="utf-8") as handle:
        objects = [json.loads(line) for line in handle]

    def put(obj: dict) -> None:
        body = (folder / obj["blob"]).read_bytes()
        client.put_object(Bucket=name, Key=obj["key"], Body=body, Metadata=obj["metadata"], **obj["headers"])

    with ThreadPoolExecutor(_WORKERS) as pool:
        list(pool.map(put, objects))
