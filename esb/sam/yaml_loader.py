"""Read a SAM/CloudFormation template: YAML with CloudFormation tags, line numbers kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from esb.errors import TemplateError

# Short tags whose argument is kept as is under the long name.
_TAGS = {
    "!Ref": "Ref",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Not": "Fn::Not",
    "!FindInMap": "Fn::FindInMap",
    "!Condition": "Condition",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Cidr": "Fn::Cidr",
    "!Length": "Fn::Length",
    "!ToJsonString": "Fn::ToJsonString",
    "!Transform": "Fn::Transform",
}


class LineDict(dict):
    """A mapping from the template that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


# CloudFormation's own cap is 1 MB for a template in S3 (51,200 bytes inline); a bigger file is no template.
MAX_TEMPLATE_BYTES = 1_000_000
# Far deeper than any real template; bounds recursion for hostile nesting like [[[[...]]]].
MAX_DEPTH = 64
# Explicit YAML tags that only restate a plain value; anything else (!!python/..., !!set, !!binary) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)


class _Loader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation tags and refuses duplicate keys, anchors, aliases and foreign tags."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:  # type: ignore[override]
        # CloudFormation has no anchors or aliases; refusing them here stops alias bombs before any expansion.
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases (&, *) are not allowed in a CloudFormation template",
                event.start_mark,
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _PLAIN_TAGS and tag != "!GetAtt" and tag not in _TAGS:
            raise yaml.composer.ComposerError(None, None, f"unknown tag '{tag}'", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"the template nests deeper than {MAX_DEPTH} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            key = key if isinstance(key, str) else _scalar_text(key)
            if key in result:
                first = result.key_lines[key]
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first defined on line {first})", key_node.start_mark
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    return loader.construct_mapping(node, deep=True)


def _construct_tag(loader: _Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    tag = "!" + tag_suffix
    name = _TAGS.get(tag)
    if name is None:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag '{tag}'", node.start_mark
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return _tagged(name, value, node)


def _construct_getatt(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, "!GetAtt takes 'Resource.Attribute' or [Resource, Attribute]", node.start_mark
        )
    return _tagged("Fn::GetAtt", value, node)


def _tagged(name: str, value: Any, node: yaml.Node) -> LineDict:
    result = LineDict({name: value})
    result.line = node.start_mark.line + 1
    result.key_lines = {name: result.line}
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# CloudFormation has no dates: keep 2024-01-01 as the string it was written as.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
_Loader.add_constructor("!GetAtt", _construct_getatt)
_Loader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> LineDict:
    """Parse the template file; every syntax problem is a TemplateError at file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(
            "template not found", where=str(path), hint="pass --template or create template.yaml"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template: {exc}", where=str(path)) from exc
    if len(text.encode("utf-8")) > MAX_TEMPLATE_BYTES:
        raise TemplateError(
            f"the template is larger than {MAX_TEMPLATE_BYTES:,} bytes", where=path.name,
            hint="CloudFormation refuses templates over 1 MB; split it",
        )
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise TemplateError(
            problem, where=f"{path.name}{line}", hint="fix the YAML syntax at that line"
        ) from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"invalid YAML: {exc}", where=path.name) from exc
    if not isinstance(data, dict):
        raise TemplateError(
            "the template is not a mapping", where=path.name, hint="a SAM template starts with keys like Resources:"
        )
    return data


def line_of(tree: Any, keys: tuple[str, ...]) -> int | None:
    """Best line for a key path in the raw tree: the deepest key that exists there."""
    line = None
    node = tree
    for key in keys:
        if isinstance(node, LineDict) and key in node:
            line = node.key_lines.get(key, line)
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            item = node[int(key)]
            line = getattr(item, "line", line)
            node = item
        else:
            break
    return line
