"""The login endpoint under guessing: throttled per source with 429 + Retry-After, the right login still works."""

from __future__ import annotations

import json
from pathlib import Path

from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.throttle import FailureThrottle
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

AUTH = "/user/auth/v1"


def make(tmp_path: Path, now: list[float]) -> tuple[testing.TestClient, BoxSecrets]:
    secrets = BoxSecrets.generate()
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    config = build_config({"apis": {}, "routes": []}, functions_config({"project": "t", "functions": {}}))
    app = create_app(settings, routes_source=StaticConfigSource(config), manager=FakeManager({}), secrets=secrets,
                     clock=lambda: now[0])
    return testing.TestClient(app), secrets


def login(client: testing.TestClient, secrets: BoxSecrets, source: str, *, password: str | None = None,
          api_key: str | None = None) -> testing.Result:
    body = {"AuthParameters": {"USERNAME": secrets.username, "PASSWORD": password or secrets.password}}
    return client.simulate_post(AUTH, headers={"x-api-key": api_key or secrets.api_key}, body=json.dumps(body),
                                remote_addr=source)


def test_wrong_passwords_are_throttled_per_source_and_the_right_login_still_works(tmp_path: Path) -> None:
    now = [1000.0]
    client, secrets = make(tmp_path, now)
    statuses = [login(client, secrets, "10.0.0.9", password="guess").status_code for _ in range(300)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    throttled = login(client, secrets, "10.0.0.9")  # even the right password: no answer while throttled
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    assert login(client, secrets, "10.0.0.1").status_code == 200  # another host is not locked out
    now[0] += int(throttled.headers["retry-after"])
    assert login(client, secrets, "10.0.0.9").status_code == 200  # after the wait, the right login works


def test_wrong_api_keys_count_as_failures(tmp_path: Path) -> None:
    client, secrets = make(tmp_path, [0.0])
    statuses = [login(client, secrets, "10.0.0.7", api_key="nope").status_code for _ in range(20)]
    assert statuses.count(401) == 5 and statuses.count(429) == 15


def test_bucket_refills_one_attempt_per_period_and_success_clears() -> None:
    now = [0.0]
    throttle = FailureThrottle(burst=2, refill_s=10.0, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 10
    now[0] = 4.0
    assert throttle.retry_after("a") == 6
    now[0] = 10.0
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    assert throttle.retry_after("a") == 10
    throttle.succeeded("a")
    assert throttle.retry_after("a") is None


def test_throttle_memory_is_bounded() -> None:
    throttle = FailureThrottle(max_sources=100)
    for index in range(10_000):
        throttle.failed(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
    assert len(throttle._buckets) == 100
