"""The package's shape, read from its source with ast (nothing is imported): no import cycle,
between modules or between the packages they form, counting every import (at module level, under
TYPE_CHECKING and inside functions: a loop hidden in a function is still a loop); no module over
400 lines; and a package import inside a function outside the CLI says why (the start-up time it
saves) in a comment beside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cmu610bsp"
MAX_LINES = 400


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package's modules an import statement loads: what it names (a module, or the module
    a name is taken from) and every package above it (importing a.b.c runs a/__init__ and a/b/__init__)."""
    if isinstance(node, ast.Import):
        named = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
        named = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    out = []
    for name in named:
        parts = name.split(".")
        above = [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES]
        # a package above the importer itself is loaded before it, whatever it imports: not an edge
        out += [p for p in above if not module.startswith(p + ".")] + ([name] if name in MODULES else [])
    return out


def graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports, anywhere in its text."""
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = {t for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for t in _targets(module, n)}
        edges[module] = found - {module}
    return edges


def unit(module: str) -> str:
    """A top-level module, or the sub-package a module belongs to (cmu610bsp.cli, ...)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def _shown(edges: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(edges[m] & members))}" for m in component)


def test_no_import_cycle_between_modules() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(_shown(edges, c) for c in found)


def test_no_import_cycle_between_packages() -> None:
    """A package and a module outside it that import each other are a loop even when no module
    imports itself back (build/rack.py -> lastbuild.py -> build/compose.py was one)."""
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    found = cycles(edges)
    assert not found, "import cycles between packages: " + " | ".join(_shown(edges, c) for c in found)


def test_the_graph_sees_imports_inside_functions_and_packages_above() -> None:
    """The reader itself: a function-level import is an edge, and so is the package it is in."""
    tree = ast.parse("def f():\n    from cmu610bsp.cli import common\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _targets("cmu610bsp.errors", node) == ["cmu610bsp.cli", "cmu610bsp.cli.common"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_400_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_an_import_inside_a_function_outside_the_cli_says_why() -> None:
    """The CLI imports each command's modules when the command runs (its docstring says so); any
    other package import inside a function has a comment on its line or the line above."""
    bare = []
    for module, path in MODULES.items():
        if module.startswith("cmu610bsp.cli"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and _targets(module, node):
                    near = lines[node.lineno - 2:node.end_lineno or node.lineno]
                    if not any("#" in line for line in near):
                        bare.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not bare, "package imports inside functions with no comment saying why: " + ", ".join(bare)


def test_the_readme_design_names_every_module_and_no_other() -> None:
    """README's Design section is the map of the package: every module and package in it, and no
    file named there that is not in the package."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    design = readme.split("\n## Design\n", 1)[1].split("\n## ", 1)[0]
    named = {name for folder, name in re.findall(r"`(?:([a-z_]+)/)?([a-z_0-9]+\.py)", design) if folder != "tests"}
    named |= set(re.findall(r"`([a-z_]+)/`", design))
    # cli/ is one typer tree, one module per group of commands: named as a whole
    have = {p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py") and p.parent.name != "cli"}
    have |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert have - named == set(), f"modules the Design section does not name: {sorted(have - named)}"
    files = {n for n in named if n.endswith(".py")} - {"__init__.py"}
    assert files - have == set(), f"the Design section names files that are not modules: {sorted(files - have)}"
