"""`esb up` / `esb down` of a box run by host processes: stores, manager and gateway, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from esb.box import health as boxhealth
from esb.box import state as boxstate
from esb.box import supervisor as boxsupervisor
from esb.box import probes
from esb.box import processes as supervisor
from esb.box.state import BoxState
from esb.errors import BoxError
from esb.model import Application
from esb.paths import BuildTree
from esb.box.processes import Proc
from esb_runtime import heap
from esb_runtime import secrets as box_secrets
from esb_runtime import tls_checked
from esb_runtime.tls_checked import TlsFiles
from esb_runtime.manager.firewall import chain_name, iptables_missing, remove_chain
from esb_runtime.manager.registry import SandboxRegistry
from esb_runtime.settings import RuntimeSettings

Say = Callable[[str], None]
_STRIPPED_PREFIXES = ("ESB_", "AWS_", "DOCKER_")
_PASSED_THROUGH = ("ESB_SCHEDULE_SCALE", "ESB_SANDBOX_USER")  # knobs the runtime reads itself


@dataclass(frozen=True)
class BoxOptions:
    tree: BuildTree
    project_dir: Path
    rie_path: Path
    engine: str = "process"
    host: str = "127.0.0.1"
    gateway_port: int = 8443
    # One worker per two cores: the manager is out of the data path, the RIEs and runtimes take the other core,
    # and each worker is ~45 MB (issue 14: one per core was 2x45 MB on 2 cores and no faster).
    gateway_workers: int = field(default_factory=lambda: max(1, min(4, (os.cpu_count() or 2) // 2)))
    idle_timeout_s: float = 300.0
    default_concurrency: int = 10
    start_timeout_s: float = 60.0
    breaker_failures: int = 3
    breaker_window_s: float = 10.0
    aws_port: int = 0  # the public HTTPS endpoint of the stores (ports.aws); 0 = none
    aws_http_port: int = 0  # its plain-HTTP twin (ports.aws_http); 0 = none
    debug: bool = False  # `esb up --debug`: the emulator's debug lines in the logs


def running_state(tree: BuildTree) -> BoxState | None:
    state = boxstate.read(tree.state)
    # A compose stack has no processes of ours: its record stands until `esb down`.
    if state is not None and (state.running() or state.engine == "compose" or supervisor_alive(state)):
        return state
    return None


def supervisor_alive(state: BoxState) -> bool:
    return state.supervisor is not None and state.supervisor.alive()


# No cyclic collection while `up` runs: importing boto3 and making its clients build objects that all live on, and
# the collector scanned them again and again (a tenth of the command's CPU, issue 14).
@heap.collection_paused()
def up(opts: BoxOptions, app: Application, say: Say = print, *, supervise: bool = True) -> BoxState:
    """Start the box and return its state once the gateway answers on HTTPS (then supervised, unless the
    caller adds a part first and calls `start_supervisor` itself)."""
    current = running_state(opts.tree)
    if current is not None:
        say(f"box already running at {current.gateway_url}")
        return current
    _private_dirs(opts.tree)
    secrets = box_secrets.ensure(opts.tree.secrets / "box.json")
    # Not the token signing key: the gateway makes it on first use (signing_key.StoredKey, linked atomically so
    # every worker gets the same one); a new RSA key was 15-90 ms of this start (issue 14).
    tls = ensure_tls_files(opts)
    _ports_free(opts)
    stores_port = supervisor.free_port("127.0.0.1")  # data services stay on loopback whatever `bind` says
    settings = _settings(opts, stores_port)
    state = BoxState(
        project=app.stack_name,
        engine=opts.engine,
        gateway_url=f"https://{_url_host(opts.host)}:{opts.gateway_port}",
        ca_file=str(tls.ca_file),
        s3_endpoint=settings.s3_endpoint or "",
        dynamodb_endpoint=settings.dynamodb_endpoint or "",
        lambda_endpoint=settings.lambda_endpoint or "",
        services_endpoint=settings.services_endpoint or "",
        region=app.region,
        started_at=time.time(),
        aws_endpoint=f"https://127.0.0.1:{opts.aws_port}" if opts.aws_port else "",
        aws_http_endpoint=f"http://127.0.0.1:{opts.aws_http_port}" if opts.aws_http_port else "",
    )
    env = _box_env(opts, stores_port)
    started: list[Proc] = []
    watcher: Proc | None = None
    go: int | None = None  # tells the supervisor the parts are ready
    try:
        # All parts start at once (issue 14: start in a second): none needs another to come up. The manager
        # starts sandboxes only on a call and the gateway answers 503 on /health until the manager does; only
        # provisioning waits for the stores, while the others boot.
        for name, argv, ready in _services(opts, settings, stores_port):
            say(f"starting {name} ...")
            proc = replace(supervisor.spawn(name, argv, env=env, cwd=opts.project_dir, log_dir=opts.tree.logs),
                           ready=ready)
            started.append(proc)
            boxstate.write(opts.tree.state, replace(state, procs=tuple(started)))
        if supervise:
            # It boots beside the parts (off the critical path) and records itself only once told they are ready:
            # a box with a supervisor in box.json is a started box.
            go, watcher = _spawn_waiting_supervisor(opts, state)
        # boto3 and its clients are made while the stores boot; the reconciling starts the moment they are ready.
        stores_ready = threading.Event()
        provisioning = _InBackground(lambda: _provision(app, settings, secrets, say, stores_ready, opts.start_timeout_s))
        try:
            for proc in started:
                _wait_ready(proc, opts.start_timeout_s)
                if proc.name == "stores":
                    stores_ready.set()
        finally:
            stores_ready.set()  # a failed start: provisioning fails by itself instead of waiting out its timeout
        final = replace(state, procs=tuple(started))
        boxstate.write(opts.tree.state, final)
        if go is not None:
            with contextlib.suppress(OSError):  # it died: `await_supervisor` says so, with its log
                os.write(go, boxsupervisor.GO)
        provisioning.result()
        return await_supervisor(opts, watcher, final) if watcher is not None else final
    except BaseException:
        _abort(opts.tree, started, watcher)
        raise
    finally:
        if go is not None:
            os.close(go)  # without "go" first: the supervisor exits by itself


def start_supervisor(opts: BoxOptions, state: BoxState, *, reset: bool = False) -> BoxState:
    """Hand the running parts to their supervisor (esb.box.supervisor); returns the state it recorded."""
    return await_supervisor(opts, spawn_supervisor(opts, state, reset=reset), state)


def spawn_supervisor(opts: BoxOptions, state: BoxState, *, reset: bool = False, go: int | None = None) -> Proc:
    """Start the supervisor of the parts recorded in box.json; `await_supervisor` waits till it took them over.
    With `go` (a pipe's read end), it takes them over only once `GO` is written to the other end."""
    flags = [*(["--reset"] if reset else []), *([boxsupervisor.AFTER_START] if go is not None else [])]
    argv = [sys.executable, "-m", "esb.box.supervisor", *flags]
    env = _box_env(opts, _port_of(state.s3_endpoint))
    return supervisor.spawn(boxsupervisor.NAME, argv, env=env, cwd=opts.project_dir, log_dir=opts.tree.logs,
                            stdin=subprocess.DEVNULL if go is None else go)


def _spawn_waiting_supervisor(opts: BoxOptions, state: BoxState) -> tuple[int, Proc]:
    """The supervisor, booting now; the returned pipe end tells it when to take the parts over."""
    read_end, write_end = os.pipe()
    try:
        return write_end, spawn_supervisor(opts, state, go=read_end)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)


def await_supervisor(opts: BoxOptions, proc: Proc, state: BoxState) -> BoxState:
    """The state once the supervisor `proc` recorded itself in it (it supervises from then on)."""

    def recorded() -> BoxState | None:
        now = boxstate.read(opts.tree.state)
        return now if now is not None and now.supervisor is not None and now.supervisor.pid == proc.pid else None

    if not supervisor.wait_until(lambda: recorded() is not None or not proc.alive(), 10.0, interval_s=_POLL_S) \
            or not proc.alive():
        _stop_all([proc])
        raise BoxError(f"the supervisor did not start; last lines of {proc.log_file}:\n{supervisor.tail(proc.log_file)}")
    return recorded() or state


def repair(opts: BoxOptions, state: BoxState, say: Say = print) -> BoxState:
    """`esb up -d` on a degraded box: a fresh supervisor restarts every dead part now (given-up ones too)."""
    if state.supervisor is not None and state.supervisor.alive():
        supervisor.stop(state.supervisor, grace_s=5.0)
    say(f"box degraded ({boxhealth.summary(state)}): repairing ...")
    fresh = start_supervisor(opts, boxstate.read(opts.tree.state) or state, reset=True)
    supervisor.wait_until(lambda: boxhealth.assess(boxstate.read(opts.tree.state))["state"] != "degraded",
                          opts.start_timeout_s, interval_s=0.1)
    return boxstate.read(opts.tree.state) or fresh


STOPPED = "the box was stopped"


def ended(tree: BuildTree) -> str | None:
    """Why a foreground box should stop now (None while it serves, even while a part is being restarted)."""
    state = boxstate.read(tree.state)
    if state is None:
        return STOPPED
    failed = [name for name, part in state.health.items() if part.state == "failed"]
    if failed:
        return f"gave up restarting {', '.join(failed)} (see its log under {tree.logs}); stopping the box"
    if state.supervisor is not None and not state.supervisor.alive():
        return "the box's supervisor exited; stopping the box"
    return None


def _ports_free(opts: BoxOptions) -> None:
    wanted = [(opts.host, opts.gateway_port, "ports.gateway")]
    wanted += [("127.0.0.1", port, key) for port, key in ((opts.aws_port, "ports.aws"),
                                                          (opts.aws_http_port, "ports.aws_http")) if port]
    for host, port, key in wanted:
        if not supervisor.port_free(host, port):
            raise BoxError(f"port {host}:{port} is already in use", hint=f"stop what uses it or set {key} in generator.yml")


def _box_env(opts: BoxOptions, stores_port: int) -> dict[str, str]:
    """One environment for every part and the supervisor (which restarts parts with its own)."""
    return _child_env(_settings(opts, stores_port), extra={
        "ESB_STORES_PORT": str(stores_port),
        "ESB_STORES_TLS_PORT": str(opts.aws_port),
        "ESB_STORES_HTTP_PORT": str(opts.aws_http_port),
    })


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _settings(opts: BoxOptions, stores_port: int) -> RuntimeSettings:
    """What the runtime processes are told; they rebuild it with RuntimeSettings.from_env()."""
    return RuntimeSettings(
        output_dir=opts.tree.root,
        manager_socket=opts.tree.manager_socket,
        rie_path=opts.rie_path,
        engine=opts.engine,
        idle_timeout_s=opts.idle_timeout_s,
        default_concurrency=opts.default_concurrency,
        breaker_failures=opts.breaker_failures,
        breaker_window_s=opts.breaker_window_s,
        debug=opts.debug,
        gateway_host=opts.host,
        gateway_port=opts.gateway_port,
        gateway_workers=opts.gateway_workers,
        s3_endpoint=f"http://127.0.0.1:{stores_port}",
        dynamodb_endpoint=f"http://127.0.0.1:{stores_port}",
        lambda_endpoint=f"https://127.0.0.1:{opts.gateway_port}",
        services_endpoint=f"http://127.0.0.1:{stores_port}",
    )


def down(tree: BuildTree, *, volumes: bool = False, say: Say = print) -> list[str]:
    """Stop every process the box started; with volumes, delete its data. Returns what was done."""
    done: list[str] = []
    state = boxstate.read(tree.state)
    if state is not None and state.supervisor is not None and state.supervisor.alive():
        # First, or it would restart what follows stops; then re-read: it may have restarted a part meanwhile.
        supervisor.stop(state.supervisor, grace_s=5.0)
        done.append(f"stopped {state.supervisor.name} (pid {state.supervisor.pid})")
        state = boxstate.read(tree.state)
    if state is not None:
        for proc in reversed(state.procs):
            if proc.alive():
                supervisor.stop(proc)
                done.append(f"stopped {proc.name} (pid {proc.pid})")
        boxstate.clear(tree.state)
    left = SandboxRegistry.of_box(tree.state).sweep()  # a killed manager's sandboxes, if any survived it
    if left:
        done.append(f"stopped {len(left)} sandbox(es) left by a killed manager")
    if os.geteuid() == 0 and not iptables_missing() and remove_chain(chain_name(tree.root)):
        done.append("removed the sandbox firewall rules a killed manager left")
    tree.manager_socket.unlink(missing_ok=True)
    if volumes:
        for path in (tree.data, tree.logs):
            if path.exists():
                shutil.rmtree(path)
                done.append(f"deleted {path}")
    for line in done:
        say(line)
    if not done:
        say("no box running")
    return done


def _services(opts: BoxOptions, settings: RuntimeSettings, stores_port: int) -> tuple[tuple[str, list[str], str], ...]:
    """Each part: name, command, readiness probe (esb.box.probes; kept in box.json for restarts)."""
    py = sys.executable
    return (
        # Held up to half a second while the stores restore: answered the moment they are ready.
        ("stores", [py, "-m", "esb_runtime.stores"],
         probes.http(f"http://127.0.0.1:{stores_port}/_esb/health?wait=0.5", 300)),
        ("manager", [py, "-m", "esb_runtime.manager"], probes.uds(str(settings.manager_socket), "/v1/health")),
        (
            "gateway",
            _gateway_argv(py, opts.gateway_workers),
            # Any answer: /health is 503 while the manager or stores are down, and the gateway serves then too.
            probes.http(f"https://127.0.0.1:{opts.gateway_port}/health"),
        ),
    )


def _gateway_argv(py: str, workers: int) -> list[str]:
    """One worker runs as the gateway process itself (no gunicorn master: ~40 MB less, issue 14; the supervisor
    restarts it); more run under gunicorn's master, which forks and watches them."""
    if workers <= 1:
        return [py, "-m", "esb_runtime.gateway.serve"]
    return [py, "-m", "gunicorn", "-c", "python:esb_runtime.gateway.gunicorn_conf", "esb_runtime.gateway.wsgi:application"]


def _child_env(settings: RuntimeSettings, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES) or k in _PASSED_THROUGH}
    env.update(settings.to_env())
    env.update(extra)
    runtime_dir = str(settings.output_dir / "runtime")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [runtime_dir, env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _private_dirs(tree: BuildTree) -> None:
    # The manager socket, the secrets, every function's environment and every log line: only the box's own user
    # may enter (function code may run as another).
    for path in (tree.state, tree.secrets, tree.config, tree.logs):
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)


# How often `up` looks again at a part that is not ready yet. Short: until a part listens its probe is a refused
# connect (microseconds); once it listens the probe waits for the answer itself (the stores hold it while they
# restore, the gateway's TLS handshake waits for a worker).
_POLL_S = 0.01


def _wait_ready(proc: Proc, timeout_s: float) -> None:
    ok = supervisor.wait_until(lambda: probes.check(proc.ready) or not proc.alive(), timeout_s, interval_s=_POLL_S)
    if ok and proc.alive():
        return
    why = "exited" if not proc.alive() else f"did not become ready within {timeout_s:.0f}s"
    raise BoxError(
        f"{proc.name} {why}; last lines of {proc.log_file}:\n{supervisor.tail(proc.log_file)}",
        hint="run with --verbose for details",
    )


def _abort(tree: BuildTree, started: list[Proc], watcher: Proc | None) -> None:
    """A start that failed: the supervisor first (or it restarts what follows stops), then every part it or
    `up` started, then the record."""
    if watcher is not None:
        _stop_all([watcher])
        recorded = boxstate.read(tree.state)
        started = [*started, *(p for p in (recorded.procs if recorded else ()) if p not in started)]
    _stop_all(started)
    boxstate.clear(tree.state)


def _stop_all(procs: list[Proc]) -> None:
    for proc in reversed(procs):
        try:
            supervisor.stop(proc, grace_s=5.0)
        except BoxError:
            pass


DOCKER_HOST_ALIAS = "host.docker.internal"  # how containers name the host (docker engine)


def ensure_tls_files(opts: BoxOptions) -> TlsFiles:
    """The CA and server certificate, naming every way a client of this box reaches the gateway."""
    # The docker alias on every engine: the CA is name-constrained, so a name added later means a new CA
    # that every client would have to fetch again (e.g. after `esb reset` picks the other engine).
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), "*.lambda-url.localhost", DOCKER_HOST_ALIAS]
    if opts.host not in names and opts.host not in ("0.0.0.0", "::"):
        names.append(opts.host)
    if tls_checked.current(opts.tree.tls, names):  # unchanged since they were last checked: no cryptography
        return TlsFiles.under(opts.tree.tls)
    from esb_runtime.tls import ensure_tls

    return ensure_tls(opts.tree.tls, names)


class _InBackground:
    """A call run on a daemon thread; result() waits for it and raises what it raised."""

    def __init__(self, call: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), name="provision", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
            self._error = exc

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _provision(app: Application, settings: RuntimeSettings, secrets, say: Say, stores_ready: threading.Event,
               timeout_s: float) -> None:
    from esb.box.provision import cached_clients, provision, warm_clients

    endpoints = {"s3_endpoint": settings.s3_endpoint, "dynamodb_endpoint": settings.dynamodb_endpoint,
                 "services_endpoint": settings.services_endpoint}
    clients = cached_clients(secrets, app.region)
    warm_clients(app, clients, **endpoints)  # loading botocore's models is most of a first call's cost
    stores_ready.wait(timeout_s)
    report = provision(app, credentials=secrets, region=app.region, clients=clients, **endpoints)
    for line in report.text().splitlines():
        say(f"  {line}")


def _url_host(host: str) -> str:
    # A wildcard bind is reached on loopback from this machine.
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
