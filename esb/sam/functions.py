"""AWS::Serverless::Function and AWS::Serverless::LayerVersion → model Function and Layer."""

from __future__ import annotations

import json

from pathlib import Path as FsPath
from typing import Any

from esb.model import Api, Function, FunctionUrl, Layer
from esb.paths import cache_dir
from esb.sam.code_archive import unpacked
from esb.sam.context import LoadContext
from esb.sam.cors import list_cors
from esb.sam.auth import AuthReader
from esb.sam.events import build_events
from esb.sam.images import build_image_source
from esb.sam.limits import MEMORY_MB, TIMEOUT_S, range_problem, reserved_concurrency_problem
from esb.sam.scalars import cfn_str, is_scalar, to_int

Path = tuple[str, ...]
ARCHITECTURES = ("x86_64", "arm64")
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
SUPPORTED_HINT = "python3.x, " + ", ".join(NODE_RUNTIMES)


def runtime_supported(runtime: str) -> bool:
    return runtime.startswith("python3") or runtime in NODE_RUNTIMES

_HANDLED = frozenset({
    "FunctionName", "CodeUri", "Handler", "Runtime", "Timeout", "MemorySize", "Architectures",
    "Environment", "Layers", "ReservedConcurrentExecutions", "FunctionUrlConfig", "Events", "PackageType",
    "EventInvokeConfig", "DeadLetterQueue",
})
# Read for PackageType: Image (ImageUri names a registry image; the box builds from Metadata instead).
_IMAGE_ONLY = frozenset({"ImageConfig", "ImageUri"})
# Accepted without a word: they matter in AWS (IAM, networking, deployment) but not in a local box.
_QUIET = frozenset({
    "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties", "AutoPublishCodeSha256",
    "CodeSigningConfigArn", "DeploymentPreference", "Description", "EphemeralStorage",
    "FileSystemConfigs", "KmsKeyArn", "LoggingConfig", "PermissionsBoundary", "Policies",
    "PropagateTags", "ProvisionedConcurrencyConfig", "RecursiveLoop", "Role", "RolePath",
    "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "Tracing", "VersionDescription",
    "VpcConfig",
})


def code_dir(ctx: LoadContext, value: Any, path: Path, owner: str, prop: str) -> FsPath:
    """An existing local directory, or a .zip archive unpacked into the cache, relative to the template's directory."""
    if not is_scalar(value) or cfn_str(value) == "":
        ctx.fail(path, f"{prop} must be a local directory path", f"S3 locations are not supported; set {prop}: src/")
    text = cfn_str(value)
    directory = (ctx.base_dir / text).resolve()
    relative = (ctx.base_dir / text.lstrip("/")).resolve()
    if text.startswith("/") and not directory.exists() and relative.exists():
        # The seed's templates write `/functions/x/` meaning "under the template's directory".
        ctx.warn(owner, prop, f"'{text}' is absolute and does not exist; read as template-relative "
                              f"'{text.lstrip('/')}' (write it without the leading slash)")
        directory = relative
    if directory.is_file() and directory.suffix.lower() == ".zip":
        return unpacked(directory, cache_dir() / "code")
    if not directory.is_dir():
        ctx.fail(
            path, f"{prop} directory '{cfn_str(value)}' of {owner} does not exist",
            f"create {directory} or fix {prop}",
        )
    return directory


def build_layer(ctx: LoadContext, logical_id: str, name: str, props: dict[str, Any]) -> Layer:
    path = ("Resources", logical_id, "Properties")
    for key in props:
        if key not in ("ContentUri", "LayerName", "CompatibleRuntimes", "CompatibleArchitectures",
                       "Description", "LicenseInfo", "RetentionPolicy", "PublishLambdaVersion"):
            ctx.warn(logical_id, key, "not supported, ignored")
    if "ContentUri" not in props:
        ctx.fail(path, f"LayerVersion {logical_id} has no ContentUri", "set ContentUri to the layer's directory")
    runtimes = props.get("CompatibleRuntimes") or []
    if not isinstance(runtimes, list) or not all(is_scalar(r) for r in runtimes):
        ctx.fail((*path, "CompatibleRuntimes"), "CompatibleRuntimes must be a list of runtime names")
    return Layer(
        logical_id=logical_id,
        name=name,
        content_uri=code_dir(ctx, props["ContentUri"], (*path, "ContentUri"), logical_id, "ContentUri"),
        compatible_runtimes=tuple(sorted({cfn_str(r) for r in runtimes})),
    )


def build_function(
    ctx: LoadContext,
    logical_id: str,
    name: str,
    props: dict[str, Any],
    apis: dict[str, Api],
    layer_ids: dict[str, str],
    metadata: dict[str, Any] | None = None,
    auth: AuthReader | None = None,
) -> Function:
    """One Function from resolved, globals-merged properties; layer_ids maps layer ARN → logical id;
    `metadata` is the resource's Metadata (how sam build builds an image function)."""
    path = ("Resources", logical_id, "Properties")
    package_type = cfn_str(props.get("PackageType", "Zip"))
    if package_type not in ("Zip", "Image"):
        ctx.fail((*path, "PackageType"), f"PackageType must be Zip or Image, got '{package_type}'")
    for key in props:
        if key in _IMAGE_ONLY and package_type == "Zip":
            ctx.warn(logical_id, key, "only for PackageType: Image, ignored")
        elif key not in _HANDLED and key not in _QUIET and key not in _IMAGE_ONLY:
            ctx.warn(logical_id, key, "not supported, ignored")
    image = None
    if package_type == "Image":
        # Handler and Runtime belong to the image (its CMD and base); Globals may still carry them: ignored.
        image = build_image_source(ctx, logical_id, props, metadata)
        handler, runtime, code_uri = "", "", image.context
        if props.get("Layers"):
            ctx.warn(logical_id, "Layers", "an image function has no layers (put them in the image), ignored")
            props = {k: v for k, v in props.items() if k != "Layers"}
    else:
        handler = _required_text(ctx, props, "Handler", path, "e.g. Handler: app.handler (or set it in Globals)")
        runtime = _required_text(ctx, props, "Runtime", path, "e.g. Runtime: python3.12 (or set it in Globals)")
        if not runtime_supported(runtime):
            ctx.warn(logical_id, "Runtime", f"runtime {runtime} is not supported ({SUPPORTED_HINT}); it will not run")
        if "CodeUri" not in props:
            # SAM requires it for Zip functions; defaulting to the project root would stage everything, .env included.
            ctx.fail(path, f"{logical_id} has no CodeUri", "set CodeUri to the function's directory, e.g. CodeUri: src/")
        code_uri = code_dir(ctx, props["CodeUri"], (*path, "CodeUri"), logical_id, "CodeUri")
    reserved = _int(ctx, props, "ReservedConcurrentExecutions", path, None)
    if reserved is not None:
        _check(ctx, (*path, "ReservedConcurrentExecutions"), reserved_concurrency_problem(reserved))
    return Function(
        logical_id=logical_id,
        name=name,
        code_uri=code_uri,
        handler=handler,
        runtime=runtime,
        timeout=_bounded(ctx, props, "Timeout", path, 3, TIMEOUT_S),
        memory_size=_bounded(ctx, props, "MemorySize", path, 128, MEMORY_MB),
        architecture=_architecture(ctx, props.get("Architectures"), (*path, "Architectures")),
        environment=_environment(ctx, props.get("Environment"), (*path, "Environment")),
        layers=_layers(ctx, logical_id, props.get("Layers"), (*path, "Layers"), layer_ids),
        reserved_concurrency=reserved,
        events=build_events(ctx, logical_id, props.get("Events"), apis, auth),
        function_url=_function_url(ctx, props.get("FunctionUrlConfig"), (*path, "FunctionUrlConfig")),
        image=image,
        async_config=_async_config(props),
    )


def _async_config(props: dict) -> str | None:
    """EventInvokeConfig and DeadLetterQueue (asynchronous invocations' retries and destinations), as JSON."""
    config = {key: props[key] for key in ("EventInvokeConfig", "DeadLetterQueue") if props.get(key)}
    return json.dumps(config, sort_keys=True, default=str) if config else None


def _required_text(ctx: LoadContext, props: dict, key: str, path: Path, hint: str) -> str:
    value = props.get(key)
    if not is_scalar(value) or cfn_str(value) == "":
        ctx.fail((*path, key), f"{key} is required", hint)
    return cfn_str(value)


def _int(ctx: LoadContext, props: dict, key: str, path: Path, default: int | None) -> int | None:
    if key not in props:
        return default
    try:
        return to_int(props[key])
    except ValueError:
        ctx.fail((*path, key), f"{key} must be a whole number, got '{props[key]}'")


def _bounded(ctx: LoadContext, props: dict, key: str, path: Path, default: int, bounds: tuple[int, int]) -> int:
    value = _int(ctx, props, key, path, default)
    assert value is not None  # a default is given
    _check(ctx, (*path, key), range_problem(key, value, bounds))
    return value


def _check(ctx: LoadContext, path: Path, problem: str | None) -> None:
    if problem is not None:
        ctx.fail(path, problem, "see Lambda's documented limits")


def _architecture(ctx: LoadContext, value: Any, path: Path) -> str:
    if value is None:
        return "x86_64"
    if not isinstance(value, list) or len(value) != 1 or cfn_str(value[0]) not in ARCHITECTURES:
        ctx.fail(path, "Architectures must be [x86_64] or [arm64]")
    return cfn_str(value[0])


def _environment(ctx: LoadContext, value: Any, path: Path) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        ctx.fail(path, "Environment must be a mapping with Variables")
    variables = value.get("Variables") or {}
    if not isinstance(variables, dict):
        ctx.fail((*path, "Variables"), "Environment.Variables must be a mapping")
    result = []
    for key, item in variables.items():
        if not is_scalar(item):
            ctx.fail((*path, "Variables", key), f"environment variable {key} must be a string, not a list or mapping")
        result.append((str(key), cfn_str(item)))
    return tuple(sorted(result))


def _layers(ctx: LoadContext, owner: str, value: Any, path: Path, layer_ids: dict[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ctx.fail(path, "Layers must be a list")
    result: list[str] = []
    for item in value:
        if not is_scalar(item):
            ctx.fail(path, "each layer must be a layer ARN or !Ref of a LayerVersion")
        ref = cfn_str(item)
        if ref in layer_ids:
            if layer_ids[ref] not in result:
                result.append(layer_ids[ref])
        else:
            ctx.warn(owner, "Layers", f"layer {ref} is not a LayerVersion in this template, ignored")
    return tuple(result)


def _function_url(ctx: LoadContext, value: Any, path: Path) -> FunctionUrl | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.fail(path, "FunctionUrlConfig must be a mapping with AuthType")
    auth_type = cfn_str(value.get("AuthType", "")).upper()
    if auth_type not in ("NONE", "AWS_IAM"):
        ctx.fail((*path, "AuthType"), "FunctionUrlConfig.AuthType must be NONE or AWS_IAM")
    return FunctionUrl(auth_type=auth_type, cors=list_cors(ctx, value.get("Cors"), (*path, "Cors")))
