"""init and generate on real workspaces: files, manifest, git, hand edits, atomicity under kill.
The command lines run in this process (`cli`), but those a test signals or kills (a process of
their own: `spawn_cli`) and the installed wheel's (a fresh virtual environment's console script)."""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
from pathlib import Path

import git
import pytest

from conftest import BMC_DTS, BOARD, MACHINE_CONF, REPO, SCHEMA_OVERRIDES, Cli, snapshot, spawn_cli


def test_init_creates_a_committed_workspace(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    r = cli("init", str(ws))
    assert r.returncode == 0, r.stderr
    for rel in ("cmu610bsp.yml", "configs/soc/cmu610.yaml", "configs/boards/cmu610-evb.yaml",
                "configs/products/bigbmc.yaml", "configs/kas/base.yml", MACHINE_CONF, BMC_DTS,
                "meta-cmu610/zephyr/zephyr/module.yml", ".cmu610bsp/state/manifest.json"):
        assert (ws / rel).is_file(), rel
    manifest = json.loads((ws / ".cmu610bsp/state/manifest.json").read_text())
    import hashlib
    assert manifest["files"], "manifest lists the generated files"
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((ws / rel).read_bytes()).hexdigest() == digest, rel
    assert manifest["version"] and "configs/boards/cmu610-evb.yaml" in manifest["inputs"]
    repo = git.Repo(ws)
    assert len(list(repo.iter_commits())) == 1
    assert not repo.is_dirty(untracked_files=True)


def test_init_builtin_board_by_name_and_by_file(cli: Cli, tmp_path: Path) -> None:
    r = cli("init", str(tmp_path / "a"), "--board", "cmu610-sled")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a/configs/boards/cmu610-sled.yaml").is_file()
    assert (tmp_path / "a/meta-cmu610/conf/machine/cmu610-sled.conf").is_file()
    r = cli("init", str(tmp_path / "b"), "--board", str(REPO / "configs/boards/cmu610-sled.yaml"))
    assert r.returncode == 0, r.stderr
    assert snapshot(tmp_path / "a/meta-cmu610") == snapshot(tmp_path / "b/meta-cmu610")


def test_init_refuses_existing_workspace_and_unknown_board(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    before = snapshot(workspace)
    r = cli("init", str(workspace))
    assert r.returncode == 2 and "already a cmu610bsp workspace" in r.stderr
    assert snapshot(workspace) == before
    r = cli("init", str(tmp_path / "new"), "--board", "no-such-board")
    assert r.returncode == 2 and "built-in boards" in r.stderr
    assert not (tmp_path / "new").exists()


def test_init_refuses_a_non_empty_directory_unless_forced(cli: Cli, tmp_path: Path) -> None:
    """`init` with no DIR where other things live (a key, big files, a symlink out) writes nothing;
    with --force it adds the workspace and commits only what it wrote."""
    here = tmp_path / "home"
    (here / ".ssh").mkdir(parents=True)
    (here / ".ssh/id_ed25519").write_text("PRIVATE KEY\n")
    (here / "big.bin").write_bytes(b"\0" * 1_000_000)
    (here / "passwd").symlink_to("/etc/passwd")
    before = snapshot(here)
    r = cli("init", cwd=here)
    assert r.returncode == 2 and "not empty" in r.stderr and "--force" in r.stderr, r.stderr
    assert snapshot(here) == before and not (here / ".git").exists()
    r = cli("init", "--force", cwd=here)
    assert r.returncode == 0, r.stderr
    tracked = git.Repo(here).git.ls_files().splitlines()
    assert "cmu610bsp.yml" in tracked and MACHINE_CONF in tracked
    assert not {".ssh/id_ed25519", "big.bin", "passwd"} & set(tracked)
    assert (here / ".ssh/id_ed25519").read_text() == "PRIVATE KEY\n" and (here / "passwd").is_symlink()
    empty_repo = tmp_path / "clone"
    git.Repo.init(empty_repo)  # an empty clone is as good as an empty directory
    assert cli("init", str(empty_repo)).returncode == 0


def test_generate_is_idempotent_and_deterministic(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    before = snapshot(workspace)
    r = cli("generate", cwd=workspace)
    assert r.returncode == 0 and "0 written, 0 deleted" in r.stdout, r.stdout
    assert snapshot(workspace) == before
    other = tmp_path / "other"
    assert cli("init", str(other)).returncode == 0
    assert snapshot(other / "meta-cmu610") == snapshot(workspace / "meta-cmu610")
    assert snapshot(other / "configs") == snapshot(workspace / "configs")


def test_hand_edit_is_never_overwritten_silently(cli: Cli, workspace: Path) -> None:
    conf = workspace / MACHINE_CONF
    conf.write_text(conf.read_text() + "# local tweak\n")
    board = workspace / BOARD
    board.write_text(board.read_text().replace("hostname: cmu610-evb", "hostname: lab-7"))
    before = snapshot(workspace)
    r = cli("generate", cwd=workspace)
    assert r.returncode == 2
    assert MACHINE_CONF in r.stderr and "edited by hand" in r.stderr and "sync" in r.stderr
    assert snapshot(workspace) == before
    edited = conf.read_bytes()
    r = cli("generate", "--force", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "# local tweak" not in conf.read_text() and '"lab-7"' in conf.read_text()
    # --force names what it overwrote and keeps it, in a place that depends on the content only
    kept = [line.split("kept in ", 1)[1].rstrip(")") for line in r.stdout.splitlines() if line.startswith("overwritten:")]
    assert len(kept) == 1 and kept[0].startswith(".cmu610bsp/backup/") and kept[0].endswith(MACHINE_CONF), r.stdout
    assert (workspace / kept[0]).read_bytes() == edited
    conf.write_bytes(edited)
    assert cli("generate", "--force", cwd=workspace).stdout.count(kept[0]) == 1  # the same id again
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    assert not git.Repo(workspace).untracked_files


def test_keep_glob_is_never_touched(cli: Cli, workspace: Path) -> None:
    cfg = workspace / "cmu610bsp.yml"
    cfg.write_text(cfg.read_text().replace("keep: []", "keep:\n- meta-cmu610/conf/machine/*.conf"))
    conf = workspace / MACHINE_CONF
    conf.write_text("# mine now\n")
    board = workspace / BOARD
    board.write_text(board.read_text().replace("hostname: cmu610-evb", "hostname: lab-7"))
    r = cli("generate", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert conf.read_text() == "# mine now\n"
    assert "kept (keep: glob)" in r.stdout


def test_description_change_updates_dts_and_manifest(cli: Cli, workspace: Path) -> None:
    board = workspace / BOARD
    board.write_text(board.read_text().replace(
        "fans:", "  - {name: rear_temp, label: Rear Temp, kind: lm75a, bus: i2c2, address: 0x4e}\n\nfans:"))
    old_manifest = (workspace / ".cmu610bsp/state/manifest.json").read_text()
    r = cli("generate", cwd=workspace)
    assert r.returncode == 0, r.stderr
    dts = (workspace / BMC_DTS).read_text()
    assert "rear_temp: temperature-sensor@4e" in dts and '"national,lm75"' in dts
    assert (workspace / ".cmu610bsp/state/manifest.json").read_text() != old_manifest
    em = json.loads((workspace / "meta-cmu610/recipes-phosphor/configuration/files/cmu610-evb.json").read_text())
    assert {"Name": "Rear Temp", "Type": "LM75A", "Bus": 2, "Address": "0x4e"}.items() <= em["Exposes"][-1].items() or \
        any(e.get("Name") == "Rear Temp" and e.get("Bus") == 2 for e in em["Exposes"])


@pytest.mark.parametrize("point", ["staged", "swapped-one"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_generate_leaves_workspace_as_before(cli: Cli, workspace: Path, point: str, sig: int) -> None:
    board = workspace / BOARD
    board.write_text(board.read_text().replace("hostname: cmu610-evb", "hostname: lab-7"))
    before = snapshot(workspace)
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point}
    p = spawn_cli("generate", cwd=workspace, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        assert f"paused at {point}" in line, line
        p.send_signal(sig)
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    # the next command (any workspace command) rolls back what the killed one left
    r = cli("board", "show", "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert snapshot(workspace) == before
    r = cli("generate", cwd=workspace)
    assert r.returncode == 0 and '"lab-7"' in (workspace / MACHINE_CONF).read_text()


def test_installed_wheel_ships_templates(tmp_path: Path) -> None:
    """`pip install .` (not editable) into a fresh venv, then `init` from elsewhere works."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # the dependencies come from the environment running the tests (no network install): its
    # site-packages go after the venv's own, so the wheel installed below is what gets imported
    venv_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip()
    Path(venv_site, "outer-env.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    where = subprocess.run([str(py), "-c", "import cmu610bsp, pathlib; print(pathlib.Path(cmu610bsp.__file__).parent)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    pkg = Path(where)
    assert pkg.is_relative_to(venv), f"imported {pkg}, not the installed wheel"
    assert (pkg / "templates/dts/board.dts.j2").is_file()
    assert (pkg / "configs/soc/cmu610.yaml").is_file() and (pkg / "configs/products/bigbmc.yaml").is_file()
    assert (pkg / "data/SOURCES.md").is_file() and (pkg / "data/LICENSE-Apache-2.0").is_file()
    r = subprocess.run([str(venv / "bin/cmu610bsp"), "init", "ws"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ws/meta-cmu610/zephyr/soc/cmu/cmu610/soc.yml").is_file()
    # every consumer check runs from the installed package alone: the shipped schemas, no variables
    env = {k: v for k, v in os.environ.items() if k not in SCHEMA_OVERRIDES}
    r = subprocess.run([str(venv / "bin/cmu610bsp"), "check", "--json"], cwd=tmp_path / "ws", env=env,
                       capture_output=True, text=True)
    checks = json.loads(r.stdout)["checks"]
    assert len(checks) == 8 and {c["status"] for c in checks} == {"ok"}, checks
    assert all(str(pkg) in c["detail"] for c in checks if c["name"] in ("zephyr-schemas", "entity-manager"))


def test_layer_names_its_maintainer_for_yocto_check_layer(cli: Cli, workspace: Path) -> None:
    """yocto-check-layer's README test wants "maintainer", "patch" and an email, and a SECURITY file."""
    readme, security = workspace / "meta-cmu610/README.md", workspace / "meta-cmu610/SECURITY.md"
    assert "Maintainer: not set yet" in readme.read_text() and "@" not in security.read_text()
    config = workspace / "cmu610bsp.yml"
    # bad input: exit 2, names the file and the field, changes nothing
    before = snapshot(workspace)
    config.write_text(config.read_text() + 'maintainer: "Jane Doe"\n')
    r = cli("generate", cwd=workspace)
    assert r.returncode == 2 and "cmu610bsp.yml" in r.stderr and "maintainer" in r.stderr, r.stderr
    config.write_text(config.read_text().replace('maintainer: "Jane Doe"\n', ""))
    assert snapshot(workspace) == before
    config.write_text(config.read_text() + 'maintainer: "Jane Doe <jane@example.com>"\n')
    r = cli("sync", "--allow-dirty", cwd=workspace)
    assert r.returncode == 0, r.stderr
    text = readme.read_text()
    assert "Maintainer: Jane Doe <jane@example.com>" in text and "patch" in text.lower()
    assert "readme" not in text.lower()  # a README naming another README skips those checks
    assert "jane@example.com" in security.read_text()


@pytest.mark.parametrize("command", [["generate"], ["sync", "--allow-dirty"]], ids=["generate", "sync"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_past_the_commit_point_finishes(cli: Cli, workspace: Path, command: list[str], sig: int) -> None:
    """A signal after the swap is committed does not say "interrupted" over an applied write: the
    command finishes, says so, and exits with its own code; no transaction scratch is left."""
    board = workspace / BOARD
    board.write_text(board.read_text().replace("hostname: cmu610-evb", "hostname: lab-7"))
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": "committed"}
    p = spawn_cli(*command, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        assert "paused at committed" in line, line
        p.send_signal(sig)
        err = p.communicate(timeout=60)[1]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "interrupted" not in err and "the command finished" in err, err
    assert '"lab-7"' in (workspace / MACHINE_CONF).read_text()
    assert not (workspace / ".cmu610bsp/txn").exists()
    assert cli("sync", "--check", cwd=workspace).returncode == 0
