"""Bodies of the box commands (up, down, reset, status, logs, watch), run as doit python-actions."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from esb.box import launch as box
from esb.box import health as boxhealth
from esb.box import state as boxstate
from esb.box import status
from esb.box.launch import BoxOptions
from esb.box.state import BoxState
from esb.errors import BoxError, ConfigError, NoBoxError
from esb.paths import cache_dir
from esb.project import Project
from esb.build.context import BuildContext


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def resolve_engine(requested: str) -> str:
    """auto: docker when a daemon answers within a second (up falls back to process if the docker path fails).
    Nothing here contacts a registry: images are built locally (esb.build.images)."""
    if requested in ("", "auto"):
        from esb.box import docker_box

        return "docker" if docker_box.daemon_answers() else "process"
    if requested in ("process", "docker", "compose"):
        return requested
    raise ConfigError(f"unknown engine {requested!r}", hint="use auto, process, docker or compose")


def box_options(ctx: BuildContext, engine: str, *, debug: bool = False) -> BoxOptions:
    from esb.build.rie import ensure_rie

    env = os.environ  # read once here, at the command's edge
    rie = ensure_rie(cache_dir(), explicit=env.get("ESB_RIE_PATH") or None)
    project = ctx.project
    tuning: dict[str, Any] = {}
    for variable, field_name, kind in _TUNING:
        if env.get(variable):
            tuning[field_name] = _number(variable, env[variable], kind)
    return BoxOptions(
        tree=ctx.tree,
        project_dir=project.project_dir,
        rie_path=rie,
        engine=engine,
        host=project.bind,
        breaker_failures=project.breaker.failures,
        breaker_window_s=project.breaker.window,
        debug=debug,
        **{"gateway_port": project.ports.gateway, "aws_port": project.ports.aws,
           "aws_http_port": project.ports.aws_http, **tuning},
    )


# Environment overrides for one run: variable, BoxOptions field, type.
_TUNING: tuple[tuple[str, str, type], ...] = (
    ("ESB_GATEWAY_PORT", "gateway_port", int),
    ("ESB_AWS_PORT", "aws_port", int),
    ("ESB_AWS_HTTP_PORT", "aws_http_port", int),
    ("ESB_GATEWAY_WORKERS", "gateway_workers", int),
    ("ESB_IDLE_TIMEOUT", "idle_timeout_s", float),
    ("ESB_MAX_CONCURRENCY", "default_concurrency", int),
)


def _number(variable: str, text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError as exc:
        raise ConfigError(f"{variable}={text!r} is not a number", hint=f"unset {variable} or fix it") from exc
    if value <= 0:
        raise ConfigError(f"{variable}={text!r} must be positive", hint=f"unset {variable} or fix it")
    return value


def up_command(ctx: BuildContext, build: bool = False, detach: bool = False, engine: str = "auto",
               watch: bool = False, quiet: bool = False, debug: bool = False) -> None:
    if watch and detach:
        raise ConfigError("--watch runs in the foreground and cannot be combined with --detach",
                          hint="use `esb up -d` and then `esb watch`")
    current = box.running_state(ctx.tree)
    if current is not None and boxhealth.assess(current)["state"] == "degraded" and detach:
        box.repair(box_options(ctx, current.engine), current, say=_say)
        _say(status.render_text(status.collect(ctx.tree)))
        return
    if current is not None:
        # Someone else's box: report it, never adopt it (Ctrl-C here must not stop another terminal's box).
        _say(f"box already running at {current.gateway_url} ({current.engine} engine); stop it with `esb down`")
        return
    engine = engine or ctx.project.engine  # --engine, else generator.yml `engine:`, else auto
    chosen = resolve_engine(engine)
    opts = box_options(ctx, chosen, debug=debug)
    if chosen == "compose":
        state = _compose_up(ctx, debug=debug)
    elif chosen == "docker":
        from esb.box import docker_box

        state = docker_box.up(ctx, opts, say=_say, fallback=engine in ("", "auto"))
    else:
        for fn in ctx.app.functions:
            if fn.image is not None:
                _say(f"warning: {fn.name} is a container image function (PackageType: Image): the process engine "
                     "cannot run it (its calls answer 503); use `esb up --engine docker`")
        state = box.up(opts, ctx.app, say=_say)
    _say("")
    _say(status.render_text(status.collect(ctx.tree)))
    _say("")
    _say(f"gateway: {state.gateway_url}  (CA: {state.ca_file})")
    if detach:
        _say("box running in the background; stop it with `esb down`")
        return
    console_stop = threading.Event()
    if not quiet:
        from esb.box.console import attach

        attach(ctx.project, console_stop)  # one line per request from here on (`--quiet` silences it)
    try:
        if watch:
            from esb.watch.cli import up_and_watch

            up_and_watch(ctx, _say)
            return
        _say("press Ctrl-C to stop")
        _serve_foreground(ctx)
    finally:
        console_stop.set()


def _compose_up(ctx: BuildContext, debug: bool = False) -> BoxState:
    """The seed's stack: gateway, manager and stores as compose services (images built locally)."""
    import time

    from esb.box import compose_stack as compose
    from esb.box import docker_box

    if not docker_box.daemon_answers():
        raise BoxError("no Docker daemon answers", hint="start dockerd (or run .ci/docker-setup.sh as root), "
                       "or use --engine process")
    compose.up(ctx, cache_dir(), say=_say, debug=debug)
    host, port = compose.published_host(ctx.project), ctx.project.ports.gateway
    s3, dynamodb = compose.store_endpoints(ctx)
    state = BoxState(
        project=ctx.app.stack_name, engine="compose", gateway_url=f"https://{host}:{port}",
        ca_file=str(ctx.tree.tls / "ca.pem"), s3_endpoint=s3, dynamodb_endpoint=dynamodb,
        lambda_endpoint=f"https://{host}:{port}", region=ctx.app.region, started_at=time.time(),
        services_endpoint=compose.services_endpoint(ctx) or "",
    )
    boxstate.write(ctx.tree.state, state)
    return state


def stop_box(project: Project, *, volumes: bool = False, say: Any = _say) -> list[str]:
    """Stop whatever this project runs (processes, containers, compose stack); the one way every command stops.

    It needs the project's output tree and box state only, never the template: a box whose template no
    longer loads can still be stopped."""
    from esb.box import docker_box

    tree = project.output
    state = boxstate.read(tree.state)
    if state is not None and state.engine == "compose":
        from esb.box import compose_stack as compose

        compose.down(project, volumes=volumes, say=say)
        boxstate.clear(tree.state)
        return [f"stopped the compose stack of {project.name}"] + box.down(tree, volumes=volumes, say=say)
    return docker_box.down(project, volumes=volumes, say=say)


def _serve_foreground(ctx: BuildContext) -> None:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    reason: str | None = None
    try:
        while not stop.wait(0.5):
            reason = box.ended(ctx.tree)  # the supervisor restarts dead parts; this ends only when it cannot
            if reason:
                _say(reason)
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_box(ctx.project)
    if reason and reason != box.STOPPED:  # non-zero, so a service manager starts the box again
        raise BoxError(reason)


def down_command(project: Project, volumes: bool = False) -> None:
    if not stop_box(project, volumes=volumes):
        raise NoBoxError("no box running", where=str(project.output.root), quiet=True)  # box.down said so


def reset_command(ctx: BuildContext, yes: bool = False) -> None:
    if not yes and not _confirm(f"delete all data under {ctx.tree.root} and rebuild? [y/N] "):
        _say("reset cancelled; nothing deleted")
        return
    previous = boxstate.read(ctx.tree.state)
    engine = previous.engine if previous is not None else "auto"  # the box comes back on the engine it had
    done = stop_box(ctx.project, volumes=True, say=lambda _: None)
    _say("reset: " + ("; ".join(done) if done else "nothing was running and no data existed"))
    from esb.build.runner import run_doit

    code = run_doit(ctx, ["run", "--always-execute", "build"])
    if code != 0:
        raise BoxError("rebuild failed during reset", hint="see the errors above")
    up_command(ctx, detach=True, engine=engine)


def _confirm(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise ConfigError("reset needs confirmation", hint="run it in a terminal or pass --yes")
    return input(question).strip().lower() in ("y", "yes")


def status_command(project: Project, json: bool = False) -> None:
    info = status.collect(project.output)
    _say(status.render_json(info) if json else status.render_text(info))
    if not info["running"]:
        raise NoBoxError("no box running", where=str(project.output.root), quiet=True)


def logs_command(project: Project, function: list[str] | None = None, follow: bool = False, since: str = "",
                 trace: str = "", request: str = "", grep: str = "", json: bool = False, level: str = "info") -> None:
    from types import SimpleNamespace

    from esb.box import logs as logquery

    if function and len(function) > 1:
        raise ConfigError("`esb logs` takes at most one function name", hint="esb logs FUNCTION --grep TEXT")
    tree = project.output
    if not tree.logs.is_dir() and box.running_state(tree) is None:
        raise NoBoxError("no box has run here: no logs", where=str(tree.root), hint="start one with `esb up -d`")
    name = logquery.known_function(tree, function[0]) if function else None
    query = SimpleNamespace(function=name, follow=follow, since=since or None, trace=trace or None,
                            request=request or None, grep=grep or None, json=json, limit=None, level=level)
    if logquery.logs_command(tree, logquery.store_settings(project), query) != 0:
        raise BoxError("reading logs failed")


def env_command(project: Project, http: bool = False) -> None:
    from esb.box import awsenv
    from esb_runtime import secrets as box_secrets

    tree = project.output
    state = box.running_state(tree)
    if state is None:
        raise NoBoxError("no box running", where=str(tree.root), hint="start one with `esb up -d`")
    sys.stdout.write(awsenv.render(awsenv.exports(state, box_secrets.load(tree.secrets / "box.json"), http=http)))


def watch_command(ctx: BuildContext) -> None:
    from esb.watch.cli import watch_foreground

    watch_foreground(ctx, _say)
