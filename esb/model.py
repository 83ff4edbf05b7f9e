"""The typed, frozen model of a resolved SAM application: what every other part reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# Shapes the template and the gateway share, defined once on the runtime side.
from esb_runtime.config import Cors
from esb_runtime.gateway.auth_config import AuthorizerConfig as Authorizer
from esb_runtime.gateway.auth_config import TokenValidity
from esb_runtime.gateway.auth_config import UsagePlanConfig as UsagePlan

EventKind = Literal["Api", "HttpApi", "Schedule", "SQS", "SNS", "S3", "DynamoDB", "Kinesis", "EventBridgeRule",
                    "CloudWatchEvent"]
# Event kinds that the box delivers from its stores (pollers and asynchronous invocations in the manager).
SOURCE_KINDS = ("SQS", "SNS", "S3", "DynamoDB", "Kinesis", "EventBridgeRule", "CloudWatchEvent")


@dataclass(frozen=True)
class DefinitionRoute:
    """A route of an API's OpenAPI DefinitionBody that proxies to a function of the template."""

    path: str
    method: str  # upper case, "ANY" for x-amazon-apigateway-any-method
    function: str  # the function's physical name (from the integration uri's ARN)
    payload_format: str | None = None  # HTTP APIs: the integration's payloadFormatVersion
    # The operation's (or the body's top-level) `security`; without one the route follows the API's Auth.
    secured: bool = False
    authorizer: str | None = None  # an authorizer of the API or AWS_IAM; None: open
    api_key: bool = False
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Api:
    """An API Gateway front: the implicit ServerlessRestApi/ServerlessHttpApi or an explicit one."""

    logical_id: str
    kind: Literal["Api", "HttpApi"]
    stage: str
    cors: Cors | None = None
    authorizers: tuple[Authorizer, ...] = ()  # Auth.Authorizers, by name
    default_authorizer: str | None = None  # Auth.DefaultAuthorizer: routes without their own Auth use it
    api_key_required: bool = False  # Auth.ApiKeyRequired
    variables: tuple[tuple[str, str], ...] = ()  # stage variables (Api Variables, HttpApi StageVariables), sorted
    definition_routes: tuple[DefinitionRoute, ...] = ()  # from DefinitionBody
    binary_media_types: tuple[str, ...] = ()  # REST: request bodies of these types reach the function base64, sorted
    usage_plan: UsagePlan | None = None  # REST Auth.UsagePlan: limits per API key on its ApiKeyRequired routes
    key_plans: tuple[UsagePlan, ...] = ()  # AWS::ApiGateway::UsagePlans of its stage, each for its keys, by name


@dataclass(frozen=True)
class Event:
    """One event source of a function."""

    name: str
    kind: EventKind
    path: str | None = None  # Api/HttpApi; "$default" for an HttpApi event without Path and Method
    method: str | None = None  # upper case, "ANY" allowed
    api_id: str | None = None  # logical id of the Api the route belongs to
    authorizer: str | None = None  # the API's authorizer guarding the route; None: an open route
    api_key: bool = False  # ApiKeyRequired (the event's, else the API's)
    scopes: tuple[str, ...] = ()  # AuthorizationScopes
    schedule: str | None = None  # rate(...) / cron(...)
    input: str | None = None  # Schedule Input (JSON text)
    enabled: bool = True
    payload_format: str | None = None  # HttpApi PayloadFormatVersion ("1.0" | "2.0"); None: the kind's default
    # SOURCE_KINDS: the queue/stream/topic ARN, bucket name or bus name, and the other Properties as sorted JSON.
    source: str | None = None
    options: str | None = None

    @property
    def option_values(self) -> dict:
        return json.loads(self.options) if self.options else {}


@dataclass(frozen=True)
class FunctionUrl:
    auth_type: str = "NONE"  # NONE | AWS_IAM
    cors: Cors | None = None


@dataclass(frozen=True)
class Layer:
    logical_id: str
    name: str  # LayerName or logical id
    content_uri: Path  # absolute
    compatible_runtimes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageSource:
    """How a container-image function (PackageType: Image) is built and started (Metadata + ImageConfig)."""

    context: Path  # DockerContext, absolute
    dockerfile: str = "Dockerfile"  # relative to the context
    tag: str = "latest"  # DockerTag
    build_args: tuple[tuple[str, str], ...] = ()  # DockerBuildArgs, sorted
    command: tuple[str, ...] = ()  # ImageConfig.Command (empty: the image's CMD)
    entry_point: tuple[str, ...] = ()  # ImageConfig.EntryPoint (empty: the image's ENTRYPOINT)
    working_directory: str | None = None  # ImageConfig.WorkingDirectory


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # FunctionName or logical id
    code_uri: Path  # absolute directory
    handler: str
    runtime: str
    timeout: int = 3
    memory_size: int = 128
    architecture: str = "x86_64"
    environment: tuple[tuple[str, str], ...] = ()  # sorted (key, value), fully resolved
    layers: tuple[str, ...] = ()  # logical ids of local LayerVersions, in template order
    reserved_concurrency: int | None = None
    events: tuple[Event, ...] = ()
    function_url: FunctionUrl | None = None
    image: ImageSource | None = None  # PackageType: Image (handler and runtime are then empty)
    async_config: str | None = None  # {"EventInvokeConfig", "DeadLetterQueue"} as sorted JSON, when set

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    @property
    def package_type(self) -> str:
        return "Zip" if self.image is None else "Image"


@dataclass(frozen=True)
class KeyElement:
    name: str
    key_type: Literal["HASH", "RANGE"]


@dataclass(frozen=True)
class Index:
    name: str
    key_schema: tuple[KeyElement, ...]
    projection_type: str = "ALL"
    non_key_attributes: tuple[str, ...] = ()
    read_capacity: int | None = None
    write_capacity: int | None = None


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    attributes: tuple[tuple[str, str], ...]  # (name, S|N|B), sorted by name
    key_schema: tuple[KeyElement, ...]
    gsis: tuple[Index, ...] = ()
    lsis: tuple[Index, ...] = ()
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int | None = None
    write_capacity: int | None = None
    stream_view_type: str | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    versioning: bool = False
    cors_rules: tuple[dict, ...] = ()  # S3 CORSRules as boto3 shapes
    notifications: tuple[dict, ...] = ()  # recorded, not acted on


@dataclass(frozen=True)
class AwsResource:
    """A resource of a service the embedded stores emulate (SQS, SNS, EventBridge, Logs, SSM, Secrets Manager,
    Kinesis): its CloudFormation type, physical name and resolved Properties (sorted JSON, so it stays frozen)."""

    logical_id: str
    type: str
    name: str
    properties: str = "{}"

    @property
    def props(self) -> dict:
        return json.loads(self.properties)


@dataclass(frozen=True)
class UserPool:
    """An AWS::Cognito::UserPool (or the box's own pool) with its app clients' ids."""

    logical_id: str
    pool_id: str  # <region>_<9 characters>, stable for the same stack and logical id
    name: str
    clients: tuple[str, ...] = ()
    validity: tuple[tuple[str, TokenValidity], ...] = ()  # (client id, its token lifetimes) when it sets any


@dataclass(frozen=True)
class Warning_:
    """Something in the template we do not support; never dropped silently."""

    resource: str
    prop: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.resource}.{self.prop}" if self.prop else self.resource
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Application:
    """A resolved template: every value concrete, no intrinsic left."""

    template_path: Path
    stack_name: str
    region: str
    account_id: str
    parameters: tuple[tuple[str, str], ...] = ()
    functions: tuple[Function, ...] = ()
    layers: tuple[Layer, ...] = ()
    apis: tuple[Api, ...] = ()
    tables: tuple[Table, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    resources: tuple[AwsResource, ...] = ()  # queues, topics, rules, parameters, secrets, streams, log groups
    user_pools: tuple[UserPool, ...] = ()  # the template's pools; the box's own pool is added at render
    api_keys: tuple[str, ...] = ()  # Values of AWS::ApiGateway::ApiKey resources
    warnings: tuple[Warning_, ...] = field(default=(), compare=False)

    def function(self, logical_id: str) -> Function:
        for fn in self.functions:
            if fn.logical_id == logical_id:
                return fn
        raise KeyError(logical_id)

    def layer(self, logical_id: str) -> Layer:
        for layer in self.layers:
            if layer.logical_id == logical_id:
                return layer
        raise KeyError(logical_id)
