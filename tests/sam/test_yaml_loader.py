"""Tests for esb.sam.yaml_loader: CloudFormation tags, line numbers, duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb.errors import TemplateError
from esb.sam.yaml_loader import line_of, load_template


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def test_short_tags_become_long_forms(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, """
A: !Ref Foo
B: !Sub "${X}-y"
C: !GetAtt Res.Arn
D: !GetAtt [Res, Arn]
E: !Join [",", [a, b]]
F: !If [Cond, !Ref A, !Ref "AWS::NoValue"]
G: !Condition IsProd
H: !Select [0, !Split [",", "a,b"]]
I: !FindInMap [M, K, V]
J: !Base64 text
K: !GetAZs ""
L: !Equals [a, b]
M: !And [!Condition A, !Not [!Condition B]]
N: !Or [!Condition A, !Condition B]
O: !GetAtt Res.Attr.Nested
"""))
    assert data["A"] == {"Ref": "Foo"}
    assert data["B"] == {"Fn::Sub": "${X}-y"}
    assert data["C"] == {"Fn::GetAtt": "Res.Arn"}
    assert data["D"] == {"Fn::GetAtt": ["Res", "Arn"]}
    assert data["E"] == {"Fn::Join": [",", ["a", "b"]]}
    assert data["F"] == {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}
    assert data["G"] == {"Condition": "IsProd"}
    assert data["H"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert data["I"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert data["J"] == {"Fn::Base64": "text"}
    assert data["K"] == {"Fn::GetAZs": ""}
    assert data["L"] == {"Fn::Equals": ["a", "b"]}
    assert data["M"] == {"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]}
    assert data["N"] == {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}
    assert data["O"] == {"Fn::GetAtt": "Res.Attr.Nested"}


def test_dates_stay_strings(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, "AWSTemplateFormatVersion: 2010-09-09\n"))
    assert data["AWSTemplateFormatVersion"] == "2010-09-09"


def test_json_template_loads(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, '{"Resources": {"A": {"Type": "X"}}}'))
    assert data == {"Resources": {"A": {"Type": "X"}}}


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "Resources:\n  Fn:\n    Type: x\n   bad: [\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.where is not None and info.value.where.startswith("template.yaml:4")
    assert str(info.value).startswith("template.yaml:4: ")


def test_duplicate_key_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "Resources:\n  Fn:\n    Type: a\n  Fn:\n    Type: b\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.where == "template.yaml:4"
    assert "duplicate key 'Fn'" in info.value.message and "line 2" in info.value.message


def test_unknown_tag_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_write(tmp_path, "A: 1\nB: !Bogus x\n"))
    assert info.value.where == "template.yaml:2"
    assert "!Bogus" in info.value.message


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template not found"):
        load_template(tmp_path / "nope.yaml")
    with pytest.raises(TemplateError, match="not a mapping"):
        load_template(_write(tmp_path, "- a\n- b\n"))


def test_line_of_finds_deepest_key(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, "Resources:\n  Fn:\n    Type: a\n    Properties:\n      CodeUri: x\n"))
    assert line_of(data, ("Resources", "Fn", "Properties", "CodeUri")) == 5
    assert line_of(data, ("Resources", "Fn", "Properties", "Missing")) == 4
    assert line_of(data, ("Nope",)) is None


def test_load_application_reports_yaml_error_line(tmp_path: Path) -> None:
    from esb.sam import load_application

    path = _write(tmp_path, "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {a: [1}\n")
    with pytest.raises(TemplateError) as info:
        load_application(path)
    assert str(info.value).startswith("template.yaml:4: ")
    assert info.value.hint == "fix the YAML syntax at that line"
