"""Tests for esb.sam.usage_plans: explicit AWS::ApiGateway::UsagePlan resources reach routing.yml per API key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.errors import TemplateError
from esb.render import render_routing
from test_loader import FN, load

EXPLICIT = FN + """\
    Events:
      A: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref Keyed, Auth: {ApiKeyRequired: true}}}
      D: {Type: Api, Properties: {Path: /d, Method: get, Auth: {ApiKeyRequired: true}}}
Keyed:
  Type: AWS::Serverless::Api
  Properties: {StageName: live}
Gold:
  Type: AWS::ApiGateway::UsagePlan
  DependsOn: KeyedliveStage
  Properties:
    UsagePlanName: gold
    ApiStages:
      - {ApiId: !Ref Keyed, Stage: !Ref Keyed.Stage}
      - {ApiId: !Ref ServerlessRestApi, Stage: Prod}
    Throttle: {RateLimit: 10, BurstLimit: 20}
    Quota: {Limit: 1000, Period: MONTH}
Bronze:
  Type: AWS::ApiGateway::UsagePlan
  Properties:
    ApiStages: [{ApiId: !Sub "${Keyed}", Stage: !Sub "${Keyed.Stage}"}]
    Quota: {Limit: 5}
GoldKey: {Type: AWS::ApiGateway::ApiKey, Properties: {Value: gold-key-0123456789}}
BronzeKey: {Type: AWS::ApiGateway::ApiKey, Properties: {Value: bronze-key-012345678}}
GoldLink:
  Type: AWS::ApiGateway::UsagePlanKey
  Properties: {KeyId: !Ref GoldKey, KeyType: API_KEY, UsagePlanId: !Ref Gold}
BronzeLink:
  Type: AWS::ApiGateway::UsagePlanKey
  Properties: {KeyId: !Ref BronzeKey, KeyType: API_KEY, UsagePlanId: !Ref Bronze}
"""


def _apis(tmp_path: Path, text: str) -> dict[str, dict]:
    return yaml.safe_load(render_routing(load(tmp_path, text)))["apis"]


def test_explicit_plans_reach_the_apis_of_their_stages_with_their_keys(tmp_path: Path) -> None:
    app = load(tmp_path, EXPLICIT)
    assert app.warnings == ()  # enforced now, no longer a warning
    assert app.api_keys == ("bronze-key-012345678", "gold-key-0123456789")
    apis = yaml.safe_load(render_routing(app))["apis"]
    gold = {"name": "Gold", "rate": 10.0, "burst": 20, "limit": 1000, "period": "MONTH", "offset": 0,
            "keys": ["gold-key-0123456789"]}
    bronze = {"name": "Bronze", "limit": 5, "period": "DAY", "offset": 0, "keys": ["bronze-key-012345678"]}
    assert apis["Keyed"]["usage_plans"] == [bronze, gold]  # by logical id
    assert apis["ServerlessRestApi"]["usage_plans"] == [gold]
    assert "usage_plan" not in apis["Keyed"]


def test_templates_without_explicit_plans_render_no_usage_plans(tmp_path: Path) -> None:
    text = FN + "    Events: {D: {Type: Api, Properties: {Path: /d, Method: get}}}\n"
    assert "usage_plans" not in _apis(tmp_path, text)["ServerlessRestApi"]


PER_METHOD = ('    ApiStages: [{ApiId: !Sub "${Keyed}", Stage: !Sub "${Keyed.Stage}"}]',
              "    ApiStages: [{ApiId: !Ref Keyed, Stage: live, Throttle: {/a/GET: {RateLimit: 1}}}]")


@pytest.mark.parametrize(("old", "new", "warning"), [
    ("Stage: Prod}", "Stage: prod}",
     "Gold.ApiStages[1].Stage: prod is not the stage of ServerlessRestApi (Prod), ignored; "
     "use !Ref ServerlessRestApi.Stage"),
    ("KeyId: !Ref GoldKey", "KeyId: Nope",
     "GoldLink.KeyId: Nope is not an AWS::ApiGateway::ApiKey with a Value in this template, ignored"),
    ("UsagePlanId: !Ref Gold}", "UsagePlanId: Other}",
     "GoldLink.UsagePlanId: Other is not an AWS::ApiGateway::UsagePlan of this template, ignored"),
    ("KeyType: API_KEY, UsagePlanId: !Ref Gold", "KeyType: OTHER, UsagePlanId: !Ref Gold",
     "GoldLink.KeyType: only API_KEY links exist, ignored"),
    (*PER_METHOD, "Bronze.ApiStages[0].Throttle: per-method throttles are not supported, ignored"),
    ("UsagePlanName: gold", "UsagePlanName: gold\n    ProductCode: x",
     "Gold.ProductCode: not supported, ignored"),
])
def test_what_cannot_apply_is_a_warning(tmp_path: Path, old: str, new: str, warning: str) -> None:
    assert old in EXPLICIT
    assert warning in [str(w) for w in load(tmp_path, EXPLICIT.replace(old, new)).warnings]


def test_a_plan_no_key_is_linked_to_meters_nothing(tmp_path: Path) -> None:
    text = EXPLICIT.replace("UsagePlanId: !Ref Bronze", "UsagePlanId: !Ref Gold")
    app = load(tmp_path, text)
    assert [str(w) for w in app.warnings] == [
        "Bronze: no AWS::ApiGateway::UsagePlanKey links an API key with a Value to this plan, so it meters no key"]
    apis = yaml.safe_load(render_routing(app))["apis"]
    assert [p["keys"] for p in apis["Keyed"]["usage_plans"]] == [["bronze-key-012345678", "gold-key-0123456789"]]


def test_http_api_stage_is_a_warning(tmp_path: Path) -> None:
    text = EXPLICIT + """Http:
  Type: AWS::Serverless::HttpApi
"""
    text = text.replace("- {ApiId: !Ref ServerlessRestApi, Stage: Prod}", "- {ApiId: !Ref Http, Stage: !Ref Http.Stage}")
    assert ("Gold.ApiStages[1].ApiId: Http is not an AWS::Serverless::Api of this template (HTTP APIs have no usage "
            "plans), ignored") in [str(w) for w in load(tmp_path, text).warnings]


def test_bad_limits_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Quota.Period must be DAY, WEEK or MONTH"):
        load(tmp_path, EXPLICIT.replace("Period: MONTH", "Period: YEAR"))


def test_stage_ref_of_an_api_without_stage_name_is_its_default(tmp_path: Path) -> None:
    text = FN + """\
    Environment: {Variables: {STAGE: !Ref Http.Stage, REST: !Sub "${ServerlessRestApi.Stage}"}}
    Events:
      D: {Type: Api, Properties: {Path: /d, Method: get}}
Http: {Type: AWS::Serverless::HttpApi}
"""
    env = dict(load(tmp_path, text).function("Fn").environment)
    assert env["STAGE"] == "$default" and env["REST"] == "Prod"
