"""`esb init`: ask for template parameters, engine, image tag and output dir, then write generator.yml, dodo.py and
the .gitignore entry of the output tree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TextIO

import yaml

from esb.errors import ConfigError
from esb.project import DEFAULT_OUTPUT, ENGINES, GENERATOR_FILE, Project

DODO_TEXT = '"""doit tasks of this esb project (`doit list`, `doit build`)."""\nfrom esb.tasks.index import *  # noqa: F401,F403\n'

Ask = Callable[[str], str]


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: str | None
    description: str = ""
    allowed: tuple[str, ...] = ()


def template_parameters(template: Path) -> list[ParameterSpec]:
    """Declared parameters with their defaults, read without resolving the template."""
    from esb.sam.yaml_loader import load_template

    declared = load_template(template).get("Parameters") or {}
    specs = []
    for name, spec in declared.items():
        spec = spec if isinstance(spec, Mapping) else {}
        default = spec.get("Default")
        if isinstance(default, list):
            default = ",".join(str(v) for v in default)
        specs.append(ParameterSpec(
            name=str(name),
            default=None if default is None else str(default),
            description=str(spec.get("Description") or ""),
            allowed=tuple(str(v) for v in spec.get("AllowedValues") or ()),
        ))
    return specs


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --param {pair!r}", hint="use --param NAME=VALUE")
        out[key] = value
    return out


def _prompt(ask: Ask, label: str, default: str | None) -> str:
    suffix = f" [{default}]" if default not in (None, "") else ""
    answer = ask(f"{label}{suffix}: ").strip()
    return answer or (default or "")


def generator_document(project: Project, params: Mapping[str, str], tag: str, output_dir: str,
                       engine: str = "auto") -> dict:
    # A template outside the project (e.g. the bundled sample) is kept absolute.
    inside = project.template.is_relative_to(project.project_dir)
    template = os.path.relpath(project.template, project.project_dir) if inside else str(project.template)
    return {
        "app": {"name": project.name, "tag": tag},
        "paths": {"sam_template": Path(template).as_posix(), "output_dir": output_dir},
        "parameters": dict(sorted(params.items())),
        "engine": engine,
    }


def run_wizard(
    project: Project,
    *,
    assume_yes: bool,
    overrides: Mapping[str, str],
    tag: str | None,
    output_dir: str | None,
    engine: str | None = None,
    ask: Ask | None = None,
    out: TextIO,
) -> Path:
    """Write generator.yml (and a 2-line dodo.py when missing) into the project dir; returns generator.yml's path."""
    ask = ask or input  # looked up per call so tests can replace builtins.input
    specs = template_parameters(project.template)
    known = {s.name for s in specs}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]}", where="--param", hint=f"template declares: {', '.join(sorted(known)) or 'none'}")
    current = project.params
    params: dict[str, str] = {}
    out.write(f"template: {project.template}\n")
    for spec in specs:
        default = overrides.get(spec.name, current.get(spec.name, spec.default))
        value = default if assume_yes or spec.name in overrides else _prompt(ask, f"parameter {spec.name}", default)
        if value is None:
            raise ConfigError(f"parameter {spec.name} has no default", where="--param", hint=f"pass --param {spec.name}=VALUE")
        if spec.allowed and value not in spec.allowed:
            raise ConfigError(f"parameter {spec.name} must be one of {', '.join(spec.allowed)}", where="--param")
        params[spec.name] = value
    engine = engine or (project.engine if assume_yes else _prompt(ask, f"engine ({', '.join(ENGINES)})", project.engine))
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", where="engine", hint=f"one of {', '.join(ENGINES)}")
    # Image tags name docker images: the process engine builds none, so it is not asked.
    asked = assume_yes or engine == "process"
    tag = tag or (project.tag if asked else _prompt(ask, "image tag", project.tag))
    default_out = _relative_output(project)
    output_dir = output_dir or (default_out if assume_yes else _prompt(ask, "output dir", default_out))
    target = project.project_dir / GENERATOR_FILE
    if target.exists() and not assume_yes:
        if _prompt(ask, f"overwrite {target}? (y/N)", "n").lower() not in ("y", "yes"):
            raise ConfigError("not overwritten", where=str(target), hint="run again and answer y, or pass --yes")
    text = yaml.safe_dump(generator_document(project, params, tag, output_dir, engine), sort_keys=True,
                          default_flow_style=False)
    target.write_text(text, encoding="utf-8")
    ignored = _ignore_output(project.project_dir, output_dir)
    dodo = project.project_dir / "dodo.py"
    if not dodo.exists():
        dodo.write_text(DODO_TEXT, encoding="utf-8")
    out.write(f"wrote {target}\n")
    if ignored:
        out.write(f"added {ignored} to {project.project_dir / '.gitignore'}\n")
    return target


def _ignore_output(project_dir: Path, output_dir: str) -> str | None:
    """Add the output tree (build results, data, secrets) to the project's .gitignore; the entry added, if any."""
    out = Path(output_dir)
    if out.is_absolute():
        try:
            out = out.relative_to(project_dir)
        except ValueError:
            return None  # outside the project: not git's business here
    entry = out.as_posix().rstrip("/") + "/"
    path = project_dir / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if any(line.strip().strip("/") == entry.strip("/") for line in lines):
        return None
    text = "\n".join(lines + [entry]) + "\n"
    path.write_text(text, encoding="utf-8")
    return entry


def _relative_output(project: Project) -> str:
    try:
        rel = project.output.root.relative_to(project.project_dir).as_posix()
    except ValueError:
        return str(project.output.root)
    return rel + "/" if rel != DEFAULT_OUTPUT.rstrip("/") else DEFAULT_OUTPUT
