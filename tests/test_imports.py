"""Import contracts: no cycles, the runtime never imports the toolchain, and each wing imports only its layers."""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Imports inside functions count (a lazy import is still a dependency); type-checking-only ones do not.
    return grimp.build_graph("esb", "esb_runtime", exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_runtime_never_imports_the_toolchain(graph: grimp.ImportGraph) -> None:
    leaks = [m for m in graph.modules if m.startswith("esb_runtime")
             if any(dep == "esb" or dep.startswith("esb.") for dep in graph.find_modules_directly_imported_by(m))]
    assert leaks == []


# Who may import whom among the toolchain's parts: the pipeline (sam → model → render) knows nothing of building,
# boxes or watching; the build wing knows no box; the box wing reaches the build only through its public entry
# points (run the build, the offline image toolkit) — never its task creators or context.
FORBIDDEN = {
    "esb.model": ("esb.sam", "esb.render", "esb.build", "esb.box", "esb.watch", "esb.commands", "esb.cli"),
    "esb.sam": ("esb.render", "esb.build", "esb.box", "esb.watch", "esb.commands", "esb.cli"),
    "esb.render": ("esb.build", "esb.box", "esb.watch", "esb.commands", "esb.cli"),
    "esb.build": ("esb.box", "esb.watch", "esb.commands", "esb.cli"),
    "esb.box": ("esb.build", "esb.watch", "esb.commands", "esb.cli"),
}
BUILD_ENTRY_POINTS = ("esb.build.runner", "esb.build.images")


def _violations(graph: grimp.ImportGraph) -> list[str]:
    found = []
    for module in sorted(graph.modules):
        for part, banned in FORBIDDEN.items():
            if module != part and not module.startswith(part + "."):
                continue
            for dep in sorted(graph.find_modules_directly_imported_by(module)):
                if part == "esb.box" and dep in BUILD_ENTRY_POINTS:
                    continue
                if any(dep == b or dep.startswith(b + ".") for b in banned):
                    found.append(f"{module} -> {dep}")
    return found


def test_the_wings_import_only_what_their_layer_allows(graph: grimp.ImportGraph) -> None:
    assert _violations(graph) == []


def test_a_forbidden_import_is_reported() -> None:
    graph = grimp.ImportGraph()
    for name in ("esb", "esb.box", "esb.box.status", "esb.build", "esb.build.context", "esb.build.runner"):
        graph.add_module(name)
    graph.add_import(importer="esb.box.status", imported="esb.build.context")
    graph.add_import(importer="esb.box.status", imported="esb.build.runner")
    assert _violations(graph) == ["esb.box.status -> esb.build.context"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]
