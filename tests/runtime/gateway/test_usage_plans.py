"""Usage plans: throttle (token bucket) and quota per API key, unit and through the gateway's routes."""

from __future__ import annotations

import calendar
import json
from pathlib import Path

import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.auth_config import UsagePlanConfig
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.usage_plans import LIMIT_EXCEEDED, TOO_MANY, UsageMeter, period_start
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)[:6]))


def test_throttle_allows_a_burst_then_the_rate() -> None:
    clock = Clock(utc(2026, 11, 29, 12))
    meter, plan = UsageMeter(clock), UsagePlanConfig("P", rate=2.0, burst=3)
    assert [meter.admit(plan, "k") for _ in range(4)] == [None, None, None, TOO_MANY]
    assert meter.admit(plan, "other") is None  # each key has its own bucket
    clock.now += 0.5  # one token back at 2 per second
    assert meter.admit(plan, "k") is None and meter.admit(plan, "k") == TOO_MANY
    clock.now += 60  # refills up to the burst, never beyond
    assert [meter.admit(plan, "k") for _ in range(4)] == [None, None, None, TOO_MANY]


def test_quota_counts_per_key_and_period() -> None:
    clock = Clock(utc(2026, 11, 29, 23))
    meter, plan = UsageMeter(clock), UsagePlanConfig("P", limit=2, period="DAY")
    assert [meter.admit(plan, "k") for _ in range(3)] == [None, None, LIMIT_EXCEEDED]
    clock.now = utc(2026, 11, 30, 0)  # a new day: the count starts again
    assert meter.admit(plan, "k") is None


def test_quota_is_checked_before_throttle_and_throttled_calls_do_not_count() -> None:
    clock = Clock(utc(2026, 11, 29, 12))
    meter, plan = UsageMeter(clock), UsagePlanConfig("P", rate=1.0, burst=1, limit=2)
    assert meter.admit(plan, "k") is None and meter.admit(plan, "k") == TOO_MANY
    clock.now += 1
    assert meter.admit(plan, "k") is None
    clock.now += 1
    assert meter.admit(plan, "k") == LIMIT_EXCEEDED


@pytest.mark.parametrize(("period", "offset", "now", "start"), [
    ("DAY", 0, utc(2026, 11, 29, 15), utc(2026, 11, 29)),
    ("WEEK", 0, utc(2026, 11, 29, 15), utc(2026, 11, 29)),  # 2026-11-29 is a Sunday
    ("WEEK", 1, utc(2026, 11, 29, 15), utc(2026, 11, 23)),  # weeks starting Monday: the Monday before
    ("WEEK", 1, utc(2026, 12, 1, 2), utc(2026, 11, 30)),
    ("MONTH", 0, utc(2026, 11, 29, 15), utc(2026, 11, 1)),
    ("MONTH", 14, utc(2026, 11, 29, 15), utc(2026, 11, 15)),
    ("MONTH", 14, utc(2026, 1, 3, 15), utc(2025, 12, 15)),
])
def test_period_start(period: str, offset: int, now: float, start: float) -> None:
    assert period_start(period, offset, now) == start


SECRETS = BoxSecrets.generate()
PLAN = {"name": "ServerlessUsagePlan", "rate": 1, "burst": 2, "limit": 3, "period": "DAY"}
ROUTING = {
    "apis": {"A": {"kind": "Api", "stage": "Prod", "usage_plan": PLAN},
             "B": {"kind": "Api", "stage": "Prod", "usage_plan": PLAN}},
    "routes": [
        {"path": "/a", "method": "GET", "function": "echo", "event": "Api", "api": "A", "api_key": True},
        {"path": "/b", "method": "GET", "function": "echo", "event": "Api", "api": "B", "api_key": True},
        {"path": "/free", "method": "GET", "function": "echo", "event": "Api", "api": "A"},
    ],
    "auth": {"api_keys": ["template-key"]},
}


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2026, 11, 29, 12))


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    config = build_config(ROUTING, functions_config({"functions": {"echo": {}}}))
    manager = FakeManager({"echo": lambda event: {"statusCode": 200, "body": json.dumps({"ok": True})}})
    return testing.TestClient(create_app(settings, routes_source=StaticConfigSource(config), manager=manager,
                                         secrets=SECRETS, clock=clock))


def call(client: testing.TestClient, path: str, key: str | None = "template-key") -> tuple[int, object]:
    answer = client.simulate_get(path, headers={"x-api-key": key} if key else {})
    return answer.status_code, answer.json


def test_routes_enforce_the_plan_per_key_shared_across_its_apis(client: testing.TestClient, clock: Clock) -> None:
    assert call(client, "/a")[0] == 200 and call(client, "/b")[0] == 200  # one shared bucket of 2
    assert call(client, "/a") == (429, {"message": "Too Many Requests"})
    assert call(client, "/b", SECRETS.api_key)[0] == 200  # another key, its own budget
    assert call(client, "/a", "unknown")[0] == 403  # an unknown key is refused before it is counted
    for _ in range(20):
        assert call(client, "/free", None)[0] == 200  # routes without ApiKeyRequired are not metered
    clock.now += 10
    assert call(client, "/a")[0] == 200
    assert call(client, "/a") == (429, {"message": "Limit Exceeded"})  # 3 a day


GOLD = {"name": "Gold", "limit": 2, "keys": ["gold-key"]}
BRONZE = {"name": "Bronze", "rate": 1, "burst": 1, "keys": ["bronze-key"]}
KEYED = {
    "apis": {"K": {"kind": "Api", "stage": "live", "usage_plans": [BRONZE, GOLD]},
             "L": {"kind": "Api", "stage": "Prod", "usage_plans": [GOLD]}},
    "routes": [
        {"path": "/k", "method": "GET", "function": "echo", "event": "Api", "api": "K", "api_key": True},
        {"path": "/l", "method": "GET", "function": "echo", "event": "Api", "api": "L", "api_key": True},
    ],
    "auth": {"api_keys": ["gold-key", "bronze-key", "no-plan-key"]},
}


def test_keyed_plans_meter_each_key_by_its_own_plan(tmp_path: Path, clock: Clock) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    config = build_config(KEYED, functions_config({"functions": {"echo": {}}}))
    manager = FakeManager({"echo": lambda event: {"statusCode": 200, "body": "{}"}})
    keyed = testing.TestClient(create_app(settings, routes_source=StaticConfigSource(config), manager=manager,
                                          secrets=SECRETS, clock=clock))
    assert call(keyed, "/k", "bronze-key")[0] == 200
    assert call(keyed, "/k", "bronze-key") == (429, {"message": "Too Many Requests"})  # bronze: 1 a second
    assert call(keyed, "/l", "bronze-key") == (403, {"message": "Forbidden"})  # no plan of L lists it
    assert call(keyed, "/k", "no-plan-key") == (403, {"message": "Forbidden"})  # a key in no plan at all
    # gold: 2 a day, one quota across both APIs of the plan
    assert call(keyed, "/k", "gold-key")[0] == 200 and call(keyed, "/l", "gold-key")[0] == 200
    assert call(keyed, "/l", "gold-key") == (429, {"message": "Limit Exceeded"})
    for _ in range(3):  # the box's own key is in no plan: it is let through, unmetered
        assert call(keyed, "/k", SECRETS.api_key)[0] == 200


def test_routing_usage_plans_parse_with_their_keys() -> None:
    api = build_config(KEYED, None).apis["K"]
    assert api.usage_plan is None
    assert api.key_plans == (UsagePlanConfig("Bronze", rate=1.0, burst=1, keys=("bronze-key",)),
                             UsagePlanConfig("Gold", limit=2, keys=("gold-key",)))
