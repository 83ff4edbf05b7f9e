"""`esb invoke`: one invocation of a built function, like `sam local invoke`.

Through the running box's manager when a box is up and nothing of this call differs from the box's build (its
warm sandboxes, its log store, either engine); otherwise in one sandbox of its own, started with the runtime's
process engine and stopped after: that is the only way `--env-vars`, `--parameter-overrides` and `-d` can
change a single call without touching the running box or the build. That sandbox reaches the box's stores when
a box is up."""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, TextIO

from esb.box.state import BoxState
from esb.build.python_runtime import Interpreter, ensure_debug_overlay
from esb.errors import BoxError, ConfigError
from esb.model import Application, Function
from esb.paths import BuildTree
from esb_runtime.contract import read_python_record
from esb_runtime.engine import Engine, SandboxSpec

# Without a box, an SDK call in the function must fail here and fast, never reach AWS: nothing listens on port 1.
NO_STORES_ENDPOINT = "http://127.0.0.1:1"
DEBUG_TIMEOUT_S = 3600  # a function stopped at a breakpoint must not time out (as `sam local invoke -d`)
REPORT_WAIT_S = 2.0  # the RIE writes END/REPORT just after it answers


@dataclass(frozen=True)
class Result:
    outcome: str  # ok | error | timeout | crash | init_error (esb_runtime.manager.invoke)
    body: bytes


def pick_function(app: Application, wanted: str | None) -> Function:
    """By logical id or FunctionName; no name is fine when the template has one function."""
    if wanted is None:
        if len(app.functions) == 1:
            return app.functions[0]
        raise ConfigError("which function? the template has several",
                          hint="esb invoke FUNCTION, one of: " + ", ".join(f.logical_id for f in app.functions))
    for fn in app.functions:
        if wanted in (fn.logical_id, fn.name):
            return fn
    raise ConfigError(f"no function {wanted!r} in the template",
                      hint="one of: " + ", ".join(f"{f.logical_id} ({f.name})" for f in app.functions))


def read_event(source: str | None, stdin: TextIO, cwd: Path) -> bytes:
    """`-e FILE`, `-e -` (stdin), or `{}` when no event is given; it must be JSON, as Lambda's payload."""
    if source is None:
        return b"{}"
    where = "stdin" if source == "-" else str(cwd / source)
    try:
        text = stdin.read() if source == "-" else (cwd / source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the event: {exc.strerror}", where=where) from exc
    try:
        json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"the event is not JSON: {exc}", where=where) from exc
    return text.encode()


def need_debugpy(find: Callable[[str], object] = importlib.util.find_spec) -> None:
    if find("debugpy") is None:
        raise ConfigError("debugpy is not installed, so -d cannot start the function under a debugger",
                          hint="pip install debugpy, or pip install 'edge-serverless-box[debug]'")


def with_debugger(spec: SandboxSpec, cache: Path, overlay: Callable[[Path, Interpreter], Path] = ensure_debug_overlay,
                  find: Callable[[str], object] = importlib.util.find_spec) -> SandboxSpec:
    """A debug session on the function's Lambda environment plus debugpy's cached overlay, so it sees what normal
    runs see; on the box's own interpreter (which must have debugpy) only for a tree without that environment."""
    record = read_python_record(spec.runtime_dir) if spec.runtime_dir is not None else None
    if record is None:
        need_debugpy(find)
        return spec
    return replace(spec, debug_site=overlay(cache, Interpreter(record.python, record.version)))


def sandbox_spec(tree: BuildTree, fn: Function, *, environment: Mapping[str, str] | None,
                 state: BoxState | None, rie_path: Path, debug_port: int | None) -> SandboxSpec:
    """The spec the box's manager would build for `fn` from the output tree, with this call's environment."""
    from esb_runtime import secrets as box_secrets
    from esb_runtime.config import load_functions
    from esb_runtime.manager.specs import build_spec
    from esb_runtime.settings import RuntimeSettings

    functions = load_functions(tree.functions_config, tree.root)
    config = functions.get(fn.name)
    if config is None:
        raise BoxError(f"{fn.logical_id} is not in {tree.functions_config}", hint="run `esb build`")
    if environment is not None:
        config = replace(config, environment=tuple(sorted(environment.items())))
    settings = RuntimeSettings(
        output_dir=tree.root, manager_socket=tree.manager_socket, rie_path=rie_path,
        s3_endpoint=state.s3_endpoint if state else NO_STORES_ENDPOINT,
        dynamodb_endpoint=state.dynamodb_endpoint if state else NO_STORES_ENDPOINT,
        lambda_endpoint=state.lambda_endpoint if state else NO_STORES_ENDPOINT,
    )
    secrets = box_secrets.load(settings.secrets_file) if settings.secrets_file.exists() else None
    spec = build_spec(config, functions, settings, secrets, config.sandbox_hash())
    env = dict(spec.environment)
    if state is None:
        env.setdefault("AWS_ENDPOINT_URL", NO_STORES_ENDPOINT)  # every other service too
        env.setdefault("AWS_ACCESS_KEY_ID", "esb-invoke")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "esb-invoke")
    timeout = spec.timeout_s
    if debug_port is not None:
        timeout = DEBUG_TIMEOUT_S
        env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = str(timeout)
    return replace(spec, environment=env, timeout_s=timeout, debug_port=debug_port)


class _LogRelay:
    """Writes the sandbox's lines to the log stream and notices the invocation's REPORT line. The RIE's own
    INFO diagnostics (`[INFO] (rapid) ...`) are left out unless verbose, as Lambda's log holds none of them."""

    def __init__(self, log: TextIO, verbose: bool = False) -> None:
        self.log = log
        self.verbose = verbose
        self.reported = threading.Event()

    def __call__(self, line: str) -> None:
        if line.startswith("REPORT RequestId"):
            self.reported.set()
        if not self.verbose and "[INFO] (rapid)" in line:
            return
        self.log.write(line + "\n")
        self.log.flush()


def process_engine(tree: BuildTree, rie_path: Path) -> Engine:
    """The box's process engine over the output tree's runtime copy, as the manager runs it."""
    from esb_runtime.manager.process_engine import ProcessEngine

    # die_with_manager: the sandbox goes when this command dies (it runs in the main thread, as PDEATHSIG needs).
    return ProcessEngine(rie_path, runtime_parent=tree.runtime, die_with_manager=True)


def invoke_in_sandbox(engine: Engine, spec: SandboxSpec, payload: bytes, log: TextIO, *, trace_id: str,
                      verbose: bool = False) -> Result:
    """Start one sandbox, invoke once, stop it; its whole output (START/END/REPORT and the function's) goes to `log`."""
    from esb_runtime.errors import EngineError as RuntimeEngineError
    from esb_runtime.manager.invoke import RieClient, client_context_header, invoke

    relay = _LogRelay(log, verbose)
    try:
        sandbox = engine.start(spec, relay)
    except RuntimeEngineError as exc:
        raise BoxError(str(exc)) from exc
    client = RieClient(sandbox.invoke_url)
    try:
        result = invoke(client, payload, timeout_s=spec.timeout_s,
                        client_context=client_context_header(None, trace_id))
        relay.reported.wait(REPORT_WAIT_S)
    finally:
        client.close()
        engine.stop(sandbox)
    return Result(result.outcome, result.body)


def invoke_via_manager(tree: BuildTree, function: str, payload: bytes, log: TextIO, *, trace_id: str,
                       client=None) -> Result:
    """One RequestResponse call through the running box's manager; its log tail goes to `log`."""
    from esb_runtime.errors import RuntimeBoxError
    from esb_runtime.gateway.manager_client import UdsManagerClient

    client = client or UdsManagerClient(tree.manager_socket)
    try:
        answer = client.invoke(function, payload, trace_id=trace_id, log_tail=True)
    except RuntimeBoxError as exc:
        raise BoxError(f"the box's manager refused the call: {exc.message}", hint="see `esb status`") from exc
    finally:
        client.close()
    if answer.log_tail:
        log.write(base64.b64decode(answer.log_tail).decode("utf-8", "replace"))
        log.flush()
    return Result(answer.outcome, answer.payload)


def manager_answers(tree: BuildTree, state: BoxState | None) -> bool:
    from esb_runtime.gateway.manager_client import UdsManagerClient

    if state is None or state.engine == "compose":  # compose: the manager is inside the stack, not on this host
        return False
    client = UdsManagerClient(tree.manager_socket)
    try:
        return client.health() is not None
    finally:
        client.close()


def exit_code(result: Result, out: TextIO, err: TextIO) -> int:
    """The payload on stdout (a function error's document too, as `sam local invoke` prints it); non-zero unless ok."""
    text = result.body.decode("utf-8", "replace")
    out.write(text + ("" if text.endswith("\n") else "\n"))
    out.flush()
    if result.outcome == "ok":
        return 0
    err.write(f"error: the function ended with {result.outcome.replace('_', ' ')}\n")
    return 1
