"""The arrows of DESIGN.md, read from the source: ``core`` imports no domain app, and no two apps import
each other (directly or round a longer loop).

Imports are read with ``ast``, so a function-local import counts as much as one at the top of a module
(a local import that dodges a cycle at import time is still a cycle in the design). Migrations count
too; tests and benchmarks are outside the apps and are not read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "jinshequ"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Pairs of apps that import each other today (sorted labels). Splitting members and activities into
# registrations / records / imports (issue 8) removes them; this list may only shrink. With these pairs'
# imports set aside the rest of the graph has no cycle at all, so a new cycle of any length fails the
# tests, and so does a listed pair that no longer imports each other (delete its line then).
KNOWN_CYCLES: set[tuple[str, str]] = {
    ("accounts", "members"),
    ("activities", "members"),
    ("members", "posts"),
    ("members", "regions"),
    ("members", "stats"),
    ("members", "units"),
    ("regions", "units"),
}


def apps() -> list[str]:
    """Our Django apps: the packages under jinshequ/ with an apps.py."""
    return sorted(p.parent.name for p in ROOT.glob("*/apps.py"))


def modules(app: str) -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every Python module of an app."""
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module name an import statement in the file refers to (anywhere in the file), with its line.

    ``from X import y`` yields ``X.y`` as well as ``X`` (``y`` may be a submodule: ``from jinshequ import
    members``); relative imports are resolved against the module's package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def app_of(name: str, known: set[str]) -> str | None:
    """The app a dotted module name belongs to (``jinshequ.members.models`` → ``members``), if any."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == PACKAGE and parts[1] in known:
        return parts[1]
    return None


def app_imports() -> dict[str, dict[str, list[str]]]:
    """app → {other app it imports: ["module:line", …]}."""
    known = set(apps())
    graph: dict[str, dict[str, list[str]]] = {app: {} for app in known}
    for app in known:
        for module, path in modules(app):
            for name, line in imported_names(module, path):
                other = app_of(name, known)
                if other and other != app:
                    where = f"{path.relative_to(ROOT.parent)}:{line}"
                    sites = graph[app].setdefault(other, [])
                    if where not in sites:
                        sites.append(where)
    return graph


def mutual_pairs(graph: dict[str, dict[str, list[str]]]) -> set[tuple[str, str]]:
    """Pairs of apps that import each other directly."""
    return {(a, b) for a in graph for b in graph[a] if a < b and a in graph[b]}


def without(
    graph: dict[str, dict[str, list[str]]], pairs: set[tuple[str, str]]
) -> dict[str, dict[str, list[str]]]:
    """The graph with both directions of the given pairs removed."""
    return {
        a: {b: v for b, v in edges.items() if (min(a, b), max(a, b)) not in pairs}
        for a, edges in graph.items()
    }


def cyclic_pairs(graph: dict[str, dict[str, list[str]]]) -> set[tuple[str, str]]:
    """Every pair of apps that reach each other through imports (the same strongly connected component)."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reachable = {app: reach(app) for app in graph}
    return {(a, b) for a in graph for b in reachable[a] if a < b and a in reachable[b]}


def test_the_reader_sees_local_and_relative_imports():
    """A guard on the guard: the reader must see what the rules are about."""
    graph = app_imports()
    assert "accounts" in graph["members"]  # top-level import
    assert "core" in graph["members"]
    assert {"core", "demo", "site"} <= set(apps())


def test_core_imports_no_domain_app():
    """``core`` is a library (crypto, ID numbers, pinyin, xlsx, PDF, errors, idempotency, middleware):
    it may use Django and third-party packages, never an app of this project, not even in a function."""
    known = set(apps())
    offending = []
    for module, path in modules("core"):
        for name, line in imported_names(module, path):
            other = app_of(name, known)
            if other and other != "core":
                offending.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
            elif name.split(".")[0] == PACKAGE and name not in (PACKAGE,) and other is None:
                # jinshequ.settings, jinshequ.urls …: the project, not a library's business either
                offending.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
    assert offending == []


def test_no_import_cycles_between_apps_beyond_the_known_ones():
    """No new pair of apps imports each other, and no longer loop (a → b → c → a) exists at all."""
    graph = app_imports()
    new = mutual_pairs(graph) - KNOWN_CYCLES
    detail = {f"{a} <-> {b}": {a: graph[a][b], b: graph[b][a]} for a, b in sorted(new)}
    assert not new, f"new pairs of apps importing each other (an arrow must point one way only): {detail}"
    rest = without(graph, KNOWN_CYCLES)
    loops = cyclic_pairs(rest)
    on_loops = {app for pair in loops for app in pair}
    detail = {f"{a} -> {b}": rest[a][b] for a in sorted(on_loops) for b in sorted(rest[a]) if b in on_loops}
    assert not loops, f"import loops through several apps: {sorted(loops)}; imports on them: {detail}"


def test_known_cycles_still_exist():
    """The allow-list stays honest: a pair that no longer imports each other must leave the list too."""
    gone = KNOWN_CYCLES - mutual_pairs(app_imports())
    assert not gone, f"these apps no longer import each other; delete them from KNOWN_CYCLES: {sorted(gone)}"


def test_cycle_finder_sees_a_loop_through_a_third_app():
    graph = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert mutual_pairs(graph) == set()
    assert cyclic_pairs(graph) == {("a", "b"), ("a", "c"), ("b", "c")}
    graph["b"]["a"] = []
    assert mutual_pairs(graph) == {("a", "b")}
    assert cyclic_pairs(without(graph, {("a", "b")})) == set()


def test_no_app_imports_the_project_shell_or_the_demo_builder():
    """``site`` and ``demo`` sit above every domain app: they may import any of them, none imports them."""
    graph = app_imports()
    users = {
        f"{app} -> {top}": graph[app][top]
        for app in graph
        for top in ("site", "demo")
        if top in graph[app] and app not in ("site", "demo")
    }
    assert users == {}
