"""Tests of the embedded stores process: SigV4 gate, S3 and DynamoDB through boto3, durable data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from esb_runtime.secrets import BoxSecrets, ensure
from esb_runtime.stores import delete_data
from esb_runtime.stores.snapshot import current_snapshot

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stores:
    """One stores process under test, started and killed by its PID."""

    def __init__(self, out: Path, interval: float = 5.0, **env: str) -> None:
        self.out = out
        self.env = env
        self.port = free_port()
        self.interval = interval
        self.secrets: BoxSecrets = ensure(out / "secrets" / "box.json")
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_"))}
        env.update(ESB_OUTPUT_DIR=str(self.out), ESB_STORES_PORT=str(self.port),
                   ESB_STORES_SNAPSHOT_INTERVAL=str(self.interval), **self.env)
        self.proc = subprocess.Popen([sys.executable, "-m", "esb_runtime.stores"], env=env,
                                     stderr=open(self.out / "stores.err", "ab"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.out / "stores.err").read_text()
            try:
                if httpx.get(self.endpoint + "/_esb/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("stores did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def client(self, service: str, secret: str | None = None, **config: object):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.secrets.aws_access_key_id,
            aws_secret_access_key=secret or self.secrets.aws_secret_access_key,
            config=Config(retries={"max_attempts": 1}, **config),
        )


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    box = Stores(tmp_path / ".esb")
    box.start()
    yield box
    box.stop(signal.SIGKILL)


def make_table(ddb) -> None:
    ddb.create_table(
        TableName="items",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "email", "kind")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-email", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "by-kind", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                       {"AttributeName": "kind", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.update_time_to_live(TableName="items", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})


def test_s3_round_trip_with_metadata(stores: Stores) -> None:
    s3 = stores.client("s3")
    s3.create_bucket(Bucket="photos")
    s3.put_object(Bucket="photos", Key="a b/ü.txt", Body=b"hello", ContentType="text/plain", Metadata={"owner": "me"})
    got = s3.get_object(Bucket="photos", Key="a b/ü.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "me"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="photos")["Contents"]] == ["a b/ü.txt"]
    s3.delete_object(Bucket="photos", Key="a b/ü.txt")
    assert s3.list_objects_v2(Bucket="photos")["KeyCount"] == 0


def test_presigned_urls_v2_and_v4(stores: Stores) -> None:
    s3 = stores.client("s3")
    s3.create_bucket(Bucket="shared")
    s3.put_object(Bucket="shared", Key="x/y z.bin", Body=b"data")
    for client in (s3, stores.client("s3", signature_version="s3v4")):
        url = client.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "x/y z.bin"})
        assert httpx.get(url).content == b"data"
        assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403


def test_dynamodb_put_get_update_query_by_gsi(stores: Stores) -> None:
    ddb = stores.client("dynamodb")
    make_table(ddb)
    ddb.put_item(TableName="items", Item={"pk": {"S": "u1"}, "sk": {"S": "a"}, "email": {"S": "x@y"}, "n": {"N": "1"}})
    ddb.update_item(TableName="items", Key={"pk": {"S": "u1"}, "sk": {"S": "a"}},
                    UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}})
    item = ddb.get_item(TableName="items", Key={"pk": {"S": "u1"}, "sk": {"S": "a"}})["Item"]
    assert item["n"] == {"N": "2"}
    found = ddb.query(TableName="items", IndexName="by-email", KeyConditionExpression="email = :e",
                      ExpressionAttributeValues={":e": {"S": "x@y"}})["Items"]
    assert [i["pk"]["S"] for i in found] == ["u1"]


def test_foreign_or_missing_credentials_are_refused(stores: Stores) -> None:
    with pytest.raises(ClientError):
        stores.client("s3", secret="not-the-secret").list_buckets()
    with pytest.raises(ClientError):
        stores.client("dynamodb", secret="not-the-secret").list_tables()
    assert httpx.get(stores.endpoint + "/").status_code == 403
    assert httpx.get(stores.endpoint + "/moto-api/data.json").status_code == 404
    assert httpx.get(stores.endpoint + "/_esb/health").json()["status"] == "ok"


def snapshot_state(stores: Stores) -> dict:
    ddb, s3 = stores.client("dynamodb"), stores.client("s3")
    desc = ddb.describe_table(TableName="items")["Table"]
    items = sorted(ddb.scan(TableName="items")["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    objects = {}
    for obj in s3.list_objects_v2(Bucket="photos")["Contents"]:
        got = s3.get_object(Bucket="photos", Key=obj["Key"])
        objects[obj["Key"]] = (got["Body"].read(), got["ContentType"], got["Metadata"])
    return {
        "keys": desc["KeySchema"],
        "attrs": sorted(desc["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "gsis": [(g["IndexName"], g["KeySchema"], g["Projection"]) for g in desc.get("GlobalSecondaryIndexes", [])],
        "lsis": [(g["IndexName"], g["KeySchema"], g["Projection"]) for g in desc.get("LocalSecondaryIndexes", [])],
        "billing": desc["BillingModeSummary"]["BillingMode"],
        "stream": desc.get("StreamSpecification"),
        "ttl": ddb.describe_time_to_live(TableName="items")["TimeToLiveDescription"],
        "items": items,
        "versioning": s3.get_bucket_versioning(Bucket="photos").get("Status"),
        "cors": s3.get_bucket_cors(Bucket="photos")["CORSRules"],
        "objects": objects,
    }


def fill(stores: Stores) -> None:
    ddb, s3 = stores.client("dynamodb"), stores.client("s3")
    make_table(ddb)
    for i in range(30):
        ddb.put_item(TableName="items", Item={
            "pk": {"S": f"u{i % 3}"}, "sk": {"S": f"{i:03d}"}, "email": {"S": f"{i}@x"}, "kind": {"S": "k"},
            "bin": {"B": bytes([i, 0, 255])}, "tags": {"SS": ["a", "b"]},
            "nested": {"M": {"l": {"L": [{"N": str(i)}, {"BS": [b"\x01"]}]}}}})
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_cors(Bucket="photos", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 60}]})
    for i in range(12):
        s3.put_object(Bucket="photos", Key=f"p/{i}.png", Body=bytes(range(i * 10 % 256)) * 7,
                      ContentType="image/png", Metadata={"index": str(i)})


def test_restart_restores_everything_from_the_journal(stores: Stores) -> None:
    fill(stores)
    before = snapshot_state(stores)
    stores.stop(signal.SIGTERM)
    assert stores.proc is not None and stores.proc.returncode == 0
    stores.start()
    assert snapshot_state(stores) == before
    # A second restart replays the same journal (plus nothing new): no drift across generations.
    stores.stop(signal.SIGKILL)
    stores.start()
    assert snapshot_state(stores) == before


# With a public listener too (ports.aws_http): the compactor, which serves only itself, must not bind it again.
@pytest.mark.parametrize("public", [False, True])
def test_compaction_into_a_snapshot_keeps_everything_and_truncates_the_journal(tmp_path: Path, public: bool) -> None:
    listeners = {"ESB_STORES_HTTP_PORT": str(free_port())} if public else {}
    box = Stores(tmp_path / ".esb", interval=0.2, ESB_STORES_COMPACT_RECORDS="20", **listeners)
    box.start()
    try:
        fill(box)
        before = snapshot_state(box)
        wait_for_snapshot_after(box, 0)
        box.stop(signal.SIGKILL)
        snap = current_snapshot(box.out / "data")
        upto = json.loads((snap / "manifest.json").read_text())["journal_upto"]
        assert upto >= 1
        assert all(int(p.stem) > upto for p in (box.out / "data" / "journal").glob("*.log"))
        box.start()
        assert snapshot_state(box) == before
    finally:
        box.stop(signal.SIGKILL)


def test_sigkill_right_after_500_acknowledged_writes_loses_none(tmp_path: Path) -> None:
    # Compactions run while the writes go on (every 150 writes), so they must not lose any either.
    box = Stores(tmp_path / ".esb", interval=0.2, ESB_STORES_COMPACT_RECORDS="150")
    box.start()
    try:
        ddb, s3 = box.client("dynamodb", max_pool_connections=8), box.client("s3", max_pool_connections=8)
        ddb.create_table(TableName="t", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        s3.create_bucket(Bucket="kept")

        def write(i: int) -> None:
            ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
            s3.put_object(Bucket="kept", Key=f"o{i}", Body=f"body {i}".encode())

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(500)))
        box.stop(signal.SIGKILL)
        box.start()
        ddb, s3 = box.client("dynamodb"), box.client("s3")
        items = [i for page in ddb.get_paginator("scan").paginate(TableName="t") for i in page["Items"]]
        assert sorted(int(i["v"]["N"]) for i in items) == list(range(500))
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="kept")
                for o in page.get("Contents", [])]
        assert sorted(keys) == sorted(f"o{i}" for i in range(500))
        assert s3.get_object(Bucket="kept", Key="o499")["Body"].read() == b"body 499"
    finally:
        box.stop(signal.SIGKILL)


def test_half_written_snapshot_is_ignored(tmp_path: Path) -> None:
    box = Stores(tmp_path / ".esb")
    box.start()
    try:
        box.client("s3").create_bucket(Bucket="keep-me")
        box.stop(signal.SIGTERM)
        (box.out / "data" / "snap-999-1" / "tables").mkdir(parents=True)  # a crash mid-write
        box.start()
        assert [b["Name"] for b in box.client("s3").list_buckets()["Buckets"]] == ["keep-me"]
        assert not (box.out / "data" / "snap-999-1").exists()
    finally:
        box.stop(signal.SIGKILL)


def test_delete_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "snap-1").mkdir(parents=True)
    (data / "current").symlink_to("snap-1")
    delete_data(data)
    assert not data.exists()
    delete_data(data)  # idempotent


def test_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    box = Stores(tmp_path / ".esb")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", box.port))
        taken.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_"))}
        env.update(ESB_OUTPUT_DIR=str(box.out), ESB_STORES_PORT=str(box.port))
        done = subprocess.run([sys.executable, "-m", "esb_runtime.stores"], env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot start on 127.0.0.1:{box.port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_write_detection() -> None:
    from esb_runtime.stores.auth import is_write

    assert is_write({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"})
    assert not is_write({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"})
    assert not is_write({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.BatchGetItem"})
    assert is_write({"REQUEST_METHOD": "PUT"}) and not is_write({"REQUEST_METHOD": "GET"})


def wait_for_snapshot_after(box: Stores, moment: float) -> None:
    deadline = time.monotonic() + 30
    while True:
        snap = current_snapshot(box.out / "data")
        if snap and json.loads((snap / "manifest.json").read_text())["taken_at"] > moment:
            return
        assert time.monotonic() < deadline, "no periodic snapshot"
        time.sleep(0.05)


def test_incremental_snapshots_keep_unchanged_and_changed_objects(tmp_path: Path) -> None:
    box = Stores(tmp_path / ".esb", interval=0.3, ESB_STORES_COMPACT_RECORDS="1")
    box.start()
    try:
        s3 = box.client("s3")
        s3.create_bucket(Bucket="inc")
        s3.put_object(Bucket="inc", Key="same", Body=b"A", ContentType="text/a")
        s3.put_object(Bucket="inc", Key="changed", Body=b"old")
        wait_for_snapshot_after(box, time.time())
        s3.put_object(Bucket="inc", Key="changed", Body=b"new", Metadata={"v": "2"})
        wait_for_snapshot_after(box, time.time())
        box.stop(signal.SIGKILL)
        box.start()
        s3 = box.client("s3")
        same = s3.get_object(Bucket="inc", Key="same")
        assert (same["Body"].read(), same["ContentType"]) == (b"A", "text/a")
        changed = s3.get_object(Bucket="inc", Key="changed")
        assert (changed["Body"].read(), changed["Metadata"]) == (b"new", {"v": "2"})
    finally:
        box.stop(signal.SIGKILL)
