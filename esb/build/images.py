"""Offline docker images: a debootstrap-built Lambda python base image and content-hashed function images."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from esb.errors import BuildError
from esb.paths import P
from esb_runtime.digest import sha256_file as _sha256_file
from esb_runtime.contract import BUILD_MANIFEST, IMAGE_RECORD, RIE_GO_ENV
from esb.seams import CommandRunner

if TYPE_CHECKING:
    import docker
    import jinja2

PYTHON_VERSION = "3.11"
SUITE = "bookworm"
# The Debian suite whose own python3 is each version: base images per runtime version, built offline.
PYTHON_SUITES = {"3.11": "bookworm", "3.13": "trixie"}
ROOTFS_PACKAGES = ("python3", "ca-certificates")
RIC_REQUIREMENT = "awslambdaric==4.2.2"
# AWS's Lambda python images ship the SDK; handlers `import boto3` without vendoring it.
SDK_REQUIREMENT = "boto3==1.44.8"
SANDBOX_REQUIREMENTS = (RIC_REQUIREMENT, SDK_REQUIREMENT)
WHEEL_PLATFORM = "manylinux2014_x86_64"
BASE_REPO = "esb/base-python"
BASE_ALIAS = f"{BASE_REPO}:{PYTHON_VERSION}"  # stable name a function Dockerfile can use in FROM
ROOTFS_REPO = "esb/rootfs"
RECIPE_LABEL = "esb.recipe-hash"
CONTEXT_LABEL = "esb.context-hash"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Docs, manuals and apt lists are dead weight in a sandbox image.
ROOTFS_EXCLUDES = ("./usr/share/doc/*", "./usr/share/man/*", "./usr/share/info/*", "./usr/share/locale/*",
                   "./var/cache/apt/*", "./var/lib/apt/lists/*", "./dev/*", "./proc/*", "./sys/*")
ENTRYPOINT_TEMPLATE = "lambda-entrypoint.sh.j2"  # python and node base images alike
_TEMPLATES = ("base.Dockerfile.j2", ENTRYPOINT_TEMPLATE)



def run_command(argv: Sequence[str]) -> None:
    """Default subprocess seam: run, capture output, raise BuildError with its tail on failure."""
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BuildError(f"{argv[0]} failed (exit {proc.returncode}): {' | '.join(tail)}", where=" ".join(argv[:3]))


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """The one place docker SDK and transport errors become BuildError."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except docker.errors.BuildError as exc:
        lines = [str(c.get("stream") or c.get("error") or "").strip() for c in exc.build_log]
        tail = " | ".join([line for line in lines if line][-4:])
        raise BuildError(f"{what}: {exc.msg}", hint=tail or None) from exc
    except docker.errors.APIError as exc:
        raise BuildError(f"{what}: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise BuildError(f"{what}: cannot talk to the docker daemon ({exc})",
                         hint="start one with .ci/docker-setup.sh or use --engine process") from exc


def docker_templates() -> jinja2.Environment:
    import jinja2  # here: only image builds render these, and `esb up` with nothing to build skips the import

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(P.templates / "docker")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def apt_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = SUITE) -> str:
    """The Debian mirror apt is configured with (deb822 or one-line form) for `suite`, else the one for
    bookworm (a Debian mirror serves every suite), else deb.debian.org."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for wanted in dict.fromkeys((suite, SUITE)):
        for path in files:
            text = path.read_text(errors="replace") if path.is_file() else ""
            for uri, suites in re.findall(r"^URIs:\s*(\S+)\s*\nSuites:\s*([^\n]+)", text, re.M):
                if wanted in suites.split():
                    return uri
            for uri, found in re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
                if found == wanted:
                    return uri
    return DEFAULT_MIRROR


def rootfs_key(suite: str = SUITE, packages: tuple[str, ...] = ROOTFS_PACKAGES) -> str:
    text = f"{suite}|minbase|{','.join(packages)}|{','.join(ROOTFS_EXCLUDES)}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ensure_rootfs(cache: Path, mirror: str, run: CommandRunner = run_command, suite: str = SUITE,
                  packages: tuple[str, ...] = ROOTFS_PACKAGES) -> Path:
    """The cached rootfs tarball; debootstraps it (as root, ~50 s) only when missing."""
    tarball = cache / "images" / f"rootfs-{suite}-{rootfs_key(suite, packages)}.tar"
    if tarball.is_file():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=tarball.parent))
    try:
        run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
             suite, str(work / "root"), mirror])
        partial = tarball.with_suffix(".tar.part")
        excludes = [f"--exclude={pattern}" for pattern in ROOTFS_EXCLUDES]
        run(["tar", "-C", str(work / "root"), "--numeric-owner", *excludes, "-cf", str(partial), "."])
        partial.replace(tarball)  # atomic: a half-written tarball is never mistaken for a cached one
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def closest_version(want: str, available: Sequence[str]) -> str:
    """The "3.N" of `available` nearest to `want`; on a tie the newer (3.12 code runs on 3.13 more often than 3.11)."""
    def minor(version: str) -> int:
        return int(version.split(".")[1])

    return min(available, key=lambda v: (abs(minor(v) - minor(want)), -minor(v)))


def base_python(version: str) -> tuple[str, str | None]:
    """The base image Python that runs python`version` functions in docker, and a warning when it is not that one."""
    if version in PYTHON_SUITES:
        return version, None
    closest = closest_version(version, list(PYTHON_SUITES))
    return closest, (f"python{version} functions run on Python {closest} in docker: Debian has no python{version}, "
                     f"and {PYTHON_SUITES[closest]}'s python{closest} is the closest offline base image")


def wheels_key(python_version: str = PYTHON_VERSION, requirements: Sequence[str] = SANDBOX_REQUIREMENTS) -> str:
    wanted = "|".join(requirements)
    return hashlib.sha256(f"{wanted}|{WHEEL_PLATFORM}|{python_version}".encode()).hexdigest()[:12]


def ensure_wheels(cache: Path, run: CommandRunner = run_command, python_version: str = PYTHON_VERSION,
                  requirements: Sequence[str] = SANDBOX_REQUIREMENTS, kind: str = "ric") -> tuple[Path, ...]:
    """awslambdaric, boto3 and their deps (or other `requirements`) as manylinux wheels for CPython
    `python_version`, downloaded once."""
    folder = cache / "wheels" / f"{kind}-{wheels_key(python_version, requirements)}"
    done = folder / "complete"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
             "--only-binary=:all:", "--platform", WHEEL_PLATFORM, "--python-version", python_version,
             "--implementation", "cp", "-d", str(folder), *requirements])
        done.write_text("\n".join(requirements) + "\n")
    return tuple(sorted(folder.glob("*.whl")))


def install_wheels(wheels: Path, target: Path, run: CommandRunner = run_command,
                   python_version: str = PYTHON_VERSION, requirements: Sequence[str] = SANDBOX_REQUIREMENTS) -> None:
    """The sandbox packages from the downloaded wheels only (no index: offline) into `target`, for CPython
    `python_version` whatever the interpreter running pip."""
    run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-index",
         "--find-links", str(wheels), "--only-binary=:all:", "--platform", WHEEL_PLATFORM,
         "--python-version", python_version, "--implementation", "cp", "--no-compile",
         "--target", str(target), *requirements])


def compile_site(python: str, site: Path, run: CommandRunner = run_command) -> None:
    """botocore imports in ~1 s without bytecode: compile once at build, not in every cold start.
    unchecked-hash pycs do not depend on file mtimes, so the same inputs give the same bytes."""
    run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)])


def _runtime_files(runtime_pkg: Path) -> tuple[tuple[str, Path], ...]:
    """The runtime code sandboxes need: the esb_runtime package marker and its sandbox package only,
    so gateway or manager edits do not rebuild the base (and with it every function image)."""
    if not (runtime_pkg / "sandbox" / "bootstrap.py").is_file():
        return ()
    picked = [runtime_pkg / "__init__.py", *(runtime_pkg / "sandbox").rglob("*.py")]
    return tuple(sorted((f"esb_runtime/{p.relative_to(runtime_pkg).as_posix()}", p) for p in picked))


@dataclass(frozen=True)
class BaseRecipe:
    """Every input of the base image; its digest names the image."""

    rie: Path
    wheels: tuple[Path, ...]
    runtime_files: tuple[tuple[str, Path], ...]
    python_version: str = PYTHON_VERSION  # a key of PYTHON_SUITES

    @property
    def suite(self) -> str:
        return PYTHON_SUITES[self.python_version]

    @property
    def runtime_module(self) -> str:
        return "esb_runtime.sandbox.bootstrap" if self.runtime_files else "awslambdaric"

    def digest(self) -> str:
        parts = [f"python={self.python_version}", f"rootfs={rootfs_key(self.suite)}", f"rie={_sha256_file(self.rie)}"]
        parts += [f"template:{name}={hashlib.sha256((P.templates / 'docker' / name).read_bytes()).hexdigest()}"
                  for name in _TEMPLATES]
        parts += [entrypoint_settings(), *(f"wheel:{w.name}={_sha256_file(w)}" for w in self.wheels)]
        parts += [f"runtime:{rel}={_sha256_file(src)}" for rel, src in self.runtime_files]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def tag(self) -> str:
        return f"{BASE_REPO}:{self.python_version}-{self.digest()[:12]}"


def default_rie(cache: Path) -> Path:
    try:
        from esb.build.rie import ensure_rie  # written by the RIE owner; fetches + verifies the binary
    except ImportError as exc:
        raise BuildError("the RIE fetcher (esb.build.rie) is not available", hint="pass rie_path") from exc
    return Path(ensure_rie(cache))


def base_recipe(cache: Path, rie_path: Path | None = None, runtime_pkg: Path = P.runtime_pkg,
                run: CommandRunner = run_command, python_version: str = PYTHON_VERSION) -> BaseRecipe:
    rie = rie_path or default_rie(cache)
    return BaseRecipe(rie=rie, wheels=ensure_wheels(cache, run, python_version),
                      runtime_files=_runtime_files(runtime_pkg), python_version=python_version)


def image_exists(client: docker.DockerClient, tag: str) -> str | None:
    """The image id behind a tag, or None."""
    import docker.errors

    with docker_errors(f"inspect image {tag}"):
        try:
            return client.images.get(tag).id
        except docker.errors.ImageNotFound:
            return None


def ensure_rootfs_image(client: docker.DockerClient, cache: Path, run: CommandRunner, suite: str = SUITE,
                        packages: tuple[str, ...] = ROOTFS_PACKAGES) -> str:
    """A docker image of the debootstrapped rootfs (`esb/rootfs:<suite>-<key>`), imported once."""
    tag = f"{ROOTFS_REPO}:{suite}-{rootfs_key(suite, packages)}"
    if image_exists(client, tag) is None:
        tarball = ensure_rootfs(cache, apt_mirror(suite=suite), run, suite, packages)
        repo, _, version = tag.partition(":")
        with docker_errors(f"import rootfs {tarball.name}"):
            client.api.import_image_from_file(str(tarball), repository=repo, tag=version)
    return tag


def host_python(version: str) -> str | None:
    """An interpreter of `version` on this host (to compile bytecode for an image), or None."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    return shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")


def entrypoint_settings() -> str:
    """A base image key's part for what its rendered entrypoint takes from code rather than from its template."""
    return f"rie-go={sorted(RIE_GO_ENV.items())}"


def write_entrypoint(ctx: Path, runtime_command: str, example_handler: str) -> None:
    """The base image's /lambda-entrypoint.sh, starting `runtime_command` under the RIE (python and node alike)."""
    text = docker_templates().get_template(ENTRYPOINT_TEMPLATE).render(
        runtime_command=runtime_command, example_handler=example_handler, rie_gomaxprocs=RIE_GO_ENV["GOMAXPROCS"])
    entry = ctx / "lambda-entrypoint.sh"
    entry.write_text(text)
    entry.chmod(0o755)  # COPY keeps context modes, so no RUN chmod (and no container) during the build


def _write_context(ctx: Path, recipe: BaseRecipe, rootfs_image: str, run: CommandRunner) -> None:
    env = docker_templates()
    values = {"suite": recipe.suite, "python_version": recipe.python_version, "rootfs_image": rootfs_image,
              "runtime_module": recipe.runtime_module}
    (ctx / "Dockerfile").write_text(env.get_template("base.Dockerfile.j2").render(values))
    write_entrypoint(ctx, f"/usr/bin/python3 -m {recipe.runtime_module}", "app.handler")
    shutil.copyfile(recipe.rie, ctx / "aws-lambda-rie")
    (ctx / "aws-lambda-rie").chmod(0o755)
    # Installed on the host: containers cannot reach PyPI, and the image carries no pip.
    install_wheels(recipe.wheels[0].parent, ctx / "site", run, python_version=recipe.python_version)
    compiler = host_python(recipe.python_version)
    if compiler is not None:  # bytecode is per version: compiled only where the host has that one
        compile_site(compiler, ctx / "site", run)
    (ctx / "runtime").mkdir()
    for rel, src in recipe.runtime_files:
        (ctx / "runtime" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, ctx / "runtime" / rel)


@dataclass(frozen=True)
class BaseImage:
    tag: str
    id: str
    built: bool  # False when an image with this recipe already existed


def ensure_base_image(client: docker.DockerClient, cache: Path, rie_path: Path | None = None,
                      runtime_pkg: Path = P.runtime_pkg, run: CommandRunner = run_command,
                      no_cache: bool = False, python_version: str = PYTHON_VERSION) -> BaseImage:
    """Build the base image of one Python (Debian's own, from PYTHON_SUITES) unless one with the same recipe
    digest exists; tag it `esb/base-python:<version>` too."""
    recipe = base_recipe(cache, rie_path, runtime_pkg, run, python_version)

    def write(ctx: Path) -> None:
        _write_context(ctx, recipe, ensure_rootfs_image(client, cache, run, recipe.suite), run)

    return build_base(client, recipe.tag(), recipe.digest(), f"{BASE_REPO}:{python_version}", write, no_cache)


def build_base(client: docker.DockerClient, tag: str, digest: str, alias: str, write_context: Callable[[Path], None],
               no_cache: bool = False) -> BaseImage:
    """Build a base image from the context `write_context` fills, unless `tag` (named by its recipe digest)
    exists; either way tag it `alias`, the stable name function Dockerfiles use."""
    existing = None if no_cache else image_exists(client, tag)
    if existing is None:
        with tempfile.TemporaryDirectory(prefix="esb-base-") as tmp:
            write_context(Path(tmp))
            with docker_errors(f"build {tag}"):
                image, _ = client.images.build(path=tmp, tag=tag, rm=True, forcerm=True, pull=False,
                                               nocache=no_cache, labels={RECIPE_LABEL: digest})
        image_id = image.id
    else:
        image_id = existing
    tag_image(client, image_id, alias)
    return BaseImage(tag=tag, id=image_id, built=existing is None)


def tag_image(client: docker.DockerClient, image_id: str, name: str) -> None:
    """Give an image one more name (repo:tag); docker moves the name if another image had it."""
    repo, _, version = name.rpartition(":")
    with docker_errors(f"tag {name}"):
        client.api.tag(image_id, repo, version)


def docker_name(text: str) -> str:
    """Docker repository components: lower case, [a-z0-9._-], starting with an alphanumeric."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("._-")
    return cleaned or "x"


def context_hash(context_dir: Path, extra: str = "") -> str:
    """Content hash of a build context: relative paths, executable bits, bytes (and symlink targets)."""
    digest = hashlib.sha256(extra.encode())
    for root, dirs, files in os.walk(context_dir):
        dirs.sort()
        for name in sorted(files):
            if root == str(context_dir) and name in (IMAGE_RECORD, BUILD_MANIFEST):
                continue  # outputs and manifests beside the context, not inputs of the image
            path = Path(root) / name
            rel = path.relative_to(context_dir).as_posix()
            if path.is_symlink():
                body = f"link:{os.readlink(path)}"
            else:
                body = f"{os.access(path, os.X_OK)}:{_sha256_file(path)}"
            digest.update(f"{rel}\0{body}\n".encode())
    return digest.hexdigest()


def missing_bases(client: docker.DockerClient, dockerfile: Path) -> list[str]:
    """FROM images of a Dockerfile that are not local (stage names, `scratch` and build-arg forms are not images)."""
    text = dockerfile.read_text() if dockerfile.is_file() else ""
    stages = {m.lower() for m in re.findall(r"^\s*FROM\s+\S+(?:\s+\S+)*?\s+AS\s+(\S+)", text, re.M | re.I)}
    refs = [ref for ref in from_images(dockerfile) if ref.lower() not in stages and ref != "scratch" and "$" not in ref]
    return [ref for ref in refs if image_exists(client, ref) is None]


def from_images(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text() if dockerfile.is_file() else ""
    return re.findall(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.M | re.I)


def function_image_tag(project: str, function: str, context_dir: Path,
                       client: docker.DockerClient | None = None) -> str:
    """`esb/<project>/<function>:<hash>`; with a client, the FROM images' ids join the hash so a
    rebuilt base (same alias tag) gives new function tags."""
    bases = ""
    if client is not None:
        bases = ",".join(image_exists(client, ref) or ref for ref in from_images(context_dir / "Dockerfile"))
    return f"esb/{docker_name(project)}/{docker_name(function)}:{context_hash(context_dir, bases)[:16]}"


def build_function_image(client: docker.DockerClient, context_dir: Path, tag: str, no_cache: bool = False,
                         dockerfile: str = "Dockerfile", build_args: dict[str, str] | None = None) -> str:
    """Build a function image from its staged context; skipped when the tag already exists."""
    existing = image_exists(client, tag)
    if existing is not None and not no_cache:
        return existing
    # docker build pulls a missing FROM image whatever `pull` says: no registry is reachable, so say it here.
    missing = missing_bases(client, context_dir / dockerfile)
    if missing:
        raise BuildError(f"base image {missing[0]} is not on this machine (the box never pulls from a registry)",
                         where=str(context_dir / dockerfile),
                         hint="use a runtime whose base esb builds offline, `docker load` the image, or --engine process")
    with docker_errors(f"build {tag}"):
        image, _ = client.images.build(path=str(context_dir), tag=tag, rm=True, forcerm=True, pull=False,
                                       nocache=no_cache, labels={CONTEXT_LABEL: tag.rpartition(":")[2]},
                                       dockerfile=dockerfile, buildargs=build_args or None)
    if existing is not None and existing != image.id:
        _remove_quietly(client, existing)  # the forced rebuild moved the tag; drop the dangling image
    return image.id


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    import docker.errors

    try:
        if not client.images.get(image_id).tags:  # another tag may still name it: keep it then
            client.images.remove(image_id, noprune=False)
    except docker.errors.APIError:
        pass  # in use by a container: keep it
