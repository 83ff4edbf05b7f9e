"""Who process-engine sandboxes run as, and making what they need reachable for that identity only."""

from __future__ import annotations

import filecmp
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from esb_runtime.errors import EngineError
from esb_runtime.manager.firewall import Firewall, IptablesFirewall, chain_name, iptables_missing
from esb_runtime.manager.identities import Identity, IdentityBook
from esb_runtime.manager.process_engine import HOST_PATH as PROBE_PATH
from esb_runtime.manager.process_engine import SANDBOX_HOME
from esb_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

DEFAULT_USER = "nobody"
DOCKER_HINT = "use --engine docker to isolate it"
# Imports what every sandbox imports, then checks that each path given is reachable (dirs listable, files runnable).
PROBE_CODE = """\
import os, sys
want = sys.argv[1]
have = "%d.%d" % sys.version_info[:2]
if have != want:
    sys.exit("python %s, not %s" % (have, want))
import esb_runtime.sandbox.bootstrap, awslambdaric
for path in sys.argv[2:]:
    if os.path.isdir(path):
        os.listdir(path)
    elif not os.access(path, os.R_OK | os.X_OK):
        sys.exit("cannot run " + path)
"""


@dataclass(frozen=True)
class Plan:
    """How sandboxes are spawned: as `identity` (None: as the manager), with this interpreter and RIE."""

    identity: Identity | None
    python: str
    rie_path: Path
    extra_path: tuple[str, ...] = ()  # the manager's site-packages, for an interpreter other than its own
    note: str | None = None
    public_copies: tuple[tuple[str, str], ...] = ()  # (private path, readable copy) for sandbox variables
    identities: IdentityBook | None = None  # one uid per function (default as root) instead of `identity`
    firewall: Firewall | None = None  # the RIE ports of each sandbox closed to all but the box and its function
    homes: Path | None = None  # where each function's private HOME/TMPDIR is made


ProbeRunner = Callable[[list[str], dict[str, str], Identity], "tuple[int, str]"]


def decide_identity(requested: str | None, *, geteuid: Callable[[], int] = os.geteuid,
                    getpwnam: Callable[[str], Any] = pwd.getpwnam,
                    getpwuid: Callable[[int], Any] = pwd.getpwuid) -> tuple[Identity | None, str | None]:
    """The sandbox identity from ESB_SANDBOX_USER (None: unset, "" keeps the manager's), plus a note if not isolated."""
    uid = geteuid()
    if uid != 0:
        try:
            name = getpwuid(uid).pw_name
        except KeyError:
            name = f"uid {uid}"
        return None, f"function code runs as {name} like the box; {DOCKER_HINT}"
    user = DEFAULT_USER if requested is None else requested.strip()
    exposed = "function code runs as root and can reach the manager socket"
    if not user:
        return None, f"{exposed} (ESB_SANDBOX_USER is empty); {DOCKER_HINT}"
    try:
        entry = getpwnam(user)
    except KeyError:
        return None, f"{exposed}: sandbox user {user!r} does not exist; {DOCKER_HINT}"
    if entry.pw_uid == 0:
        return None, f"{exposed}: sandbox user {user!r} is root; {DOCKER_HINT}"
    return Identity(user=user, uid=entry.pw_uid, gid=entry.pw_gid), None


def may_enter(st: os.stat_result, identity: Identity) -> bool:
    """Whether `identity` may traverse a directory with this stat (mode bits; the identity has no extra groups)."""
    if st.st_uid == identity.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == identity.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def blocking_dir(path: Path, identity: Identity, stat_fn: Callable[[Path], os.stat_result] = os.stat) -> Path | None:
    """The first directory on the way to `path` (itself included) that `identity` cannot enter."""
    path = Path(os.path.abspath(path))
    chain = list(reversed(path.parents)) + [path]
    for directory in chain:
        try:
            st = stat_fn(directory)
        except OSError:
            return None  # missing: nothing blocks what does not exist yet
        if stat.S_ISDIR(st.st_mode) and not may_enter(st, identity):
            return directory
    return None


def stage_rie(source: Path, bin_dir: Path) -> Path:
    """Copy the RIE (often in a 0700 home) to `<out>/bin/aws-lambda-rie`, 0755; refreshed when its bytes differ.

    Compared byte for byte, not by sha256: hashlib would map OpenSSL's libcrypto into the manager (~3.7 MB of RSS
    it otherwise never needs, issue 14), and comparing reads each file once, as hashing does."""
    dest = bin_dir / "aws-lambda-rie"
    bin_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(bin_dir, 0o755)
    filecmp.clear_cache()  # it caches verdicts by size and mtime: a same-size rewrite within one tick looks unchanged
    if not (dest.is_file() and filecmp.cmp(dest, source, shallow=False)):
        partial = bin_dir / f".aws-lambda-rie.{os.getpid()}"
        shutil.copyfile(source, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, dest)  # running sandboxes keep the old inode
    os.chmod(dest, 0o755)
    return dest


def publish_ca(ca_file: Path, public_dir: Path) -> tuple[tuple[str, str], ...]:
    """A readable copy of the box CA certificate (AWS_CA_BUNDLE) outside the 0700 secrets dir; never its key."""
    if not ca_file.is_file():
        return ()
    public_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(public_dir, 0o755)
    copy = public_dir / ca_file.name
    data = ca_file.read_bytes()
    if not copy.is_file() or copy.read_bytes() != data:
        partial = public_dir / f".{ca_file.name}.{os.getpid()}"
        partial.write_bytes(data)
        os.chmod(partial, 0o644)
        os.replace(partial, copy)
    return ((str(ca_file), str(copy)),)


def secure_dirs(*dirs: Path) -> None:
    """The manager socket's, the secrets', the stores' data, the logs' and the config directories: 0700, so only
    the box's own user may enter."""
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def run_as(argv: list[str], env: dict[str, str], identity: Identity, timeout_s: float = 30.0) -> tuple[int, str]:
    """Run `argv` as `identity` (no shell) and return its exit code and combined output."""
    try:
        done = subprocess.run(argv, env=env, cwd="/", user=identity.uid, group=identity.gid, extra_groups=[],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return 126, str(exc)
    return done.returncode, done.stdout.decode("utf-8", "replace")


def manager_site_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys(p for p in (paths.get("purelib"), paths.get("platlib")) if p))


def interpreter_candidates(python: str, version: str, which: Callable[..., str | None] = shutil.which) -> list[str]:
    """The manager's interpreter first; then same-version system ones, for when it lives in a 0700 home (pyenv)."""
    found = [python, getattr(sys, "_base_executable", None) or python]
    found += [which(name, path=PROBE_PATH) or "" for name in (f"python{version}", "python3")]
    unique: list[str] = []
    for item in found:
        if item and item not in unique:
            unique.append(item)
    return unique


def plan_sandboxes(out_dir: Path, rie_source: Path, *, python: str, runtime_parent: Path, requested: str | None,
                   decide: Callable[[str | None], tuple[Identity | None, str | None]] = decide_identity,
                   runner: ProbeRunner = run_as, candidates: Sequence[str] | None = None,
                   site_dirs: Sequence[str] | None = None, extra_checks: Sequence[Path] = (),
                   ca_file: Path | None = None, stat_fn: Callable[[Path], os.stat_result] = os.stat) -> Plan:
    """Decide once, at start-up, how sandboxes run; probe the isolated way and fall back with a note if it fails."""
    identity, note = decide(requested)
    fallback = Plan(identity=None, python=python, rie_path=rie_source, note=note)
    if identity is None:
        return fallback
    version = "%d.%d" % sys.version_info[:2]
    try:
        rie = stage_rie(rie_source, out_dir / "bin")
    except OSError as exc:  # e.g. a read-only output tree: serve anyway, and say so
        return replace(fallback, note=f"function code runs as root and can reach the manager socket: cannot copy "
                                      f"the RIE into {out_dir / 'bin'} ({exc.strerror}); {DOCKER_HINT}")
    functions = out_dir / "functions"
    checks = [rie, runtime_parent] + ([functions] if functions.is_dir() else []) + list(extra_checks)
    sites = tuple(manager_site_dirs() if site_dirs is None else site_dirs)
    failures: list[str] = []
    for candidate in candidates if candidates is not None else interpreter_candidates(python, version):
        # An interpreter under a directory the identity cannot enter (a 0700 home: pyenv, a venv) cannot start
        # as it: said without a probe process (each is ~20 ms of every root start, issue 14).
        closed = blocking_dir(Path(os.path.realpath(candidate)).parent, identity, stat_fn)
        if closed is not None:
            failures.append(f"{candidate}: {closed} is closed to {identity.user}")
            continue
        extra = () if candidate == python else sites
        env = {"PATH": PROBE_PATH, "LANG": "C.UTF-8", "HOME": SANDBOX_HOME, "TMPDIR": SANDBOX_HOME,
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join([str(runtime_parent), *extra])}
        code, output = runner([candidate, "-c", PROBE_CODE, version, *map(str, checks)], env, identity)
        if code == 0:
            log.info("sandboxes run as %s (uid %d) with %s", identity.user, identity.uid, candidate)
            copies = publish_ca(ca_file, out_dir / "public") if ca_file is not None else ()
            return Plan(identity=identity, python=candidate, rie_path=rie, extra_path=extra, public_copies=copies)
        failures.append(f"{candidate}: {output.strip().splitlines()[-1] if output.strip() else f'exit {code}'}")
    log.warning("sandboxes cannot run as %s: %s", identity.user, "; ".join(failures))
    return Plan(identity=None, python=python, rie_path=rie_source,
                note=fallback_note(identity, [out_dir, *extra_checks],
                                      [runtime_parent, *sites, os.path.realpath(python)], failures))


def fallback_note(identity: Identity, project_paths: Sequence[Path], install_paths: Sequence[Path | str],
                  failures: Sequence[str], stat_fn: Callable[[Path], os.stat_result] = os.stat) -> str:
    """Why sandboxes run as root after all, naming the directory to move out of when one is to blame."""
    head = "function code runs as root and can reach the manager socket"
    for path in project_paths:
        blocked = blocking_dir(path, identity, stat_fn)
        if blocked is not None:
            return f"{head}: move the project out of {blocked} or use --engine docker"
    for path in install_paths:
        blocked = blocking_dir(Path(path), identity, stat_fn)
        if blocked is not None:
            return f"{head}: install esb (its Python packages) outside {blocked} or use --engine docker"
    why = failures[-1] if failures else "no interpreter to try"
    return f"{head}: {identity.user} cannot start a sandbox ({why}); use --engine docker to isolate it"


PORTS_OPEN = "any local user can reach the sandboxes' RIE ports"


def guard_ports(settings: RuntimeSettings, *, missing: Callable[[], bool] = iptables_missing,
                make: Callable[[str, list[int]], Firewall] = IptablesFirewall) -> tuple[Firewall | None, str | None]:
    """The box's firewall chain, opened afresh; or None and a note saying why the RIE ports stay open."""
    if missing():
        return None, f"{PORTS_OPEN}: iptables is not installed (Debian: apt-get install iptables); {DOCKER_HINT}"
    firewall = make(chain_name(settings.output_dir), [os.geteuid()])  # the manager's (and gateway's) own uid
    try:
        firewall.open()
    except EngineError as exc:
        return None, f"{PORTS_OPEN}: {exc}; {DOCKER_HINT}"
    return firewall, None


def per_function(plan: Plan, settings: RuntimeSettings, requested: str | None,
                 guard: Callable[[RuntimeSettings], tuple[Firewall | None, str | None]] = guard_ports) -> Plan:
    """Once sandboxes can run unprivileged: one identity per function (unless ESB_SANDBOX_USER names one for
    all) and the firewall over their ports."""
    if plan.identity is None:
        return plan
    firewall, note = guard(settings)
    identities = IdentityBook.of_box(settings.state_dir) if requested is None else None
    return replace(plan, identities=identities, firewall=firewall, homes=settings.output_dir / "sandbox-home",
                   note=plan.note or note)


def apply(engine: Any, settings: RuntimeSettings, requested: str | None) -> Plan:
    """At manager start-up (process engine): lock the private dirs, decide the plan, hand it to the engine."""
    # config/ too: functions.yml holds every function's environment, which no other function may read.
    secure_dirs(settings.state_dir, settings.secrets_file.parent, settings.data_dir, settings.logs_dir,
                settings.config_dir)
    plan = plan_sandboxes(settings.output_dir, Path(engine.rie_path), python=engine.python,
                          runtime_parent=Path(engine.runtime_parent), requested=requested,
                          ca_file=settings.tls_dir / "ca.pem")
    plan = per_function(plan, settings, requested)
    engine.isolate(plan)
    return plan
