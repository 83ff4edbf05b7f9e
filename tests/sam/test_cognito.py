"""Tests for esb.sam.cognito: app clients' token lifetimes (IdTokenValidity, ...) reach routing.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.errors import TemplateError
from esb.render import render_routing
from esb.sam.cognito import client_id_for
from esb_runtime.gateway.auth_config import TokenValidity, parse_auth
from test_loader import load

POOL = """\
Pool: {Type: AWS::Cognito::UserPool}
Short:
  Type: AWS::Cognito::UserPoolClient
  Properties:
    UserPoolId: !Ref Pool
    IdTokenValidity: 15
    AccessTokenValidity: 2
    RefreshTokenValidity: 7
    TokenValidityUnits: {IdToken: minutes}
Plain:
  Type: AWS::Cognito::UserPoolClient
  Properties: {UserPoolId: !Ref Pool}
"""


def test_lifetimes_in_their_units_reach_routing_for_the_clients_that_set_them(tmp_path: Path) -> None:
    app = load(tmp_path, POOL, stack_name="demo")
    assert app.warnings == ()
    short = client_id_for("demo", "Short")
    pool, = app.user_pools
    # IdToken in minutes as given; AccessToken in hours and RefreshToken in days, Cognito's default units
    assert pool.validity == ((short, TokenValidity(id_s=900, access_s=7200, refresh_s=7 * 86400)),)
    auth = yaml.safe_load(render_routing(app))["auth"]
    assert auth["pools"][pool.pool_id]["validity"] == {short: {"id": 900, "access": 7200, "refresh": 604800}}
    parsed = parse_auth(auth, app.region)
    assert parsed.validity == {short: TokenValidity(900, 7200, 604800)}
    assert client_id_for("demo", "Plain") not in parsed.validity


def test_a_client_setting_only_one_lifetime_leaves_the_others_to_the_box(tmp_path: Path) -> None:
    text = POOL.replace("    IdTokenValidity: 15\n    AccessTokenValidity: 2\n", "")
    pool, = load(tmp_path, text, stack_name="demo").user_pools
    assert pool.validity == ((client_id_for("demo", "Short"), TokenValidity(refresh_s=7 * 86400)),)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("IdTokenValidity: 15", "IdTokenValidity: 2", "IdTokenValidity must be from 5 minutes to 1 day, got 2 minutes"),
    ("AccessTokenValidity: 2", "AccessTokenValidity: 25", "AccessTokenValidity must be from 5 minutes to 1 day, "
                                                          "got 25 hours"),
    ("RefreshTokenValidity: 7", "RefreshTokenValidity: 3651", "RefreshTokenValidity must be from 1 hour to "
                                                              "3650 days, got 3651 days"),
    ("RefreshTokenValidity: 7", "RefreshTokenValidity: soon", "got soon days"),
    ("{IdToken: minutes}", "{IdToken: weeks}", "IdToken must be seconds, minutes, hours or days"),
    ("{IdToken: minutes}", "minutes", "TokenValidityUnits must be a mapping"),
])
def test_bad_lifetimes_are_one_clear_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in POOL
    with pytest.raises(TemplateError, match=message):
        load(tmp_path, POOL.replace(old, new))
