"""The docker sandbox engine: one labelled container per sandbox, its RIE reached on the project bridge (or loopback)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

from esb_runtime.contract import IMAGE_RECORD, name_part, network_name, read_image_record
from esb_runtime.engine import LineSink, Sandbox, SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.docker_support import (  # noqa: F401 (re-exported for callers and tests)
    PROJECT_LABEL,
    FUNCTION_LABEL,
    HASH_LABEL,
    SANDBOX_LABEL,
    MANAGER_LABEL,
    RIE_PORT,
    INVOKE_PATH,
    docker_errors,
    CA_BUNDLE_PATH,
    container_environment,
    host_gateway_address,
    ca_bundle_mount,
    run_overrides,
    _bridge_address,
    _host_port,
    _labels,
    _rie_answers,
    _pump_lines,
)

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container


class DockerEngine:
    """Engine protocol over the docker SDK. `client_factory` is the seam tests and callers inject."""

    name = "docker"

    def __init__(self, project: str, client_factory: Callable[[], docker.DockerClient] | None = None,
                 ready_timeout_s: float = 15.0, clock: Callable[[], float] = time.time,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
                 extra_hosts: dict[str, str] | None = None, rie_log_level: str = "error") -> None:
        self.project = project
        self.rie_log_level = rie_log_level  # passed to the base image's entrypoint (see container_environment)
        self._client_factory = client_factory
        self._client: docker.DockerClient | None = None
        self._ready_timeout_s = ready_timeout_s
        self._clock = clock
        self._new_id = new_id
        # Lets sandboxes reach stores on the host by a stable name (docker >= 20.10).
        self._extra_hosts = {"host.docker.internal": "host-gateway"} if extra_hosts is None else extra_hosts
        self._network_lock = threading.Lock()
        # Containers this engine started or adopted; any other running container of the project
        # was left by an earlier manager (crash, restart) and may be adopted by `start`.
        self._owned: set[str] = set()
        self._instance = uuid.uuid4().hex
        self._in_network: bool | None = None  # decided on first use (see in_network)
        self._direct: bool | None = None  # the host routes to the bridge's container addresses (see reach)
        self._host_address: str | None = None  # "" once looked up and not found
        self._owned_lock = threading.Lock()
        # Liveness without a `docker inspect` per warm call (issue 14: half the manager's time and 1.2 ms of dockerd
        # per invoke): a container's followed log stream ends when it exits.
        self._streaming: set[str] = set()  # containers whose log stream is open
        self._exited: set[str] = set()
        self._limits_checked = False
        self._limits_note: str | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            with docker_errors("connect to docker"):
                if self._client_factory is None:
                    import docker

                    # Each log follower holds a connection: size the pool for a busy box.
                    self._client = docker.from_env(max_pool_size=64)
                else:
                    self._client = self._client_factory()
        return self._client

    def ensure_network(self) -> str:
        """The project's bridge network; the manager itself is never attached to it."""
        import docker.errors

        name = network_name(self.project)
        with self._network_lock, docker_errors(f"create network {name}"):
            if not self._networks(name):
                try:
                    self.client.networks.create(name, driver="bridge", labels={PROJECT_LABEL: self.project})
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # another manager created it first
                        raise
        return name

    def _networks(self, name: str) -> list[Any]:
        # The daemon's name filter matches substrings ("esb-a" finds "esb-a-other"): compare exactly.
        return [n for n in self.client.networks.list(names=[name]) if n.name == name]

    @staticmethod
    def image_for(spec: SandboxSpec) -> str:
        """spec.image, else the tag recorded beside the staged code (functions/<fn>/image.json)."""
        if spec.image:
            return spec.image
        record = read_image_record(spec.code_dir.parent)
        if record is None:
            raise EngineError(f"{spec.function}: no function image ({spec.code_dir.parent / IMAGE_RECORD} missing); "
                              "run `esb build` with docker available")
        return record.tag

    @staticmethod
    def recorded_image(spec: SandboxSpec) -> str | None:
        """The tag image.json names now (the spec's image is the one read when the spec was made)."""
        record = read_image_record(spec.code_dir.parent)
        return record.tag if record else None

    def start(self, spec: SandboxSpec, on_line: LineSink) -> Sandbox:
        adopted = self._adopt_orphan(spec, on_line)
        if adopted is not None:
            return adopted  # a warm container of the current build: no cold start
        image = self.image_for(spec)
        for _attempt in range(3):
            container, sandbox_id, (host, port) = self._run_ready(spec, image)
            latest = self.recorded_image(spec) or image
            if latest == image:
                break
            # Rebuilt while this container started (a save during `esb watch`): the manager may already file the
            # new build's hash for the slot it gets back, so a container of the previous image must not be it.
            self._remove(container)
            image = latest
        sandbox = Sandbox(id=sandbox_id, function=spec.function, config_hash=spec.config_hash,
                          invoke_url=f"http://{host}:{port}{INVOKE_PATH}", started_at=self._clock(),
                          ref=container)
        self._follow_logs(container, on_line, since=None)
        return sandbox

    def _run_ready(self, spec: SandboxSpec, image: str) -> tuple[Container, str, tuple[str, int]]:
        """One container of `image` whose RIE answers: (container, sandbox id, where the manager reaches it)."""
        sandbox_id = f"{name_part(spec.function)[:40]}-{self._new_id()}"
        network = self.ensure_network()
        in_network = self.in_network()
        environment = container_environment(spec, s3_host=None if in_network else self.host_address(),
                                            rie_log_level=self.rie_log_level)
        if in_network:
            environment.pop("AWS_CA_BUNDLE", None)  # a path inside the manager's container, not on the host
            environment.pop("NODE_EXTRA_CA_CERTS", None)
        with docker_errors(f"start container for {spec.function}"):
            container = self.client.containers.run(
                image, detach=True, **run_overrides(spec),
                name=f"esb-{name_part(self.project)}-{sandbox_id}",
                labels={PROJECT_LABEL: self.project, FUNCTION_LABEL: spec.function,
                        HASH_LABEL: spec.config_hash, SANDBOX_LABEL: sandbox_id, MANAGER_LABEL: self._instance},
                environment=environment, network=network, extra_hosts=self._extra_hosts,
                mem_limit=f"{spec.memory_mb}m", memswap_limit=f"{spec.memory_mb}m",  # Lambda has no swap
                ports={} if in_network else {RIE_PORT: ("127.0.0.1", None)},
                volumes={} if in_network else ca_bundle_mount(spec),
            )
        with self._owned_lock:
            self._owned.add(container.id)
        try:
            return container, sandbox_id, self._wait_ready(container, spec.function)
        except EngineError:
            self._remove(container)
            raise

    def host_address(self) -> str | None:
        """The host as containers reach it by IP (see container_environment); None when it cannot be told."""
        if self._host_address is None:
            import docker.errors

            try:
                self._host_address = host_gateway_address(self.client) or ""
            except (docker.errors.DockerException, OSError):
                self._host_address = ""
        return self._host_address or None

    def in_network(self) -> bool:
        """True when this manager runs in a container on the project's network (the compose stack):
        sandboxes are then reached by container name on that network, and publish no port."""
        if self._in_network is None:
            import docker.errors

            try:
                me = self.client.containers.get(socket.gethostname())
                networks = me.attrs.get("NetworkSettings", {}).get("Networks") or {}
                self._in_network = network_name(self.project) in networks
            except (docker.errors.DockerException, OSError):
                self._in_network = False
        return self._in_network

    def address(self, container: Container) -> tuple[str, int] | None:
        """Where the manager reaches a container's RIE: its name on the shared network, else the
        loopback port docker published."""
        if self.in_network():
            names = container.attrs.get("Names") or [container.attrs.get("Name") or ""]
            return (names[0].lstrip("/"), int(RIE_PORT.split("/")[0])) if names[0] else None
        port = _host_port(container)
        return ("127.0.0.1", port) if port else None

    def reach(self, container: Container, published: tuple[str, int]) -> tuple[str, int]:
        """Where warm calls go once the RIE answers at `published`: the container's own address on the project's
        bridge when the host routes to it, else `published`. A published loopback port goes through docker-proxy,
        a userland copy of every byte (~0.4 ms per warm call, issue 14); the bridge address is as reachable from
        the host (and no more) than that port. Whether the host routes to the bridge is asked once."""
        if self._direct is False or self.in_network():
            return published
        bridge = _bridge_address(container, network_name(self.project))
        if bridge is None:
            return published
        if self._direct is None:
            self._direct = _rie_answers(bridge[1], 0.5, host=bridge[0])
        return bridge if self._direct else published

    def _wait_ready(self, container: Container, function: str) -> tuple[str, int]:
        deadline = time.monotonic() + self._ready_timeout_s
        where: tuple[str, int] | None = None
        while time.monotonic() < deadline:
            with docker_errors(f"inspect container of {function}"):
                container.reload()
            if container.status not in ("created", "running"):
                with docker_errors(f"read logs of {function}"):
                    tail = container.logs(tail=5).decode("utf-8", "replace").strip().replace("\n", " | ")
                raise EngineError(f"{function}: container exited during start ({container.status}): {tail}")
            where = where or self.address(container)
            if where is not None and _rie_answers(where[1], timeout_s=1.0, host=where[0]):
                return self.reach(container, where)
            time.sleep(0.02)
        raise EngineError(f"{function}: the RIE did not answer within {self._ready_timeout_s:.0f} s")

    def _follow_logs(self, container: Container, on_line: LineSink, since: int | None) -> None:
        def pump() -> None:
            self._streaming.add(container.id)
            try:
                kwargs: dict[str, Any] = {"stream": True, "follow": True}
                if since is not None:
                    kwargs["since"] = since
                _pump_lines(container.logs(**kwargs), on_line)
            except Exception:  # noqa: BLE001 - the stream ends with the container; nothing to report
                pass
            finally:
                self._streaming.discard(container.id)
                if not self._inspect_alive(container):  # one inspect per ended stream, not per call
                    self._exited.add(container.id)

        threading.Thread(target=pump, name=f"logs-{container.short_id}", daemon=True).start()

    def _adopt_orphan(self, spec: SandboxSpec, on_line: LineSink) -> Sandbox | None:
        """A running container of this function left by an earlier manager (crash, restart) serves
        as this sandbox when its hash is current: no cold start. Its orphans with another hash go."""
        with docker_errors(f"list containers of {spec.function}"):
            # sparse: a full list inspects each container and fails on one being created or removed
            found = self.client.containers.list(all=True, sparse=True, filters={"label": [
                f"{PROJECT_LABEL}={self.project}", f"{FUNCTION_LABEL}={spec.function}"]})
        stale: list[Container] = []
        picked: tuple[Container, tuple[str, int]] | None = None
        with self._owned_lock:
            for container in found:
                labels = _labels(container)
                if labels.get(MANAGER_LABEL) == self._instance or container.id in self._owned:
                    continue  # ours (even one still starting): never handed out twice
                where = self.address(container)
                current = (container.status == "running" and where is not None
                           and labels.get(HASH_LABEL) == spec.config_hash)
                if not current:
                    stale.append(container)
                elif picked is None and where is not None:
                    if _rie_answers(where[1], 1.0, host=where[0]):
                        picked = (container, self.reach(container, where))
                        self._owned.add(container.id)
                    else:
                        stale.append(container)
        for container in stale:
            self._remove(container)
        if picked is None:
            return None
        container, (host, port) = picked
        sandbox_id = _labels(container).get(SANDBOX_LABEL) or container.short_id
        self._follow_logs(container, on_line, since=int(self._clock()))  # earlier lines were shipped
        return Sandbox(id=sandbox_id, function=spec.function, config_hash=spec.config_hash,
                       invoke_url=f"http://{host}:{port}{INVOKE_PATH}", started_at=self._clock(), ref=container)

    def _remove(self, container: Container) -> None:
        import docker.errors

        with self._owned_lock:
            self._owned.discard(container.id)

        with docker_errors(f"remove container {container.short_id}"):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc.explanation or ""):
                    raise

    def stop(self, sandbox: Sandbox) -> None:
        container = sandbox.ref
        if container is not None:
            self._exited.add(container.id)  # type: ignore[attr-defined]
            self._remove(container)  # type: ignore[arg-type]

    def alive(self, sandbox: Sandbox) -> bool:
        container = sandbox.ref
        if container is None or container.id in self._exited:  # type: ignore[attr-defined]
            return False
        if container.id in self._streaming:  # type: ignore[attr-defined]
            return True
        return self._inspect_alive(container)  # type: ignore[arg-type]

    def _inspect_alive(self, container: Container) -> bool:
        import docker.errors

        try:
            container.reload()  # type: ignore[attr-defined]
        except docker.errors.NotFound:
            return False
        except Exception:  # noqa: BLE001 - an unreachable daemon cannot vouch for the sandbox
            return False
        return container.status == "running"  # type: ignore[attr-defined]

    def _project_containers(self) -> list[Container]:
        with docker_errors(f"list containers of {self.project}"):
            return self.client.containers.list(all=True, sparse=True,
                                               filters={"label": f"{PROJECT_LABEL}={self.project}"})

    def adopt(self, specs: dict[str, SandboxSpec], on_line: Callable[[str], LineSink]) -> list[Sandbox]:
        """Keep running containers whose config hash is current (specs keyed by function name);
        remove the rest, so a rebuilt function never serves old code."""
        adopted: list[Sandbox] = []
        now = int(self._clock())
        for container in self._project_containers():
            labels = _labels(container)
            spec = specs.get(labels.get(FUNCTION_LABEL, ""))
            where = self.address(container)
            current = spec is not None and labels.get(HASH_LABEL) == spec.config_hash
            if not (current and container.status == "running" and where and _rie_answers(where[1], 1.0, where[0])):
                self._remove(container)
                continue
            sandbox_id = labels.get(SANDBOX_LABEL) or container.short_id
            where = self.reach(container, where)
            with self._owned_lock:
                self._owned.add(container.id)
            adopted.append(Sandbox(id=sandbox_id, function=spec.function, config_hash=spec.config_hash,
                                   invoke_url=f"http://{where[0]}:{where[1]}{INVOKE_PATH}",
                                   started_at=float(now), ref=container))
            self._follow_logs(container, on_line(sandbox_id), since=now)  # old lines were already shipped
        return adopted

    def limits_note(self) -> str | None:
        # What the daemon can enforce does not change while it runs: one `docker info` (15 ms), not one per
        # /health (issue 14).
        if self._limits_checked:
            return self._limits_note
        self._limits_note = self._daemon_limits()
        self._limits_checked = True
        return self._limits_note

    def _daemon_limits(self) -> str | None:
        with docker_errors("docker info"):
            info = self.client.info()
        if not info.get("MemoryLimit", True):
            return "docker: the daemon cannot enforce memory limits (no memory cgroup)"
        if not info.get("SwapLimit", True):
            return "docker: swap is not limited (no swap accounting); MemorySize caps RAM only"
        return None

    def remove_all(self, network: bool = True) -> int:
        """Remove every container and the network of this project (`esb down`); returns the count.
        network=False keeps the network (the compose stack owns it and removes it itself)."""
        from concurrent.futures import ThreadPoolExecutor

        containers = self._project_containers()
        # One `rm -f` takes ~0.3 s (stop + unmount); a box with many warm sandboxes goes in parallel.
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._remove, containers))
        if network:
            with docker_errors(f"remove network {network_name(self.project)}"):
                for found in self._networks(network_name(self.project)):
                    found.remove()
        return len(containers)


def remove_project(project: str, client_factory: Callable[[], docker.DockerClient] | None = None,
                   network: bool = True) -> int:
    """`esb down` for the docker engine: only this project's containers and network are touched."""
    return DockerEngine(project, client_factory=client_factory).remove_all(network=network)
