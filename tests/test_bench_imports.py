"""bench/ stands on the package and its own helpers (issue 22: bench_rack.py put tests/ on its
path and imported the tests' rack helper): no bench script imports a module of tests/ or changes
sys.path, and bench_rack's own rack is a valid description whose sleds share one secure domain."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from cmu610bsp import render
from cmu610bsp import workspace as wsp
from conftest import REPO, Cli

BENCH = REPO / "bench"
TESTS = REPO / "tests"


def _imports(path: Path) -> set[str]:
    """The top-level names of every module a file imports, wherever the import statement sits."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_no_bench_script_imports_from_tests() -> None:
    test_modules = {p.stem for p in TESTS.glob("*.py")} | {"tests"}
    scripts = sorted(BENCH.glob("*.py"))
    assert len(scripts) > 5
    for script in scripts:
        assert not _imports(script) & test_modules, script
        assert "sys.path" not in script.read_text(), f"{script.name} changes sys.path"


def test_bench_rack_describes_sleds_that_share_a_secure_domain(cli: Cli, workspace: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # as `python3 bench/bench_rack.py` runs: its helpers beside it
    spec = importlib.util.spec_from_file_location("bench_rack", BENCH / "bench_rack.py")
    assert spec and spec.loader
    bench_rack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_rack)
    names = bench_rack.sleds(workspace, 3)
    assert names == ["cmu610-evb", "cmu610-sled", "cmu610-sled1", "cmu610-sled2"]
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr
    domains = render.secure_domains(wsp.load_project(wsp.open_workspace(workspace)))
    twins = sorted(d.machines for d in domains if d.twin)
    assert twins == [("cmu610-evb-qemu",), ("cmu610-sled-qemu", "cmu610-sled1-qemu", "cmu610-sled2-qemu")]
