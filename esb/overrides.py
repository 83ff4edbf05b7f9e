"""Command-line overrides in SAM CLI's formats: `--parameter-overrides` and the `--env-vars` JSON file."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from esb.errors import ConfigError
from esb.model import Application, Function, Warning_

# SAM's long form; the value may itself hold commas (a CommaDelimitedList), so it runs to the token's end.
_LONG_FORM = re.compile(r"ParameterKey=([^,=\s]+),ParameterValue=(.*)", re.DOTALL)
_NAME = re.compile(r"[A-Za-z0-9]+")
GLOBAL_KEY = "Parameters"  # the env-vars file's section that applies to every function


@dataclass(frozen=True)
class EnvVars:
    """An env-vars file: per function (logical id or FunctionName) and for all functions ("Parameters")."""

    functions: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    every: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def own(self, fn: Function) -> dict[str, str]:
        """The function's own section(s): by logical id and by FunctionName."""
        return {name: value for key, values in self.functions if key in (fn.logical_id, fn.name)
                for name, value in values}

    def for_function(self, fn: Function) -> dict[str, str]:
        """What this file sets for `fn`: the global section, then the function's own section over it."""
        return {**dict(self.every), **self.own(fn)}

    def __bool__(self) -> bool:
        return bool(self.functions or self.every)


@dataclass(frozen=True)
class Overrides:
    """What the command line adds on top of generator.yml: template parameters and environment variables."""

    parameters: tuple[tuple[str, str], ...] = ()
    env_vars: EnvVars = EnvVars()

    def __bool__(self) -> bool:
        return bool(self.parameters or self.env_vars)


def parse_parameter_overrides(values: Iterable[str]) -> dict[str, str]:
    """`Key=Value Key2=Value2` and `ParameterKey=K,ParameterValue=V` (SAM's two forms), in any mix."""
    out: dict[str, str] = {}
    for value in values:
        try:
            tokens = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"--parameter-overrides {value!r}: {exc}", hint="close the quote") from exc
        for token in tokens:
            long_form = _LONG_FORM.fullmatch(token)
            if long_form:
                key, text = long_form.group(1), long_form.group(2)
            elif "=" in token and not token.startswith("ParameterKey="):
                key, text = token.split("=", 1)
            else:
                key, text = "", ""
            if not _NAME.fullmatch(key):
                raise ConfigError(f"--parameter-overrides: cannot read {token!r}",
                                  hint="write Key=Value or ParameterKey=Key,ParameterValue=Value")
            out[key] = text
    return out


def _scalar(value: Any, where: str) -> str:
    # SAM passes numbers and booleans as their JSON text (true, 3); nested values are an error there too.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        return ""
    raise ConfigError(f"{where} must be a string, number or boolean", hint="see `sam local invoke --env-vars`")


def _variables(section: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be an object of variable names to values",
                          hint='e.g. {"MyFunction": {"TABLE": "t"}}')
    return tuple(sorted((str(k), _scalar(v, f"{where}.{k}")) for k, v in section.items()))


def parse_env_vars(text: str, source: str) -> EnvVars:
    """The env-vars JSON: `{"FnLogicalId": {"VAR": "v"}, "Parameters": {"VAR": "v"}}`."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"not JSON: {exc}", where=source, hint="see `sam local invoke --env-vars`") from exc
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a JSON object", where=source, hint='e.g. {"MyFunction": {"TABLE": "t"}}')
    every = _variables(doc[GLOBAL_KEY], f"{source}: {GLOBAL_KEY}") if GLOBAL_KEY in doc else ()
    functions = tuple(sorted((str(key), _variables(value, f"{source}: {key}"))
                             for key, value in doc.items() if key != GLOBAL_KEY))
    return EnvVars(functions=functions, every=every, source=source)


def read_env_vars(path: str, cwd: Path) -> EnvVars:
    file = (cwd / path).resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the env-vars file: {exc.strerror}", where=str(file)) from exc
    return parse_env_vars(text, str(file))


def apply_env_vars(app: Application, env_vars: EnvVars) -> Application:
    """Each function's declared variables take the file's values (SAM overrides only what Environment
    declares); a function key naming nothing, or a variable a function does not declare, is a warning."""
    if not env_vars:
        return app
    warnings = list(app.warnings)
    known = {key for fn in app.functions for key in (fn.logical_id, fn.name)}
    for key, _ in env_vars.functions:
        if key not in known:
            warnings.append(Warning_(key, None, f"named in {env_vars.source} but no function of the template, ignored"))
    functions = []
    for fn in app.functions:
        wanted = env_vars.for_function(fn)
        declared = fn.env
        for name in sorted(set(env_vars.own(fn)) - set(declared)):
            warnings.append(Warning_(fn.logical_id, f"Environment.{name}",
                                     f"set in {env_vars.source} but not declared in the template, ignored (as SAM does)"))
        merged = {name: wanted.get(name, value) for name, value in declared.items()}
        functions.append(replace(fn, environment=tuple(sorted(merged.items()))))
    return replace(app, functions=tuple(functions), warnings=tuple(warnings))


def add_override_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parameter-overrides", action="append", default=[], metavar="'K=V K2=V2'",
                        help="template parameters (SAM's formats: Key=Value, ParameterKey=K,ParameterValue=V)")
    parser.add_argument("--env-vars", metavar="FILE",
                        help='environment variables, SAM\'s JSON: {"Fn": {"VAR": "v"}, "Parameters": {"VAR": "v"}}')


def overrides_from(args: argparse.Namespace, cwd: Path) -> Overrides:
    values = parse_parameter_overrides(getattr(args, "parameter_overrides", None) or [])
    env_file = getattr(args, "env_vars", None)
    return Overrides(parameters=tuple(sorted(values.items())),
                     env_vars=read_env_vars(env_file, cwd) if env_file else EnvVars())
