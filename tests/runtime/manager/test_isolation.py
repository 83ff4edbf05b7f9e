"""Who sandboxes run as: the identity decision, the reachability checks, the RIE copy and the start-up probe."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from esb_runtime import secrets as box_secrets
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager import isolation
from esb_runtime.manager.isolation import Identity, Plan
from esb_runtime.manager.process_engine import ProcessEngine, host_environment

NOBODY = Identity(user="nobody", uid=65534, gid=65534)
USERS = {"nobody": SimpleNamespace(pw_name="nobody", pw_uid=65534, pw_gid=65534),
         "toor": SimpleNamespace(pw_name="toor", pw_uid=0, pw_gid=0),
         "edge": SimpleNamespace(pw_name="edge", pw_uid=1000, pw_gid=1000)}


def lookups(uid: int) -> dict[str, Any]:
    def getpwnam(name: str) -> Any:
        return USERS[name]

    def getpwuid(number: int) -> Any:
        for entry in USERS.values():
            if entry.pw_uid == number and entry.pw_name != "toor":
                return entry
        raise KeyError(number)

    return {"geteuid": lambda: uid, "getpwnam": getpwnam, "getpwuid": getpwuid}


def test_root_defaults_to_nobody() -> None:
    assert isolation.decide_identity(None, **lookups(0)) == (NOBODY, None)


def test_root_with_a_configured_user() -> None:
    identity, note = isolation.decide_identity("edge", **lookups(0))
    assert identity == Identity(user="edge", uid=1000, gid=1000) and note is None


@pytest.mark.parametrize("requested, why", [("", "ESB_SANDBOX_USER is empty"), ("ghost", "'ghost' does not exist"),
                                            ("toor", "'toor' is root")])
def test_root_keeps_its_identity_with_a_note(requested: str, why: str) -> None:
    identity, note = isolation.decide_identity(requested, **lookups(0))
    assert identity is None
    assert note is not None and note.startswith("function code runs as root and can reach the manager socket")
    assert why in note and "--engine docker" in note


def test_non_root_says_function_code_runs_as_the_box_user() -> None:
    identity, note = isolation.decide_identity(None, **lookups(1000))
    assert identity is None
    assert note == "function code runs as edge like the box; use --engine docker to isolate it"


def test_non_root_unknown_uid_is_named_by_number() -> None:
    assert "runs as uid 4242 like the box" in (isolation.decide_identity("nobody", **lookups(4242))[1] or "")


def fake_stat(modes: dict[str, tuple[int, int, int]]) -> Any:
    def stat_fn(path: Path) -> Any:
        uid, gid, mode = modes.get(str(path), (0, 0, 0o755))
        return SimpleNamespace(st_uid=uid, st_gid=gid, st_mode=stat.S_IFDIR | mode)

    return stat_fn


def test_blocking_dir_finds_the_first_closed_parent() -> None:
    stat_fn = fake_stat({"/root": (0, 0, 0o700), "/root/p/q": (0, 0, 0o700)})
    assert isolation.blocking_dir(Path("/root/p/q/.esb"), NOBODY, stat_fn) == Path("/root")
    assert isolation.blocking_dir(Path("/srv/app/.esb"), NOBODY, stat_fn) is None


def test_blocking_dir_honours_owner_and_group_bits() -> None:
    own = fake_stat({"/home/nb": (65534, 0, 0o700)})
    assert isolation.blocking_dir(Path("/home/nb/app"), NOBODY, own) is None
    group_only = fake_stat({"/srv/g": (0, 65534, 0o750)})
    assert isolation.blocking_dir(Path("/srv/g/app"), NOBODY, group_only) is None
    other_group = fake_stat({"/srv/g": (0, 10, 0o750)})
    assert isolation.blocking_dir(Path("/srv/g/app"), NOBODY, other_group) == Path("/srv/g")


def test_stage_rie_copies_world_executable_and_refreshes_on_change(tmp_path: Path) -> None:
    source = tmp_path / "cache" / "rie"
    source.parent.mkdir()
    source.write_bytes(b"one")
    os.chmod(source, 0o700)
    copy = isolation.stage_rie(source, tmp_path / "out" / "bin")
    assert copy == tmp_path / "out" / "bin" / "aws-lambda-rie" and copy.read_bytes() == b"one"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o755
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o755
    inode = copy.stat().st_ino
    isolation.stage_rie(source, copy.parent)
    assert copy.stat().st_ino == inode  # same bytes: left alone
    source.write_bytes(b"two")
    isolation.stage_rie(source, copy.parent)
    assert copy.read_bytes() == b"two" and sorted(p.name for p in copy.parent.iterdir()) == ["aws-lambda-rie"]


def test_secure_dirs_and_secrets_modes(tmp_path: Path) -> None:
    state = tmp_path / "out" / "state"
    state.mkdir(parents=True, mode=0o755)
    isolation.secure_dirs(state, tmp_path / "out" / "secrets")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "out" / "secrets").stat().st_mode) == 0o700
    box = tmp_path / "open" / "box.json"
    box_secrets.ensure(box)
    os.chmod(box.parent, 0o755)
    os.chmod(box, 0o644)
    box_secrets.ensure(box)  # an existing, opened-up file is closed again
    assert stat.S_IMODE(box.parent.stat().st_mode) == 0o700 and stat.S_IMODE(box.stat().st_mode) == 0o600


class FakeRunner:
    def __init__(self, ok: set[str]) -> None:
        self.ok, self.calls = ok, []  # type: ignore[var-annotated]

    def __call__(self, argv: list[str], env: dict[str, str], identity: Identity) -> tuple[int, str]:
        self.calls.append((argv, env, identity))
        return (0, "") if argv[0] in self.ok else (1, f"Traceback\nPermissionError: {argv[0]}\n")


def plan(tmp_path: Path, runner: FakeRunner, identity: Identity | None = NOBODY, **kwargs: Any) -> Plan:
    rie = tmp_path / "rie"
    if not rie.exists():
        rie.write_bytes(b"rie")
    (tmp_path / "out" / "functions").mkdir(parents=True, exist_ok=True)
    return isolation.plan_sandboxes(
        tmp_path / "out", rie, python="/venv/bin/python", runtime_parent=tmp_path / "runtime", requested=None,
        decide=lambda requested: (identity, None if identity else "a note"), runner=runner,
        **{"candidates": ["/venv/bin/python", "/usr/bin/python3.11"], "site_dirs": ["/venv/site-packages"], **kwargs})


def test_plan_uses_the_manager_interpreter_when_the_identity_can_run_it(tmp_path: Path) -> None:
    runner = FakeRunner({"/venv/bin/python"})
    result = plan(tmp_path, runner)
    assert result == Plan(identity=NOBODY, python="/venv/bin/python",
                          rie_path=tmp_path / "out" / "bin" / "aws-lambda-rie")
    argv, env, identity = runner.calls[0]
    assert identity == NOBODY and argv[1] == "-c" and argv[3] == "%d.%d" % sys.version_info[:2]
    assert str(tmp_path / "out" / "bin" / "aws-lambda-rie") in argv and str(tmp_path / "out" / "functions") in argv
    assert env["PYTHONPATH"] == str(tmp_path / "runtime") and env["HOME"] == "/tmp"


def test_plan_falls_back_to_a_system_interpreter_with_the_manager_packages(tmp_path: Path) -> None:
    runner = FakeRunner({"/usr/bin/python3.11"})
    result = plan(tmp_path, runner)
    assert result.identity == NOBODY and result.python == "/usr/bin/python3.11"
    assert result.extra_path == ("/venv/site-packages",) and result.note is None
    assert runner.calls[1][1]["PYTHONPATH"] == os.pathsep.join([str(tmp_path / "runtime"), "/venv/site-packages"])


def test_plan_falls_back_to_the_manager_identity_naming_the_closed_dir(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    result = plan(tmp_path, FakeRunner(set()), extra_checks=[closed / "x"])
    assert result.identity is None and result.python == "/venv/bin/python" and result.rie_path == tmp_path / "rie"
    note = result.note or ""
    assert note.startswith("function code runs as root and can reach the manager socket: move the project out of ")
    assert note.endswith(" or use --engine docker")


def test_plan_probes_no_interpreter_under_a_closed_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").touch()
    os.chmod(home, 0o700)
    os.chmod(tmp_path, 0o755)
    runner = FakeRunner({str(home / "bin" / "python"), "/usr/bin/python3.11"})
    result = plan(tmp_path, runner, candidates=[str(home / "bin" / "python"), "/usr/bin/python3.11"])
    assert result.python == "/usr/bin/python3.11"
    assert [argv[0] for argv, _, _ in runner.calls] == ["/usr/bin/python3.11"]  # the closed one never ran


def test_plan_without_an_identity_runs_no_probe(tmp_path: Path) -> None:
    runner = FakeRunner({"/venv/bin/python"})
    result = plan(tmp_path, runner, identity=None)
    assert result == Plan(identity=None, python="/venv/bin/python", rie_path=tmp_path / "rie", note="a note")
    assert runner.calls == [] and not (tmp_path / "out" / "bin").exists()


def test_fallback_note_names_the_project_dir_then_the_install_dir() -> None:
    stat_fn = fake_stat({"/root": (0, 0, 0o700), "/opt/esb": (0, 0, 0o700)})
    head = "function code runs as root and can reach the manager socket: "
    assert isolation.fallback_note(NOBODY, [Path("/root/app/.esb")], [Path("/opt/esb/site")], [], stat_fn) == (
        head + "move the project out of /root or use --engine docker")
    assert isolation.fallback_note(NOBODY, [Path("/srv/app/.esb")], [Path("/opt/esb/site")], [], stat_fn) == (
        head + "install esb (its Python packages) outside /opt/esb or use --engine docker")
    generic = isolation.fallback_note(NOBODY, [Path("/srv/app")], [], ["/usr/bin/python3: exit 1"], stat_fn)
    assert generic == head + "nobody cannot start a sandbox (/usr/bin/python3: exit 1); use --engine docker to isolate it"


def test_engine_isolate_adopts_the_plan_and_its_note(tmp_path: Path) -> None:
    engine = ProcessEngine(tmp_path / "rie")
    engine.isolate(Plan(identity=NOBODY, python="/usr/bin/python3.11", rie_path=tmp_path / "bin" / "rie",
                        extra_path=("/venv/site",)))
    assert engine.identity == NOBODY and engine.python == "/usr/bin/python3.11"
    assert engine.rie_path == tmp_path / "bin" / "rie" and engine.extra_path == ("/venv/site",)
    assert engine._spawn_as(engine.identity) == {"user": 65534, "group": 65534, "extra_groups": []}
    engine.isolate(Plan(identity=None, python="/p", rie_path=tmp_path / "rie", note="function code runs as x"))
    assert engine._spawn_as(engine.identity) == {} and "function code runs as x" in engine.notes()


def test_host_environment_adds_packages_last_and_a_home(tmp_path: Path) -> None:
    spec = SandboxSpec(function="fn", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path / "src", deps_dir=None, layer_dirs=(), environment={}, memory_mb=128,
                       timeout_s=3)
    env = host_environment(spec, "sb-1", tmp_path / "runtime", ("/venv/site",), home="/tmp")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path / "src"), str(tmp_path / "runtime"), "/venv/site"]
    assert env["HOME"] == "/tmp" and env["TMPDIR"] == "/tmp"
    assert "HOME" not in host_environment(spec, "sb-1", tmp_path / "runtime")


def test_publish_ca_copies_the_certificate_only(tmp_path: Path) -> None:
    tls = tmp_path / "secrets" / "tls"
    tls.mkdir(parents=True)
    assert isolation.publish_ca(tls / "ca.pem", tmp_path / "public") == ()
    (tls / "ca.pem").write_text("CERT")
    (tls / "ca-key.pem").write_text("KEY")
    copies = isolation.publish_ca(tls / "ca.pem", tmp_path / "public")
    assert copies == ((str(tls / "ca.pem"), str(tmp_path / "public" / "ca.pem")),)
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == ["ca.pem"]
    assert stat.S_IMODE((tmp_path / "public" / "ca.pem").stat().st_mode) == 0o644
    (tls / "ca.pem").write_text("NEW")
    isolation.publish_ca(tls / "ca.pem", tmp_path / "public")
    assert (tmp_path / "public" / "ca.pem").read_text() == "NEW"


def test_plan_serves_as_the_manager_when_the_rie_cannot_be_copied(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "bin").write_text("a file where the bin dir should be")
    runner = FakeRunner({"/venv/bin/python"})
    result = plan(tmp_path, runner)
    assert result.identity is None and result.rie_path == tmp_path / "rie" and runner.calls == []
    assert (result.note or "").startswith("function code runs as root and can reach the manager socket: cannot copy")


def test_per_function_identities_and_the_firewall_once_sandboxes_run_unprivileged(tmp_path: Path) -> None:
    from esb_runtime.manager.firewall import FakeFirewall
    from esb_runtime.settings import RuntimeSettings

    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "state" / "m.sock", rie_path=None)
    firewall = FakeFirewall()
    plan = Plan(identity=NOBODY, python="/usr/bin/python3", rie_path=tmp_path / "rie")
    isolated = isolation.per_function(plan, settings, None, guard=lambda s: (firewall, None))
    assert isolated.firewall is firewall and isolated.identities is not None and isolated.note is None
    assert isolated.identities.path == tmp_path / "state" / "identities.json"
    assert isolated.homes == tmp_path / "sandbox-home"
    one_user = isolation.per_function(plan, settings, "edge", guard=lambda s: (firewall, None))
    assert one_user.identities is None and one_user.firewall is firewall  # ESB_SANDBOX_USER: one user for all
    open_ports = isolation.per_function(plan, settings, None, guard=lambda s: (None, "ports open: why"))
    assert open_ports.firewall is None and open_ports.note == "ports open: why"
    as_root = Plan(identity=None, python="/p", rie_path=tmp_path / "rie", note="runs as root")
    assert isolation.per_function(as_root, settings, None, guard=lambda s: (firewall, None)) == as_root


def test_the_engine_gives_each_function_its_identity(tmp_path: Path) -> None:
    from esb_runtime.manager.identities import IdentityBook

    engine = ProcessEngine(tmp_path / "rie")
    book = IdentityBook(tmp_path / "identities.json", taken=lambda uid: False)
    engine.isolate(Plan(identity=NOBODY, python="/p", rie_path=tmp_path / "rie", identities=book))
    spec = SandboxSpec(function="a", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path, deps_dir=None, layer_dirs=(), environment={}, memory_mb=128, timeout_s=3)
    first = engine._identity_for(spec)
    other = engine._identity_for(SandboxSpec(**{**spec.__dict__, "function": "b"}))
    assert first is not None and other is not None and first.uid != other.uid and NOBODY.uid not in (first.uid, other.uid)
    assert engine._spawn_as(first) == {"user": first.uid, "group": first.gid, "extra_groups": []}
    sibling = engine._identity_for(spec)  # a second sandbox of `a` while the first runs: another user, same group
    assert sibling is not None and sibling.uid not in (first.uid, other.uid) and sibling.gid == first.gid
    engine._give_back("a", first)
    assert engine._identity_for(spec) == first


@pytest.mark.skipif(os.geteuid() != 0, reason="only root starts processes as another uid")
def test_a_slot_is_given_back_only_once_nothing_runs_as_its_uid(tmp_path: Path) -> None:
    import subprocess

    from esb_runtime.manager.identities import IdentityBook

    engine = ProcessEngine(tmp_path / "rie")
    book = IdentityBook(tmp_path / "identities.json", first=64900, last=64999, taken=lambda uid: False)
    engine.isolate(Plan(identity=NOBODY, python="/p", rie_path=tmp_path / "rie", identities=book))
    spec = SandboxSpec(function="a", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path, deps_dir=None, layer_dirs=(), environment={}, memory_mb=128, timeout_s=3)
    slot = engine._identity_for(spec)
    assert slot is not None
    # What a handler that left its session (setsid) would leave behind: a process of the slot's uid.
    escaped = subprocess.Popen(["sleep", "60"], user=slot.uid, group=slot.gid, extra_groups=[], start_new_session=True)
    try:
        engine._give_back("a", slot)
        assert escaped.wait(timeout=5) == -9  # SIGKILLed before the slot's next sandbox could meet it
    finally:
        if escaped.poll() is None:
            escaped.kill()
    assert engine._identity_for(spec) == slot
