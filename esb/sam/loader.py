"""load_application: a SAM template file in, a fully resolved esb.model.Application out."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from esb.errors import TemplateError
from esb.model import Api, Application, Bucket, Function, Layer, Table
from esb.sam.apis import IMPLICIT_HTTP, IMPLICIT_REST, build_api
from esb.sam.buckets import build_bucket
from esb.sam.auth import AuthReader, share_usage_plans
from esb.sam.cognito import CLIENT_TYPE, POOL_TYPE, box_pool, build_pools
from esb.sam.context import LoadContext
from esb.sam.events import implicit_api_kinds
from esb.sam.functions import build_function, build_layer
from esb.sam.globals_merge import merge_globals, read_globals
from esb.sam.parameters import resolve_parameters
from esb.sam.references import BUCKET_TYPE, SamResource
from esb.sam.resolver import Resolver
from esb.sam.service_refs import SERVICE_TYPES
from esb.sam.services import build_service_resource
from esb.sam.tables import build_simple_table, build_table
from esb.sam.usage_plans import PLAN_KEY_TYPE, PLAN_TYPE, ExplicitPlans, with_key_plans
from esb.sam.yaml_loader import load_template

_TOP_LEVEL = frozenset({
    "AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Mappings",
    "Conditions", "Globals", "Resources", "Outputs", "Rules",
})
_RESOURCE_KEYS = frozenset({
    "Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy",
    "UpdatePolicy", "CreationPolicy",
})
_IMPLICIT_TYPES = {
    "Api": (IMPLICIT_REST, "AWS::Serverless::Api"),
    "HttpApi": (IMPLICIT_HTTP, "AWS::Serverless::HttpApi"),
}


def default_stack_name(template: Path) -> str:
    """The template directory's name, lower case, anything outside [a-z0-9-] as '-'."""
    return re.sub(r"[^a-z0-9-]", "-", template.resolve().parent.name.lower()) or "esb"


def load_application(
    template: Path,
    parameters: Mapping[str, str] | None = None,
    *,
    stack_name: str | None = None,
    region: str = "us-east-1",
    account_id: str = "000000000000",
    from_command_line: Collection[str] = (),
) -> Application:
    """Read, resolve and validate a SAM template; every problem is a TemplateError with its place.

    `from_command_line`: the names among `parameters` that --parameter-overrides set (for messages)."""
    template = Path(template).resolve()
    raw = load_template(template)
    ctx = LoadContext(template, raw, region, account_id, stack_name or default_stack_name(template))
    for key in raw:
        if key not in _TOP_LEVEL:
            ctx.warn("Template", str(key), "not a template section, ignored")
    params, shown = resolve_parameters(ctx, parameters, from_command_line)
    resources = _read_resources(ctx)
    resolver = Resolver(ctx, params, resources, excluded=set())
    _apply_conditions(ctx, resolver, resources)
    _add_implicit_apis(resources)
    return _Builder(ctx, resolver, resources, read_globals(ctx)).build(shown)


def _read_resources(ctx: LoadContext) -> dict[str, SamResource]:
    raw = ctx.raw.get("Resources")
    if not isinstance(raw, dict) or not raw:
        ctx.fail(("Resources",), "the template has no Resources", "add at least one AWS::Serverless::Function")
    resources = {}
    for lid, body in raw.items():
        path = ("Resources", str(lid))
        if not isinstance(body, dict) or not isinstance(body.get("Type"), str):
            ctx.fail(path, f"resource {lid} needs a Type")
        props = body.get("Properties") or {}
        if not isinstance(props, dict):
            ctx.fail((*path, "Properties"), f"Properties of {lid} must be a mapping")
        for key in body:
            if key not in _RESOURCE_KEYS:
                ctx.warn(str(lid), str(key), "not a resource attribute, ignored")
        resources[str(lid)] = SamResource(str(lid), body["Type"], props)
    return resources


def _apply_conditions(ctx: LoadContext, resolver: Resolver, resources: dict[str, SamResource]) -> None:
    """Drop resources whose Condition is false; conditions cannot refer to resources, so this is safe first."""
    for lid in list(resources):
        condition = ctx.raw["Resources"][lid].get("Condition")
        if condition is None:
            continue
        if not isinstance(condition, str):
            ctx.fail(("Resources", lid, "Condition"), "Condition must be a condition name")
        if not resolver.condition(condition, ("Resources", lid, "Condition")):
            del resources[lid]
            resolver.excluded.add(lid)


def _add_implicit_apis(resources: dict[str, SamResource]) -> None:
    kinds: set[str] = set()
    for resource in resources.values():
        if resource.type == "AWS::Serverless::Function":
            kinds |= implicit_api_kinds(resource.properties.get("Events"))
    for kind in sorted(kinds):
        lid, rtype = _IMPLICIT_TYPES[kind]
        resources.setdefault(lid, SamResource(lid, rtype, {}))


class _Builder:
    """Turns the included resources into model objects, in dependency order (layers, apis, rest)."""

    def __init__(
        self, ctx: LoadContext, resolver: Resolver, resources: dict[str, SamResource], globals_: dict[str, dict]
    ) -> None:
        self.ctx, self.resolver, self.resources, self.globals = ctx, resolver, resources, globals_

    def _props(self, resource: SamResource, section: str | None = None) -> dict[str, Any]:
        merged = merge_globals(self.globals.get(section, {}), resource.properties) if section else resource.properties
        return self.resolver.resolve(merged, ("Resources", resource.logical_id, "Properties"))

    def _metadata(self, resource: SamResource) -> dict[str, Any] | None:
        raw = (self.ctx.raw.get("Resources") or {}).get(resource.logical_id) or {}
        metadata = raw.get("Metadata") if isinstance(raw, dict) else None
        if not isinstance(metadata, dict):
            return None
        return self.resolver.resolve(metadata, ("Resources", resource.logical_id, "Metadata"))

    def _name(self, lid: str) -> str:
        return self.resolver.refs.physical_name(lid)

    def _simple(self, resources: list[SamResource], builder: Any, section: str | None = None) -> list[Any]:
        """Build each resource with `builder(ctx, logical_id, physical_name, props)`."""
        return [
            builder(self.ctx, r.logical_id, self._name(r.logical_id), self._props(r, section)) for r in resources
        ]

    def build(self, shown: tuple[tuple[str, str], ...]) -> Application:
        by_type: dict[str, list[SamResource]] = {}
        for resource in self.resources.values():
            by_type.setdefault(resource.type, []).append(resource)
        layers: list[Layer] = self._simple(by_type.pop("AWS::Serverless::LayerVersion", []), build_layer)
        layer_ids = {self.resolver.refs.layer_arn(layer.logical_id): layer.logical_id for layer in layers}
        # Pools, then APIs: authorizers name pools, function events need each API's kind and authorizers.
        pools = build_pools(
            self.ctx, {r.logical_id: self._props(r) for r in by_type.pop(POOL_TYPE, [])},
            {r.logical_id: self._props(r) for r in by_type.pop(CLIENT_TYPE, [])},
        )
        key_values = self._api_keys(by_type)
        apis: dict[str, Api] = {}
        function_names = {self._name(r.logical_id) for r in by_type.get("AWS::Serverless::Function", [])}
        auth = AuthReader(self.ctx, pools, box_pool(self.ctx), function_names)
        for kind in ("Api", "HttpApi"):
            for resource in by_type.pop(f"AWS::Serverless::{kind}", []):
                apis[resource.logical_id] = build_api(
                    self.ctx, resource.logical_id, kind, self._props(resource, kind), function_names, auth
                )
        apis = with_key_plans(self.ctx, auth, self._explicit_plans(by_type, key_values), share_usage_plans(apis))
        functions: list[Function] = [
            build_function(
                self.ctx, r.logical_id, self._name(r.logical_id), self._props(r, "Function"), apis, layer_ids,
                self._metadata(r), auth,
            )
            for r in by_type.pop("AWS::Serverless::Function", [])
        ]
        tables: list[Table] = [
            *self._simple(by_type.pop("AWS::DynamoDB::Table", []), build_table),
            *self._simple(by_type.pop("AWS::Serverless::SimpleTable", []), build_simple_table, "SimpleTable"),
        ]
        buckets: list[Bucket] = self._simple(by_type.pop(BUCKET_TYPE, []), build_bucket)
        resources = [
            build_service_resource(self.ctx, r.logical_id, rtype, self._name(r.logical_id), self._props(r))
            for rtype in SERVICE_TYPES for r in by_type.pop(rtype, [])
        ]
        for rtype, rest in by_type.items():
            for resource in rest:
                self.ctx.warn(resource.logical_id, None, f"resource type {rtype} not supported, ignored")
        self._check_unique_names("function", [f.name for f in functions])
        self._check_unique_names("table", [t.name for t in tables])
        self._check_unique_names("bucket", [b.name for b in buckets])
        ctx = self.ctx
        return Application(
            template_path=ctx.template,
            stack_name=ctx.stack_name,
            region=ctx.region,
            account_id=ctx.account_id,
            parameters=shown,
            functions=tuple(sorted(functions, key=lambda f: f.logical_id)),
            layers=tuple(sorted(layers, key=lambda layer: layer.logical_id)),
            apis=tuple(sorted(apis.values(), key=lambda a: a.logical_id)),
            tables=tuple(sorted(tables, key=lambda t: t.logical_id)),
            buckets=tuple(sorted(buckets, key=lambda b: b.logical_id)),
            resources=tuple(sorted(resources, key=lambda r: r.logical_id)),
            user_pools=pools,
            api_keys=tuple(sorted(set(key_values.values()))),
            warnings=tuple(ctx.warnings),
        )

    def _api_keys(self, by_type: dict[str, list[SamResource]]) -> dict[str, str]:
        """Values of AWS::ApiGateway::ApiKey, by what their Ref gives (UsagePlanKeys name them so)."""
        keys = {}
        for resource in by_type.pop("AWS::ApiGateway::ApiKey", []):
            value = self._props(resource).get("Value")
            if isinstance(value, str) and value:
                keys[self.resolver.refs.ref(resource.logical_id, ())] = value
            else:
                self.ctx.warn(resource.logical_id, "Value", "an API key without a Value: use the box's x-api-key")
        return keys

    def _explicit_plans(self, by_type: dict[str, list[SamResource]], key_values: dict[str, str]) -> ExplicitPlans:
        plans = {r.logical_id: self._props(r) for r in by_type.pop(PLAN_TYPE, [])}
        links = {r.logical_id: self._props(r) for r in by_type.pop(PLAN_KEY_TYPE, [])}
        return ExplicitPlans(plans, links, {self.resolver.refs.ref(lid, ()): lid for lid in plans}, key_values)

    def _check_unique_names(self, what: str, names: list[str]) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise TemplateError(
                    f"two {what}s are named '{name}'", where=self.ctx.template.name,
                    hint=f"give each {what} its own name",
                )
            seen.add(name)
