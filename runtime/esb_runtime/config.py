"""The one reader of config/functions.yml: the manager's, the gateway's and `esb status`'s view of every function."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from esb_runtime.engine import ImageConfig
from esb_runtime.errors import RuntimeBoxError
from esb_runtime.names_digest import sha256_hex

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when PyYAML has it: reloads stay cheap


class FunctionsConfigError(RuntimeBoxError):
    """functions.yml (or a function's build.json) is missing or malformed."""

    status = 500
    code = "ConfigError"


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    input: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Cors:
    """A `cors` block of routing.yml or of a functions.yml `function_url`."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def parse_cors(data: Mapping[str, Any] | None) -> Cors | None:
    if not data:
        return None
    max_age = data.get("max_age")
    return Cors(
        allow_origins=_strings(data.get("allow_origins")),
        allow_methods=tuple(m.upper() for m in _strings(data.get("allow_methods"))),
        allow_headers=_strings(data.get("allow_headers")),
        expose_headers=_strings(data.get("expose_headers")),
        allow_credentials=bool(data.get("allow_credentials")),
        max_age=int(max_age) if max_age is not None else None,
    )


@dataclass(frozen=True)
class FunctionUrlConfig:
    auth_type: str = "NONE"  # NONE | AWS_IAM
    cors: Cors | None = None


@dataclass(frozen=True)
class FunctionConfig:
    """One entry of functions.yml; paths are absolute (resolved against the output tree)."""

    name: str
    logical_id: str
    handler: str
    runtime: str
    architecture: str
    timeout: int
    memory_size: int
    reserved_concurrency: int | None
    environment: tuple[tuple[str, str], ...]  # sorted pairs
    layers: tuple[str, ...]
    code_dir: Path
    deps_dir: Path | None
    layer_dirs: tuple[Path, ...]
    manifest: Path | None
    config_hash: str
    schedules: tuple[Schedule, ...] = ()
    function_url: FunctionUrlConfig | None = None
    runtime_dir: Path | None = None  # Node.js: the staged runtime environment (aws-lambda-ric, AWS SDK v3)
    package_type: str = "Zip"
    image_config: ImageConfig | None = None  # package_type Image only

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    def code_hash(self) -> str:
        """The code hash written by the build (build.json); "" when the function has no manifest."""
        if self.manifest is None or not self.manifest.exists():
            return ""
        try:
            return str(json.loads(self.manifest.read_text(encoding="utf-8")).get("code_hash", ""))
        except (OSError, ValueError) as exc:
            raise FunctionsConfigError(f"{self.manifest}: unreadable build manifest: {exc}") from exc

    def sandbox_hash(self) -> str:
        """sha256(config_hash + code_hash): a sandbox never serves once this changes."""
        return sha256_hex(self.config_hash + self.code_hash())


@dataclass(frozen=True)
class EventSource:
    """One event of a function that the manager delivers (SQS/stream pollers, S3/SNS/EventBridge deliveries)."""

    function: str
    name: str
    kind: str  # SQS, Kinesis, DynamoDB, S3, SNS, EventBridgeRule, CloudWatchEvent
    source: str  # queue/stream/topic ARN, bucket name or bus name
    enabled: bool = True
    options: str = "{}"  # the SAM event's other Properties, as sorted JSON (keeps the dataclass frozen)
    async_config: str = "{}"  # the function's EventInvokeConfig and DeadLetterQueue, as sorted JSON

    @property
    def key(self) -> str:
        return f"{self.function}/{self.name}"

    def option(self, name: str, default: Any = None) -> Any:
        return json.loads(self.options).get(name, default)

    @property
    def async_settings(self) -> dict[str, Any]:
        return json.loads(self.async_config)


@dataclass(frozen=True)
class FunctionsConfig:
    project: str
    region: str
    account_id: str
    functions: Mapping[str, FunctionConfig] = field(default_factory=dict)
    event_sources: tuple[EventSource, ...] = ()

    def get(self, name: str) -> FunctionConfig | None:
        return self.functions.get(name)


def _path(root: Path, value: object) -> Path | None:
    if value in (None, ""):
        return None
    path = Path(str(value))
    return path if path.is_absolute() else (root / path)


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[arg-type]


def _schedule(raw: Mapping[str, Any]) -> Schedule:
    return Schedule(
        name=str(raw["name"]),
        expression=str(raw["expression"]),
        input=None if raw.get("input") is None else str(raw["input"]),
        enabled=bool(raw.get("enabled", True)),
    )


def _function(name: str, raw: Mapping[str, Any], root: Path) -> FunctionConfig:
    image = raw.get("package_type") == "Image"  # an image's CMD is its handler
    missing = [key for key in (("code_dir",) if image else ("handler", "code_dir")) if not raw.get(key)]
    if missing:
        raise ValueError(f"function {name} has no {' or '.join(missing)}")
    url = raw.get("function_url")
    code_dir = _path(root, raw["code_dir"])
    assert code_dir is not None
    return FunctionConfig(
        name=name,
        logical_id=str(raw.get("logical_id", name)),
        handler=str(raw.get("handler") or ""),
        runtime=str(raw.get("runtime", "python3.11")),
        architecture=str(raw.get("architecture", "x86_64")),
        timeout=int(raw.get("timeout", 3)),
        memory_size=int(raw.get("memory_size", 128)),
        reserved_concurrency=_int_or_none(raw.get("reserved_concurrency")),
        environment=tuple(sorted((str(k), str(v)) for k, v in (raw.get("environment") or {}).items())),
        layers=tuple(str(x) for x in raw.get("layers") or ()),
        code_dir=code_dir,
        deps_dir=_path(root, raw.get("deps_dir")),
        layer_dirs=tuple(p for p in (_path(root, x) for x in raw.get("layer_dirs") or ()) if p),
        manifest=_path(root, raw.get("manifest")),
        config_hash=str(raw.get("config_hash", "")),
        schedules=tuple(_schedule(s) for s in raw.get("schedules") or ()),
        function_url=None if not url else FunctionUrlConfig(str(url.get("auth_type") or "NONE").upper(),
                                                            parse_cors(url.get("cors"))),
        runtime_dir=_path(root, raw.get("runtime_dir")),
        package_type="Image" if image else "Zip",
        image_config=_image_config(raw.get("image_config")) if image else None,
    )


def _image_config(raw: Mapping[str, Any] | None) -> ImageConfig:
    raw = raw or {}
    workdir = raw.get("working_directory")
    return ImageConfig(command=tuple(str(x) for x in raw.get("command") or ()),
                       entry_point=tuple(str(x) for x in raw.get("entry_point") or ()),
                       working_directory=None if workdir in (None, "") else str(workdir))


def functions_from_document(data: Mapping[str, Any], root: Path) -> FunctionsConfig:
    """The typed view of a functions.yml document as loaded from YAML (KeyError/ValueError/... when malformed)."""
    functions = {
        str(name): _function(str(name), raw, root) for name, raw in sorted((data.get("functions") or {}).items())
    }
    return FunctionsConfig(
        project=str(data.get("project") or ""),
        region=str(data.get("region") or "us-east-1"),
        account_id=str(data.get("account_id") or "000000000000"),
        functions=functions,
        event_sources=tuple(_event_source(raw) for raw in data.get("event_sources") or ()),
    )


def _event_source(raw: Mapping[str, Any]) -> EventSource:
    return EventSource(function=str(raw["function"]), name=str(raw["name"]), kind=str(raw["kind"]),
                       source=str(raw.get("source") or ""), enabled=bool(raw.get("enabled", True)),
                       options=json.dumps(raw.get("options") or {}, sort_keys=True),
                       async_config=json.dumps(raw.get("async") or {}, sort_keys=True))


def parse_functions(text: str, root: Path, where: str = "functions.yml") -> FunctionsConfig:
    """Parse functions.yml text; relative paths are taken relative to `root` (the output tree)."""
    try:
        return functions_from_document(yaml.load(text, Loader=_Loader) or {}, root)
    except yaml.YAMLError as exc:
        raise FunctionsConfigError(f"{where}: not valid YAML: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FunctionsConfigError(f"{where}: malformed function entry: {exc}") from exc


def load_functions(path: Path, root: Path | None = None) -> FunctionsConfig:
    """Read functions.yml; `root` defaults to the output tree containing config/functions.yml."""
    base = root if root is not None else path.resolve().parent.parent
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FunctionsConfigError(f"{path}: cannot read ({exc.strerror}); run `esb build` first") from exc
    return parse_functions(text, base, where=str(path))
