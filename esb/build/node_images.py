"""The offline docker base image for Node.js functions: Debian trixie's Node.js + the cached runtime environment."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from esb.errors import BuildError
from esb.build.images import (ENTRYPOINT_TEMPLATE, BaseImage, build_base, default_rie, docker_templates,
                              ensure_rootfs_image, entrypoint_settings, rootfs_key, run_command, write_entrypoint)
from esb.build.node_runtime import NodeRuntime, ensure_node_runtime
from esb.paths import P
from esb.seams import CommandRunner
from esb_runtime.digest import sha256_file

if TYPE_CHECKING:
    import docker

SUITE = "trixie"
PACKAGES = ("nodejs", "ca-certificates")
SUITE_NODE_MAJOR = 20  # Debian trixie's nodejs; the cached aws-lambda-ric addon must match its ABI
BASE_REPO = "esb/base-nodejs"
BOOTSTRAP = "/var/runtime/esb_runtime/sandbox/bootstrap.mjs"
SANDBOX_FILES = ("bootstrap.mjs", "node_resolve.mjs")
_TEMPLATES = ("node-base.Dockerfile.j2", ENTRYPOINT_TEMPLATE)


def alias(major: int) -> str:
    """The stable name a function Dockerfile uses in FROM (images.base_nodejs)."""
    return f"{BASE_REPO}:{major}"


@dataclass(frozen=True)
class NodeBaseRecipe:
    """Every input of the Node.js base image; its digest names the image."""

    major: int
    rie: Path
    runtime: NodeRuntime
    sandbox_dir: Path  # runtime/esb_runtime/sandbox

    def digest(self) -> str:
        parts = [f"node={self.major}", f"rootfs={rootfs_key(SUITE, PACKAGES)}", f"rie={sha256_file(self.rie)}",
                 f"runtime={self.runtime.key}", entrypoint_settings()]
        parts += [f"template:{name}={sha256_file(P.templates / 'docker' / name)}" for name in _TEMPLATES]
        parts += [f"sandbox:{name}={sha256_file(self.sandbox_dir / name)}" for name in SANDBOX_FILES]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def tag(self) -> str:
        return f"{BASE_REPO}:{self.major}-{self.digest()[:12]}"


def node_base_recipe(cache: Path, major: int, rie_path: Path | None = None,
                     sandbox_dir: Path = P.runtime_pkg / "sandbox") -> NodeBaseRecipe:
    if major != SUITE_NODE_MAJOR:
        raise BuildError(f"the docker base image for Node.js has Debian {SUITE}'s Node {SUITE_NODE_MAJOR}, but this "
                         f"host's node is {major} (the runtime's native addon is built with it)",
                         hint=f"build on a host with Node {SUITE_NODE_MAJOR}, or use --engine process")
    return NodeBaseRecipe(major=major, rie=rie_path or default_rie(cache), runtime=ensure_node_runtime(cache, major),
                          sandbox_dir=sandbox_dir)


def _write_context(ctx: Path, recipe: NodeBaseRecipe, rootfs_image: str) -> None:
    env = docker_templates()
    values = {"suite": SUITE, "major": recipe.major, "rootfs_image": rootfs_image, "bootstrap": BOOTSTRAP}
    (ctx / "Dockerfile").write_text(env.get_template("node-base.Dockerfile.j2").render(values))
    write_entrypoint(ctx, f"/usr/bin/node {BOOTSTRAP}", "index.handler")
    shutil.copyfile(recipe.rie, ctx / "aws-lambda-rie")
    (ctx / "aws-lambda-rie").chmod(0o755)
    shutil.copytree(recipe.runtime.path / "node_modules", ctx / "node_modules", symlinks=True)
    sandbox = ctx / "runtime" / "esb_runtime" / "sandbox"
    sandbox.mkdir(parents=True)
    for name in SANDBOX_FILES:
        shutil.copyfile(recipe.sandbox_dir / name, sandbox / name)


def ensure_node_base_image(client: docker.DockerClient, cache: Path, major: int, rie_path: Path | None = None,
                           run: CommandRunner = run_command, no_cache: bool = False) -> BaseImage:
    """Build the Node.js base unless one with the same recipe digest exists; tag it esb/base-nodejs:<major> too."""
    recipe = node_base_recipe(cache, major, rie_path)

    def write(ctx: Path) -> None:
        _write_context(ctx, recipe, ensure_rootfs_image(client, cache, run, SUITE, PACKAGES))

    return build_base(client, recipe.tag(), recipe.digest(), alias(major), write, no_cache)
