"""--parameter-overrides and --env-vars in SAM CLI's formats, and how they reach the loaded application."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from esb.build.context import load_application
from esb.errors import ConfigError
from esb.overrides import Overrides, apply_env_vars, parse_env_vars, parse_parameter_overrides
from esb.paths import P
from esb.project import load_project


def test_both_parameter_forms_and_quotes() -> None:
    assert parse_parameter_overrides(["Stage=prod Prefix=x", "ParameterKey=Subnets,ParameterValue=a,b",
                                      'ParameterKey=Greeting,ParameterValue="two words"', "Empty=", "Eq=a=b"]) == {
        "Stage": "prod", "Prefix": "x", "Subnets": "a,b", "Greeting": "two words", "Empty": "", "Eq": "a=b"}


@pytest.mark.parametrize("value", ["Stage", "=v", "Bad-Name=v", "ParameterKey=K", 'A="open'])
def test_unreadable_parameter_overrides_are_one_line_errors(value: str) -> None:
    with pytest.raises(ConfigError, match="parameter-overrides"):
        parse_parameter_overrides([value])


def test_env_vars_file_reads_functions_and_global_section() -> None:
    env = parse_env_vars('{"Fn": {"A": "1", "N": 3, "B": true}, "Parameters": {"G": "g"}}', "env.json")
    assert env.functions == (("Fn", (("A", "1"), ("B", "true"), ("N", "3"))),)
    assert env.every == (("G", "g"),)


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not JSON"), ("[]", "must be a JSON object"), ('{"Fn": 1}', "Fn must be an object"),
    ('{"Fn": {"A": {"x": 1}}}', "Fn.A must be a string"),
])
def test_bad_env_vars_files_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_env_vars(text, "env.json")


@pytest.fixture
def invoke_app(tmp_path: Path):  # the fixture app: GREETING from a parameter, COLOR fixed, on every function
    return load_project(str(P.fixtures / "invoke" / "template.yaml"), cwd=tmp_path, env={})


def test_env_vars_override_declared_variables_only(invoke_app) -> None:
    app = load_application(invoke_app)
    env = parse_env_vars('{"EchoFunction": {"GREETING": "hi", "NEW": "x"}, "dev-fail": {"COLOR": "red"},'
                         ' "Parameters": {"COLOR": "green", "ALSO_NEW": "y"}, "Nobody": {"A": "b"}}', "env.json")
    changed = apply_env_vars(app, env)
    assert changed.function("EchoFunction").env == {"GREETING": "hi", "COLOR": "green"}
    assert changed.function("FailFunction").env == {"GREETING": "hello", "COLOR": "red"}  # by FunctionName
    assert changed.function("ConsumerFunction").env == {"GREETING": "hello", "COLOR": "green"}
    new = [str(w) for w in changed.warnings if w not in app.warnings]
    assert new == ["Nobody: named in env.json but no function of the template, ignored",
                   "EchoFunction.Environment.NEW: set in env.json but not declared in the template, ignored (as SAM does)"]


def test_project_overrides_reach_the_application(invoke_app) -> None:
    overrides = Overrides(parameters=(("Greeting", "yo"),),
                          env_vars=parse_env_vars('{"Parameters": {"COLOR": "blue"}}', "env.json"))
    project = invoke_app.with_overrides(overrides)
    assert project.params["Greeting"] == "yo" and project.overrides == overrides
    app = load_application(project)
    assert app.function("EchoFunction").env == {"GREETING": "yo", "COLOR": "blue"}
    assert load_application(invoke_app).function("EchoFunction").env == {"GREETING": "hello", "COLOR": "plain"}


def test_undeclared_parameter_warning_names_its_source(invoke_app) -> None:
    from_generator = replace(invoke_app, parameters=(*invoke_app.parameters, ("Unknown", "1")))
    project = from_generator.with_overrides(Overrides(parameters=(("Typo", "x"),)))
    warnings = [str(w) for w in load_application(project).warnings if w.resource == "Parameters"]
    assert warnings == ["Parameters.Typo: set in --parameter-overrides but not declared in the template, ignored",
                        "Parameters.Unknown: set in generator.yml parameters but not declared in the template, ignored"]
