"""The one Jinja Environment of the toolchain and its serializer filters."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import yaml

from esb.paths import P

if TYPE_CHECKING:
    import jinja2


def to_yaml(value: Any) -> str:
    """Serialize with sorted keys, block style and no line wrapping: same value, same bytes."""
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@functools.cache
def environment() -> jinja2.Environment:
    """Built on the first render: `esb up` with nothing to render never imports jinja2 (issue 14's start)."""
    import jinja2

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


def render(template_name: str, **context: Any) -> str:
    return environment().get_template(template_name).render(**context)
