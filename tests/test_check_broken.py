"""`check` on generated files a hand edit (or a full disk) broke (issue 21): each is a failed check
naming the file and the reason, and the other checks still run. A YAML file that did not parse,
an empty one, a non-UTF-8 defconfig, a truncated JSON file made `check` crash (exit 1); a NaN in
entity-manager's JSON passed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cmu610bsp.checks import yocto, zephyr
from cmu610bsp.checks.result import CheckResult
from cmu610bsp.workspace import Workspace, open_workspace
from conftest import Cli, deadline

BOARD_DIR = "meta-cmu610/zephyr/boards/cmu/cmu610_evb"
EM_JSON = "meta-cmu610/recipes-phosphor/configuration/files/cmu610-evb.json"
Check = Callable[[Workspace], CheckResult]


def _run(ws: Path, check: Check) -> list[str]:
    """The check's findings as 'file: field: reason'; it must have failed."""
    result = check(open_workspace(ws))
    assert result.status == "failed", result
    return [str(f) for f in result.findings]


def test_a_kas_file_that_does_not_parse(workspace: Path) -> None:
    path = workspace / "configs/kas/base.yml"
    path.write_text(path.read_text() + "repos: [unclosed\n")
    found = _run(workspace, yocto.check_kas)
    assert len(found) == 1 and found[0].startswith("configs/kas/base.yml: line "), found


def test_a_board_yml_that_does_not_parse(workspace: Path) -> None:
    """Both checks that read board.yml (Zephyr's schema, the Kconfig check) report it."""
    (workspace / BOARD_DIR / "board.yml").write_text("board:\n  name: 'cmu610_evb\n")
    for check in (zephyr.check_zephyr_schemas, zephyr.check_kconfig):
        assert _run(workspace, check) == [f"{BOARD_DIR}/board.yml: line 2: while scanning a quoted scalar that "
                                          "starts here: found unexpected end of stream (line 3)"]


def test_an_empty_board_yml(workspace: Path) -> None:
    (workspace / BOARD_DIR / "board.yml").write_text("")
    assert _run(workspace, zephyr.check_kconfig) == [
        f"{BOARD_DIR}/board.yml: board.name: None: expected the Zephyr board's name (a-z, 0-9, _)"]
    assert _run(workspace, zephyr.check_zephyr_schemas) == [
        f"{BOARD_DIR}/board.yml: schema: No source file/data was loaded"]


def test_a_twister_file_that_does_not_parse(workspace: Path) -> None:
    path = workspace / BOARD_DIR / "cmu610_evb_cmu610_cpu1.yaml"
    path.write_text(path.read_text().replace("\n", "\n\t", 1))
    assert _run(workspace, zephyr.check_zephyr_schemas) == [
        f"{BOARD_DIR}/cmu610_evb_cmu610_cpu1.yaml: line 2: found character that cannot start any token"]


def test_a_defconfig_that_is_not_utf8(workspace: Path) -> None:
    path = workspace / BOARD_DIR / "cmu610_evb_cmu610_cpu0_defconfig"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    found = _run(workspace, zephyr.check_kconfig)
    assert len(found) == 1 and found[0].startswith(
        f"{BOARD_DIR}/cmu610_evb_cmu610_cpu0_defconfig: line ") and "is not UTF-8" in found[0], found


def test_an_entity_manager_file_that_does_not_parse(workspace: Path) -> None:
    path = workspace / EM_JSON
    path.write_text(path.read_text()[:-20])
    found = _run(workspace, yocto.check_entity_manager)
    assert len(found) == 1 and found[0].startswith(f"{EM_JSON}: line "), found


def test_nan_in_entity_managers_json_fails_the_check(workspace: Path) -> None:
    """Python's json writes and reads NaN; JSON (and entity-manager's nlohmann parser) has none."""
    path = workspace / EM_JSON
    config = json.loads(path.read_text())
    config["Exposes"][0]["Thresholds"][0]["Value"] = float("nan")
    path.write_text(json.dumps(config, indent=2))
    assert _run(workspace, yocto.check_entity_manager) == [
        f"{EM_JSON}: (json): NaN is not a JSON number (RFC 8259): entity-manager's parser refuses it"]


def test_a_fifo_among_the_kas_files(workspace: Path) -> None:
    """Read without blocking: a FIFO is a finding, not a hang."""
    os.mkfifo(workspace / "configs/kas/extra.yml")
    with deadline(60):
        found = _run(workspace, yocto.check_kas)
    assert found == [
        "configs/kas/extra.yml: (file): is a named pipe (FIFO): a description or configuration must be a regular file"]


def test_an_unreadable_schema_is_a_finding(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CMU610BSP_EM_SCHEMAS points at the user's copy of entity-manager's schemas."""
    d = tmp_path / "schemas"
    d.mkdir()
    (d / "global.json").write_text('{"$schema": ')
    monkeypatch.setenv("CMU610BSP_EM_SCHEMAS", str(d))
    found = _run(workspace, yocto.check_entity_manager)
    assert len(found) == 1 and found[0].startswith(f"{d / 'global.json'}: line 1: "), found


def test_cli_check_fails_the_broken_checks_and_runs_the_others(cli: Cli, workspace: Path) -> None:
    """Three files broken at once: exit 2, the three checks failed with the files, the rest ran."""
    (workspace / "configs/kas/base.yml").write_text("header: {version: 14\n")
    defconfig = workspace / BOARD_DIR / "cmu610_evb_cmu610_cpu1_defconfig"
    defconfig.write_bytes(b"\xff" + defconfig.read_bytes())
    (workspace / EM_JSON).write_text('{"Name": NaN}')
    r = cli("check", "--json", cwd=workspace, timeout=900)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    results = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert list(results) == ["model", "dtc", "zephyr-schemas", "kconfig", "bitbake-parse", "oelint", "kas-schema",
                             "entity-manager"]
    failed = {name: [f["file"] for f in c["findings"]] for name, c in results.items() if c["status"] == "failed"}
    assert failed == {"kconfig": [f"{BOARD_DIR}/cmu610_evb_cmu610_cpu1_defconfig"],
                      "kas-schema": ["configs/kas/base.yml"], "entity-manager": [EM_JSON]}, failed
    assert all(c["status"] in ("ok", "skipped") for name, c in results.items() if name not in failed)
