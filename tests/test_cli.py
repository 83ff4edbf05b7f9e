"""The `esb` shim in-process: build, dry run, init, one-line errors, warnings, unavailable commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from esb.cli import main
from esb.paths import P

HANDLER = "def handler(event, context):\n    return {}\n"


def _app(root: Path, resources: str, extra: str = "") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text(HANDLER)
    path = root / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + extra + "Resources:\n" + resources)
    return path


FN = """  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
"""


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(P.sample, tmp_path / "sample")
    monkeypatch.chdir(tmp_path / "sample")
    return tmp_path / "sample"


def test_build_writes_tree(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build"]) == 0
    assert (sample / ".esb" / "config" / "routing.yml").is_file()
    captured = capsys.readouterr()
    assert captured.out == ""  # progress is for terminals (or --verbose), and never on stdout
    assert main(["--verbose", "build"]) == 0
    assert "done: 0 task(s) run, 13 up to date" in capsys.readouterr().err


def test_dry_run_writes_nothing(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would write {sample / '.esb' / 'config' / 'routing.yml'}" in out
    assert not (sample / ".esb").exists()
    main(["build"])
    capsys.readouterr()
    assert main(["build", "--dry-run"]) == 0
    assert "dry run: 0 change(s)" in capsys.readouterr().out


def test_bundled_sample_when_nothing_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 0
    assert (tmp_path / ".esb" / "functions" / "sample-hello" / "Dockerfile").is_file()


def test_init_yes_writes_generator_and_dodo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(P.fixtures / "full", tmp_path / "full")
    monkeypatch.chdir(tmp_path / "full")
    assert main(["init", "--yes", "--param", "Stage=prod", "--tag", "v2"]) == 0
    doc = yaml.safe_load((tmp_path / "full" / "generator.yml").read_text())
    assert doc["app"] == {"name": "full", "tag": "v2"}
    assert doc["paths"] == {"sam_template": "template.yaml", "output_dir": ".esb/"}
    assert doc["parameters"] == {"EnableAdmin": "true", "Prefix": "full", "Stage": "prod"}
    assert "esb.tasks.index" in (tmp_path / "full" / "dodo.py").read_text()
    assert main(["build"]) == 0
    assert (tmp_path / "full" / ".esb" / "functions" / "full-prod-api" / "Dockerfile").is_file()


def test_init_interactive_asks_and_confirms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(P.fixtures / "full", tmp_path / "full")
    monkeypatch.chdir(tmp_path / "full")
    answers = iter(["prod", "", "", "", "v3", "out/"])  # parameters, engine (auto), tag, output dir
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["init"]) == 0
    doc = yaml.safe_load((tmp_path / "full" / "generator.yml").read_text())
    assert doc["parameters"]["Stage"] == "prod" and doc["app"]["tag"] == "v3" and doc["paths"]["output_dir"] == "out/"
    answers = iter(["", "", "", "", "", "", "n"])
    assert main(["init"]) != 0
    assert "not overwritten" in capsys.readouterr().err


def test_init_unknown_param(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown parameter Nope" in _one_line_error(capsys, ["init", "--yes", "--param", "Nope=1"])


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _app(tmp_path, FN + "      Timeout: [3\n")
    line = _one_line_error(capsys, ["-t", str(path), "build"])
    assert "template.yaml:10" in line


def test_unknown_ref(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _app(tmp_path, FN + "      Environment:\n        Variables:\n          T: !Ref Missing\n")
    assert "Missing" in _one_line_error(capsys, ["-t", str(path), "build"])


def test_missing_code_uri(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _app(tmp_path, FN.replace("src/", "nowhere/"))
    assert "nowhere" in _one_line_error(capsys, ["-t", str(path), "build"])


def test_circular_condition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conditions = "Conditions:\n  A: !Condition B\n  B: !Condition A\n"
    path = _app(tmp_path, FN + "    Condition: A\n", extra=conditions)
    line = _one_line_error(capsys, ["-t", str(path), "build"])
    assert "A" in line and "B" in line


def test_duplicate_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = "      Events:\n        E:\n          Type: Api\n          Properties: {Path: /x, Method: get}\n"
    path = _app(tmp_path, FN + event + FN.replace("  Fn:", "  Other:") + event)
    line = _one_line_error(capsys, ["-t", str(path), "build"])
    assert "duplicate route GET /x" in line and "Fn" in line and "Other" in line


def test_unsupported_property_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    path = _app(tmp_path, FN + "      ImageUri: x\n")
    assert main(["-t", str(path), "build"]) == 0
    err = capsys.readouterr().err
    assert "warning: Fn.ImageUri:" in err
    assert main(["-t", str(path), "build"]) == 0
    assert "warning:" not in capsys.readouterr().err  # once per template change, not on every command
    assert main(["-t", str(path), "--verbose", "build"]) == 0
    assert "warning: Fn.ImageUri:" in capsys.readouterr().err  # --verbose shows them again
    path.write_text(path.read_text() + "\n# edited\n")
    assert main(["-t", str(path), "build"]) == 0
    assert "warning: Fn.ImageUri:" in capsys.readouterr().err


def test_up_watch_and_detach_conflict(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--watch" in _one_line_error(capsys, ["up", "--watch", "-d", "--engine", "process"])


def test_bad_option_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--engine", "nope"]) == 2
    assert main(["--help"]) == 0
    assert "logs" in capsys.readouterr().out


def test_bad_tuning_variable_is_one_line(sample: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_GATEWAY_WORKERS", "two")
    assert "ESB_GATEWAY_WORKERS='two' is not a number" in _one_line_error(capsys, ["up", "-d", "--engine", "process"])


def _build_error(capsys: pytest.CaptureFixture[str], template: Path) -> str:
    """`esb build` fails with exit 1 and exactly one error line (after its `building ...` progress line)."""
    assert main(["-t", str(template), "build"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    return errors[0]


def test_build_fails_on_a_handler_typo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _app(tmp_path, FN.replace("app.handler", "app.handlr"))
    line = _build_error(capsys, template)
    assert str(tmp_path / "src" / "app.py") in line and "'handlr'" in line
    assert not (tmp_path / ".esb" / "functions" / "Fn" / "src" / "app.py").exists()  # nothing broken staged


def test_build_fails_on_a_syntax_error_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _app(tmp_path, FN)
    assert main(["-t", str(template), "build"]) == 0
    (tmp_path / "src" / "helpers.py").write_text("x = 1\ndef broken(:\n")
    line = _build_error(capsys, template)
    assert f"{tmp_path / 'src' / 'helpers.py'}:2" in line
    assert not (tmp_path / ".esb" / "functions" / "Fn" / "src" / "helpers.py").exists()


def test_logs_unknown_function_exits_1_with_one_line_and_takes_f(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build"]) == 0
    (sample / ".esb" / "logs").mkdir(exist_ok=True)
    capsys.readouterr()
    line = _one_line_error(capsys, ["logs", "NoSuchFn"])
    assert "unknown function 'NoSuchFn'" in line and "sample-hello" in line
    assert main(["logs", "NoSuchFn"]) == 1
    assert main(["logs", "-f", "--level", "error", "NoSuchFn"]) == 1  # -f and --level parse; the name still fails


def test_init_process_engine_asks_no_tag_and_ignores_the_output_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(P.fixtures / "full", tmp_path / "full")
    monkeypatch.chdir(tmp_path / "full")
    (tmp_path / "full" / ".gitignore").write_text("__pycache__/\n")
    asked: list[str] = []
    answers = iter(["prod", "", "", "process", ""])  # parameters, engine, output dir: no image tag question
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or next(answers))
    assert main(["init"]) == 0
    assert not any("image tag" in prompt for prompt in asked)
    doc = yaml.safe_load((tmp_path / "full" / "generator.yml").read_text())
    assert doc["engine"] == "process"
    assert (tmp_path / "full" / ".gitignore").read_text() == "__pycache__/\n.esb/\n"
    assert main(["init", "--yes"]) == 0
    assert (tmp_path / "full" / ".gitignore").read_text().count(".esb/") == 1  # added once


def test_generator_engine_is_what_up_uses_and_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from esb.project import load_project

    template = _app(tmp_path, FN)
    (tmp_path / "generator.yml").write_text("engine: process\n")
    assert load_project(str(template), cwd=tmp_path, env={}).engine == "process"
    (tmp_path / "generator.yml").write_text("engine: podman\n")
    assert "unknown engine 'podman'" in _one_line_error(capsys, ["-t", str(template), "build"])
def test_help_lists_invoke_and_generate_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "invoke" in out and "generate-event" in out


@pytest.fixture
def invoke_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(P.fixtures / "invoke", tmp_path / "invoke")
    monkeypatch.chdir(tmp_path / "invoke")
    return tmp_path / "invoke"


def test_build_takes_parameter_overrides_and_env_vars(invoke_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (invoke_app / "env.json").write_text('{"Parameters": {"COLOR": "teal"}}')
    assert main(["build", "--parameter-overrides", "Greeting=salut", "--env-vars", "env.json"]) == 0
    functions = yaml.safe_load((invoke_app / ".esb" / "config" / "functions.yml").read_text())["functions"]
    assert functions["dev-echo"]["environment"] == {"COLOR": "teal", "GREETING": "salut"}


@pytest.mark.parametrize(("argv", "message"), [
    (["build", "--parameter-overrides", "NoEquals"], "--parameter-overrides: cannot read 'NoEquals'"),
    (["build", "--env-vars", "missing.json"], "cannot read the env-vars file"),
    (["invoke", "nope"], "no function 'nope' in the template"),
    (["invoke", "dev-echo", "-e", "-"], "stdin: the event is not JSON"),
])
def test_invoke_and_override_mistakes_are_one_line(invoke_app: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                   message: str) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
    assert message in _one_line_error(capsys, argv)


def test_template_and_verbose_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _app(tmp_path, FN)
    assert main(["build", "-t", str(template)]) == 0
    assert (tmp_path / ".esb" / "config" / "functions.yml").is_file()
    assert main(["build", "--template", str(tmp_path / "missing.yaml")]) == 1
    assert "template not found" in capsys.readouterr().err
    assert main(["--verbose", "build", "-t", str(template)]) == 0  # both places at once


def test_version_is_printed_on_stdout_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("esb ")
    assert main(["--help"]) == 0
    assert "--version" in capsys.readouterr().out


def test_building_the_parser_reads_no_package_metadata() -> None:
    import subprocess
    import sys

    check = "import sys, esb.cli; esb.cli.build_parser(); print('importlib.metadata' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout == "False\n"
