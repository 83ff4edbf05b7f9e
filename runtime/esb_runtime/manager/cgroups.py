"""Memory limits for process sandboxes through a cgroup v2 child, where one can be created."""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class MemoryLimiter:
    """Creates `<own cgroup>/esb-<sandbox>` with memory.max; `note` says why it cannot when it cannot."""

    def __init__(self, root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup")) -> None:
        self.base: Path | None = None
        self.note: str | None = None
        self._probe(root, self_cgroup)

    def _probe(self, root: Path, self_cgroup: Path) -> None:
        controllers = root / "cgroup.controllers"
        if not controllers.exists():
            self.note = "memory limits not applied: no cgroup v2 hierarchy at /sys/fs/cgroup (MemorySize is advisory)"
            return
        if "memory" not in controllers.read_text().split():
            self.note = "memory limits not applied: the cgroup v2 memory controller is not available"
            return
        try:
            own = next(line[3:].strip() for line in self_cgroup.read_text().splitlines() if line.startswith("0::"))
        except (OSError, StopIteration):
            self.note = "memory limits not applied: cannot find this process's cgroup"
            return
        base = root / own.lstrip("/")
        probe = base / "esb-probe"
        try:
            probe.mkdir(exist_ok=True)
            ok = (probe / "memory.max").exists()
            probe.rmdir()
        except OSError as exc:
            self.note = f"memory limits not applied: cgroup {base} is not writable ({exc.strerror})"
            return
        if not ok:
            self.note = f"memory limits not applied: memory controller not delegated to {base}"
            return
        self.base = base

    def attach(self, sandbox_id: str, pid: int, memory_mb: int) -> Path | None:
        """Put `pid` (and its future children) under a MemorySize limit; None when not possible."""
        if self.base is None:
            return None
        group = self.base / f"esb-{sandbox_id}"
        try:
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(memory_mb * 1024 * 1024))
            (group / "memory.swap.max").write_text("0") if (group / "memory.swap.max").exists() else None
            (group / "cgroup.procs").write_text(str(pid))
        except OSError:
            self.release(group)
            return None
        return group

    @staticmethod
    def release(group: Path | None) -> None:
        if group is None:
            return
        try:
            group.rmdir()
        except OSError:
            pass  # still populated for a moment after a kill; the kernel frees it when empty
