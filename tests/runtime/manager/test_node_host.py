"""Node.js sandboxes on the host: node discovery, the command line, Lambda's Node environment, the JS bootstrap."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from esb_runtime.engine import SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.node_host import (
    BOOTSTRAP, NodeBinary, declared_major, find_node, mismatch_note, node_command, node_environment, node_path,
)
from esb_runtime.manager.process_engine import ProcessEngine
from esb_runtime.sandbox import metrics
from esb_runtime.sandbox.bootstrap import BEGIN_MARKER, METRICS_MARKER

SANDBOX = Path(__file__).resolve().parents[3] / "runtime" / "esb_runtime" / "sandbox"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


def spec(tmp_path: Path, runtime: str = "nodejs20.x", **env: str) -> SandboxSpec:
    fn = tmp_path / "functions" / "fn"
    return SandboxSpec(function="fn", config_hash="h", handler="index.handler", runtime=runtime,
                       code_dir=fn / "src", deps_dir=fn / "deps", layer_dirs=(fn / "layers" / "a", fn / "layers" / "b"),
                       environment={"AWS_LAMBDA_FUNCTION_NAME": "fn", **env}, memory_mb=128, timeout_s=3,
                       runtime_dir=tmp_path / "runtimes" / "nodejs")


def test_declared_major() -> None:
    assert [declared_major(r) for r in ("nodejs20.x", "nodejs18.x", "python3.11", "nodejs")] == [20, 18, None, None]


def test_find_node_asks_the_binary_for_its_version() -> None:
    calls: list[list[str]] = []

    def runner(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "v22.1.0\n", "")

    assert find_node("/bin", which=lambda name, path: f"{path}/{name}", runner=runner) == NodeBinary("/bin/node", 22)
    assert calls == [["/bin/node", "--version"]]
    assert find_node("/bin", which=lambda name, path: None) is None


def test_node_path_is_lambdas_order_with_the_staged_dirs(tmp_path: Path) -> None:
    sb = spec(tmp_path)
    fn = tmp_path / "functions" / "fn"
    assert node_path(sb, 20) == [str(p) for p in (
        fn / "deps" / "node_modules",
        fn / "layers" / "a" / "nodejs" / "node20" / "node_modules", fn / "layers" / "a" / "nodejs" / "node_modules",
        fn / "layers" / "b" / "nodejs" / "node20" / "node_modules", fn / "layers" / "b" / "nodejs" / "node_modules",
        tmp_path / "runtimes" / "nodejs" / "node_modules", tmp_path / "runtimes" / "nodejs", fn / "src",
    )]


def test_environment_tells_the_truth_about_a_mismatched_node(tmp_path: Path) -> None:
    same = node_environment(spec(tmp_path, AWS_CA_BUNDLE="/ca.pem"), NodeBinary("/n", 20))
    assert "AWS_EXECUTION_ENV" not in same  # the engine-independent AWS_Lambda_nodejs20.x stands
    assert same["NODE_EXTRA_CA_CERTS"] == "/ca.pem"
    assert same["LAMBDA_RUNTIME_DIR"] == str(tmp_path / "runtimes" / "nodejs")
    other = node_environment(spec(tmp_path, runtime="nodejs22.x"), NodeBinary("/n", 20))
    assert other["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x" and "NODE_EXTRA_CA_CERTS" not in other
    assert mismatch_note("nodejs20.x", NodeBinary("/n", 20)) is None
    assert "Runtime nodejs22.x" in (mismatch_note("nodejs22.x", NodeBinary("/n", 20)) or "")


def test_command_runs_the_bootstrap_and_needs_the_staged_runtime(tmp_path: Path) -> None:
    sb = spec(tmp_path)
    with pytest.raises(EngineError, match="Node.js runtime environment is missing"):
        node_command(NodeBinary("/n", 20), Path("/rt"), sb)
    (tmp_path / "runtimes" / "nodejs" / "node_modules").mkdir(parents=True)
    assert node_command(NodeBinary("/n", 20), Path("/rt"), sb) == ["/n", str(Path("/rt") / BOOTSTRAP), "index.handler"]


def test_process_engine_warns_once_per_mismatched_runtime_and_fails_clearly_without_node(tmp_path: Path) -> None:
    engine = ProcessEngine(tmp_path / "rie", node_finder=lambda path: NodeBinary("/n", 20))
    for _ in range(2):
        engine._check_runtime("nodejs22.x")
    engine._check_runtime("nodejs20.x")
    assert [n for n in engine.notes() if "nodejs" in n] == [mismatch_note("nodejs22.x", NodeBinary("/n", 20))]
    bare = ProcessEngine(tmp_path / "rie", node_finder=lambda path: None)
    with pytest.raises(EngineError, match="no `node`"):
        bare._runtime_command(spec(tmp_path))


def _node(script: str, *args: str) -> Any:
    done = subprocess.run(["node", "--input-type=module", "-e", script, *args], capture_output=True, text=True,
                          timeout=30, check=True)
    return json.loads(done.stdout)


@needs_node
def test_bootstrap_moves_the_trace_carrier_into_the_trace_header() -> None:
    script = f"""
import {{ restoreTrace }} from {json.dumps((SANDBOX / "bootstrap.mjs").as_uri())};
const cc = (v) => ({{"lambda-runtime-client-context": JSON.stringify(v), "lambda-runtime-aws-request-id": "r"}});
console.log(JSON.stringify([
  restoreTrace(cc({{custom: {{"x-esb-trace-id": "Root=1-a"}}}})),
  restoreTrace(cc({{custom: {{"x-esb-trace-id": "Root=1-b", k: "v"}}, client: {{id: 1}}}})),
  restoreTrace({{"lambda-runtime-client-context": "not json"}}),
  restoreTrace({{"lambda-runtime-aws-request-id": "r"}}),
]));
"""
    only, mixed, broken, none = _node(script)
    assert only == {"lambda-runtime-aws-request-id": "r", "lambda-runtime-trace-id": "Root=1-a"}
    assert mixed["lambda-runtime-trace-id"] == "Root=1-b"
    assert json.loads(mixed["lambda-runtime-client-context"]) == {"custom": {"k": "v"}, "client": {"id": 1}}
    assert broken == {"lambda-runtime-client-context": "not json"}
    assert none == {"lambda-runtime-aws-request-id": "r"}


@needs_node
def test_es_modules_resolve_bare_imports_from_the_node_path_roots(tmp_path: Path) -> None:
    root = tmp_path / "layer" / "nodejs" / "node_modules"
    (root / "greet").mkdir(parents=True)
    (root / "greet" / "package.json").write_text('{"name": "greet", "main": "index.js"}')
    (root / "greet" / "index.js").write_text("exports.hi = () => 'hi';\n")
    handler = tmp_path / "task" / "index.mjs"
    handler.parent.mkdir()
    handler.write_text("import { hi } from 'greet';\nexport const value = hi();\n")
    script = f"""
import {{ register }} from "node:module";
register({json.dumps((SANDBOX / "node_resolve.mjs").as_uri())}, {{ data: {{ roots: [{json.dumps(str(root))}] }} }});
const mod = await import({json.dumps(handler.as_uri())});
let missing = null;
try {{ await import("no-such-package-anywhere"); }} catch (error) {{ missing = error.code; }}
console.log(JSON.stringify([mod.value, missing]));
"""
    assert _node(script) == ["hi", "ERR_MODULE_NOT_FOUND"]


@needs_node
def test_bootstrap_measures_init_once_and_each_invocation_before_it_answers() -> None:
    """The Node twin of bootstrap.py's Meter: same markers, same figures; the call and its trace announced as it
    begins, the figures written before done()/error()."""
    context = json.dumps({"custom": {"x-esb-trace-id": "Root=1-abc"}})
    script = f"""
import {{ wrapNativeClient, METRICS_MARKER, BEGIN_MARKER }} from {json.dumps((SANDBOX / "bootstrap.mjs").as_uri())};
const seen = [];
let clock = 0;
let calls = 0;
const native = {{
  next: async () => {{
    clock += 500;
    calls += 1;
    return {{ bodyJson: "{{}}", headers: {{ "lambda-runtime-aws-request-id": "r" + calls,
                                          "lambda-runtime-client-context": {json.dumps(context)} }} }};
  }},
  done: (id, body) => seen.push(["done", id]),
  error: (id, body, xray) => seen.push(["error", id]),
}};
const client = wrapNativeClient(native, {{
  now: () => clock, write: (text) => seen.push(["line", text]), maxRssKiB: () => 40 * 1024 + 1,
}});
clock = 120.456;  // the handler loaded: the runtime asks for work
await client.next();  // 500 ms waiting for the call: neither init nor duration
clock += 30.2;
client.done("r1", "{{}}");
await client.next();
clock += 1;
client.error("r2", "{{}}", "");
console.log(JSON.stringify({{ marker: METRICS_MARKER, begin: BEGIN_MARKER, seen }}));
"""
    out = _node(script)
    assert out["marker"] == METRICS_MARKER  # the one the log pump parses
    assert out["begin"] == BEGIN_MARKER
    kinds = [entry[0] if entry[0] != "line" or entry[1].startswith(METRICS_MARKER) else "begin"
             for entry in out["seen"]]
    assert kinds == ["begin", "line", "done", "begin", "line", "error"]
    assert out["seen"][0][1] == f"{BEGIN_MARKER}r1\tRoot=1-abc\n"
    cold, warm = (metrics.parse(entry[1].rstrip("\n")) for entry in out["seen"]
                  if entry[0] == "line" and entry[1].startswith(METRICS_MARKER))
    assert cold == {"duration_ms": 30.2, "max_memory_mb": 41, "init_ms": 120.46, "request_id": "r1"}
    assert warm == {"duration_ms": 1.0, "max_memory_mb": 41, "request_id": "r2"}
