"""What a function's build reads: its code, its layers' content, its requirements (pure look-ups, no writes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from esb.errors import BuildError
from esb.model import Function
from esb.build.writer import list_files

if TYPE_CHECKING:
    from esb.build.context import BuildContext


PACKAGE_FILES = ("package.json", "package-lock.json")  # a Node.js function's dependencies


def package_inputs(fn: Function) -> list[Path]:
    return [fn.code_uri / name for name in PACKAGE_FILES if (fn.code_uri / name).is_file()]


def requirements_file(fn: Function) -> Path:
    return fn.code_uri / "requirements.txt"


def vendor_dir(fn: Function) -> Path:
    return fn.code_uri / "vendor"


def source_files(ctx: BuildContext, fn: Function) -> list[str]:
    if not fn.code_uri.is_dir():
        raise BuildError(f"CodeUri is not a directory: {fn.code_uri}", where=f"{fn.logical_id}.CodeUri")
    exclude = [ctx.tree.root]
    if package_inputs(fn):
        exclude.append(fn.code_uri / "node_modules")  # a local `npm install`; deps/ gets the clean one
    return list_files(fn.code_uri, exclude=exclude)


def layer_files(ctx: BuildContext, fn: Function) -> dict[str, tuple[Path, list[str]]]:
    """Layer name -> (content dir, its files), in the function's layer order."""
    out: dict[str, tuple[Path, list[str]]] = {}
    for layer_id in fn.layers:
        layer = ctx.app.layer(layer_id)
        if not layer.content_uri.is_dir():
            raise BuildError(f"ContentUri is not a directory: {layer.content_uri}", where=f"{layer_id}.ContentUri")
        out[layer.name] = (layer.content_uri, list_files(layer.content_uri, exclude=[ctx.tree.root]))
    return out
