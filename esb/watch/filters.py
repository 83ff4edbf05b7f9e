"""What `esb watch` watches: the template, generator.yml, code and layer dirs — never the output tree or editor noise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from esb.project import GENERATOR_FILE
from esb.build.context import BuildContext

IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                          ".esb", ".venv", "node_modules", ".idea", ".vscode"})
# Editor scratch files: vim swap/backup and its `4913` write probe, emacs lock/autosave, JetBrains safe-write.
IGNORED_NAMES = ("*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", "*.pyc", "*.pyo", ".DS_Store",
                 "*___jb_tmp___", "*___jb_old___", "*.tmp")


def is_noise(path: Path) -> bool:
    """True for editor temp files and anything inside a cache or VCS directory."""
    if any(part in IGNORED_DIRS for part in path.parts):
        return True
    return any(fnmatch(path.name, pattern) for pattern in IGNORED_NAMES)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclass(frozen=True)
class WatchPlan:
    """The files and directory trees whose changes mean "rebuild", and the directories to put watches on."""

    files: tuple[Path, ...]  # template.yaml and generator.yml (which may not exist yet)
    areas: tuple[Path, ...]  # every function's CodeUri and every layer's ContentUri
    output: Path  # the output tree: never watched, never a trigger
    dirs: tuple[Path, ...]  # watched non-recursively, so the output tree's churn never reaches the watcher

    def relevant(self, path: Path) -> bool:
        if _inside(path, self.output) or is_noise(path):
            return False
        if path in self.files:
            return True
        # A new directory beside the template may become a code dir; it only changes what is watched.
        return any(_inside(path, area) for area in self.areas) or (path.parent in self.dirs and path.is_dir())

    def watch_filter(self, _change: Any, raw: str) -> bool:
        """The callable watchfiles takes as `watch_filter`."""
        return self.relevant(Path(raw))


def _walk_dirs(root: Path, output: Path) -> list[Path]:
    found: list[Path] = []
    if not root.is_dir() or _inside(root, output):
        return found
    for dirpath, dirnames, _files in os.walk(root):
        here = Path(dirpath)
        found.append(here)
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not _inside(here / d, output))
    return found


def plan_for(ctx: BuildContext) -> WatchPlan:
    """The watch plan of a loaded project: recomputed after every batch (a new function adds its CodeUri)."""
    project, app = ctx.project, ctx.app
    output = ctx.tree.root.resolve()
    generator = project.generator_file or project.template.parent / GENERATOR_FILE
    files = tuple(sorted({project.template.resolve(), generator.resolve()}))
    areas = sorted({fn.code_uri.resolve() for fn in app.functions} | {layer.content_uri.resolve() for layer in app.layers})
    dirs: set[Path] = {f.parent for f in files if f.parent.is_dir()}
    for area in areas:
        dirs.update(_walk_dirs(area, output))
    return WatchPlan(files=files, areas=tuple(areas), output=output, dirs=tuple(sorted(dirs)))
