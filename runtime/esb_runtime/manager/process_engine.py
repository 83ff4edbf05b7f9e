"""The process engine: each sandbox is the genuine RIE plus awslambdaric as host processes."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Sequence

from esb_runtime import procfs
from esb_runtime.contract import rie_go_environment, without_rie_go
from esb_runtime.engine import LineSink, Sandbox, SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.cgroups import MemoryLimiter
from esb_runtime.manager.firewall import Grant
from esb_runtime.manager.node_host import NodeBinary, find_node, is_node, mismatch_note, node_command, node_environment
from esb_runtime.manager.python_host import PythonHost, python_command, python_environment, read_host
from esb_runtime.manager.registry import Entry, SandboxRegistry

if TYPE_CHECKING:
    from esb_runtime.manager.firewall import Firewall
    from esb_runtime.manager.identities import IdentityBook
    from esb_runtime.manager.identities import Identity
    from esb_runtime.manager.isolation import Plan

log = logging.getLogger(__name__)

RUNTIME_PARENT = Path(__file__).resolve().parents[2]  # the dir containing esb_runtime
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_HOME = "/tmp"  # HOME and TMPDIR of sandboxes run as an unprivileged user
PR_SET_PDEATHSIG = 1
CHUNK_BYTES = 65536
SETTLE_S = 0.002


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_pids(sid: int) -> list[int]:
    """Every live process of session `sid` (the RIE starts the runtime in a process group of its own)."""
    return procfs.members(sid=sid)


def kill_session(sid: int) -> None:
    """SIGKILL the session's groups and members until none is left (a dying parent may still fork)."""
    kill_all(lambda: session_pids(sid))


def kill_all(find: Callable[[], list[int]]) -> None:
    """SIGKILL what `find` lists (and their groups) until it lists nothing."""
    for _ in range(5):
        pids = find()
        if not pids:
            return
        for pid in pids:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.01)


def die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the RIE gets SIGKILL when the manager dies, even by SIGKILL (the registry is the other net)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: no loader locks in the child

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the manager died before the request took effect
            os._exit(1)

    return arm


def sandbox_home(homes: Path, identity: Identity) -> Path:
    """HOME and TMPDIR of one function's sandboxes: `<homes>/<uid>`, 0700 and its own (Lambda's private /tmp,
    where the shared /tmp would let one function plant files for another)."""
    home = homes / str(identity.uid)
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(homes, 0o711)  # each function may pass through to its own dir, and list nothing
    os.lchown(home, identity.uid, identity.gid)
    os.chmod(home, 0o700)
    return home


def confine_code(spec: SandboxSpec, identity: Identity) -> None:
    """`functions/<fn>/` (code, deps, layers) enterable only by the function's group: other functions read none
    of it. Done at each start, so a tree the build re-created is closed again."""
    function_dir = spec.code_dir.parent
    if function_dir.name == "functions" or not function_dir.is_dir():
        return  # not the staged layout (a test's bare code dir): nothing of another function's to hide
    os.chown(function_dir, os.geteuid(), identity.gid)
    os.chmod(function_dir, 0o750)


def output_lines(stream: IO[bytes], settle_s: float = SETTLE_S,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """A sandbox's output lines, read in chunks: what came in one read, then a pause of `settle_s` so that the
    next read finds several lines. A read per line woke the manager four times per call (START, the markers,
    END and REPORT), a fifth of its CPU per call (issue 14); a log line now waits at most `settle_s` more."""
    carry = b""
    while chunk := stream.read1(CHUNK_BYTES):  # type: ignore[attr-defined]
        *lines, carry = (carry + chunk).split(b"\n")
        for raw in lines:
            yield raw.decode("utf-8", "replace").rstrip("\r")
        if len(chunk) < CHUNK_BYTES:  # a full chunk: more is waiting already
            sleep(settle_s)
    if carry:
        yield carry.decode("utf-8", "replace").rstrip("\r")


def debug_prefix(port: int | None) -> list[str]:
    """debugpy in front of the runtime: it listens on loopback and holds the runtime until a debugger attaches."""
    if port is None:
        return []
    # Frozen stdlib modules would hide breakpoints in them (debugpy warns on every start).
    return ["-Xfrozen_modules=off", "-m", "debugpy", "--listen", f"127.0.0.1:{port}", "--wait-for-client"]


@dataclass
class _Handle:
    proc: subprocess.Popen[bytes]
    reader: threading.Thread
    cgroup: Path | None
    identity: Identity | None = None  # its own slot's, when each function has identities of its own
    stopped: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))


def host_environment(spec: SandboxSpec, sandbox_id: str, runtime_parent: Path, extra_path: Sequence[str] = (),
                     home: str | None = None) -> dict[str, str]:
    """What Lambda sets that depends on where the sandbox runs (paths), on top of the spec's environment."""
    python_path = [str(spec.code_dir)]
    if spec.deps_dir is not None:
        python_path.append(str(spec.deps_dir))
    python_path += [str(layer / "python") for layer in spec.layer_dirs]
    python_path.append(str(runtime_parent))
    python_path += list(extra_path)  # the manager's site-packages when sandboxes use another interpreter
    env = {"PATH": HOST_PATH, "LANG": "C.UTF-8"}
    if home is not None:  # an unprivileged sandbox user has no usable home of its own
        env.update({"HOME": home, "TMPDIR": home})
    env.update(spec.environment)
    env.update(rie_go_environment(spec.environment))  # the RIE's alone: its runtime starts without them
    env.update({
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_parent),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONUNBUFFERED": "1",
        # Bytecode in the staged code could outlive a same-size save within one second: never write it.
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + sandbox_id,
    })
    return env


class ProcessEngine:
    """Sandboxes as process groups: `aws-lambda-rie ... python -m esb_runtime.sandbox.bootstrap <handler>`."""

    name = "process"

    def __init__(self, rie_path: Path, *, python: str = sys.executable, runtime_parent: Path = RUNTIME_PARENT,
                 limiter: MemoryLimiter | None = None, ready_timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, identity: Identity | None = None,
                 extra_path: Sequence[str] = (), registry: SandboxRegistry | None = None,
                 die_with_manager: bool = False, rie_log_level: str = "error",
                 node_finder: Callable[[str], NodeBinary | None] = find_node) -> None:
        self.rie_path = Path(rie_path)
        # Always given: the RIE would otherwise read LOG_LEVEL, which is the function's own variable.
        self.rie_log_level = rie_log_level
        self.registry = registry  # None: nothing on disk (unit tests); the manager always passes one
        # Only where sandboxes are started from the process's main thread (the gevent manager): PDEATHSIG fires
        # when the thread that forked the child ends, not the process.
        self.die_with_manager = die_with_manager
        self.python = python
        self.identity = identity  # None: sandboxes run as the manager's own user
        self.identities: IdentityBook | None = None  # set: one identity per function instead of `identity`
        self.firewall: Firewall | None = None  # set: each sandbox's RIE ports closed to all but their users
        self.homes: Path | None = None  # set: each function's private HOME/TMPDIR lives under it
        self.extra_path = tuple(extra_path)
        self.public_copies: dict[str, str] = {}  # private file -> copy the sandbox user may read
        self.runtime_parent = runtime_parent
        self.limiter = limiter if limiter is not None else MemoryLimiter()
        self.ready_timeout_s = ready_timeout_s
        self.clock = clock
        self._warned: set[str] = set()
        self._notes: list[str] = []
        self._host_runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        self._node_finder = node_finder
        self._node: NodeBinary | None = None

    def start(self, spec: SandboxSpec, on_line: LineSink) -> Sandbox:
        if spec.package_type == "Image":
            raise EngineError(f"{spec.function} is a container image function (PackageType: Image): it runs on the "
                              "docker engine only; start the box with `esb up --engine docker`")
        # A debug session runs in the Lambda environment plus debugpy's overlay; without one (a tree built before
        # overlays), in the box's interpreter, where debugpy is.
        lambda_python = spec.runtime.startswith("python") and (spec.debug_port is None or spec.debug_site is not None)
        host = read_host(spec.runtime_dir) if lambda_python else None
        self._check_runtime(spec.runtime, host)
        if not spec.code_dir.is_dir():
            raise EngineError(f"{spec.function}: code directory {spec.code_dir} does not exist (run `esb build`)")
        sandbox_id = "sb-" + uuid.uuid4().hex[:12]
        invoke_port, api_port = free_port(), free_port()
        argv = [str(self.rie_path),
                "--runtime-interface-emulator-address", f"127.0.0.1:{invoke_port}",
                "--runtime-api-address", f"127.0.0.1:{api_port}",
                "--log-level", self.rie_log_level,
                *without_rie_go(rie_go_environment(spec.environment), self._runtime_command(spec, host))]
        identity = self._identity_for(spec)
        try:
            sandbox = self._spawn(identity, spec, on_line, sandbox_id, argv, host, (invoke_port, api_port))
        except BaseException:
            self._give_back(spec.function, identity)
            raise
        try:
            self._wait_ready(sandbox, invoke_port)
        except EngineError:
            self.stop(sandbox)  # gives the slot back
            raise
        return sandbox

    def _spawn(self, identity: Identity | None, spec: SandboxSpec, on_line: LineSink, sandbox_id: str,
               argv: list[str], host: PythonHost | None, ports: tuple[int, int]) -> Sandbox:
        """Start the RIE as `identity` behind its firewall grant; not yet listening when this returns."""
        invoke_port, api_port = ports
        home = None if identity is None else SANDBOX_HOME
        if identity is not None and self.homes is not None:
            home = str(sandbox_home(self.homes, identity))
            confine_code(spec, identity)
        env = host_environment(spec, sandbox_id, self.runtime_parent, self.extra_path, home=home)
        if is_node(spec.runtime):
            env.update(node_environment(spec, self._host_node(spec.function)))
        elif host is not None:
            env.update(python_environment(spec, host))  # nothing of the box on sys.path
        env = {key: self.public_copies.get(value, value) for key, value in env.items()}  # e.g. AWS_CA_BUNDLE
        if self.firewall is not None and identity is not None:
            self.firewall.allow(Grant(sandbox_id, invoke_port, api_port, identity.uid))  # before anyone listens
        try:
            proc = subprocess.Popen(argv, cwd=spec.code_dir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True, **self._spawn_as(identity))
        except OSError as exc:
            self._revoke(sandbox_id)
            raise EngineError(f"{spec.function}: cannot start the RIE {self.rie_path}: {exc.strerror}") from exc
        self._record(sandbox_id, spec, proc.pid)  # before anything else can fail: a killed manager's leftovers
        cgroup = self.limiter.attach(sandbox_id, proc.pid, spec.memory_mb)
        handle = _Handle(proc=proc, reader=threading.Thread(), cgroup=cgroup,
                         identity=identity if self.identities is not None else None)
        handle.reader = threading.Thread(target=self._drain, args=(proc.stdout, on_line, handle.tail),
                                         name=f"drain-{sandbox_id}", daemon=True)
        handle.reader.start()
        return Sandbox(id=sandbox_id, function=spec.function, config_hash=spec.config_hash,
                       invoke_url=f"http://127.0.0.1:{invoke_port}/2015-03-31/functions/function/invocations",
                       started_at=time.time(), ref=handle)

    def _record(self, sandbox_id: str, spec: SandboxSpec, pid: int) -> None:
        if self.registry is None:
            return
        try:
            self.registry.add(Entry(sandbox=sandbox_id, function=spec.function, config_hash=spec.config_hash,
                                    sid=pid, start_ticks=procfs.start_ticks(pid) or 0))
        except OSError as exc:  # serve anyway: PDEATHSIG and `esb down`'s group kill still cover it
            log.warning("sandbox %s not recorded in %s: %s", sandbox_id, self.registry.directory, exc)

    def clear_leftovers(self) -> int:
        """At manager start: stop the sandboxes a killed predecessor left (their log pipes died with it, so
        they cannot be adopted: they are replaced on demand). Returns how many were found."""
        return len(self.registry.sweep()) if self.registry is not None else 0

    def isolate(self, plan: Plan) -> None:
        """Adopt the start-up decision of who sandboxes run as (see isolation.py); called before any start."""
        self.identity, self.python, self.rie_path = plan.identity, plan.python, Path(plan.rie_path)
        self.extra_path = tuple(plan.extra_path)
        self.public_copies = dict(plan.public_copies)
        self.identities, self.firewall, self.homes = plan.identities, plan.firewall, plan.homes
        if plan.note:
            self._notes.append(plan.note)

    def _identity_for(self, spec: SandboxSpec) -> Identity | None:
        """A free slot's identity of the function when the plan gave each its own, else the shared one (or None)."""
        if self.identity is not None and self.identities is not None:
            return self.identities.take(spec.function)
        return self.identity

    def _give_back(self, function: str, identity: Identity | None) -> None:
        """Free a slot once nothing runs as its uid: a process that left the sandbox's session (setsid) must not
        meet the slot's next sandbox, which it could otherwise spy on and reach the runtime API of."""
        if identity is None or self.identities is None:
            return
        kill_all(lambda: procfs.running_as(identity.uid))
        self.identities.give_back(function, identity)

    def _spawn_as(self, identity: Identity | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"preexec_fn": die_with_parent(os.getpid())} if self.die_with_manager else {}
        if identity is None:
            return extra
        return {**extra, "user": identity.uid, "group": identity.gid, "extra_groups": []}

    def _revoke(self, sandbox_id: str) -> None:
        if self.firewall is None:
            return
        try:
            self.firewall.revoke(sandbox_id)
        except EngineError as exc:  # the sandbox is gone either way; its port numbers are free again
            log.warning("sandbox %s: its firewall rules stay until the box stops: %s", sandbox_id, exc)

    def _runtime_command(self, spec: SandboxSpec, host: PythonHost | None = None) -> list[str]:
        """What the RIE starts: awslambdaric behind the sandbox bootstrap, in python or node."""
        if is_node(spec.runtime):
            if spec.debug_port is not None:
                raise EngineError(f"{spec.function}: the debug port is for Python functions (debugpy)")
            return node_command(self._host_node(spec.function), self.runtime_parent, spec)
        if host is not None:
            return python_command(host, spec.handler, debug_prefix(spec.debug_port))
        return [self.python, *debug_prefix(spec.debug_port), "-m", "esb_runtime.sandbox.bootstrap", spec.handler]

    def _host_node(self, function: str) -> NodeBinary:
        if self._node is None:
            self._node = self._node_finder(HOST_PATH)
        if self._node is None:
            raise EngineError(f"{function}: no `node` on {HOST_PATH}: install Node.js to run nodejs functions")
        return self._node

    def _check_runtime(self, runtime: str, host: PythonHost | None = None) -> None:
        if runtime in self._warned:
            return
        note = None
        if host is not None:
            note = host.note  # the build chose the closest interpreter and said why
        elif runtime.startswith("python") and runtime != self._host_runtime:
            note = (f"functions declare Runtime {runtime} but the process engine runs them on the host's "
                    f"{self._host_runtime}")
        elif is_node(runtime):
            node = self._node if self._node is not None else self._node_finder(HOST_PATH)
            self._node = node
            note = None if node is None else mismatch_note(runtime, node)
        if note:
            self._warned.add(runtime)
            self._notes.append(note)
            log.warning(note)

    @staticmethod
    def _drain(stream: IO[bytes] | None, on_line: LineSink, tail: deque[str]) -> None:
        # Always read: the RIE blocks on a full pipe.
        if stream is None:
            return
        for line in output_lines(stream):
            tail.append(line)
            try:
                on_line(line)
            except Exception:  # a broken sink must never stop the draining
                log.exception("log sink failed")
        stream.close()

    def _wait_ready(self, sandbox: Sandbox, port: int) -> None:
        handle: _Handle = sandbox.ref  # type: ignore[assignment]
        deadline = self.clock() + self.ready_timeout_s
        while True:
            code = handle.proc.poll()
            if code is not None:
                handle.reader.join(0.5)
                output = " | ".join(list(handle.tail)[-3:]) or "no output"
                raise EngineError(f"{sandbox.function}: the RIE exited with code {code} at start: {output}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                pass
            if self.clock() > deadline:
                raise EngineError(f"{sandbox.function}: the RIE did not listen within {self.ready_timeout_s:.0f} s")
            time.sleep(0.005)

    def stop(self, sandbox: Sandbox) -> None:
        handle: _Handle | None = sandbox.ref  # type: ignore[assignment]
        if handle is None or handle.stopped:
            return
        handle.stopped = True  # never signal a pid again once reaped: it may belong to someone else by then
        # The whole session: the RIE, the runtime's own process group, anything the handler forked.
        kill_session(handle.proc.pid)
        self._revoke(sandbox.id)
        if self.registry is not None:
            self.registry.remove(sandbox.id)
        try:
            handle.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("sandbox %s: pid %s did not exit after SIGKILL", sandbox.id, handle.proc.pid)
        handle.reader.join(timeout=1)
        self.limiter.release(handle.cgroup)
        self._give_back(sandbox.function, handle.identity)

    def alive(self, sandbox: Sandbox) -> bool:
        handle: _Handle | None = sandbox.ref  # type: ignore[assignment]
        return handle is not None and handle.proc.poll() is None

    def pid(self, sandbox: Sandbox) -> int | None:
        handle: _Handle | None = sandbox.ref  # type: ignore[assignment]
        return None if handle is None else handle.proc.pid

    def exit_status(self, sandbox: Sandbox) -> int | None:
        handle: _Handle | None = sandbox.ref  # type: ignore[assignment]
        return None if handle is None else handle.proc.poll()

    def adopt(self, specs: dict[str, SandboxSpec], on_line: Callable[[str], LineSink]) -> list[Sandbox]:
        return []  # host processes die with their session; nothing survives a manager restart

    def limits_note(self) -> str | None:
        return self.limiter.note

    def notes(self) -> list[str]:
        note = self.limits_note()
        return ([note] if note else []) + list(self._notes)
