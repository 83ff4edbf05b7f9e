"""fixtures/intrinsics: an app that exercises every intrinsic, Globals and parameters, resolved as a whole."""

from __future__ import annotations


import pytest

from esb.paths import P
from esb.errors import TemplateError
from esb.model import (
    Api, Application, Bucket, Cors, Event, Function, FunctionUrl, Index, KeyElement, Layer, Table,
)
from esb.sam import load_application

FULL = P.fixtures / "intrinsics"
TEMPLATE = FULL / "template.yaml"
SRC = FULL.resolve() / "src"
STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/intrinsics-items/stream/1970-01-01T00:00:00.000"
HTTP_CORS = Cors(allow_origins=("https://a.example", "https://b.example"), allow_methods=("GET", "POST"))


def expected() -> Application:
    shared_env = (("ITEMS_TABLE", "intrinsics-items"), ("LOG_LEVEL", "DEBUG"), ("STAGE", "dev"))
    api_fn = Function(
        logical_id="ApiFunction", name="intrinsics-api-dev", code_uri=SRC / "api", handler="app.handler",
        runtime="python3.12", timeout=10, memory_size=256, architecture="x86_64",
        environment=(
            ("API_KEY", "k123"), ("BUCKET_ARN", "arn:aws:s3:::intrinsics-filesbucket"), ("DEBUG", "true"),
            ("ITEMS_TABLE", "intrinsics-items"), ("LOG_LEVEL", "DEBUG"), ("STAGE", "overridden"),
        ),
        layers=("CommonLayer",),
        events=(
            Event(name="Catchall", kind="HttpApi", path="$default", method="ANY", api_id="ServerlessHttpApi"),
            Event(name="Hello", kind="Api", path="/hello/{name}", method="GET", api_id="ServerlessRestApi"),
            Event(name="Proxy", kind="Api", path="/api/{proxy+}", method="ANY", api_id="ServerlessRestApi"),
        ),
    )
    cron_fn = Function(
        logical_id="CronFunction", name="CronFunction", code_uri=SRC / "cron", handler="app.handler",
        runtime="python3.12", timeout=60, memory_size=256, environment=shared_env,
        events=(
            Event(name="Nightly", kind="Schedule", schedule="cron(0 3 * * ? *)", enabled=False),
            Event(name="Tick", kind="Schedule", schedule="rate(5 minutes)", input='{"job": "tick"}'),
        ),
        function_url=FunctionUrl(auth_type="NONE", cors=Cors(allow_origins=("*",), allow_methods=("GET",))),
    )
    items_fn = Function(
        logical_id="ItemsFunction", name="ItemsFunction", code_uri=SRC / "items", handler="items.handler",
        runtime="python3.12", timeout=10, memory_size=512, architecture="arm64",
        environment=(
            ("ITEMS_TABLE", "intrinsics-items"), ("LOG_LEVEL", "DEBUG"),
            ("ORIGINS", "https://a.example;https://b.example"), ("PAGE_SIZE", "25"), ("REGION_SPLIT", "east"),
            ("SESSIONS_TABLE", "SessionsTable"), ("STAGE", "dev"), ("STREAM_ARN", STREAM),
        ),
        layers=("CommonLayer",), reserved_concurrency=5,
        events=(
            Event(name="ListItems", kind="HttpApi", path="/items", method="GET", api_id="ItemsApi"),
            Event(name="PutItem", kind="HttpApi", path="/items/{id}", method="PUT", api_id="ItemsApi"),
            Event(name="Queue", kind="SQS", source="arn:aws:sqs:us-east-1:000000000000:q", options="{}"),
        ),
    )
    items_table = Table(
        logical_id="ItemsTable", name="intrinsics-items",
        attributes=(("created", "N"), ("owner", "S"), ("pk", "S"), ("sk", "S")),
        key_schema=(KeyElement("pk", "HASH"), KeyElement("sk", "RANGE")),
        gsis=(Index(name="byOwner", key_schema=(KeyElement("owner", "HASH"), KeyElement("created", "RANGE")),
                    projection_type="INCLUDE", non_key_attributes=("status", "title")),),
        lsis=(Index(name="byCreated", key_schema=(KeyElement("pk", "HASH"), KeyElement("created", "RANGE")),
                    projection_type="KEYS_ONLY"),),
        stream_view_type="NEW_AND_OLD_IMAGES", ttl_attribute="expires",
    )
    sessions = Table(
        logical_id="SessionsTable", name="SessionsTable", attributes=(("sessionId", "S"),),
        key_schema=(KeyElement("sessionId", "HASH"),), billing_mode="PROVISIONED", read_capacity=2, write_capacity=1,
    )
    return Application(
        template_path=TEMPLATE.resolve(), stack_name="intrinsics", region="us-east-1", account_id="000000000000",
        parameters=(("AllowedOrigins", "https://a.example, https://b.example"), ("ApiKey", "k123"),
                    ("Stage", "dev"), ("TimeoutSeconds", "10")),
        functions=(api_fn, cron_fn, items_fn),
        layers=(Layer(logical_id="CommonLayer", name="intrinsics-common", content_uri=FULL.resolve() / "layers" / "common",
                      compatible_runtimes=("python3.11", "python3.12")),),
        apis=(
            Api(logical_id="ItemsApi", kind="HttpApi", stage="dev", cors=HTTP_CORS),
            Api(logical_id="ServerlessHttpApi", kind="HttpApi", stage="$default", cors=HTTP_CORS),
            Api(logical_id="ServerlessRestApi", kind="Api", stage="Prod", cors=Cors(
                allow_origins=("*",), allow_methods=("GET", "OPTIONS", "POST"),
                allow_headers=("Authorization", "Content-Type"), max_age=600)),
        ),
        tables=(items_table, sessions),
        buckets=(Bucket(logical_id="FilesBucket", name="intrinsics-filesbucket", versioning=True, cors_rules=(
            {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"],
             "MaxAgeSeconds": 3000},)),),
    )


def test_full_template_resolves_to_the_expected_model() -> None:
    app = load_application(TEMPLATE, {"ApiKey": "k123"})
    want = expected()
    # Compare piece by piece first so a failure points at the part that differs.
    for field in ("parameters", "layers", "apis", "tables", "buckets"):
        assert getattr(app, field) == getattr(want, field), field
    for got_fn, want_fn in zip(app.functions, want.functions, strict=True):
        assert got_fn == want_fn, want_fn.logical_id
    assert app == want
    assert app.warnings == ()


def test_full_template_is_deterministic() -> None:
    assert load_application(TEMPLATE, {"ApiKey": "k123"}) == load_application(TEMPLATE, {"ApiKey": "k123"})


def test_full_template_needs_api_key() -> None:
    with pytest.raises(TemplateError, match="parameter ApiKey has no value"):
        load_application(TEMPLATE)


def test_prod_includes_conditional_resources() -> None:
    # In prod the archive function is included, and its CodeUri does not exist: the error names it.
    with pytest.raises(TemplateError) as info:
        load_application(TEMPLATE, {"ApiKey": "k", "Stage": "prod"})
    assert "ArchiveFunction.CodeUri" in str(info.value.where)
    assert "of ArchiveFunction does not exist" in info.value.message
