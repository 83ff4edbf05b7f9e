"""PackageType: Image functions: the build Metadata (Dockerfile, DockerContext, DockerTag) and ImageConfig."""

from __future__ import annotations

from typing import Any

from esb.model import ImageSource
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar

Path = tuple[str, ...]


def _strings(ctx: LoadContext, value: Any, path: Path, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(is_scalar(v) for v in value):
        ctx.fail(path, f"{what} must be a list of strings", f'e.g. {what.split(".")[-1]}: ["app.handler"]')
    return tuple(cfn_str(v) for v in value)


def build_image_source(ctx: LoadContext, logical_id: str, props: dict[str, Any],
                       metadata: dict[str, Any] | None) -> ImageSource:
    """The image recipe of a PackageType: Image function; sam build's Metadata is required (no registry here)."""
    where = ("Resources", logical_id, "Metadata")
    if not isinstance(metadata, dict) or "DockerContext" not in metadata:
        ctx.fail(where, f"image function {logical_id} has no Metadata.DockerContext",
                 "add Metadata: {Dockerfile: Dockerfile, DockerContext: ./src, DockerTag: v1} (images are built locally)")
    context = (ctx.base_dir / cfn_str(metadata["DockerContext"])).resolve()
    if not context.is_dir():
        ctx.fail((*where, "DockerContext"), f"DockerContext directory '{cfn_str(metadata['DockerContext'])}' "
                 f"of {logical_id} does not exist", f"create {context} or fix DockerContext")
    dockerfile = cfn_str(metadata.get("Dockerfile", "Dockerfile"))
    if not (context / dockerfile).is_file():
        ctx.fail((*where, "Dockerfile"), f"Dockerfile '{dockerfile}' of {logical_id} is not in {context}",
                 "Metadata.Dockerfile is relative to DockerContext")
    args = metadata.get("DockerBuildArgs") or {}
    if not isinstance(args, dict) or not all(is_scalar(v) for v in args.values()):
        ctx.fail((*where, "DockerBuildArgs"), "DockerBuildArgs must be a mapping of strings")
    for key in metadata:
        if key not in ("Dockerfile", "DockerContext", "DockerTag", "DockerBuildArgs", "DockerBuildTarget"):
            ctx.warn(logical_id, f"Metadata.{key}", "not supported, ignored")
    config = props.get("ImageConfig") or {}
    path = ("Resources", logical_id, "Properties", "ImageConfig")
    if not isinstance(config, dict):
        ctx.fail(path, "ImageConfig must be a mapping (Command, EntryPoint, WorkingDirectory)")
    workdir = config.get("WorkingDirectory")
    return ImageSource(
        context=context,
        dockerfile=dockerfile,
        tag=cfn_str(metadata.get("DockerTag", "latest")),
        build_args=tuple(sorted((str(k), cfn_str(v)) for k, v in args.items())),
        command=_strings(ctx, config.get("Command"), (*path, "Command"), "ImageConfig.Command"),
        entry_point=_strings(ctx, config.get("EntryPoint"), (*path, "EntryPoint"), "ImageConfig.EntryPoint"),
        working_directory=None if workdir is None else cfn_str(workdir),
    )
