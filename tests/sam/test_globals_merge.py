"""Tests for esb.sam.globals_merge and how Globals reach functions and APIs."""

from __future__ import annotations

from pathlib import Path

from esb.model import Application, Cors
from esb.sam import load_application
from esb.sam.globals_merge import merge_globals

TEMPLATE = """\
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    Timeout: 20
    MemorySize: 256
    CodeUri: src
    Architectures: [arm64]
    Layers: [!Ref LayerA]
    Environment:
      Variables:
        SHARED: from-globals
        STAGE: !Ref Stage
    Tracing: Active
    Bogus: 1
  Api:
    Cors: "'https://x.example'"
    Auth:
      DefaultAuthorizer: NONE
  HttpApi:
    CorsConfiguration: true
Resources:
  LayerA:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer, LayerName: la}
  LayerB:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer}
  Plain:
    Type: AWS::Serverless::Function
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Timeout: 5
      Architectures: [x86_64]
      Layers: [!Ref LayerB]
      Environment:
        Variables:
          STAGE: mine
          OWN: yes-mine
      Events:
        Get: {Type: Api, Properties: {Path: /a, Method: GET}}
        Any: {Type: HttpApi}
"""


def load(tmp_path: Path) -> Application:
    for name in ("src", "layer"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_application(path)


def test_merge_rules_scalars_maps_lists() -> None:
    merged = merge_globals(
        {"A": 1, "M": {"x": 1, "y": {"p": 1}}, "L": [1], "I": {"Ref": "X"}, "Architectures": ["arm64"]},
        {"A": 2, "M": {"y": {"q": 2}, "z": 3}, "L": [2], "I": {"Ref": "Y"}, "Architectures": ["x86_64"]},
    )
    assert merged == {
        "A": 2,
        "M": {"x": 1, "y": {"p": 1, "q": 2}, "z": 3},
        "L": [1, 2],  # SAM: lists add up, globals first
        "I": {"Ref": "Y"},  # intrinsics merge as scalars
        "Architectures": ["x86_64"],  # one architecture: the resource's replaces
    }


def test_intrinsic_vs_list_local_wins() -> None:
    merged = merge_globals({"Layers": ["a"]}, {"Layers": {"Fn::If": ["C", ["b"], ["c"]]}})
    assert merged == {"Layers": {"Fn::If": ["C", ["b"], ["c"]]}}


def test_function_inherits_globals(tmp_path: Path) -> None:
    fn = load(tmp_path).function("Plain")
    assert (fn.runtime, fn.handler, fn.timeout, fn.memory_size, fn.architecture) == (
        "python3.11", "app.handler", 20, 256, "arm64"
    )
    assert fn.code_uri == (tmp_path / "src").resolve()
    assert fn.layers == ("LayerA",)
    assert fn.env == {"SHARED": "from-globals", "STAGE": "dev"}


def test_function_overrides_and_merges(tmp_path: Path) -> None:
    fn = load(tmp_path).function("Custom")
    assert (fn.runtime, fn.timeout, fn.memory_size, fn.architecture) == ("python3.13", 5, 256, "x86_64")
    assert fn.layers == ("LayerA", "LayerB")
    assert fn.env == {"SHARED": "from-globals", "STAGE": "mine", "OWN": "yes-mine"}


def test_api_globals_reach_implicit_apis(tmp_path: Path) -> None:
    app = load(tmp_path)
    apis = {api.logical_id: api for api in app.apis}
    rest, http = apis["ServerlessRestApi"], apis["ServerlessHttpApi"]
    assert rest.cors == Cors(allow_origins=("https://x.example",), allow_methods=("*",))
    assert rest.default_authorizer is None  # DefaultAuthorizer: NONE spells out that routes are open
    assert app.function("Custom").events[1].authorizer is None  # the Get route follows the API default
    assert http.cors == Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    assert http.authorizers == () and http.default_authorizer is None


def test_unknown_global_property_is_warning(tmp_path: Path) -> None:
    warnings = [str(w) for w in load(tmp_path).warnings]
    assert warnings == ["Globals.Function.Bogus: not supported in Globals, ignored"]
