"""Explicit AWS::ApiGateway::UsagePlan resources: their limits on the API stages they list, for the keys linked
to them by AWS::ApiGateway::UsagePlanKey."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from esb.model import Api, UsagePlan
from esb.sam.auth import AuthReader
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar

PLAN_TYPE = "AWS::ApiGateway::UsagePlan"
PLAN_KEY_TYPE = "AWS::ApiGateway::UsagePlanKey"
# Properties that name or describe a plan without changing what a request may do.
_QUIET = frozenset({"ApiStages", "Quota", "Throttle", "Description", "Tags", "UsagePlanName"})


@dataclass(frozen=True)
class ExplicitPlans:
    """The template's plans and links, Properties resolved; keys and plans found by what their Ref gives."""

    plans: Mapping[str, dict[str, Any]]  # plan logical id -> Properties
    links: Mapping[str, dict[str, Any]]  # UsagePlanKey logical id -> Properties
    plan_refs: Mapping[str, str]  # Ref of a plan -> its logical id
    key_values: Mapping[str, str]  # Ref of an AWS::ApiGateway::ApiKey -> its Value


def with_key_plans(ctx: LoadContext, reader: AuthReader, found: ExplicitPlans, apis: dict[str, Api]) -> dict[str, Api]:
    """The APIs with the plans listing their stage, each plan metering only the keys linked to it."""
    keys = _linked_keys(ctx, found)
    per_api: dict[str, list[UsagePlan]] = {}
    for plan_id, props in sorted(found.plans.items()):
        path = ("Resources", plan_id, "Properties")
        for key in props:
            if key not in _QUIET:
                ctx.warn(plan_id, key, "not supported, ignored")
        plan = replace(reader.plan_limits(plan_id, props, path), keys=keys.get(plan_id, ()))
        api_ids = _stages(ctx, plan_id, props.get("ApiStages"), apis)
        if not plan.keys:
            ctx.warn(plan_id, None, "no AWS::ApiGateway::UsagePlanKey links an API key with a Value to this plan, "
                     "so it meters no key")
            continue
        for api_id in api_ids:
            per_api.setdefault(api_id, []).append(plan)
    return {**apis, **{api_id: replace(apis[api_id], key_plans=tuple(plans)) for api_id, plans in per_api.items()}}


def _text(value: Any) -> str:
    return cfn_str(value) if is_scalar(value) and value is not None else ""


def _linked_keys(ctx: LoadContext, found: ExplicitPlans) -> dict[str, tuple[str, ...]]:
    """Plan logical id -> the values of the API keys its UsagePlanKeys link, sorted."""
    keys: dict[str, set[str]] = {}
    for link_id, props in sorted(found.links.items()):
        key_ref, plan_ref = _text(props.get("KeyId")), _text(props.get("UsagePlanId"))
        if _text(props.get("KeyType")) != "API_KEY":
            ctx.warn(link_id, "KeyType", "only API_KEY links exist, ignored")
        elif key_ref not in found.key_values:
            ctx.warn(link_id, "KeyId", f"{key_ref or 'it'} is not an AWS::ApiGateway::ApiKey with a Value in this "
                     "template, ignored")
        elif plan_ref not in found.plan_refs:
            ctx.warn(link_id, "UsagePlanId", f"{plan_ref or 'it'} is not an AWS::ApiGateway::UsagePlan of this "
                     "template, ignored")
        else:
            keys.setdefault(found.plan_refs[plan_ref], set()).add(found.key_values[key_ref])
    return {plan_id: tuple(sorted(values)) for plan_id, values in keys.items()}


def _stages(ctx: LoadContext, plan_id: str, stages: Any, apis: Mapping[str, Api]) -> list[str]:
    """The REST APIs whose stage the plan lists (by Ref of the API and its StageName or `<Api>.Stage`)."""
    found = []
    for index, stage in enumerate(stages if isinstance(stages, list) else []):
        where = f"ApiStages[{index}]"
        stage = stage if isinstance(stage, dict) else {}
        api_id, name = _text(stage.get("ApiId")), _text(stage.get("Stage"))
        api = apis.get(api_id)
        if api is None or api.kind != "Api":
            ctx.warn(plan_id, f"{where}.ApiId", f"{api_id or 'it'} is not an AWS::Serverless::Api of this template "
                     "(HTTP APIs have no usage plans), ignored")
        elif name != api.stage:
            ctx.warn(plan_id, f"{where}.Stage", f"{name or 'no stage'} is not the stage of {api_id} ({api.stage}), "
                     f"ignored; use !Ref {api_id}.Stage")
        else:
            if "Throttle" in stage:
                ctx.warn(plan_id, f"{where}.Throttle", "per-method throttles are not supported, ignored")
            found.append(api_id)
    if stages is not None and not isinstance(stages, list):
        ctx.warn(plan_id, "ApiStages", "must be a list of {ApiId, Stage}, ignored")
    return found
