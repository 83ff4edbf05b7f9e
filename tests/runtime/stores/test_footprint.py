"""What the stores process trims from moto's and botocore's resident data, and what stays the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import botocore
import pytest

from esb_runtime.stores import footprint


def test_without_variants_drops_only_variants() -> None:
    doc = {"partitions": [{"regions": {"r1": {}}, "services": {"s": {"endpoints": {
        "r1": {"variants": [{"hostname": "fips"}], "credentialScope": {"region": "r1"}}}}}}]}
    assert footprint.without_variants(doc) == {"partitions": [{"regions": {"r1": {}}, "services": {"s": {
        "endpoints": {"r1": {"credentialScope": {"region": "r1"}}}}}}]}


def test_slim_endpoints_keep_every_region_of_every_service(tmp_path: Path) -> None:
    folder = footprint.slim_endpoints(tmp_path)
    assert folder is not None
    slim_file = folder / footprint.ENDPOINTS
    full = json.loads((Path(botocore.__file__).parent / "data" / footprint.ENDPOINTS).read_text())
    slim = json.loads(slim_file.read_text())
    assert '"variants"' not in slim_file.read_text()
    assert slim_file.stat().st_size < (Path(botocore.__file__).parent / "data" / footprint.ENDPOINTS).stat().st_size / 2
    for whole, trimmed in zip(full["partitions"], slim["partitions"], strict=True):
        assert whole["regions"] == trimmed["regions"]
        assert {s: sorted(v.get("endpoints", {})) for s, v in whole["services"].items()} == \
               {s: sorted(v.get("endpoints", {})) for s, v in trimmed["services"].items()}
    made = slim_file.stat().st_mtime_ns
    assert footprint.slim_endpoints(tmp_path) == folder and slim_file.stat().st_mtime_ns == made  # made once


def test_botocore_reads_the_slim_copy_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = footprint.slim_endpoints(tmp_path)
    env = footprint.data_path_env(folder, {"AWS_DATA_PATH": "/elsewhere"})
    assert env == {"AWS_DATA_PATH": os.pathsep.join([str(folder), "/elsewhere"])}
    assert footprint.data_path_env(None, {}) == {}
    monkeypatch.setenv("AWS_DATA_PATH", env["AWS_DATA_PATH"])
    session = boto3.Session()
    loader = session._session.get_component("data_loader")
    _, path = loader.load_data_with_path("endpoints")
    assert Path(path) == folder / "endpoints"
    assert "us-east-1" in session.get_available_regions("dynamodb")
    assert "cn-north-1" in session.get_available_regions("s3", partition_name="aws-cn")


def test_managed_policies_stay_when_moto_is_told_to_load_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    assert footprint.drop_managed_policies() is False


def test_managed_policies_are_dropped_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    from moto.iam import aws_managed_policies, models

    # Put back after the test: other tests of this session may use moto's IAM.
    monkeypatch.setattr(aws_managed_policies, "aws_managed_policies_data", aws_managed_policies.aws_managed_policies_data)
    monkeypatch.setattr(models, "aws_managed_policies_data", models.aws_managed_policies_data)
    assert footprint.drop_managed_policies() is True
    assert aws_managed_policies.aws_managed_policies_data == models.aws_managed_policies_data == "{}"


PLAIN = """
import json
from esb_runtime.stores import footprint
footprint.plain_json_models()
import boto3
from moto import mock_aws

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="k", Body=b"v")
    ddb = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="t", Item={"id": {"S": "1"}, "n": {"N": "2"}})
    loader = boto3.Session()._session.get_component("data_loader")
    print(json.dumps({
        "object": s3.get_object(Bucket="bucket", Key="k")["Body"].read().decode(),
        "item": ddb.get_item(TableName="t", Key={"id": {"S": "1"}})["Item"],
        "model": type(loader.load_service_model("dynamodb", "service-2")).__name__,
        "endpoints": type(loader.load_data("endpoints")).__name__,
    }))
"""


def test_models_parsed_as_plain_dicts_serve_s3_and_dynamodb_as_before() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, text=True, check=True, env=env).stdout
    assert json.loads(out) == {"object": "v", "item": {"id": {"S": "1"}, "n": {"N": "2"}}, "model": "dict",
                               "endpoints": "dict"}


REGIONS = """
import json
import boto3
from esb_runtime.stores import footprint
assert footprint.slim_region_lookups() and footprint.slim_region_lookups()  # idempotent
from moto import mock_aws
from moto.core.base_backend import AccountSpecificBackend

with mock_aws():
    ddb = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    session = AccountSpecificBackend.get_session()
    loader = session._session.get_component("data_loader")
    loader.load_service_model("dynamodb", "service-2")  # parsed (unless moto's lookup did it): the whole model
    model = loader.load_service_model("dynamodb", "service-2")  # then only what was kept of it
    print(json.dumps({
        "tables": ddb.list_tables()["TableNames"],
        "regions": session.get_available_regions("dynamodb") == boto3.Session().get_available_regions("dynamodb"),
        "model": sorted(model),
        "prefix": model["metadata"]["endpointPrefix"],
        "parsed_once": loader.load_service_model("dynamodb", "service-2") is model,
        "documents": [key[1] for key in loader._cache if key[0] == "load_data_with_path"],
    }))
"""


def test_moto_region_lookups_keep_the_endpoints_and_only_the_metadata_of_models() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run([sys.executable, "-c", REGIONS], capture_output=True, text=True, check=True, env=env).stdout
    assert json.loads(out) == {"tables": ["t"], "regions": True, "model": ["metadata"], "prefix": "dynamodb",
                               "parsed_once": True, "documents": ["endpoints"]}


def test_requests_without_encoding_guesses_loads_no_detector_and_says_utf8() -> None:
    script = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"  # a warning at import would fail this run
        "from esb_runtime.stores import footprint\n"
        "assert footprint.without_encoding_guesses()\n"
        "import requests, moto.moto_server.werkzeug_app\n"
        "response = requests.models.Response()\n"
        "response._content = 'h\u00e9'.encode()\n"
        "print(response.apparent_encoding, response.text == 'h\u00e9',"
        " [m for m in sys.modules if m.startswith(('charset_normalizer', 'chardet')) and sys.modules[m]])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["utf-8", "True", "[]"]
