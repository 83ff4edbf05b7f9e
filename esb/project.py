"""Project settings: generator.yml, template discovery, and the frozen Project built once at the CLI edge."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from esb.auth_options import AuthOptions, parse_auth
from esb.errors import ConfigError
from esb.overrides import Overrides
from esb.paths import P, BuildTree
from esb.sam.scalars import to_bool
from esb_runtime.contract import DEFAULT_GATEWAY_PORT

GENERATOR_FILE = "generator.yml"
ENGINES = ("auto", "process", "docker", "compose")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_TEMPLATE = "template.yaml"
DEFAULT_OUTPUT = ".esb/"


@dataclass(frozen=True)
class Images:
    """Images of the compose stack; every one can be overridden in generator.yml `images:`."""

    # Function base image; `{version}` is replaced by the runtime's version (python3.11 -> 3.11).
    # The default is the offline base that `esb/build/images.py` builds locally (no registry is reachable).
    base: str = "esb/base-python:{version}"
    base_nodejs: str = "esb/base-nodejs:{version}"  # nodejs functions; `{version}` is the Node major (20)
    python: str = "esb/base-python:3.11"  # base of the gateway and manager images (has python3.11, no pip)
    gateway: str = ""  # empty: built from <out>/gateway.Dockerfile as <name>-gateway:<tag>
    manager: str = ""
    s3: str = "rustfs/rustfs:1.0.0-alpha.58"
    dynamodb: str = "scylladb/scylla:6.2.3"
    logs: str = "victoriametrics/victoria-logs:v1.24.0-victorialogs"


DEFAULT_AWS_PORT = 4566  # the port local AWS emulators conventionally use; tools' habits carry over


@dataclass(frozen=True)
class Ports:
    """Host ports (s3, dynamodb and logs: the compose stack's; aws: every emulated service on the other engines)."""

    gateway: int = DEFAULT_GATEWAY_PORT
    s3: int = 9000
    dynamodb: int = 8000
    logs: int = 9428
    # One stable HTTPS endpoint on loopback for all emulated services (what `esb env` exports), kept across
    # up/down; aws_http adds a plain-HTTP one for tools that cannot take a CA (0 = none).
    aws: int = DEFAULT_AWS_PORT
    aws_http: int = 0


@dataclass(frozen=True)
class Compat:
    """Switches back to the seed's behaviour where it differs from AWS's (generator.yml `compat:`)."""

    # true: a request no route takes gets 404 Not Found / 405 Method Not Allowed (with Allow) instead of
    # API Gateway's 403 Missing Authentication Token (REST APIs) / 404 Not Found (HTTP APIs).
    seed_status_codes: bool = False
    # true: the Invoke API also takes unsigned calls from loopback (the seed's clients send no SigV4). Only for a
    # box bound to loopback; signed calls are still checked.
    unsigned_invoke: bool = False


@dataclass(frozen=True)
class Breaker:
    """The crash-loop circuit breaker every function gets."""

    failures: int = 3  # consecutive crashes or timeouts that open it; 0 turns it off
    window: float = 10.0  # seconds an open breaker answers 502 at once before the function is tried again


@dataclass(frozen=True)
class PythonHosts:
    """Which interpreters run python3.N functions on the process engine (generator.yml `python:`)."""

    strict: bool = False  # true: a runtime without its own interpreter is an error, not the closest one
    interpreters: tuple[tuple[str, str], ...] = ()  # ("3.12", "/opt/python3.12/bin/python3.12"), over PATH's


@dataclass(frozen=True)
class Generator:
    """The parsed generator.yml (all sections optional)."""

    name: str | None = None
    tag: str = "latest"
    sam_template: str = DEFAULT_TEMPLATE
    output_dir: str = DEFAULT_OUTPUT
    parameters: tuple[tuple[str, str], ...] = ()
    images: Images = field(default_factory=Images)
    ports: Ports = field(default_factory=Ports)
    bind: str = "127.0.0.1"
    compat: Compat = field(default_factory=Compat)
    breaker: Breaker = field(default_factory=Breaker)
    engine: str = "auto"  # what `esb up` uses when --engine is not given
    python: PythonHosts = field(default_factory=PythonHosts)
    auth: AuthOptions = field(default_factory=AuthOptions)


@dataclass(frozen=True)
class Project:
    """Everything a build needs to know about one project, resolved once."""

    project_dir: Path
    template: Path
    output: BuildTree
    name: str  # stack name
    tag: str = "latest"
    parameters: tuple[tuple[str, str], ...] = ()
    images: Images = field(default_factory=Images)
    ports: Ports = field(default_factory=Ports)
    bind: str = "127.0.0.1"
    compat: Compat = field(default_factory=Compat)
    breaker: Breaker = field(default_factory=Breaker)
    python: PythonHosts = field(default_factory=PythonHosts)
    auth: AuthOptions = field(default_factory=AuthOptions)
    generator_file: Path | None = None
    template_source: str = "bundled"  # argument | env | cwd | project | bundled
    engine: str = "auto"  # generator.yml `engine:`
    overrides: Overrides = field(default_factory=Overrides)  # --parameter-overrides / --env-vars of this run

    @property
    def params(self) -> dict[str, str]:
        return dict(self.parameters)

    def with_overrides(self, overrides: Overrides) -> Project:
        """The command line's overrides on top of generator.yml (kept, so a watch reload applies them again)."""
        merged = {**self.params, **dict(overrides.parameters)}
        return replace(self, parameters=tuple(sorted(merged.items())), overrides=overrides)


def _section(doc: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"`{key}` must be a mapping", where=where, hint=f"write `{key}:` followed by indented keys")
    return value


def _dataclass_from(cls: type, values: Mapping[str, Any], where: str, section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key `{section}.{unknown[0]}`", where=where, hint=f"known keys: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        expected = type(getattr(cls(), key))
        try:
            # bool("false") is True: booleans go through the strict true/false reading.
            out[key] = to_bool(value) if expected is bool else expected(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"`{section}.{key}` must be a {expected.__name__}", where=where) from exc
    return cls(**out)


def parse_generator(text: str, where: str) -> Generator:
    """Parse generator.yml text; `where` names the file in errors."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{where}:{mark.line + 1}" if mark else where
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", where=line) from exc
    if not isinstance(doc, Mapping):
        raise ConfigError("generator.yml must be a mapping", where=where, hint="see `esb init`")
    app = _section(doc, "app", where)
    paths = _section(doc, "paths", where)
    params = _section(doc, "parameters", where)
    return Generator(
        name=str(app["name"]) if app.get("name") else None,
        tag=str(app.get("tag") or "latest"),
        sam_template=str(paths.get("sam_template") or DEFAULT_TEMPLATE),
        output_dir=str(paths.get("output_dir") or DEFAULT_OUTPUT),
        parameters=tuple(sorted((str(k), _param_text(v)) for k, v in params.items())),
        images=_dataclass_from(Images, _section(doc, "images", where), where, "images"),
        ports=_dataclass_from(Ports, _section(doc, "ports", where), where, "ports"),
        bind=str(doc.get("bind") or "127.0.0.1"),
        compat=_dataclass_from(Compat, _section(doc, "compat", where), where, "compat"),
        breaker=_breaker(_section(doc, "breaker", where), where),
        engine=_engine(doc.get("engine"), where),
        python=_python(_section(doc, "python", where), where),
        auth=parse_auth(_section(doc, "auth", where), where, Path(where).parent),
    )


def _engine(value: Any, where: str) -> str:
    engine = str(value or "auto")
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", where=where, hint=f"engine: one of {', '.join(ENGINES)}")
    return engine


def _breaker(values: Mapping[str, Any], where: str) -> Breaker:
    breaker = _dataclass_from(Breaker, values, where, "breaker")
    if breaker.failures < 0 or breaker.window <= 0:
        raise ConfigError("`breaker.failures` must be >= 0 and `breaker.window` > 0", where=where,
                          hint="e.g. failures: 3, window: 10 (failures: 0 turns the breaker off)")
    return breaker


def _python(values: Mapping[str, Any], where: str) -> PythonHosts:
    unknown = sorted(set(values) - {"strict", "interpreters"})
    if unknown:
        raise ConfigError(f"unknown key `python.{unknown[0]}`", where=where, hint="known keys: interpreters, strict")
    interpreters = _section(values, "interpreters", where)
    pairs = []
    for version, path in interpreters.items():
        # A quoted version only: YAML reads 3.10 as the number 3.1.
        if not isinstance(version, str) or not re.fullmatch(r"3\.\d+", version) or not str(path or "").startswith("/"):
            raise ConfigError(f"`python.interpreters` maps a quoted version to an absolute path, not {version}: {path}",
                              where=where, hint='e.g. interpreters: {"3.12": /opt/python3.12/bin/python3.12}')
        pairs.append((str(version), str(path)))
    return PythonHosts(strict=to_bool(values.get("strict", False)), interpreters=tuple(sorted(pairs)))


def _param_text(value: Any) -> str:
    # YAML reads `true`/`3` as bool/int; CloudFormation parameters are strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def read_generator(path: Path) -> Generator:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", where=str(path)) from exc
    return parse_generator(text, str(path))


def find_generator(start: Path) -> Path | None:
    """The nearest generator.yml walking up from `start`."""
    for directory in (start, *start.parents):
        candidate = directory / GENERATOR_FILE
        if candidate.is_file():
            return candidate
    return None


def stack_name_for(text: str) -> str:
    """A CloudFormation-like stack name from a directory or app name."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")
    return cleaned or "esb"


def _locate(template_arg: str | None, cwd: Path, env: Mapping[str, str]) -> tuple[Path, str, Path | None]:
    """Template path, how it was found, and the generator.yml that goes with it (if any)."""
    for source, raw in (("argument", template_arg), ("env", env.get("ESB_TEMPLATE"))):
        if raw:
            path = (cwd / raw).resolve()
            if path.is_dir():
                path = path / DEFAULT_TEMPLATE
            if not path.is_file():
                label = "--template" if source == "argument" else "ESB_TEMPLATE"
                raise ConfigError(f"template not found: {path}", where=label, hint="give the path of a SAM template.yaml")
            gen = path.parent / GENERATOR_FILE
            return path, source, gen if gen.is_file() else None
    local = cwd / DEFAULT_TEMPLATE
    if local.is_file():
        gen = cwd / GENERATOR_FILE
        return local.resolve(), "cwd", gen if gen.is_file() else None
    gen_path = find_generator(cwd)
    if gen_path is not None:
        gen = read_generator(gen_path)
        path = (gen_path.parent / gen.sam_template).resolve()
        if not path.is_file():
            raise ConfigError(
                f"paths.sam_template points to a missing file: {path}", where=str(gen_path), hint="fix the path or run `esb init`"
            )
        return path, "project", gen_path
    return P.sample_template, "bundled", None


def load_project(template_arg: str | None = None, *, cwd: Path, env: Mapping[str, str]) -> Project:
    """Discover the template and read generator.yml: --template, ESB_TEMPLATE, ./template.yaml, project root, sample."""
    template, source, gen_path = _locate(template_arg, cwd.resolve(), env)
    gen = read_generator(gen_path) if gen_path else Generator()
    if gen_path is not None:
        project_dir = gen_path.parent.resolve()
    elif source in ("argument", "env"):
        project_dir = template.parent
    else:
        project_dir = cwd.resolve()
    if gen.compat.unsigned_invoke and gen.bind not in _LOOPBACK:
        raise ConfigError("compat.unsigned_invoke needs a box bound to loopback", where=str(gen_path),
                          hint=f"remove it, or set bind: 127.0.0.1 (now {gen.bind})")
    output = (project_dir / gen.output_dir).resolve()
    if output == project_dir:
        where = str(gen_path) if gen_path else "generator.yml"
        raise ConfigError("paths.output_dir must not be the project directory", where=where, hint="use `.esb/`")
    return Project(
        project_dir=project_dir,
        template=template,
        output=BuildTree(output),
        name=stack_name_for(gen.name or template.parent.name),
        tag=gen.tag,
        parameters=gen.parameters,
        images=gen.images,
        ports=gen.ports,
        bind=gen.bind,
        compat=gen.compat,
        breaker=gen.breaker,
        python=gen.python,
        auth=gen.auth,
        generator_file=gen_path,
        template_source=source,
        engine=gen.engine,
    )
