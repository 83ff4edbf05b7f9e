"""Tests for esb.sam.auth (route auth): AWS_IAM routes, usage plans, and what reaches routing.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.errors import TemplateError

from esb.render import render_routing
from test_loader import FN, load

IAM = FN + """\
    Events:
      Signed: {Type: Api, Properties: {Path: /signed, Method: get, RestApiId: !Ref Rest}}
      Open: {Type: Api, Properties: {Path: /open, Method: get, RestApiId: !Ref Rest, Auth: {Authorizer: NONE}}}
      Http: {Type: HttpApi, Properties: {Path: /h, Method: get, Auth: {Authorizer: AWS_IAM}}}
Rest:
  Type: AWS::Serverless::Api
  Properties:
    StageName: Prod
    Auth: {DefaultAuthorizer: AWS_IAM}
"""


def _routes(tmp_path: Path, resources: str) -> dict[str, dict]:
    app = load(tmp_path, resources)
    return {r["path"]: r for r in yaml.safe_load(render_routing(app))["routes"]}


def test_aws_iam_default_and_route_authorizer_reach_routing(tmp_path: Path) -> None:
    app = load(tmp_path, IAM)
    assert app.warnings == ()  # enforced now, no longer a warning
    routes = {r["path"]: r for r in yaml.safe_load(render_routing(app))["routes"]}
    assert routes["/signed"]["authorizer"] == "AWS_IAM"
    assert routes["/h"]["authorizer"] == "AWS_IAM"
    assert "authorizer" not in routes["/open"]  # NONE under the AWS_IAM default


PLANS = FN + """\
    Events:
      A: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref A}}
      B: {Type: Api, Properties: {Path: /b, Method: get, RestApiId: !Ref B}}
      C: {Type: Api, Properties: {Path: /c, Method: get, RestApiId: !Ref C}}
A:
  Type: AWS::Serverless::Api
  Properties:
    StageName: Prod
    Auth:
      ApiKeyRequired: true
      UsagePlan:
        CreateUsagePlan: PER_API
        Throttle: {RateLimit: 2.5, BurstLimit: 5}
        Quota: {Limit: 100, Period: week, Offset: 1}
B:
  Type: AWS::Serverless::Api
  Properties:
    StageName: Prod
    Auth: {ApiKeyRequired: true, UsagePlan: {CreateUsagePlan: SHARED, Quota: {Limit: 10}}}
C:
  Type: AWS::Serverless::Api
  Properties:
    StageName: Prod
    Auth: {ApiKeyRequired: true, UsagePlan: {CreateUsagePlan: SHARED, Description: the limits are on B}}
"""


def test_usage_plans_reach_routing_shared_ones_as_one_plan(tmp_path: Path) -> None:
    app = load(tmp_path, PLANS)
    assert app.warnings == ()
    apis = yaml.safe_load(render_routing(app))["apis"]
    assert apis["A"]["usage_plan"] == {"name": "AUsagePlan", "rate": 2.5, "burst": 5, "limit": 100,
                                       "period": "WEEK", "offset": 1}
    shared = {"name": "ServerlessUsagePlan", "limit": 10, "period": "DAY", "offset": 0}
    assert apis["B"]["usage_plan"] == shared and apis["C"]["usage_plan"] == shared


@pytest.mark.parametrize(("plan", "message"), [
    ("CreateUsagePlan: ALL", "CreateUsagePlan must be PER_API, SHARED or NONE"),
    ("CreateUsagePlan: SHARED, Quota: {Limit: -1}", "Limit must be a number of at least 0"),
    ("CreateUsagePlan: SHARED, Throttle: {RateLimit: fast}", "RateLimit must be a number of at least 0"),
    ("CreateUsagePlan: SHARED, Quota: {Period: YEAR}", "Quota.Period must be DAY, WEEK or MONTH"),
])
def test_bad_usage_plans_are_one_clear_error(tmp_path: Path, plan: str, message: str) -> None:
    text = PLANS.replace("CreateUsagePlan: SHARED, Quota: {Limit: 10}", plan)
    with pytest.raises(TemplateError, match=message):
        load(tmp_path, text)


def test_http_api_usage_plan_is_a_warning(tmp_path: Path) -> None:
    text = IAM + """Http:
  Type: AWS::Serverless::HttpApi
  Properties: {Auth: {UsagePlan: {CreateUsagePlan: PER_API}}}
"""
    assert [str(w) for w in load(tmp_path, text).warnings] == [
        "Http.Auth.UsagePlan: HTTP APIs have no usage plans, ignored"]
