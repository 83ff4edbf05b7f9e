"""Load moto's DynamoDB and S3 while the stores boot: every `esb up` provisions through both right after."""

from __future__ import annotations

from dataclasses import replace

from esb_runtime.stores.auth import WsgiApp
from esb_runtime.stores.mutations import Mutation
from esb_runtime.stores.recorder import call

# One read of each (nothing is journaled), handed to moto behind the SigV4 check: the credential only tells moto
# which service it is (moto loads a service's code on its first request, 0.1-0.2 s for these two).
_READS = (
    ("dynamodb", Mutation("POST", "/", "/", "", {"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.ListTables",
                                                 "CONTENT_TYPE": "application/x-amz-json-1.0"}, b"{}")),
    ("s3", Mutation("GET", "/", "/", "", {}, b"")),
)


def warm(app: WsgiApp, region: str = "us-east-1") -> list[int]:
    """The status of each read (200 when moto serves the service)."""
    statuses = []
    for service, read in _READS:
        scope = f"AWS4-HMAC-SHA256 Credential=ESBSTARTUP/20000101/{region}/{service}/aws4_request"
        headers = {**read.headers, "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"{scope}, SignedHeaders=host"}
        statuses.append(call(app, replace(read, headers=headers).environ()).status)
    return statuses
