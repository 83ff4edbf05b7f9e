"""Tests for esb.sam.parameters: defaults, overrides, types, allowed values, missing values."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb.errors import TemplateError
from esb.model import Application
from esb.sam import load_application

FUNCTION = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Timeout: !Ref Seconds
      Environment:
        Variables:
          V: !Join ["|", [!Ref Stage, !Join [",", !Ref Zones], !Select [1, !Ref Sizes]]]
"""
PARAMS = """\
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Seconds: {Type: Number, Default: 7, MinValue: 1, MaxValue: 900}
  Zones: {Type: CommaDelimitedList, Default: "a, b"}
  Sizes: {Type: "List<Number>", Default: "1,2,3"}
"""


def load(tmp_path: Path, params: str = PARAMS, overrides: dict[str, str] | None = None) -> Application:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(params + FUNCTION)
    return load_application(path, overrides)


def test_defaults_are_used(tmp_path: Path) -> None:
    app = load(tmp_path)
    fn = app.function("Fn")
    assert fn.timeout == 7
    assert fn.env["V"] == "dev|a,b|2"
    assert app.parameters == (("Seconds", "7"), ("Sizes", "1,2,3"), ("Stage", "dev"), ("Zones", "a, b"))


def test_overrides_win_over_defaults(tmp_path: Path) -> None:
    app = load(tmp_path, overrides={"Stage": "prod", "Seconds": "30", "Zones": "x,y,z", "Sizes": "4, 5"})
    assert app.function("Fn").timeout == 30
    assert app.function("Fn").env["V"] == "prod|x,y,z|5"
    assert dict(app.parameters)["Stage"] == "prod"


def test_undeclared_override_is_a_warning(tmp_path: Path) -> None:
    app = load(tmp_path, overrides={"Extra": "1"})
    assert [str(w) for w in app.warnings] == [
        "Parameters.Extra: set in generator.yml parameters but not declared in the template, ignored"
    ]


def test_missing_value_is_error_with_hint(tmp_path: Path) -> None:
    params = PARAMS + "  Secret: {Type: String}\n"
    with pytest.raises(TemplateError) as info:
        load(tmp_path, params)
    assert info.value.message == "parameter Secret has no value and no Default"
    assert info.value.hint == "set it in generator.yml parameters or with --parameter-overrides"
    assert info.value.where == "template.yaml:6 Parameters.Secret"
    assert load(tmp_path, params, {"Secret": "s"}).parameters[1] == ("Secret", "s")


def test_allowed_values_checked(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="'qa' is not one of dev, prod"):
        load(tmp_path, overrides={"Stage": "qa"})


def test_number_checked(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="'ten' is not a number"):
        load(tmp_path, overrides={"Seconds": "ten"})
    with pytest.raises(TemplateError, match="above MaxValue"):
        load(tmp_path, overrides={"Seconds": "901"})
    with pytest.raises(TemplateError, match="'x' is not a number"):
        load(tmp_path, overrides={"Sizes": "1,x"})


def test_allowed_pattern_checked(tmp_path: Path) -> None:
    params = PARAMS + "  Name: {Type: String, Default: ok, AllowedPattern: '[a-z]+'}\n"
    assert dict(load(tmp_path, params).parameters)["Name"] == "ok"
    with pytest.raises(TemplateError, match="does not match AllowedPattern"):
        load(tmp_path, params, {"Name": "Not-Ok"})
