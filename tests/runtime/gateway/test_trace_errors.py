"""Trace id parsing/generation and the runtime-error translation table."""

from __future__ import annotations

import json
import re

import pytest

from esb_runtime.errors import EngineError, FunctionNotFound, ManagerUnavailable, PayloadTooLarge, TooManyRequests
from esb_runtime.gateway import error_mapping, trace


def test_parse_keeps_root_parent_and_sampled() -> None:
    parsed = trace.parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
    assert parsed == trace.TraceId("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "0")
    assert parsed.header == "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"


@pytest.mark.parametrize("value", [None, "", "Root=abc", "Root=1-5759e988-XYZ;Sampled=1", "Parent=53995c3f42cd8ad8"])
def test_invalid_headers_are_rejected(value: str | None) -> None:
    assert trace.parse(value) is None


def test_generated_root_has_epoch_and_random_part() -> None:
    generated = trace.accept_or_generate("nonsense", clock=lambda: 0x5759E988)
    assert re.fullmatch(r"Root=1-5759e988-[0-9a-f]{24};Sampled=1", generated.header)
    assert trace.generate().root != trace.generate().root


@pytest.mark.parametrize(("error", "status", "message"), [
    (TooManyRequests("x"), 429, "Too Many Requests"),
    (EngineError("x"), 503, "Service Unavailable"),
    (ManagerUnavailable("x"), 503, "Service Unavailable"),
    (PayloadTooLarge("x"), 413, "Request Entity Too Large"),
    (FunctionNotFound("x"), 502, "Internal server error"),
])
def test_proxy_translation(error: Exception, status: int, message: str) -> None:
    response = error_mapping.for_proxy(error)  # type: ignore[arg-type]
    assert response.status == status
    assert json.loads(response.body) == {"message": message}


@pytest.mark.parametrize(("error", "status", "code", "kind"), [
    (FunctionNotFound("gone"), 404, "ResourceNotFoundException", "User"),
    (TooManyRequests("busy"), 429, "TooManyRequestsException", "User"),
    (PayloadTooLarge("big"), 413, "RequestTooLargeException", "User"),
    (EngineError("no"), 503, "ServiceException", "Service"),
    (ManagerUnavailable("down"), 503, "ServiceException", "Service"),
])
def test_lambda_translation(error: Exception, status: int, code: str, kind: str) -> None:
    response = error_mapping.for_lambda(error)  # type: ignore[arg-type]
    assert response.status == status
    assert ("x-amzn-ErrorType", code) in response.headers
    assert json.loads(response.body)["Type"] == kind
