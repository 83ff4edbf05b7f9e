"""Resolve CloudFormation intrinsics (Ref, Fn::*) and Conditions to concrete values."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

from esb.sam.context import LoadContext
from esb.sam.parameters import ParamValue
from esb.sam.references import ResourceRefs, SamResource
from esb.sam.scalars import cfn_str, is_scalar, to_int

Path = tuple[str, ...]


class _NoValue:
    """AWS::NoValue: removes the key or list item that holds it."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_UNSUPPORTED = {"Fn::ImportValue", "Fn::Cidr", "Fn::Transform"}


class Resolver:
    """Turns any raw template value into a concrete one, with errors that name the place."""

    def __init__(
        self,
        ctx: LoadContext,
        params: dict[str, ParamValue],
        resources: dict[str, SamResource],
        excluded: set[str],
    ) -> None:
        self.ctx = ctx
        self.params = params
        self.excluded = excluded
        self.pseudo: dict[str, Any] = {
            "AWS::Region": ctx.region,
            "AWS::AccountId": ctx.account_id,
            "AWS::StackName": ctx.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:stack/{ctx.stack_name}"
                "/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self.refs = ResourceRefs(ctx, resources, self.resolve)
        raw_conditions = ctx.raw.get("Conditions") or {}
        if not isinstance(raw_conditions, dict):
            ctx.fail(("Conditions",), "Conditions must be a mapping")
        self._conditions: dict[str, Any] = raw_conditions
        self._condition_values: dict[str, bool] = {}
        self._condition_stack: list[str] = []
        self._intrinsics: dict[str, Callable[[Any, Path], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
            "Fn::GetAZs": self._get_azs,
            "Fn::Length": self._length,
            "Fn::ToJsonString": self._to_json_string,
            "Fn::Equals": lambda arg, path: self._condition_expr({"Fn::Equals": arg}, path),
            "Fn::And": lambda arg, path: self._condition_expr({"Fn::And": arg}, path),
            "Fn::Or": lambda arg, path: self._condition_expr({"Fn::Or": arg}, path),
            "Fn::Not": lambda arg, path: self._condition_expr({"Fn::Not": arg}, path),
        }

    # -- values ---------------------------------------------------------------------------
    def resolve(self, value: Any, path: Path) -> Any:
        """A concrete value, or NO_VALUE when the whole value is AWS::NoValue."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key in self._intrinsics:
                    return self._intrinsics[key](arg, path)
                if key in _UNSUPPORTED:
                    self.ctx.fail(path, f"{key} is not supported locally", "replace it with a parameter")
            result = {}
            for key, item in value.items():
                resolved = self.resolve(item, (*path, str(key)))
                if resolved is not NO_VALUE:
                    result[key] = resolved
            return result
        if isinstance(value, list):
            items = (self.resolve(item, (*path, str(i))) for i, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        return value

    def text(self, value: Any, path: Path, what: str = "value") -> str:
        """Resolve and require a scalar, returned as a CloudFormation string."""
        resolved = self.resolve(value, path)
        if not is_scalar(resolved):
            self.ctx.fail(path, f"{what} must be a string, got {_kind(resolved)}")
        return cfn_str(resolved)

    def _ref(self, arg: Any, path: Path) -> Any:
        if not isinstance(arg, str):
            self.ctx.fail(path, "Ref takes the name of a parameter or resource")
        if arg in self.params:
            value = self.params[arg]
            return list(value) if isinstance(value, list) else value
        if arg in self.pseudo:
            value = self.pseudo[arg]
            return list(value) if isinstance(value, list) else value
        if self.refs.has(arg):
            return self.refs.ref(arg, path)
        stage = self.refs.stage_ref(arg)
        if stage is not None:
            return stage
        self._unknown(arg, path, "Ref")

    def _unknown(self, name: str, path: Path, how: str) -> NoReturn:
        if name in self.excluded:
            self.ctx.fail(path, f"{how} to {name}, which its Condition excludes", "add the same Condition here")
        self.ctx.fail(path, f"unknown {how} '{name}'", "declare it under Parameters or Resources, or fix the name")

    def _get_att(self, arg: Any, path: Path) -> Any:
        if isinstance(arg, str) and "." in arg:
            lid, attr = arg.split(".", 1)
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            lid, attr = arg[0], self.text(arg[1], (*path, "1"), "the GetAtt attribute")
        else:
            self.ctx.fail(path, "Fn::GetAtt takes 'Resource.Attribute' or [Resource, Attribute]")
        if not self.refs.has(lid):
            self._unknown(lid, path, "GetAtt")
        return self.refs.get_att(lid, attr, path)

    def _sub(self, arg: Any, path: Path) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], dict):
                self.ctx.fail(path, "Fn::Sub list form is [string, {Name: value}]")
            template, raw_vars = arg
            variables = {name: (raw, (*path, "1", name)) for name, raw in raw_vars.items()}
        elif isinstance(arg, str):
            template = arg
        else:
            self.ctx.fail(path, "Fn::Sub takes a string or [string, {Name: value}]")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                raw, var_path = variables[name]
                return self.text(raw, var_path, f"Fn::Sub variable {name}")
            if name in self.params or name in self.pseudo or self.refs.has(name) or self.refs.stage_ref(name):
                value = self._ref(name, path)
            elif "." in name:
                value = self._get_att(name, path)
            else:
                self._unknown(name, path, "Fn::Sub variable")
            if not is_scalar(value):
                self.ctx.fail(path, f"Fn::Sub variable {name} is a list", "use Fn::Join for lists")
            return cfn_str(value)

        return _SUB_VAR.sub(replace, template)

    def _pair(self, arg: Any, path: Path, name: str, shape: str) -> tuple[Any, Any]:
        if not isinstance(arg, list) or len(arg) != 2:
            self.ctx.fail(path, f"{name} takes {shape}")
        return arg[0], arg[1]

    def _list(self, value: Any, path: Path, name: str) -> list[Any]:
        resolved = self.resolve(value, path)
        if not isinstance(resolved, list):
            self.ctx.fail(path, f"{name} needs a list, got {_kind(resolved)}")
        return resolved

    def _join(self, arg: Any, path: Path) -> str:
        delim, items = self._pair(arg, path, "Fn::Join", "[delimiter, [values]]")
        values = self._list(items, (*path, "1"), "Fn::Join")
        for value in values:
            if not is_scalar(value):
                self.ctx.fail(path, f"Fn::Join values must be strings, got {_kind(value)}")
        return self.text(delim, (*path, "0"), "the Fn::Join delimiter").join(cfn_str(v) for v in values)

    def _select(self, arg: Any, path: Path) -> Any:
        index_raw, items = self._pair(arg, path, "Fn::Select", "[index, [values]]")
        values = self._list(items, (*path, "1"), "Fn::Select")
        try:
            index = to_int(self.resolve(index_raw, (*path, "0")))
        except ValueError:
            self.ctx.fail(path, "Fn::Select index must be a number")
        if not 0 <= index < len(values):
            self.ctx.fail(path, f"Fn::Select index {index} is out of range (list has {len(values)} items)")
        return values[index]

    def _split(self, arg: Any, path: Path) -> list[str]:
        delim, source = self._pair(arg, path, "Fn::Split", "[delimiter, string]")
        sep = self.text(delim, (*path, "0"), "the Fn::Split delimiter")
        if not sep:
            self.ctx.fail(path, "Fn::Split delimiter must not be empty")
        return self.text(source, (*path, "1"), "the Fn::Split source").split(sep)

    def _if(self, arg: Any, path: Path) -> Any:
        if not isinstance(arg, list) or len(arg) != 3 or not isinstance(arg[0], str):
            self.ctx.fail(path, "Fn::If takes [ConditionName, value_if_true, value_if_false]")
        chosen = 1 if self.condition(arg[0], path) else 2
        return self.resolve(arg[chosen], (*path, str(chosen)))

    def _find_in_map(self, arg: Any, path: Path) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            self.ctx.fail(path, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]")
        keys = [self.text(arg[i], (*path, str(i)), "a Fn::FindInMap key") for i in range(3)]
        mappings = self.ctx.raw.get("Mappings") or {}
        node: Any = mappings
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                    return self.resolve(arg[3]["DefaultValue"], (*path, "3", "DefaultValue"))
                what = ("map", "top-level key", "second-level key")[depth]
                self.ctx.fail(path, f"Fn::FindInMap: no {what} '{key}' in Mappings", "check Mappings")
            node = node[key]
        return self.resolve(node, ("Mappings", *keys))

    def _base64(self, arg: Any, path: Path) -> str:
        return base64.b64encode(self.text(arg, path, "Fn::Base64 input").encode()).decode()

    def _get_azs(self, arg: Any, path: Path) -> list[str]:
        region = self.text(arg, path, "Fn::GetAZs region") or self.ctx.region
        return [f"{region}{zone}" for zone in "abc"]

    def _length(self, arg: Any, path: Path) -> int:
        return len(self._list(arg, path, "Fn::Length"))

    def _to_json_string(self, arg: Any, path: Path) -> str:
        return json.dumps(self.resolve(arg, path), separators=(",", ":"), sort_keys=True)

    # -- conditions -----------------------------------------------------------------------
    def condition(self, name: str, path: Path) -> bool:
        """The value of a named condition; a cycle is an error naming it."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions:
            self.ctx.fail(path, f"unknown condition '{name}'", "declare it under Conditions")
        if name in self._condition_stack:
            cycle = " -> ".join([*self._condition_stack[self._condition_stack.index(name):], name])
            self.ctx.fail(("Conditions", name), f"circular condition: {cycle}", "break the cycle")
        self._condition_stack.append(name)
        try:
            value = self._condition_expr(self._conditions[name], ("Conditions", name))
        finally:
            self._condition_stack.pop()
        self._condition_values[name] = value
        return value

    def _condition_expr(self, expr: Any, path: Path) -> bool:
        if isinstance(expr, bool):
            return expr
        if not isinstance(expr, dict) or len(expr) != 1:
            self.ctx.fail(path, "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition")
        (key, arg), = expr.items()
        if key == "Condition":
            if not isinstance(arg, str):
                self.ctx.fail(path, "Condition takes a condition name")
            return self.condition(arg, path)
        if key == "Fn::Equals":
            left, right = self._pair(arg, path, "Fn::Equals", "[value1, value2]")
            return _comparable(self.resolve(left, (*path, "0"))) == _comparable(self.resolve(right, (*path, "1")))
        if key == "Fn::Not":
            if not isinstance(arg, list) or len(arg) != 1:
                self.ctx.fail(path, "Fn::Not takes [condition]")
            return not self._condition_expr(arg[0], (*path, "0"))
        if key in ("Fn::And", "Fn::Or"):
            if not isinstance(arg, list) or not arg:
                self.ctx.fail(path, f"{key} takes a list of conditions")
            values = [self._condition_expr(item, (*path, str(i))) for i, item in enumerate(arg)]
            return all(values) if key == "Fn::And" else any(values)
        if key == "Fn::If":
            return self._condition_expr(self._if(arg, path), path)
        if key in self._intrinsics:
            return self._condition_expr(self.resolve(expr, path), path)
        self.ctx.fail(path, f"{key} is not a condition function")


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return cfn_str(value) if is_scalar(value) or value is None else value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string" if isinstance(value, str) else type(value).__name__
