"""Template Parameters: defaults, overrides (generator.yml, --parameter-overrides), types and allowed values."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str

ParamValue = str | list[str]

_LIST_TYPES = ("CommaDelimitedList", "List<")
_GENERATOR = "generator.yml parameters"
_COMMAND_LINE = "--parameter-overrides"


def resolve_parameters(
    ctx: LoadContext, overrides: Mapping[str, Any] | None, from_command_line: Collection[str] = ()
) -> tuple[dict[str, ParamValue], tuple[tuple[str, str], ...]]:
    """Give each declared parameter its value: the override, else the Default, else an error.

    `from_command_line` names the overrides that came from --parameter-overrides (messages name that source)."""
    declared = ctx.raw.get("Parameters") or {}
    if not isinstance(declared, dict):
        ctx.fail(("Parameters",), "Parameters must be a mapping")
    overrides = dict(overrides or {})
    for name in sorted(set(overrides) - set(declared)):
        source = _COMMAND_LINE if name in from_command_line else _GENERATOR
        ctx.warn("Parameters", name, f"set in {source} but not declared in the template, ignored")
    values: dict[str, ParamValue] = {}
    shown: list[tuple[str, str]] = []
    for name, spec in declared.items():
        path = ("Parameters", name)
        if not isinstance(spec, dict):
            ctx.fail(path, "a parameter must be a mapping with at least Type")
        if name in overrides:
            text = cfn_str(overrides[name])
        elif "Default" in spec:
            default = spec["Default"]
            text = ",".join(cfn_str(v) for v in default) if isinstance(default, list) else cfn_str(default)
        else:
            ctx.fail(path, f"parameter {name} has no value and no Default",
                     f"set it in {_GENERATOR} or with {_COMMAND_LINE}")
        source = _COMMAND_LINE if name in from_command_line else _GENERATOR
        values[name] = _typed(ctx, path, name, spec, text, f"fix the value in {source} or the Default")
        shown.append((name, text))
    return values, tuple(sorted(shown))


def _typed(ctx: LoadContext, path: tuple[str, ...], name: str, spec: dict, text: str, hint: str) -> ParamValue:
    ptype = str(spec.get("Type", "String"))
    is_list = ptype.startswith(_LIST_TYPES)
    items = [item.strip() for item in text.split(",")] if is_list else [text]
    if is_list and text == "":
        items = []
    numeric = ptype in ("Number", "List<Number>")
    for item in items:
        _check(ctx, path, name, spec, item, numeric, hint)
    return items if is_list else text


def _check(ctx: LoadContext, path: tuple[str, ...], name: str, spec: dict, value: str, numeric: bool,
           hint: str) -> None:
    if numeric:
        try:
            number = float(value)
        except ValueError:
            ctx.fail(path, f"parameter {name}: '{value}' is not a number", hint)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            ctx.fail(path, f"parameter {name}: {value} is below MinValue {spec['MinValue']}", hint)
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            ctx.fail(path, f"parameter {name}: {value} is above MaxValue {spec['MaxValue']}", hint)
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        choices = [cfn_str(v) for v in allowed] if isinstance(allowed, list) else [cfn_str(allowed)]
        if value not in choices:
            ctx.fail(path, f"parameter {name}: '{value}' is not one of {', '.join(choices)}", hint)
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        ctx.fail(path, f"parameter {name}: '{value}' does not match AllowedPattern {pattern}", hint)
    for key, op in (("MinLength", int.__lt__), ("MaxLength", int.__gt__)):
        if key in spec and op(len(value), int(spec[key])):
            ctx.fail(path, f"parameter {name}: '{value}' breaks {key} {spec[key]}", hint)
