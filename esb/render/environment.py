"""The one Jinja Environment of the toolchain and its serializer filters."""

from __future__ import annotations

import json
from typing import Any

import jinja2
import yaml

from esb.paths import P


def to_yaml(value: Any) -> str:
    """Serialize with sorted keys, block style and no line wrapping: same value, same bytes."""
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _build() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(P.templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yaml"] = to_yaml
    env.filters["json"] = to_json
    return env


ENV = _build()


def render(template_name: str, **context: Any) -> str:
    return ENV.get_template(template_name).render(**context)
