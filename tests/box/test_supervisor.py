"""The box supervisor's loop with fake processes: restart at once, back off, give up, come back, reset."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from esb.box import state as boxstate
from esb.box.state import BoxState, PartHealth
from esb.box.supervisor import BoxSupervisor, RestartPolicy, describe_exit
from esb.box.processes import Proc
from esb_runtime.logs.capped import cap as capped_log


class World:
    """Fake processes: which PIDs live, which probes answer, what spawn was asked."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.alive: set[int] = set()
        self.ready = True
        self.spawned: list[str] = []
        self.next_pid = 500
        self.lines: list[tuple[str, str]] = []
        self.stopped: list[int] = []

    def spawn(self, name: str, argv: Any, *, env: Any, cwd: Path, log_dir: Path) -> Proc:
        self.next_pid += 1
        self.alive.add(self.next_pid)
        self.spawned.append(name)
        return Proc(name=name, pid=self.next_pid, log_file=str(log_dir / f"{name}.out"), argv=tuple(argv), cwd=str(cwd))

    def stop(self, proc: Proc) -> None:
        self.stopped.append(proc.pid)
        self.alive.discard(proc.pid)

    def status_of(self, proc: Proc) -> tuple[bool, int | None]:
        return proc.pid in self.alive, None if proc.pid in self.alive else -9


def make(tmp_path: Path, world: World, policy: RestartPolicy = RestartPolicy(),
         cap_log: Callable[[str], object] = lambda path: False) -> BoxSupervisor:
    procs = tuple(Proc(name=n, pid=p, log_file=str(tmp_path / f"{n}.out"), argv=("run", n), ready=f"probe-{n}")
                  for n, p in (("stores", 101), ("manager", 102), ("gateway", 103)))
    world.alive |= {101, 102, 103}
    state = BoxState(project="p", engine="process", gateway_url="https://127.0.0.1:1", ca_file="", s3_endpoint="",
                     dynamodb_endpoint="", lambda_endpoint="", region="us-east-1", started_at=1.0, procs=procs,
                     supervisor=Proc(name="supervisor", pid=100, log_file=str(tmp_path / "supervisor.out")))
    return BoxSupervisor(state, tmp_path, env={}, log_dir=tmp_path, policy=policy,
                         say=lambda level, text: world.lines.append((level, text)), clock=lambda: world.now,
                         spawn=world.spawn, probe=lambda probe: world.ready, status_of=world.status_of,
                         stop=world.stop, clear_group=lambda proc: [], cap_log=cap_log)


def pid_of(sup: BoxSupervisor, name: str) -> int:
    return next(p.pid for p in sup.state.procs if p.name == name)


def test_a_dead_part_is_restarted_at_once_recorded_and_seen_back(tmp_path: Path) -> None:
    world = World()
    sup = make(tmp_path, world)
    sup.tick()
    assert world.spawned == []
    world.alive.discard(102)
    world.ready = False
    sup.tick()
    assert world.spawned == ["manager"]
    new_pid = pid_of(sup, "manager")
    assert new_pid != 102
    part = sup.state.part("manager")
    assert part.state == "restarting" and part.restarts == 1 and part.last_exit == -9 and part.since == 1000.0
    on_disk = boxstate.read(tmp_path)
    assert on_disk is not None and on_disk.part("manager").restarts == 1
    assert next(p for p in on_disk.procs if p.name == "manager").argv == ("run", "manager")
    world.now += 0.5
    world.ready = True
    sup.tick()
    assert sup.state.part("manager").state == "up"
    assert any("manager is back" in text for _, text in world.lines)


def test_repeated_crashes_back_off_then_give_up(tmp_path: Path) -> None:
    world = World()
    sup = make(tmp_path, world, RestartPolicy(max_crashes=4, window_s=60))
    delays = []
    for _ in range(3):
        world.alive.discard(pid_of(sup, "stores"))
        before = len(world.spawned)
        sup.tick()  # notices the crash; restarts now or schedules
        start = world.now
        while len(world.spawned) == before:
            world.now += 0.25
            sup.tick()
        delays.append(world.now - start)
    assert delays[0] == 0.0 and delays[1] >= 0.5 and delays[2] >= 1.0
    world.alive.discard(pid_of(sup, "stores"))
    sup.tick()
    part = sup.state.part("stores")
    assert part.state == "failed" and len(part.crashes) == 4
    world.now += 100
    sup.tick()
    assert world.spawned.count("stores") == 3  # given up: no more restarts
    assert any(level == "error" and "not restarting" in text for level, text in world.lines)


def test_crashes_outside_the_window_do_not_count(tmp_path: Path) -> None:
    world = World()
    sup = make(tmp_path, world, RestartPolicy(max_crashes=2, window_s=10))
    for _ in range(3):
        world.alive.discard(pid_of(sup, "gateway"))
        sup.tick()
        world.now += 30
        sup.tick()
    assert sup.state.part("gateway").state != "failed"
    assert sup.state.part("gateway").restarts == 3


def test_reset_failed_restarts_a_given_up_part(tmp_path: Path) -> None:
    world = World()
    sup = make(tmp_path, world)
    world.alive.discard(101)
    sup.state = replace(sup.state, health={"stores": PartHealth(state="failed", since=5.0, crashes=(1.0,) * 5)})
    sup.tick()
    assert world.spawned == []
    sup.reset_failed()
    sup.tick()
    assert world.spawned == ["stores"]
    assert sup.state.part("stores").since == 5.0  # degraded since it first went down


def test_a_restart_that_never_gets_ready_counts_as_a_crash(tmp_path: Path) -> None:
    world = World()
    sup = make(tmp_path, world, RestartPolicy(start_timeout_s=5))
    world.alive.discard(103)
    world.ready = False
    sup.tick()
    stuck = pid_of(sup, "gateway")
    world.now += 6
    sup.tick()
    assert world.stopped == [stuck]
    assert len(sup.state.part("gateway").crashes) == 2


def test_every_tick_caps_each_parts_log_and_its_own(tmp_path: Path) -> None:
    world, capped = World(), []
    sup = make(tmp_path, world, cap_log=capped.append)
    sup.tick()
    assert sorted(Path(p).name for p in capped) == ["gateway.out", "manager.out", "stores.out", "supervisor.out"]


def test_a_log_over_its_cap_is_rotated_by_the_tick(tmp_path: Path) -> None:
    from esb_runtime.logs.capped import MAX_BYTES

    world = World()
    sup = make(tmp_path, world, cap_log=capped_log)
    log = tmp_path / "manager.out"
    log.write_bytes(b"a traceback line\n" * (MAX_BYTES // 17 + 100))
    sup.tick()
    assert log.stat().st_size == 0 and 0 < (tmp_path / "manager.out.1").stat().st_size <= MAX_BYTES


def test_a_log_it_cannot_cap_is_said_once_and_supervision_goes_on(tmp_path: Path) -> None:
    world = World()

    def refuse(path: str) -> bool:
        raise PermissionError(13, "Permission denied", path)

    sup = make(tmp_path, world, cap_log=refuse)
    sup.tick()
    world.alive.discard(102)
    sup.tick()
    assert world.spawned == ["manager"]
    assert sum("cannot cap" in text for _, text in world.lines) == 4  # once per file, not once per tick


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    state = BoxState(project="p", engine="process", gateway_url="u", ca_file="", s3_endpoint="http://127.0.0.1:9",
                     dynamodb_endpoint="", lambda_endpoint="", region="r", started_at=1.0,
                     procs=(Proc("gateway", 1, "l", 7, ("a", "b"), "/", "http:600:u"),),
                     supervisor=Proc("supervisor", 2, "s"), health={"gateway": PartHealth("restarting", 3.0, 1, -9, 4.0, (3.0,))})
    assert BoxState.from_json(state.to_json()) == state
    old = json.loads(state.to_json())
    for key in ("supervisor", "health"):
        old.pop(key)
    assert BoxState.from_json(json.dumps(old)).supervisor is None  # a record from before supervision


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with status 3"
    assert describe_exit(None) == "exited"


def test_exit_of_reaps_a_child_and_knows_its_status(tmp_path: Path) -> None:
    import os
    import signal
    import sys

    from esb.box.supervisor import exit_of
    from esb.box.processes import spawn, wait_until

    def first_death(proc: Proc) -> tuple[bool, int | None]:
        seen: list[tuple[bool, int | None]] = []
        assert wait_until(lambda: not (seen.append(exit_of(proc)) or seen[-1][0]), 10)
        return seen[-1]  # the call that reaped it

    quick = spawn("quick", [sys.executable, "-c", "raise SystemExit(3)"], env={}, cwd=tmp_path, log_dir=tmp_path)
    assert first_death(quick) == (False, 3)
    slow = spawn("slow", [sys.executable, "-c", "import time; time.sleep(30)"], env={}, cwd=tmp_path, log_dir=tmp_path)
    assert exit_of(slow) == (True, None)
    os.kill(slow.pid, signal.SIGKILL)
    assert first_death(slow) == (False, -9)
    assert exit_of(slow) == (False, None)  # reaped: dead, status no longer known
