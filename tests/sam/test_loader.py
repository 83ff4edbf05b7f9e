"""Tests for esb.sam.loader: resources to model, physical names, events, warnings and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from esb.errors import TemplateError
from esb.model import Application, Cors, Event, ImageSource, KeyElement
from esb.sam import default_stack_name, load_application


def load(tmp_path: Path, resources: str, head: str = "", **kwargs: object) -> Application:
    """Load a template made of `head` and the given Resources body (indented two spaces)."""
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(head) + "Resources:\n" + textwrap.indent(textwrap.dedent(resources), "  "))
    return load_application(path, **kwargs)  # type: ignore[arg-type]


FN = """\
Fn:
  Type: AWS::Serverless::Function
  Properties:
    CodeUri: src
    Handler: app.handler
    Runtime: python3.12
"""


def test_minimal_function_defaults(tmp_path: Path) -> None:
    app = load(tmp_path, FN, stack_name="demo")
    fn = app.function("Fn")
    assert fn.name == "Fn" and fn.timeout == 3 and fn.memory_size == 128 and fn.architecture == "x86_64"
    assert fn.events == () and fn.layers == () and fn.function_url is None
    assert app.apis == () and app.warnings == () and app.stack_name == "demo"
    assert app.template_path == (tmp_path / "template.yaml").resolve()


def test_default_stack_name_from_directory(tmp_path: Path) -> None:
    project = tmp_path / "My_Shop.App"
    project.mkdir()
    assert default_stack_name(project / "template.yaml") == "my-shop-app"
    assert load(project, FN).stack_name == "my-shop-app"


def test_physical_names(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
    FunctionName: !Sub "${AWS::StackName}-fn"
    Environment:
      Variables:
        T: !Ref Simple
        B: !Ref Auto
        BN: !Ref Named
        L: !Ref Lay
        Q: !Ref Queue
Simple:
  Type: AWS::Serverless::SimpleTable
  Properties: {TableName: simple-t}
Auto:
  Type: AWS::S3::Bucket
Named:
  Type: AWS::S3::Bucket
  Properties: {BucketName: named-b}
Lay:
  Type: AWS::Serverless::LayerVersion
  Properties: {ContentUri: src, LayerName: shared}
Queue:
  Type: AWS::SQS::Queue
""", stack_name="Shop_Stack")
    fn = app.function("Fn")
    assert fn.name == "Shop_Stack-fn"
    assert fn.env == {
        "T": "simple-t",
        "B": "shop-stack-auto",
        "BN": "named-b",
        "L": "arn:aws:lambda:us-east-1:000000000000:layer:shared:1",
        "Q": "https://sqs.us-east-1.amazonaws.com/000000000000/Shop_Stack-Queue",  # what AWS gives: the URL
    }
    assert [b.name for b in app.buckets] == ["shop-stack-auto", "named-b"]
    assert app.tables[0].name == "simple-t" and app.tables[0].key_schema == (KeyElement("id", "HASH"),)
    assert app.tables[0].attributes == (("id", "S"),) and app.tables[0].billing_mode == "PAY_PER_REQUEST"
    assert app.warnings == () and [r.name for r in app.resources] == ["Shop_Stack-Queue"]


def test_layers_by_ref_or_arn_and_external(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
    Layers:
      - arn:aws:lambda:us-east-1:000000000000:layer:b-name:1
      - !Ref A
      - arn:aws:lambda:us-east-1:999999999999:layer:external:4
A:
  Type: AWS::Serverless::LayerVersion
  Properties: {ContentUri: src, CompatibleRuntimes: [python3.12]}
B:
  Type: AWS::Serverless::LayerVersion
  Properties: {ContentUri: src, LayerName: b-name}
""")
    assert app.function("Fn").layers == ("B", "A")
    assert [layer.name for layer in app.layers] == ["A", "b-name"]
    assert app.layer("A").content_uri == (tmp_path / "src").resolve()
    assert app.layer("A").compatible_runtimes == ("python3.12",)
    assert [str(w) for w in app.warnings] == [
        "Fn.Layers: layer arn:aws:lambda:us-east-1:999999999999:layer:external:4 is not a LayerVersion "
        "in this template, ignored"
    ]


def test_api_events_and_explicit_apis(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
    Events:
      Rest: {Type: Api, Properties: {Path: /r, Method: post, RestApiId: !Ref MyApi}}
      Open: {Type: Api, Properties: {Path: /o, Method: GET, RestApiId: !Ref MyApi, Auth: {Authorizer: NONE}}}
      Http: {Type: HttpApi, Properties: {Path: "/h/{id}", Method: delete, ApiId: !Ref MyHttp}}
      Root: {Type: HttpApi}
MyApi:
  Type: AWS::Serverless::Api
  Properties:
    StageName: v1
    Cors: {AllowOrigin: "'*'", AllowHeaders: "'X-A, X-B'", AllowCredentials: true}
    Auth:
      DefaultAuthorizer: Cognito
      Authorizers: {Cognito: {UserPoolArn: "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_Outside1"}}
MyHttp:
  Type: AWS::Serverless::HttpApi
  Properties:
    CorsConfiguration:
      AllowOrigins: [https://a.example]
      ExposeHeaders: [X-Total]
      MaxAge: 60
""")
    events = {e.name: e for e in app.function("Fn").events}
    assert [e.name for e in app.function("Fn").events] == ["Http", "Open", "Rest", "Root"]
    assert events["Rest"] == Event(name="Rest", kind="Api", path="/r", method="POST", api_id="MyApi",
                                   authorizer="Cognito")
    assert events["Open"].authorizer is None  # NONE under a DefaultAuthorizer
    assert events["Http"] == Event(name="Http", kind="HttpApi", path="/h/{id}", method="DELETE", api_id="MyHttp")
    assert events["Root"] == Event(
        name="Root", kind="HttpApi", path="$default", method="ANY", api_id="ServerlessHttpApi"
    )
    apis = {a.logical_id: a for a in app.apis}
    assert sorted(apis) == ["MyApi", "MyHttp", "ServerlessHttpApi"]
    assert apis["MyApi"].stage == "v1" and apis["MyApi"].kind == "Api"
    assert apis["MyApi"].cors == Cors(
        allow_origins=("*",), allow_methods=("*",), allow_headers=("X-A", "X-B"), allow_credentials=True
    )
    assert apis["MyHttp"].stage == "$default"
    assert apis["MyHttp"].cors == Cors(allow_origins=("https://a.example",), expose_headers=("X-Total",), max_age=60)
    assert apis["ServerlessHttpApi"].cors is None


def test_rest_api_id_must_be_an_api(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="RestApiId must refer to an AWS::Serverless::Api") as info:
        load(tmp_path, FN + """\
    Events:
      Rest: {Type: Api, Properties: {Path: /r, Method: GET, RestApiId: !Ref Http}}
Http:
  Type: AWS::Serverless::HttpApi
""")
    assert "Fn.Events.Rest.Properties.RestApiId" in str(info.value.where)


def test_api_event_needs_path_and_method(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Api event needs Method"):
        load(tmp_path, FN + "    Events:\n      E: {Type: Api, Properties: {Path: /x}}\n")
    with pytest.raises(TemplateError, match="unknown HTTP method 'FETCH'"):
        load(tmp_path, FN + "    Events:\n      E: {Type: Api, Properties: {Path: /x, Method: FETCH}}\n")


def test_schedule_events(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
    Events:
      A: {Type: Schedule, Properties: {Schedule: rate(1 minute), Input: {k: 1}}}
      B: {Type: Schedule, Properties: {Schedule: "cron(0 1 * * ? *)", State: DISABLED}}
      C: {Type: Schedule, Properties: {Schedule: rate(2 hours), Enabled: "false"}}
""")
    a, b, c = app.function("Fn").events
    assert (a.kind, a.schedule, a.input, a.enabled) == ("Schedule", "rate(1 minute)", '{"k": 1}', True)
    assert (b.schedule, b.enabled) == ("cron(0 1 * * ? *)", False)
    assert c.enabled is False
    with pytest.raises(TemplateError, match=r"Schedule needs rate\(...\) or cron\(...\)"):
        load(tmp_path, FN + "    Events:\n      A: {Type: Schedule, Properties: {Schedule: hourly}}\n")


def test_function_url_and_reserved_concurrency(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
    ReservedConcurrentExecutions: "4"
    FunctionUrlConfig:
      AuthType: AWS_IAM
      Cors: {AllowOrigins: ["*"], AllowMethods: [post, get], AllowCredentials: true}
""")
    fn = app.function("Fn")
    assert fn.reserved_concurrency == 4
    assert fn.function_url is not None and fn.function_url.auth_type == "AWS_IAM"
    assert fn.function_url.cors == Cors(allow_origins=("*",), allow_methods=("GET", "POST"), allow_credentials=True)


def test_missing_code_dir_is_error_naming_function(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load(tmp_path, FN.replace("CodeUri: src", "CodeUri: nowhere"))
    err = info.value
    assert err.message == "CodeUri directory 'nowhere' of Fn does not exist"
    assert err.where == "template.yaml:5 Fn.CodeUri"
    assert err.hint is not None and "fix CodeUri" in err.hint


def test_code_uri_with_leading_slash_is_template_relative_with_a_warning(tmp_path: Path) -> None:
    app = load(tmp_path, FN.replace("CodeUri: src", "CodeUri: /src/"))
    assert app.function("Fn").code_uri == (tmp_path / "src").resolve()
    assert [str(w) for w in app.warnings] == [
        "Fn.CodeUri: '/src/' is absolute and does not exist; read as template-relative 'src/' "
        "(write it without the leading slash)"]
    with pytest.raises(TemplateError, match="CodeUri directory '/nowhere' of Fn does not exist"):
        load(tmp_path, FN.replace("CodeUri: src", "CodeUri: /nowhere"))


def test_missing_handler_and_bad_values_are_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Handler is required"):
        load(tmp_path, FN.replace("    Handler: app.handler\n", ""))
    with pytest.raises(TemplateError, match="Timeout must be a whole number"):
        load(tmp_path, FN + "    Timeout: soon\n")
    with pytest.raises(TemplateError, match=r"Architectures must be \[x86_64\] or \[arm64\]"):
        load(tmp_path, FN + "    Architectures: [sparc]\n")
    with pytest.raises(TemplateError, match="image function Fn has no Metadata.DockerContext"):
        load(tmp_path, FN + "    PackageType: Image\n")
    with pytest.raises(TemplateError, match="PackageType must be Zip or Image, got 'Jar'"):
        load(tmp_path, FN + "    PackageType: Jar\n")


def test_unsupported_things_are_warnings_not_errors(tmp_path: Path) -> None:
    app = load(tmp_path, FN.replace("python3.12", "java21") + """\
    Policies: [AWSLambdaBasicExecutionRole]
    Description: quiet
    Tags: {a: b}
    Tracing: Active
    VpcConfig: {SubnetIds: []}
    Role: arn:aws:iam::1:role/x
    MysteryProp: 1
    Events:
      Q: {Type: MQ, Properties: {Broker: b}}
  Metadata: {BuildMethod: python3.12}
""")
    assert [str(w) for w in app.warnings] == [
        "Fn.MysteryProp: not supported, ignored",
        "Fn.Runtime: runtime java21 is not supported (python3.x, nodejs18.x, nodejs20.x, nodejs22.x); it will not run",
        "Fn.Events.Q: event type MQ not supported, ignored",
    ]
    assert app.function("Fn").events == ()


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_node_runtimes_are_supported(tmp_path: Path, runtime: str) -> None:
    app = load(tmp_path, FN.replace("python3.12", runtime))
    assert app.warnings == () and app.function("Fn").runtime == runtime


IMAGE_FN = """\
Img:
  Type: AWS::Serverless::Function
  Properties:
    PackageType: Image
    ImageUri: img:latest
    Layers: [arn:aws:lambda:us-east-1:1:layer:x:1]
    ImageConfig:
      Command: [app.handler]
      EntryPoint: [/lambda-entrypoint.sh]
      WorkingDirectory: /var/task
  Metadata:
    Dockerfile: Dockerfile.lambda
    DockerContext: ./image
    DockerTag: !Sub "${AWS::Region}-v1"
    DockerBuildArgs: {MODE: fast}
"""


def test_image_function_reads_metadata_and_image_config(tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "Dockerfile.lambda").write_text("FROM public.ecr.aws/lambda/python:3.11\n")
    app = load(tmp_path, IMAGE_FN, head="Globals:\n  Function:\n    Runtime: python3.11\n    Handler: app.h\n")
    fn = app.function("Img")
    assert fn.package_type == "Image" and fn.handler == "" and fn.runtime == "" and fn.layers == ()
    assert fn.image == ImageSource(context=(tmp_path / "image").resolve(), dockerfile="Dockerfile.lambda",
                                   tag="us-east-1-v1", build_args=(("MODE", "fast"),), command=("app.handler",),
                                   entry_point=("/lambda-entrypoint.sh",), working_directory="/var/task")
    assert fn.code_uri == fn.image.context
    assert [str(w) for w in app.warnings] == [
        "Img.Layers: an image function has no layers (put them in the image), ignored"]


def test_image_function_needs_its_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    with pytest.raises(TemplateError, match="Dockerfile 'Dockerfile.lambda' of Img is not in"):
        load(tmp_path, IMAGE_FN)


def test_no_resources_is_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Description: empty\n")
    with pytest.raises(TemplateError, match="the template has no Resources"):
        load_application(path)


def test_dynamodb_table_key_must_be_declared(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="key attribute 'sk' is not in AttributeDefinitions"):
        load(tmp_path, """\
T:
  Type: AWS::DynamoDB::Table
  Properties:
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
    KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
""")


def test_provisioned_table_and_simple_table_number_key(tmp_path: Path) -> None:
    app = load(tmp_path, """\
T:
  Type: AWS::DynamoDB::Table
  Properties:
    AttributeDefinitions: [{AttributeName: pk, AttributeType: N}]
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 3}
S:
  Type: AWS::Serverless::SimpleTable
  Properties:
    PrimaryKey: {Name: n, Type: Number}
""")
    s, t = app.tables
    assert (t.name, t.billing_mode, t.read_capacity, t.write_capacity) == ("T", "PROVISIONED", 5, 3)
    assert s.attributes == (("n", "N"),) and s.billing_mode == "PAY_PER_REQUEST"


def test_bucket_cors_and_notifications(tmp_path: Path) -> None:
    app = load(tmp_path, FN + """\
B:
  Type: AWS::S3::Bucket
  Properties:
    BucketName: files
    CorsConfiguration:
      CorsRules:
        - {Id: r1, AllowedMethods: [GET], AllowedOrigins: ["*"], ExposedHeaders: [ETag], MaxAge: 10}
    NotificationConfiguration:
      LambdaConfigurations:
        - {Event: "s3:ObjectCreated:*", Function: !GetAtt Fn.Arn}
""")
    bucket = app.buckets[0]
    assert bucket.versioning is False
    assert bucket.cors_rules == (
        {"ID": "r1", "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 10},
    )
    assert bucket.notifications == (
        {"Type": "Lambda", "Event": "s3:ObjectCreated:*", "Function": "arn:aws:lambda:us-east-1:000000000000:function:Fn"},
    )
    assert "B.NotificationConfiguration: recorded only" in str(app.warnings[0])


def test_duplicate_function_names_are_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="two functions are named 'same'"):
        load(tmp_path, FN + "    FunctionName: same\n" + FN.replace("Fn:", "Fn2:") + "    FunctionName: same\n")


def test_same_input_same_application(tmp_path: Path) -> None:
    body = FN + "    Events:\n      B: {Type: HttpApi}\n      A: {Type: Api, Properties: {Path: /a, Method: GET}}\n"
    first, second = load(tmp_path, body), load(tmp_path, body)
    assert first == second
    assert [e.name for e in first.function("Fn").events] == ["A", "B"]
    assert [a.logical_id for a in first.apis] == ["ServerlessHttpApi", "ServerlessRestApi"]
