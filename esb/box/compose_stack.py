"""The seed's compose stack: offline runtime images from the output tree, `docker-compose -p` up/down/config."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from esb.errors import BoxError, BuildError
from esb.model import SOURCE_KINDS, Application
from esb.build.images import PYTHON_VERSION, WHEEL_PLATFORM, docker_errors, run_command
from esb.paths import BuildTree
from esb.render.compose import LOCAL_LOGS, RUNTIME_PACKAGES, runtime_image
from esb.seams import CommandRunner

if TYPE_CHECKING:
    import docker

    from esb.project import Project
    from esb.build.context import BuildContext

Say = Callable[[str], None]
SITE = "site"  # <out>/site: the runtime images' packages, installed on the host
# Only these parts of the output tree go into the runtime images' build context.
DOCKERIGNORE = "*\n!site/\n!runtime/\n"
_EXTRAS = {"moto": "[server,s3,dynamodb]"}
# The images run Debian bookworm (glibc 2.36): any manylinux wheel up to that glibc fits.
PLATFORMS = (WHEEL_PLATFORM, *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)))


def runtime_requirements() -> tuple[str, ...]:
    """The runtime packages pinned to the versions this toolchain runs with (same code on the host and in images)."""
    out = []
    for name in RUNTIME_PACKAGES:
        try:
            out.append(f"{name}{_EXTRAS.get(name, '')}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as exc:
            raise BuildError(f"{name} is not installed here, so its version cannot be pinned",
                             hint="pip install -e . in the toolchain's environment") from exc
    return tuple(out)


def ensure_site(tree: BuildTree, cache: Path, run: CommandRunner = run_command) -> Path:
    """<out>/site with the runtime packages for cp311 manylinux (wheels downloaded once into the cache)."""
    wanted = runtime_requirements()
    key = hashlib.sha256("|".join((*wanted, *PLATFORMS, PYTHON_VERSION)).encode()).hexdigest()[:12]
    site, marker = tree.root / SITE, tree.root / SITE / ".esb-site.json"
    if marker.is_file() and json.loads(marker.read_text()).get("key") == key:
        return site
    wheels = cache / "wheels" / f"runtime-{key}"
    target = ["--only-binary=:all:", *(arg for tag in PLATFORMS for arg in ("--platform", tag)),
              "--python-version", PYTHON_VERSION, "--implementation", "cp"]
    if not (wheels / "complete").is_file():
        wheels.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", *target,
             "-d", str(wheels), *wanted])
        (wheels / "complete").write_text("\n".join(wanted) + "\n")
    shutil.rmtree(site, ignore_errors=True)
    run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-index",
         "--find-links", str(wheels), *target, "--no-compile", "--target", str(site), *wanted])
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == PYTHON_VERSION:
        run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)])
    marker.write_text(json.dumps({"key": key, "requirements": list(wanted)}) + "\n")
    return site


def build_runtime_images(client: docker.DockerClient, ctx: BuildContext, say: Say) -> dict[str, str]:
    """The gateway and manager images from the rendered Dockerfiles (skipped when overridden)."""
    tree, built = ctx.tree, {}
    (tree.root / ".dockerignore").write_text(DOCKERIGNORE)
    for role in ("manager", "gateway"):
        if getattr(ctx.project.images, role):
            continue  # generator.yml names a ready image
        tag = runtime_image(ctx.project, role)
        say(f"building {tag} ...")
        with docker_errors(f"build {tag}"):
            image, _ = client.images.build(path=str(tree.root), dockerfile=f"{role}.Dockerfile", tag=tag,
                                           rm=True, forcerm=True, pull=False)
        built[role] = image.id
    return built


def compose_command(which: Callable[[str], str | None] = shutil.which,
                    run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """`docker compose` (v2) when the plugin answers, else Debian's `docker-compose` (1.29)."""
    if which("docker"):
        probe = run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if which("docker-compose"):
        return ["docker-compose"]
    raise BoxError("no compose tool found", hint="install docker-compose (.ci/docker-setup.sh) or the compose plugin")


def project_name(project: Project) -> str:
    # compose project names: lower case letters, digits, dashes and underscores
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in project.name.lower())


def compose_env(project: Project, debug: bool = False, log_owner: str = "") -> dict[str, str]:
    """The environment of a compose call: what the compose file interpolates (the credentials, `--debug`, who
    owns local log files), nothing else of ours."""
    from esb.render.compose import DEBUG_VAR, OWNER_VAR
    from esb_runtime import secrets as box_secrets, signing_key

    secrets = box_secrets.ensure(project.output.secrets / "box.json")
    signing_key.ensure(project.output.secrets / signing_key.KEY_FILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_"))}
    env.update(ESB_AWS_ACCESS_KEY_ID=secrets.aws_access_key_id, ESB_AWS_SECRET_ACCESS_KEY=secrets.aws_secret_access_key)
    env[DEBUG_VAR] = "1" if debug else "0"
    env[OWNER_VAR] = log_owner
    return env


def log_owner(client: docker.DockerClient, getuid: Callable[[], int] = os.getuid,
              getgid: Callable[[], int] = os.getgid) -> str:
    """"uid:gid" of the user running `esb up`, whom the stack's local log files go to; "" with a rootless
    daemon, whose containers' root already is that user (a chown would hand the files to a subordinate uid)."""
    with docker_errors("ask the docker daemon whether it is rootless"):
        options = client.info().get("SecurityOptions") or []
    if any("name=rootless" in option for option in options):
        return ""
    return f"{getuid()}:{getgid()}"


def compose(project: Project, *args: str, check: bool = True, capture: bool = True,
            debug: bool = False, owner: str = "") -> subprocess.CompletedProcess:
    tree = project.output
    argv = [*compose_command(), "-p", project_name(project), "-f", str(tree.compose), *args]
    proc = subprocess.run(argv, env=compose_env(project, debug, owner), cwd=tree.root, capture_output=capture,
                          text=True)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise BoxError(f"{' '.join(argv[:2])} {args[0]} failed: {' | '.join(tail)}", hint="see `docker-compose logs`")
    return proc


def check_config(project: Project) -> str:
    """`docker-compose config`: the rendered file as compose resolves it (raises on an invalid file)."""
    return compose(project, "config").stdout


def wait_healthy(client: docker.DockerClient, project: str, timeout_s: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """Poll the stack's containers until every one with a healthcheck is healthy; {service: status}."""
    deadline, states = clock() + timeout_s, {}
    while clock() < deadline:
        with docker_errors(f"inspect the {project} stack"):
            containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        states = {c.labels.get("com.docker.compose.service", c.name):
                  (c.attrs.get("State", {}).get("Health") or {}).get("Status", c.status) for c in containers}
        if states and all(s in ("healthy", "running") for s in states.values()):
            return states
        if any(s in ("exited", "dead", "unhealthy") for s in states.values()):
            break
        time.sleep(1.0)
    raise BoxError(f"the compose stack {project} is not healthy: {states}", hint="see `docker-compose logs`")


def up(ctx: BuildContext, cache: Path, say: Say = print, client: docker.DockerClient | None = None,
       debug: bool = False) -> dict[str, str]:
    """Images (function, gateway, manager), then `compose up -d` (`debug`: the emulator's debug lines too), then
    wait for health."""
    import docker as docker_sdk

    from esb.box import docker_box

    client = client or docker_sdk.from_env(timeout=300)
    docker_box.build_images(ctx, say)
    say("installing the runtime packages for the stack images ...")
    ensure_site(ctx.tree, cache)
    build_runtime_images(client, ctx, say)
    check_config(ctx.project)
    say(f"starting the compose stack {project_name(ctx.project)} ...")
    owner = ""
    if ctx.project.images.logs == LOCAL_LOGS:
        # Made here, as this user: a bind mount's missing directory would be made by the daemon, as root.
        ctx.tree.logs.mkdir(parents=True, exist_ok=True)
        owner = log_owner(client)
    compose(ctx.project, "up", "-d", debug=debug, owner=owner)
    states = wait_healthy(client, project_name(ctx.project))
    provision_stores(ctx, say)
    return states


def published_host(project: Project) -> str:
    host = project.bind
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def logs_endpoint(project: Project) -> str | None:
    """The stack's VictoriaLogs as this host reaches it (`ports.logs`); None when its logs are kept local."""
    return None if project.images.logs == LOCAL_LOGS else f"http://{published_host(project)}:{project.ports.logs}"


def store_endpoints(ctx: BuildContext) -> tuple[str, str]:
    """(S3, DynamoDB) endpoints the stack publishes on the host; one embedded store serves both."""
    from esb.render.compose import EMBEDDED

    images, ports, host = ctx.project.images, ctx.project.ports, published_host(ctx.project)
    s3 = f"http://{host}:{ports.s3}"
    dynamodb = s3 if images.dynamodb == EMBEDDED and images.s3 == EMBEDDED else f"http://{host}:{ports.dynamodb}"
    return s3, dynamodb


def services_endpoint(ctx: BuildContext) -> str | None:
    """The embedded stores' published endpoint, which also serves SQS, SNS, ...; None without them."""
    from esb.render.compose import EMBEDDED

    if EMBEDDED not in (ctx.project.images.s3, ctx.project.images.dynamodb):
        return None
    return f"http://{published_host(ctx.project)}:{ctx.project.ports.s3}"


def missing_services(app: Application) -> str | None:
    """One warning naming what a stack without the embedded stores cannot serve, if the template uses it."""
    kinds = sorted({r.type for r in app.resources})
    sources = sorted({e.kind for fn in app.functions for e in fn.events if e.kind in SOURCE_KINDS})
    if not kinds and not sources:
        return None
    used = ", ".join([*kinds, *(f"{kind} events" for kind in sources)])
    return (f"warning: this stack's stores serve S3 and DynamoDB only, so {used} are not available "
            "(set images.s3 or images.dynamodb to embedded in generator.yml for SQS, SNS, EventBridge, "
            "Logs, SSM, Secrets Manager, Kinesis and their event sources)")


def provision_stores(ctx: BuildContext, say: Say) -> None:
    """Tables and buckets of the template, and the other resources when the embedded stores run, through
    the stack's published store ports."""
    from esb.box.provision import provision
    from esb_runtime import secrets as box_secrets

    s3, dynamodb = store_endpoints(ctx)
    services = services_endpoint(ctx)
    if services is None and missing_services(ctx.app):
        say(str(missing_services(ctx.app)))
    report = provision(ctx.app, s3_endpoint=s3, dynamodb_endpoint=dynamodb,
                       credentials=box_secrets.load(ctx.tree.secrets / "box.json"), region=ctx.app.region,
                       services_endpoint=services)
    for line in report.text().splitlines():
        say(f"  {line}")


def down(project: Project, volumes: bool = False, say: Say = print) -> None:
    """`compose down` (and its volumes with -v), then whatever sandboxes the stack's manager left."""
    from esb.box import docker_box

    # The sandboxes first (they hold endpoints on the stack's network); compose removes the network.
    docker_box.remove_containers(project.name, network=False)
    compose(project, "down", *(["-v"] if volumes else []), "--remove-orphans")
    say(f"compose stack {project_name(project)} stopped")
