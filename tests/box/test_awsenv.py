"""esb.awsenv: the exports `esb env` prints."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from esb.box.awsenv import exports, render
from esb.box.state import BoxState
from esb.errors import ConfigError
from esb_runtime.secrets import BoxSecrets

STATE = BoxState(project="p", engine="process", gateway_url="https://127.0.0.1:8443", ca_file="/x/my ca.pem",
                 s3_endpoint="http://127.0.0.1:5000", dynamodb_endpoint="http://127.0.0.1:5000",
                 lambda_endpoint="https://127.0.0.1:8443", region="eu-west-1", started_at=0.0,
                 aws_endpoint="https://127.0.0.1:4566")


def test_exports_shell_quoted_and_evaluable() -> None:
    secrets = BoxSecrets.generate()
    text = render(exports(STATE, secrets))
    shown = subprocess.run(["bash", "-c", text + 'echo "$AWS_ENDPOINT_URL|$AWS_CA_BUNDLE|$AWS_REGION|$AWS_ACCESS_KEY_ID"'],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == f"https://127.0.0.1:4566|/x/my ca.pem|eu-west-1|{secrets.aws_access_key_id}"
    assert "export AWS_ENDPOINT_URL_LAMBDA=https://127.0.0.1:8443\n" in text


def test_http_without_a_plain_listener_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError, match="ports.aws_http"):
        exports(STATE, BoxSecrets.generate(), http=True)


def test_compose_stack_exports_its_per_service_endpoints() -> None:
    compose = replace(STATE, engine="compose", aws_endpoint="", s3_endpoint="https://127.0.0.1:9000",
                      dynamodb_endpoint="http://127.0.0.1:8000")
    names = dict(exports(compose, BoxSecrets.generate()))
    assert names["AWS_ENDPOINT_URL_S3"] == "https://127.0.0.1:9000"
    assert names["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8000" and "AWS_ENDPOINT_URL" not in names


def test_http_on_the_compose_stack_gives_its_plain_stores_and_no_ca() -> None:
    compose = replace(STATE, engine="compose", aws_endpoint="", s3_endpoint="http://127.0.0.1:9000",
                      dynamodb_endpoint="http://127.0.0.1:8000")
    names = dict(exports(compose, BoxSecrets.generate(), http=True))
    assert names["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
    assert names["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8000"
    assert "AWS_CA_BUNDLE" not in names and "AWS_ENDPOINT_URL" not in names
    with pytest.raises(ConfigError, match="publishes https://127.0.0.1:9000 over HTTPS only"):
        exports(replace(compose, s3_endpoint="https://127.0.0.1:9000"), BoxSecrets.generate(), http=True)
