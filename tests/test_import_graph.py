"""The dependency rule, written down: ``consumers``, ``models`` and ``alerts`` import from
``pipeline`` only its error family (``pipeline.errors``), and no two packages import each other.

Why a test and not a convention: an upward import is one convenient line (a settings class, a
table, a helper), and each one makes the lower package unusable without the whole application
above it — and a cycle between packages means neither can be understood, tested or replaced on
its own. The check parses every module with :mod:`ast` (nothing is imported, so it is fast and
sees imports inside functions and ``TYPE_CHECKING`` blocks too) and builds the graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "consumers", "models", "alerts")
LOWER = ("consumers", "models", "alerts")
ALLOWED_FROM_PIPELINE = frozenset({"pipeline.errors"})


@dataclass(frozen=True)
class Edge:
    source: str  # the importing module, dotted
    target: str  # the imported module (or module.name), dotted
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[Edge]:
    """Every import in the module at ``path``, at any depth (functions, classes, ifs)."""
    source = module_name(path, root)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[Edge] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Edge(source, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            out += [Edge(source, f"{mod}.{a.name}", node.lineno) for a in node.names]
    return out


def graph(root: Path = ROOT) -> list[Edge]:
    edges: list[Edge] = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            edges += imports_of(path, root)
    return edges


def top(name: str) -> str:
    return name.split(".", 1)[0]


def allowed(target: str) -> bool:
    return any(target == a or target.startswith(a + ".") for a in ALLOWED_FROM_PIPELINE)


def upward(edges: list[Edge]) -> list[Edge]:
    """Imports from a lower package into ``pipeline`` other than its error family, one per
    import statement."""
    seen: set[tuple[str, int]] = set()
    out = []
    for e in edges:
        if top(e.source) not in LOWER or top(e.target) != "pipeline" or allowed(e.target):
            continue
        if (e.source, e.line) not in seen:
            seen.add((e.source, e.line))
            out.append(e)
    return out


def package_cycles(edges: list[Edge]) -> list[list[str]]:
    """Cycles in the package graph (an edge A → B when a module of A imports from B), where an
    import of ``pipeline.errors`` does not count as depending on ``pipeline``."""
    deps: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        a, b = top(e.source), top(e.target)
        if a == b or b not in PACKAGES:
            continue
        if b == "pipeline" and allowed(e.target):
            continue
        deps[a].add(b)
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(deps[node]):
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # report each cycle once, from its least
                visit(nxt, [*path, nxt])

    for start in sorted(deps):
        visit(start, [start])
    return cycles


def test_lower_packages_import_only_errors_from_pipeline() -> None:
    bad = upward(graph())
    assert not bad, "upward imports into pipeline:\n" + "\n".join(
        f"  {e.source}:{e.line} imports {e.target}" for e in bad
    )


def test_no_cycles_between_packages() -> None:
    cycles = package_cycles(graph())
    assert not cycles, "package cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The checker itself can fail: a planted upward import in a function body, a relative
    one and a `from pipeline import …` are all reported, and a planted cycle is found."""
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "alerts" / "a.py").write_text(
        "from pipeline.errors import AlertError\n"
        "def f():\n"
        "    from pipeline.store.schema import alerts\n"
        "    return alerts\n"
    )
    (tmp_path / "models" / "b.py").write_text("import pipeline.settings\n")
    (tmp_path / "consumers" / "c.py").write_text("from pipeline import daemon\n")
    (tmp_path / "consumers" / "d.py").write_text("from . import c\nfrom .c import x\n")
    edges = graph(tmp_path)
    found = {(e.source, e.target) for e in upward(edges)}
    assert found == {
        ("alerts.a", "pipeline.store.schema.alerts"),
        ("models.b", "pipeline.settings"),
        ("consumers.c", "pipeline.daemon"),
    }
    assert ("consumers.d", "consumers.c.x") in {(e.source, e.target) for e in edges}
    assert package_cycles(edges) == []  # lower → pipeline only: no cycle yet
    (tmp_path / "pipeline" / "p.py").write_text("from alerts.a import f\n")
    assert package_cycles(graph(tmp_path)) == [["alerts", "pipeline", "alerts"]]
