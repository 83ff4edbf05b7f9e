"""`esb service install`: a systemd unit that keeps the box up across reboots and restarts it if it fails.

The unit runs `esb up` in the foreground: the box's own supervisor restarts a dead part within seconds, and
the foreground command ends (non-zero) only when the supervisor gave up or died; then systemd starts the whole
box again after RestartSec. `systemctl stop` sends SIGTERM, which stops the box like Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from esb.errors import ConfigError
from esb.project import Project

Say = Callable[[str], None]
SYSTEM_DIR = Path("/etc/systemd/system")
_SAFE = re.compile(r"^[A-Za-z0-9_./:=@+-]+$")


@dataclass(frozen=True)
class Unit:
    """What goes into the unit file (paths absolute; nothing secret: the box reads its secrets itself)."""

    project: str
    project_dir: Path
    template: Path
    python: str
    engine: str
    home: str
    system: bool  # a system unit (root) or a user unit (`systemctl --user`, runs as its owner)


def unit_name(project: str) -> str:
    return f"esb-{re.sub(r'[^A-Za-z0-9_.-]', '-', project)}.service"


def quote(arg: str) -> str:
    """One ExecStart word: systemd expands `%` specifiers and `$` variables, and splits on spaces."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if _SAFE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(unit: Unit) -> str:
    esb = [unit.python, "-m", "esb.cli", "-t", str(unit.template)]
    start = " ".join(quote(a) for a in [*esb, "up", "--engine", unit.engine])
    stop = " ".join(quote(a) for a in [*esb, "down"])
    lines = [
        "[Unit]",
        f"Description=Edge Serverless Box {unit.project} ({unit.project_dir})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={str(unit.project_dir).replace('%', '%%')}",  # one raw path: no quotes here
        f"Environment={quote('HOME=' + unit.home)}",  # the RIE and wheels are cached under it
        f"ExecStart={start}",
        # After a crash of `esb up` itself, its parts may still run: stop them as `esb down` would.
        f"ExecStopPost=-{stop}",  # "-": after a clean stop it finds no box (exit 3), which is fine
        "KillMode=mixed",  # SIGTERM to `esb up` (it stops the box), SIGKILL to whatever is left after the timeout
        "TimeoutStopSec=60",
        "Restart=on-failure",
        "RestartSec=5",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if unit.system else 'default.target'}",
        "",
    ]
    return "\n".join(lines)


def unit_dir(euid: int, home: Path) -> Path:
    """System units for root, user units (`systemctl --user`) for everyone else."""
    return SYSTEM_DIR if euid == 0 else home / ".config" / "systemd" / "user"


def install(project: Project, engine: str, *, target_dir: Path | None = None, python: str = sys.executable,
            say: Say = print) -> Path:
    """Write the unit (only when its bytes change) and say how to enable it."""
    if engine not in ("process", "docker", "auto"):
        raise ConfigError(f"engine {engine!r} cannot run as a service", hint="use process, docker or auto")
    home, system = Path.home(), os.geteuid() == 0
    unit = Unit(project=project.name, project_dir=project.project_dir.resolve(), template=project.template.resolve(),
                python=python, engine=engine, home=str(home), system=system)
    directory = target_dir or unit_dir(os.geteuid(), home)
    path = directory / unit_name(project.name)
    text = render_unit(unit)
    directory.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
        say(f"wrote {path}")
    else:
        say(f"{path} is up to date")
    scope = "" if system else " --user"
    say(f"enable and start it: systemctl{scope} daemon-reload && systemctl{scope} enable --now {path.name}")
    return path


def add_parser(sub: argparse._SubParsersAction) -> None:
    service = sub.add_parser("service", help="run the box as a systemd service")
    service.add_argument("action", choices=["install"], help="install: write the unit file")
    service.add_argument("--engine", default="process", help="process | docker | auto (default: process)")
    service.add_argument("--unit-dir", help="where to write the unit (default: systemd's dir for this user)")


def run(project: Project, args: argparse.Namespace) -> int:
    install(project, args.engine, target_dir=Path(args.unit_dir) if args.unit_dir else None)
    return 0
