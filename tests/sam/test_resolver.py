"""Tests for esb.sam.resolver: each intrinsic in short and long form, conditions, NoValue, errors."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from esb.errors import TemplateError
from esb.model import Application
from esb.sam import load_application

HEAD = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Cfg:
    dev: {Level: DEBUG, Size: 256}
    prod: {Level: INFO, Size: 1024}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: {"Fn::Not": [{"Condition": IsProd}]}
  DevOrProd: !Or [!Condition IsProd, !Condition IsDev]
  Both: {"Fn::And": [{"Condition": IsProd}, {"Condition": IsDev}]}
"""


def app_with(tmp_path: Path, variables: str, extra: str = "", **kwargs: object) -> Application:
    """A one-function app whose Environment.Variables are the given YAML lines."""
    (tmp_path / "src").mkdir(exist_ok=True)
    body = HEAD + textwrap.dedent("""\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: my-fn
              CodeUri: src
              Handler: app.handler
              Runtime: python3.12
              Environment:
                Variables:
        """) + textwrap.indent(textwrap.dedent(variables), " " * 10) + extra
    path = tmp_path / "template.yaml"
    path.write_text(body)
    return load_application(path, **kwargs)  # type: ignore[arg-type]


def env(tmp_path: Path, variables: str, extra: str = "", **kwargs: object) -> dict[str, str]:
    return app_with(tmp_path, variables, extra, **kwargs).function("Fn").env


BUCKET = """\
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: my-bucket}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: my-table
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
"""


def test_ref_short_and_long(tmp_path: Path) -> None:
    assert env(tmp_path, 'A: !Ref Stage\nB: {Ref: Stage}\n') == {"A": "dev", "B": "dev"}


def test_pseudo_parameters(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        R: !Ref AWS::Region
        A: !Ref AWS::AccountId
        S: !Ref AWS::StackName
        I: !Ref AWS::StackId
        P: !Ref AWS::Partition
        U: !Ref AWS::URLSuffix
        """, region="eu-west-1", account_id="123456789012", stack_name="shop")
    assert got["R"] == "eu-west-1" and got["A"] == "123456789012" and got["S"] == "shop"
    assert got["I"].startswith("arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/")
    assert got["P"] == "aws" and got["U"] == "amazonaws.com"


def test_sub_string_form_short_and_long(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        A: !Sub "${AWS::StackName}-${Stage}-${!Literal}"
        B: {"Fn::Sub": "x-${Stage}"}
        C: !Sub "${Fn}/${Bucket.Arn}"
        """, BUCKET, stack_name="st")
    assert got["A"] == "st-dev-${Literal}"
    assert got["B"] == "x-dev"
    assert got["C"] == "my-fn/arn:aws:s3:::my-bucket"


def test_sub_list_form(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        A: !Sub ["${Name}.${Stage}", {Name: !Ref Bucket}]
        B: {"Fn::Sub": ["${X}", {X: 5}]}
        """, BUCKET)
    assert got == {"A": "my-bucket.dev", "B": "5"}


def test_sub_unknown_variable_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="unknown Fn::Sub variable 'Nope'") as info:
        env(tmp_path, 'A: !Sub "${Nope}"\n')
    assert "Fn.Environment.Variables.A" in str(info.value.where)


def test_getatt_dotted_list_and_long(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        A: !GetAtt Bucket.Arn
        B: !GetAtt [Table, Arn]
        C: {"Fn::GetAtt": [Table, StreamArn]}
        D: {"Fn::GetAtt": "Bucket.DomainName"}
        E: !GetAtt Bucket.RegionalDomainName
        F: !GetAtt Fn.Arn
        """, BUCKET, region="eu-west-1", account_id="111122223333")
    assert got["A"] == "arn:aws:s3:::my-bucket"
    assert got["B"] == "arn:aws:dynamodb:eu-west-1:111122223333:table/my-table"
    assert got["C"].startswith("arn:aws:dynamodb:eu-west-1:111122223333:table/my-table/stream/")
    assert got["D"] == "my-bucket.s3.amazonaws.com"
    assert got["E"] == "my-bucket.s3.eu-west-1.amazonaws.com"
    assert got["F"] == "arn:aws:lambda:eu-west-1:111122223333:function:my-fn"


def test_getatt_unknown_attribute_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"Bucket \(AWS::S3::Bucket\) has no attribute 'Nope'") as info:
        env(tmp_path, "A: !GetAtt Bucket.Nope\n", BUCKET)
    assert info.value.hint is not None and "Arn" in info.value.hint


def test_unknown_ref_names_where_used(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        env(tmp_path, "A: x\nB: !Ref Missing\n")
    err = info.value
    assert err.message == "unknown Ref 'Missing'"
    assert err.where is not None and err.where.endswith("Fn.Environment.Variables.B")
    assert err.where.startswith("template.yaml:")


def test_join_select_split(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        J: !Join ["-", [a, !Ref Stage, 3]]
        JL: {"Fn::Join": [",", !Ref Names]}
        S: !Select [1, !Ref Names]
        SL: {"Fn::Select": ["2", {"Fn::Split": ["/", "x/y/z"]}]}
        SP: !Join ["+", !Split [",", "p,q"]]
        """)
    assert got == {"J": "a-dev-3", "JL": "a,b,c", "S": "b", "SL": "z", "SP": "p+q"}


def test_select_out_of_range_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="index 5 is out of range"):
        env(tmp_path, "A: !Select [5, [a, b]]\n")


def test_find_in_map_short_long_and_default(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        A: !FindInMap [Cfg, !Ref Stage, Level]
        B: {"Fn::FindInMap": [Cfg, prod, Size]}
        C: !FindInMap [Cfg, qa, Level, {DefaultValue: WARN}]
        """)
    assert got == {"A": "DEBUG", "B": "1024", "C": "WARN"}


def test_find_in_map_missing_key_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no top-level key 'qa'"):
        env(tmp_path, "A: !FindInMap [Cfg, qa, Level]\n")


def test_if_with_conditions(tmp_path: Path) -> None:
    variables = """\
        A: !If [IsProd, big, small]
        B: {"Fn::If": [IsDev, yes-dev, not-dev]}
        C: !If [DevOrProd, always, never]
        D: !If [Both, never, ok]
        """
    assert env(tmp_path, variables) == {"A": "small", "B": "yes-dev", "C": "always", "D": "ok"}
    got = env(tmp_path, variables, parameters={"Stage": "prod"})
    assert got == {"A": "big", "B": "not-dev", "C": "always", "D": "ok"}


def test_no_value_removes_key_and_list_item(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        KEEP: x
        GONE: !Ref AWS::NoValue
        MAYBE: !If [IsProd, prod-only, !Ref "AWS::NoValue"]
        LIST: !Join [",", [a, !Ref "AWS::NoValue", b]]
        """)
    assert got == {"KEEP": "x", "LIST": "a,b"}


def test_base64_and_getazs(tmp_path: Path) -> None:
    got = env(tmp_path, """\
        B: !Base64 hello
        L: {"Fn::Base64": !Sub "${Stage}"}
        Z: !Select [0, !GetAZs ""]
        """, region="ap-south-1")
    assert base64.b64decode(got["B"]) == b"hello"
    assert base64.b64decode(got["L"]) == b"dev"
    assert got["Z"] == "ap-south-1a"


def test_circular_condition_names_cycle(tmp_path: Path) -> None:
    extra = "  Other:\n    Type: AWS::S3::Bucket\n    Condition: A\n"
    (tmp_path / "src").mkdir()
    text = tmp_path / "template.yaml"
    text.write_text(
        "Conditions:\n  A: !Condition B\n  B: !And [!Condition C, !Equals [x, x]]\n  C: !Condition A\n"
        "Resources:\n" + extra
    )
    with pytest.raises(TemplateError) as info:
        load_application(text)
    assert "circular condition: A -> B -> C -> A" in info.value.message


def test_unknown_condition_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="unknown condition 'Nope'"):
        env(tmp_path, "A: !If [Nope, a, b]\n")


def test_ref_to_excluded_resource_is_error(tmp_path: Path) -> None:
    extra = "  ProdBucket:\n    Type: AWS::S3::Bucket\n    Condition: IsProd\n"
    with pytest.raises(TemplateError, match="which its Condition excludes"):
        env(tmp_path, "A: !Ref ProdBucket\n", extra)
    got = env(tmp_path, "A: !Ref ProdBucket\n", extra, parameters={"Stage": "prod"}, stack_name="S_1")
    assert got["A"] == "s-1-prodbucket"


def test_unsupported_intrinsic_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Fn::ImportValue is not supported"):
        env(tmp_path, "A: !ImportValue shared-thing\n")


def test_function_name_cycle_is_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      FunctionName: !Sub '${Fn}-x'\n      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n"
    )
    with pytest.raises(TemplateError, match="FunctionName refers to itself"):
        load_application(path)


def test_env_values_stringified_the_cloudformation_way(tmp_path: Path) -> None:
    got = env(tmp_path, "I: 30\nF: 1.5\nT: true\nN: 'false'\nS: plain\n")
    assert got == {"I": "30", "F": "1.5", "T": "true", "N": "false", "S": "plain"}


def test_env_value_list_is_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="environment variable L must be a string"):
        env(tmp_path, "L: !Split [',', 'a,b']\n")
