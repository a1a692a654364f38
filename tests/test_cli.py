"""The CLI edge: published exit codes, errors without tracebacks, JSON outputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from cmu610bsp import resources
from conftest import REPO, SCHEMA_OVERRIDES, run_cli

RAISE = """
import sys
import cmu610bsp.workspace as w
def boom(*a, **k):
    raise {exc}
w.load_project = boom
from cmu610bsp.cli import main
sys.argv = ["cmu610bsp", *{args!r}]
main()
"""


def _raising(ws: Path, exc: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RAISE.format(exc=exc, args=list(args))], cwd=ws,
                          capture_output=True, text=True, timeout=60)


def test_version_and_usage_errors() -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("cmu610bsp ")
    r = run_cli("no-such-command")
    assert r.returncode == 2 and "No such command" in r.stderr
    r = run_cli("generate", "--no-such-option")
    assert r.returncode == 2


def test_user_error_exits_2_without_traceback(tmp_path: Path) -> None:
    r = run_cli("generate", cwd=tmp_path)
    assert r.returncode == 2
    assert "no cmu610bsp.yml" in r.stderr and "cmu610bsp init" in r.stderr
    assert "Traceback" not in r.stderr


def test_internal_error_exits_1_traceback_only_with_debug(workspace: Path) -> None:
    r = _raising(workspace, "RuntimeError('kaboom')", "board", "show")
    assert r.returncode == 1
    assert "internal error: RuntimeError: kaboom" in r.stderr and "--debug" in r.stderr
    assert "Traceback" not in r.stderr
    r = _raising(workspace, "RuntimeError('kaboom')", "--debug", "board", "show")
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr


def test_interrupt_exits_130(workspace: Path) -> None:
    r = _raising(workspace, "KeyboardInterrupt()", "board", "show")
    assert r.returncode == 130 and "interrupted" in r.stderr


def test_board_show_tables_and_json(workspace: Path) -> None:
    r = run_cli("board", "show", cwd=workspace)
    assert r.returncode == 0, r.stderr
    for title in ("Domains", "Memory map", "Flash partitions", "Sensors", "Fans", "GPIO lines"):
        assert title in r.stdout
    assert "secure-only" in r.stdout and "bmc-fw-a" in r.stdout and "Inlet Temp" in r.stdout
    data = json.loads(run_cli("board", "show", "--json", cwd=workspace).stdout)
    assert data["boards"][0]["name"] == "cmu610-evb" and len(data["soc"]["harts"]) == 2
    r = run_cli("board", "show", "nope", cwd=workspace)
    assert r.returncode == 2 and "cmu610-evb" in r.stderr


def test_workspace_option_from_elsewhere(workspace: Path, tmp_path: Path) -> None:
    r = run_cli("--debug", "check", "--json", "--workspace", str(workspace), cwd=tmp_path)
    data = json.loads(r.stdout)
    assert {c["name"] for c in data["checks"]} >= {"model", "dtc", "kconfig", "bitbake-parse", "kas-schema"}
    assert all(c["status"] in ("ok", "skipped") for c in data["checks"]), data
    assert r.returncode == 0
    # with --debug, every command run is logged as `cwd$ argv`
    assert "$ " in r.stderr and "dtc -I dts" in r.stderr


def test_check_runs_all_eight_consumers_out_of_the_box(workspace: Path) -> None:
    """No ZEPHYR_BASE, no schema variables: the shipped schemas and dependencies run every check."""
    r = run_cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    checks = json.loads(r.stdout)["checks"]
    assert len(checks) == 8 and {c["status"] for c in checks} == {"ok"}, checks
    assert r.returncode == 0
    r = run_cli("check", cwd=workspace, unset=SCHEMA_OVERRIDES)
    assert r.returncode == 0 and "skipped" not in r.stdout


def test_schema_variables_override_the_shipped_copies(workspace: Path, tmp_path: Path) -> None:
    zephyr = tmp_path / "zephyr"
    shutil.copytree(resources.zephyr_schemas(), zephyr / "scripts" / "schemas")
    r = run_cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES,
                env={"ZEPHYR_BASE": str(zephyr), "CMU610BSP_EM_SCHEMAS": str(tmp_path / "nothing")})
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert res["zephyr-schemas"]["status"] == "ok" and str(zephyr / "scripts" / "schemas") in res["zephyr-schemas"]["detail"]
    # an override that points at nothing fails the check, naming it: never a silent fallback
    assert res["entity-manager"]["status"] == "failed" and r.returncode == 2
    assert res["entity-manager"]["findings"][0]["field"] == str(tmp_path / "nothing")


def test_bitbake_and_oelint_are_ordinary_dependencies() -> None:
    """`pip install cmu610bsp` brings BitBake's parser and oelint-adv: their checks never skip."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=~! ;\[]", d, maxsplit=1)[0] for d in meta["dependencies"]}
    assert {"bitbake-setup", "oelint-adv"} <= names
