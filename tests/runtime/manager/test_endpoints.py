"""Unit tests of the endpoint variables a sandbox gets."""

from __future__ import annotations

from pathlib import Path

from esb_runtime.manager.endpoints import sandbox_endpoints
from esb_runtime.settings import RuntimeSettings


def _settings(**kw: str) -> RuntimeSettings:
    return RuntimeSettings(output_dir=Path("/o"), manager_socket=Path("/o/s"), rie_path=None, **kw)


def test_embedded_stores_take_every_service_and_the_sdk_wide_default() -> None:
    env = sandbox_endpoints(_settings(services_endpoint="http://127.0.0.1:9", s3_endpoint="http://127.0.0.1:9",
                                      dynamodb_endpoint="http://127.0.0.1:9", lambda_endpoint="https://127.0.0.1:8"))
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    for name in ("SQS", "SNS", "EVENTBRIDGE", "CLOUDWATCH_LOGS", "SSM", "SECRETS_MANAGER", "KINESIS",
                 "DYNAMODB_STREAMS", "S3", "DYNAMODB"):
        assert env[f"AWS_ENDPOINT_URL_{name}"] == "http://127.0.0.1:9"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "https://127.0.0.1:8"


def test_separate_s3_and_dynamodb_servers_keep_their_endpoints() -> None:
    env = sandbox_endpoints(_settings(services_endpoint="http://127.0.0.1:9", s3_endpoint="http://s3:1",
                                      dynamodb_endpoint="http://ddb:2"))
    assert (env["AWS_ENDPOINT_URL_S3"], env["AWS_ENDPOINT_URL_DYNAMODB"]) == ("http://s3:1", "http://ddb:2")
    assert env["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:9"
    assert "AWS_ENDPOINT_URL_LAMBDA" not in env
