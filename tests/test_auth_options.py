"""generator.yml `auth:` and `compat.unsigned_invoke`: parsing, routing.yml's auth section, the unsigned Invoke API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from falcon import testing

from esb.errors import ConfigError
from esb.project import load_project, parse_generator
from esb.render import render_routing
from esb.sam import load_application
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample" / "template.yaml"


def test_auth_section_reaches_routing(tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]}))
    gen = parse_generator(
        "auth:\n  require_token_on_every_route: true\n  login_pool: $esb\n  jwks: {'https://idp.example/': jwks.json}\n"
        "  users:\n    - {username: alice, pools: [UserPool], attributes: {email: a@example.com}, groups: [admins]}\n",
        str(tmp_path / "generator.yml"))
    app = load_application(SAMPLE, stack_name="sample")
    doc = yaml.safe_load(render_routing(app, gen.compat, gen.auth))["auth"]
    pools = {p.logical_id: p.pool_id for p in app.user_pools}
    assert doc["require_token_on_every_route"] is True
    assert doc["login_pool"] == doc["default_pool"] != pools["UserPool"]
    assert doc["users"] == [{"username": "alice", "pools": [pools["UserPool"]], "attributes": {"email": "a@example.com"},
                             "groups": ["admins"]}]
    assert doc["issuers"]["https://idp.example/"]["keys"][0]["kid"] == "k1"
    assert set(doc["pools"]) == {doc["default_pool"], pools["UserPool"]}


@pytest.mark.parametrize(("text", "message"), [
    ("auth: {users: [{username: a, password: x}]}\n", "unknown key `auth.users.password`"),
    ("auth: {users: [{pools: [P]}]}\n", "needs a `username`"),
    ("auth: {bogus: 1}\n", "unknown key `auth.bogus`"),
    ("auth: {require_token_on_every_route: maybe}\n", "must be true or false"),
    ("auth: {jwks: {'https://x/': missing.json}}\n", "cannot read the JWKS"),
])
def test_auth_section_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_generator(text, str(tmp_path / "generator.yml"))


def test_unsigned_invoke_needs_a_loopback_bind(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(SAMPLE.read_text())
    (tmp_path / "generator.yml").write_text("bind: 0.0.0.0\ncompat: {unsigned_invoke: true}\n")
    with pytest.raises(ConfigError, match="needs a box bound to loopback"):
        load_project(cwd=tmp_path, env={})
    (tmp_path / "generator.yml").write_text("compat: {unsigned_invoke: true}\n")
    assert load_project(cwd=tmp_path, env={}).compat.unsigned_invoke is True


@pytest.mark.parametrize(("unsigned", "host", "remote", "status"), [
    (True, "127.0.0.1", "127.0.0.1", 200),
    (False, "127.0.0.1", "127.0.0.1", 403),  # the default stays SigV4
    (True, "0.0.0.0", "127.0.0.1", 403),  # a box listening beyond loopback never takes unsigned calls
    (True, "127.0.0.1", "10.0.0.5", 403),
])
def test_unsigned_invoke_api(tmp_path: Path, unsigned: bool, host: str, remote: str, status: int) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None,
                               gateway_host=host)
    config = build_config({"auth": {"unsigned_invoke": unsigned}}, functions_config({"functions": {"hello": {}}}))
    client = testing.TestClient(create_app(settings, routes_source=StaticConfigSource(config),
                                           manager=FakeManager({"hello": lambda e: {"hi": e}}),
                                           secrets=BoxSecrets.generate()))
    answer = client.simulate_post("/2015-03-31/functions/hello/invocations", body=b'{"a": 1}', remote_addr=remote)
    assert answer.status_code == status
    if status == 200:
        assert answer.json == {"hi": {"a": 1}}
