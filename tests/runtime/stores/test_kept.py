"""Kept traffic (Kinesis records, log events) is carried into snapshots only while its retention holds it."""

from __future__ import annotations

import json

from esb_runtime.stores.kept import Carried
from esb_runtime.stores.mutations import Mutation


def _put(service: str, action: str, body: dict, stamp: str) -> Mutation:
    headers = {"HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/{service}/aws4_request",
               "HTTP_X_AMZ_TARGET": f"Service.{action}", "HTTP_X_AMZ_DATE": stamp}
    return Mutation("POST", "/", "/", "", headers, json.dumps(body).encode())


def test_carried_keeps_traffic_within_retention_and_ignores_configuration() -> None:
    limits = {("kinesis", "clicks"): 3600.0, ("logs", "/app"): 86400.0, ("kinesis", "gone"): 0.0}
    carried = Carried(retention_s=lambda service, name: limits[service, name], clock=lambda: 1767272400.0)
    # 1767272400 is 2026-01-01T13:00:00Z.
    cases = [
        (_put("kinesis", "PutRecord", {"StreamName": "clicks"}, "20260101T123000Z"), True),  # 30 min old
        (_put("kinesis", "PutRecords", {"StreamARN": "arn:aws:kinesis:us-east-1:0:stream/clicks"},
              "20260101T110000Z"), False),  # 2 h old, past the stream's hour
        (_put("logs", "PutLogEvents", {"logGroupName": "/app"}, "20260101T010000Z"), True),
        (_put("kinesis", "PutRecord", {"StreamName": "gone"}, "20260101T125900Z"), False),  # stream deleted
    ]
    for mutation, _ in cases:
        assert carried.add(mutation, mutation.encode())
    assert not carried.add(_put("kinesis", "CreateStream", {"StreamName": "clicks"}, "20260101T125900Z"), b"")
    assert carried.retained() == [m.encode() for m, kept in cases if kept]
