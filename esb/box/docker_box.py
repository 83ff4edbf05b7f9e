"""`esb up --engine docker`: build the images, run the box with container sandboxes, bridge it to them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Mapping
from urllib.parse import urlsplit

from esb.box import launch as box
from esb.box import state as boxstate
from esb.box import probes
from esb.box import processes as supervisor
from esb.box.state import BoxState
from esb.box.launch import BoxOptions
from esb.errors import BoxError, BuildError, EsbError
from esb_runtime.manager.docker_support import host_gateway_address
from esb.seams import DockerClientFactory

if TYPE_CHECKING:
    import docker

    from esb.project import Project
    from esb.build.context import BuildContext

Say = Callable[[str], None]
FORWARDER = "bridge"  # name of the forwarder process in state/box.json
_STRIPPED_PREFIXES = ("ESB_", "AWS_", "DOCKER_")  # the forwarder needs no settings and no credentials


def _client(timeout: int = 5) -> docker.DockerClient:
    import docker

    return docker.from_env(timeout=timeout)


def no_daemon_socket(env: Mapping[str, str]) -> bool:
    """True when the daemon the SDK would ask is a unix socket nobody listens on (absent, or left by a stopped
    dockerd): surely no docker here, known without importing the SDK (0.15 s of every `esb up --engine auto` on
    a machine without docker)."""
    host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"  # the SDK's default
    if not host.startswith("unix://"):
        return False  # only asking tells
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(host[len("unix://"):])
    except OSError as exc:  # refused, absent; not a permission problem, which the SDK reports the same way
        return not isinstance(exc, PermissionError)
    finally:
        probe.close()
    return False


def _probe_client() -> docker.DockerClient:
    if no_daemon_socket(os.environ):
        raise BoxError("no docker socket")  # daemon_answers: no docker here
    return _client(timeout=1)  # a hung daemon must not hold `--engine auto` for the SDK's 60 s (or our 5 s)


def daemon_answers(client_factory: DockerClientFactory = _probe_client) -> bool:
    """True when a docker daemon answers a ping within a second (`auto` asks this on every `up`)."""
    try:
        client = client_factory()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no SDK, no socket, no permission: all mean "no docker here"
        return False


def bridge_address(client: docker.DockerClient) -> str:
    """The host's address on docker's default bridge: what `host-gateway` (host.docker.internal) resolves to."""
    from esb.build.images import docker_errors

    with docker_errors("inspect the default bridge network"):
        address = host_gateway_address(client)
    if address:
        return address
    raise BoxError("docker's default bridge has no gateway address and its interface has no IPv4 address",
                   hint="containers cannot reach the host; check `docker network inspect bridge` and `ip addr`")


def build_images(ctx: BuildContext, say: Say) -> None:
    """The doit tasks `base_image` and `image:*` (each up to date when its content hash exists)."""
    from esb.build.runner import run_doit

    say("building docker images (base image, then one per function) ...")
    code = run_doit(ctx, ["run", "image"])
    if code != 0:
        raise BuildError("building the docker images failed", hint="see the errors above, or use --engine process")


def endpoint_ports(state: BoxState) -> list[int]:
    """Host ports sandboxes need: the stores and the gateway (for the Invoke API)."""
    ports = {urlsplit(url).port for url in (state.s3_endpoint, state.dynamodb_endpoint, state.lambda_endpoint) if url}
    return sorted(port for port in ports if port)


def up(ctx: BuildContext, opts: BoxOptions, say: Say = print, *, fallback: bool = False,
       client_factory: DockerClientFactory = _client) -> BoxState:
    """Images first, then the box with engine=docker, then the bridge forwarder. With fallback
    (`--engine auto`), a docker path that does not work starts the process engine instead."""
    current = box.running_state(opts.tree)
    if current is not None:
        say(f"box already running at {current.gateway_url} (engine {current.engine})")
        return current
    try:
        build_images(ctx, say)
        client = client_factory()
        address = bridge_address(client)
        client.close()
    except EsbError as exc:
        if not fallback:
            raise
        say(f"docker engine not usable ({exc.message}); using the process engine")
        return box.up(replace(opts, engine="process"), ctx.app, say=say)
    state = box.up(replace(opts, engine="docker"), ctx.app, say=say, supervise=False)
    try:
        return box.start_supervisor(opts, start_forwarder(opts, state, address, say))
    except BaseException:
        box.down(opts.tree, say=lambda _: None)
        remove_containers(ctx.project.name, client_factory)
        raise


def start_forwarder(opts: BoxOptions, state: BoxState, address: str, say: Say,
                    timeout_s: float = 10.0) -> BoxState:
    """A TCP forwarder on the bridge address for the stores and gateway ports, recorded with the box."""
    ports = endpoint_ports(state)
    say(f"starting {FORWARDER} ({address} -> 127.0.0.1, ports {', '.join(map(str, ports))}) ...")
    argv = [sys.executable, "-m", "esb.box.docker_box", "forward", address, *map(str, ports)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
    proc = replace(supervisor.spawn(FORWARDER, argv, env=env, cwd=opts.project_dir, log_dir=opts.tree.logs),
                   ready=probes.tcp(address, ports))
    final = replace(state, procs=(*state.procs, proc))
    boxstate.write(opts.tree.state, final)  # recorded first: `esb down` stops it whatever happens next
    ready = supervisor.wait_until(lambda: not proc.alive() or all(_listening(address, p) for p in ports),
                                  timeout_s, interval_s=0.05)
    if not ready or not proc.alive():
        raise BoxError(f"the {FORWARDER} forwarder did not start; last lines of {proc.log_file}:\n"
                       f"{supervisor.tail(proc.log_file)}", hint="is another process bound to these ports?")
    return final


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def remove_containers(project: str, client_factory: DockerClientFactory = _client, network: bool = True) -> int:
    """Every container (and the network) of `project` (docker_engine.remove_project); 0 without docker."""
    if not daemon_answers(client_factory):
        return 0
    from esb_runtime.errors import EngineError
    from esb_runtime.manager.docker_engine import remove_project

    try:
        return remove_project(project, client_factory=lambda: client_factory(), network=network)
    except EngineError as exc:
        raise BoxError(f"cannot remove the containers of {project}: {exc}") from exc


def down(project: Project, *, volumes: bool = False, say: Say = print,
           client_factory: DockerClientFactory = _client) -> list[str]:
    """`esb down`: the box's processes, then whatever containers of this project are left."""
    state = boxstate.read(project.output.state)
    removed = 0
    if state is not None and state.engine == "docker":
        # Containers first, in parallel: the manager would remove them one by one on SIGTERM.
        removed = remove_containers(project.name, client_factory)
    done = box.down(project.output, volumes=volumes, say=say)
    if state is None or state.engine == "docker":  # no state: maybe the leftovers of a crash
        removed += remove_containers(project.name, client_factory)  # and the network
    if removed:
        line = f"removed {removed} container(s) of {project.name}"
        say(line)
        done.append(line)
    return done


# --- the forwarder process: `python -m esb.box.docker_box forward ADDRESS PORT...` ---------------------

async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: asyncio.StreamWriter) -> None:
    """Copy one direction; at EOF pass the half-close on, on an error drop both connections."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
        source.close()


def _relay(port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], object]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()  # the service is down: the client sees a reset, as it would on loopback
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer, writer), _pipe(up_reader, writer, up_writer))
        finally:
            writer.close()
            up_writer.close()

    return handle


async def forward(address: str, ports: list[int]) -> None:
    """Relay address:port -> 127.0.0.1:port byte for byte (TLS passes through untouched)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = [await asyncio.start_server(_relay(port), address, port) for port in ports]
    print(f"forwarding {address} ports {ports} to 127.0.0.1", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "forward":
        print("usage: python -m esb.box.docker_box forward ADDRESS PORT...", file=sys.stderr)
        return 2
    asyncio.run(forward(argv[1], [int(p) for p in argv[2:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
