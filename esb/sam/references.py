"""What Ref and Fn::GetAtt give for a resource: physical names, ARNs, domain names."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esb.sam.apis import DEFAULT_STAGE
from esb.sam.cognito import CLIENT_TYPE, POOL_TYPE, client_id_for, pool_attributes, pool_id_for
from esb.sam.context import LoadContext
from esb.sam.names import name_problem
from esb.sam.scalars import cfn_str, is_scalar
from esb.sam.service_refs import NAME_PROPERTY, SERVICE_TYPES, ServiceRefs, default_name

Path = tuple[str, ...]

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
BUCKET_TYPE = "AWS::S3::Bucket"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")

_NAME_PROPERTY = {
    **{t: "FunctionName" for t in FUNCTION_TYPES},
    **{t: "TableName" for t in TABLE_TYPES},
    **{t: "LayerName" for t in LAYER_TYPES},
    BUCKET_TYPE: "BucketName",
    **NAME_PROPERTY,
}
# A fixed stream label keeps the output the same for the same input.
_STREAM_LABEL = "1970-01-01T00:00:00.000"


@dataclass(frozen=True)
class SamResource:
    """A resource as written (Properties not yet resolved), kept by its logical id."""

    logical_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


def bucket_name_for(stack_name: str, logical_id: str) -> str:
    """A valid S3 bucket name for a bucket without BucketName."""
    name = re.sub(r"[^a-z0-9.-]+", "-", f"{stack_name}-{logical_id}".lower()).strip("-.")
    return name[:63].rstrip("-.").ljust(3, "0")


class ResourceRefs:
    """Answers Ref/GetAtt for resources; names are resolved lazily, cycles are errors."""

    def __init__(
        self,
        ctx: LoadContext,
        resources: dict[str, SamResource],
        resolve: Callable[[Any, Path], Any],
    ) -> None:
        self._ctx = ctx
        self._resources = resources
        self._resolve = resolve
        self._names: dict[str, str] = {}
        self._services = ServiceRefs(ctx.region, ctx.account_id)
        self._resolving: list[str] = []

    def has(self, logical_id: str) -> bool:
        return logical_id in self._resources

    def type_of(self, logical_id: str) -> str:
        return self._resources[logical_id].type

    def physical_name(self, logical_id: str) -> str:
        """FunctionName/TableName/BucketName/LayerName, else a name made from the logical id."""
        if logical_id in self._names:
            return self._names[logical_id]
        resource = self._resources[logical_id]
        prop = _NAME_PROPERTY.get(resource.type)
        path = ("Resources", logical_id, "Properties", prop or "")
        if prop and prop in resource.properties:
            if logical_id in self._resolving:
                cycle = " -> ".join([*self._resolving, logical_id])
                self._ctx.fail(path, f"{prop} refers to itself: {cycle}", f"give {prop} a literal value")
            self._resolving.append(logical_id)
            try:
                value = self._resolve(resource.properties[prop], path)
            finally:
                self._resolving.pop()
            if not is_scalar(value) or cfn_str(value) == "":
                self._ctx.fail(path, f"{prop} must be a non-empty string")
            name = cfn_str(value)
            problem = name_problem(prop, name)
            if problem is not None:  # a name becomes a directory of the output tree: never `../..` or `/abs`
                self._ctx.fail(path, problem, f"give {prop} a name AWS accepts")
        elif resource.type == BUCKET_TYPE:
            name = bucket_name_for(self._ctx.stack_name, logical_id)
        elif resource.type in SERVICE_TYPES:
            name = default_name(resource.type, self._ctx.stack_name, logical_id, self._prop(logical_id))
        else:
            name = logical_id
        self._names[logical_id] = name
        return name

    def _prop(self, logical_id: str) -> Callable[[str], Any]:
        """A reader of one resolved property of a resource (None when absent)."""
        resource = self._resources[logical_id]

        def read(name: str) -> Any:
            if name not in resource.properties:
                return None
            return self._resolve(resource.properties[name], ("Resources", logical_id, "Properties", name))

        return read

    def stage_ref(self, name: str) -> str | None:
        """SAM's `<Api>.Stage` reference: the stage name of a Serverless Api/HttpApi (None for any other name)."""
        api_id, dot, attr = name.partition(".")
        if not dot or attr != "Stage" or not self.has(api_id):
            return None
        kind = {"AWS::Serverless::Api": "Api", "AWS::Serverless::HttpApi": "HttpApi"}.get(self.type_of(api_id))
        if kind is None:
            return None
        properties = self._resources[api_id].properties
        if "StageName" not in properties:
            return DEFAULT_STAGE[kind]
        return cfn_str(self._resolve(properties["StageName"], ("Resources", api_id, "Properties", "StageName")))

    def layer_arn(self, logical_id: str) -> str:
        ctx = self._ctx
        return f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:layer:{self.physical_name(logical_id)}:1"

    def ref(self, logical_id: str, path: Path) -> str:
        rtype = self.type_of(logical_id)
        if rtype in LAYER_TYPES:
            return self.layer_arn(logical_id)
        if rtype in SERVICE_TYPES:
            return self._services.ref(rtype, self.physical_name(logical_id), self._prop(logical_id))
        if rtype == POOL_TYPE:
            return pool_id_for(self._ctx.stack_name, self._ctx.region, logical_id)
        if rtype == CLIENT_TYPE:
            return client_id_for(self._ctx.stack_name, logical_id)
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attr: str, path: Path) -> str:
        rtype = self.type_of(logical_id)
        values = self._attributes(logical_id, rtype)
        if values is None:
            # Unsupported resource types still resolve so their Arn can flow into env vars.
            return values_for_other(self._ctx, logical_id, rtype, attr)
        if attr not in values:
            known = ", ".join(sorted(values)) or "none"
            self._ctx.fail(
                path, f"{logical_id} ({rtype}) has no attribute '{attr}'", f"known attributes: {known}"
            )
        return values[attr]

    def _attributes(self, logical_id: str, rtype: str) -> dict[str, str] | None:
        region, account = self._ctx.region, self._ctx.account_id
        if rtype in FUNCTION_TYPES:
            return {"Arn": f"arn:aws:lambda:{region}:{account}:function:{self.physical_name(logical_id)}"}
        if rtype in TABLE_TYPES:
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{self.physical_name(logical_id)}"
            return {"Arn": arn, "StreamArn": f"{arn}/stream/{_STREAM_LABEL}"}
        if rtype == BUCKET_TYPE:
            name = self.physical_name(logical_id)
            return {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            }
        if rtype in LAYER_TYPES:
            return {"LayerVersionArn": self.layer_arn(logical_id)}
        if rtype in SERVICE_TYPES:
            return self._services.attributes(rtype, self.physical_name(logical_id), self._prop(logical_id))
        if rtype == POOL_TYPE:
            return pool_attributes(self._ctx, logical_id)
        if rtype == CLIENT_TYPE:
            return {"ClientId": client_id_for(self._ctx.stack_name, logical_id), "Name": logical_id}
        if rtype == "AWS::Serverless::Api":
            return {"RootResourceId": "root"}
        if rtype == "AWS::Serverless::HttpApi":
            return {"ApiEndpoint": f"https://{logical_id}.execute-api.{region}.amazonaws.com", "ApiId": logical_id}
        return None


def values_for_other(ctx: LoadContext, logical_id: str, rtype: str, attr: str) -> str:
    """A stable stand-in for an attribute of a resource type esb does not run."""
    parts = rtype.split("::")
    service = parts[1].lower() if len(parts) > 2 else "unknown"
    if attr == "Arn":
        return f"arn:aws:{service}:{ctx.region}:{ctx.account_id}:{logical_id}"
    return f"{logical_id}.{attr}"
