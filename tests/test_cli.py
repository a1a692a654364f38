"""The CLI edge: published exit codes, errors without tracebacks, JSON outputs. In this process
through `cli`, but for the module entry point itself (`python -m cmu610bsp`), a process's exit."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from cmu610bsp import resources
from cmu610bsp import workspace as ws_mod
from conftest import REPO, SCHEMA_OVERRIDES, Cli, run_cli


def _raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Loading the workspace's description raises exc: an internal error, or Ctrl-C, mid-command."""
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(ws_mod, "load_project", boom)


def test_version_and_usage_errors(cli: Cli) -> None:
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("cmu610bsp ")
    r = cli("no-such-command")
    assert r.returncode == 2 and "No such command" in r.stderr
    r = cli("generate", "--no-such-option")
    assert r.returncode == 2


def test_the_module_entry_point_exits_with_the_commands_code(tmp_path: Path) -> None:
    """`python -m cmu610bsp` (a subprocess: the process's own exit status is what is tested)."""
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("cmu610bsp ")
    r = run_cli("generate", cwd=tmp_path)
    assert r.returncode == 2 and "no cmu610bsp.yml" in r.stderr


def test_user_error_exits_2_without_traceback(cli: Cli, tmp_path: Path) -> None:
    r = cli("generate", cwd=tmp_path)
    assert r.returncode == 2
    assert "no cmu610bsp.yml" in r.stderr and "cmu610bsp init" in r.stderr
    assert "Traceback" not in r.stderr


def test_internal_error_exits_1_traceback_only_with_debug(cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, RuntimeError("kaboom"))
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 1
    assert "internal error: RuntimeError: kaboom" in r.stderr and "--debug" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("--debug", "board", "show", cwd=workspace)
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr


def test_interrupt_exits_130(cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, KeyboardInterrupt())
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 130 and "interrupted" in r.stderr


def test_board_show_tables_and_json(cli: Cli, workspace: Path) -> None:
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 0, r.stderr
    for title in ("Domains", "Memory map", "Flash partitions", "Sensors", "Fans", "GPIO lines"):
        assert title in r.stdout
    assert "secure-only" in r.stdout and "bmc-fw-a" in r.stdout and "Inlet Temp" in r.stdout
    data = json.loads(cli("board", "show", "--json", cwd=workspace).stdout)
    assert data["boards"][0]["name"] == "cmu610-evb" and len(data["soc"]["harts"]) == 2
    r = cli("board", "show", "nope", cwd=workspace)
    assert r.returncode == 2 and "cmu610-evb" in r.stderr


def test_workspace_option_from_elsewhere(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    r = cli("--debug", "check", "--json", "--workspace", str(workspace), cwd=tmp_path)
    data = json.loads(r.stdout)
    assert {c["name"] for c in data["checks"]} >= {"model", "dtc", "kconfig", "bitbake-parse", "kas-schema"}
    assert all(c["status"] in ("ok", "skipped") for c in data["checks"]), data
    assert r.returncode == 0
    # with --debug, every command run is logged as `cwd$ argv`
    assert "$ " in r.stderr and "dtc -I dts" in r.stderr


def test_check_runs_all_eight_consumers_out_of_the_box(cli: Cli, workspace: Path) -> None:
    """No ZEPHYR_BASE, no schema variables: the shipped schemas and dependencies run every check."""
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    checks = json.loads(r.stdout)["checks"]
    assert len(checks) == 8 and {c["status"] for c in checks} == {"ok"}, checks
    assert r.returncode == 0
    r = cli("check", cwd=workspace, unset=SCHEMA_OVERRIDES)
    assert r.returncode == 0 and "skipped" not in r.stdout


def test_schema_variables_override_the_shipped_copies(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    zephyr = tmp_path / "zephyr"
    shutil.copytree(resources.zephyr_schemas(), zephyr / "scripts" / "schemas")
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES,
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
