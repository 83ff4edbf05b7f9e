"""What every step of loading shares: the template's place, its raw tree, warnings, error builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from esb.errors import TemplateError
from esb.model import Warning_
from esb.sam.yaml_loader import line_of

# Path segments that only add noise when naming a place for the user.
_NOISE = {"Resources", "Properties"}


@dataclass
class LoadContext:
    """Mutable state of one load: collects warnings, builds located errors."""

    template: Path
    raw: dict[str, Any]
    region: str
    account_id: str
    stack_name: str
    warnings: list[Warning_] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.template.parent

    def where(self, path: tuple[str, ...]) -> str:
        """`template.yaml:12 HelloFunction.CodeUri` for a path into the template."""
        line = line_of(self.raw, path)
        place = f"{self.template.name}:{line}" if line else self.template.name
        named = [part for i, part in enumerate(path) if not (part in _NOISE and i in (0, 2))]
        return f"{place} {'.'.join(named)}" if named else place

    def fail(self, path: tuple[str, ...], message: str, hint: str | None = None) -> NoReturn:
        raise TemplateError(message, where=self.where(path), hint=hint)

    def warn(self, resource: str, prop: str | None, message: str) -> None:
        self.warnings.append(Warning_(resource=resource, prop=prop, message=message))
