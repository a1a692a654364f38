"""`cmu610bsp sync` on real git repositories: three-way merges that keep hand edits. The command
lines run in this process (`cli`), but the one a test kills midway (a process: `spawn_cli`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import git
import pytest

from conftest import BMC_DTS, BOARD, MACHINE_CONF, REPO, Cli, edit, snapshot, spawn_cli


def _edit(ws: Path, rel: str, old: str, new: str) -> None:
    edit(ws / rel, old, new)


def _commit(ws: Path, msg: str = "edit") -> None:
    repo = git.Repo(ws)
    repo.git.add("--all")
    repo.git.commit("-q", "-m", msg, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def test_edit_survives_a_description_change_in_the_same_file(cli: Cli, workspace: Path) -> None:
    _edit(workspace, MACHINE_CONF, "require conf/machine/include/cmu610.inc\n",
          "require conf/machine/include/cmu610.inc\n\n# lab: keep serial at 921600\nCMU610_LAB_BAUD = \"921600\"\n")
    _edit(workspace, BOARD, "{name: bmc-log, offset: 28M, size: 4M, owner: bmc}",
          "{name: bmc-log, offset: 28M, size: 2M, owner: bmc}")
    _commit(workspace)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stdout + r.stderr
    conf = (workspace / MACHINE_CONF).read_text()
    assert 'CMU610_LAB_BAUD = "921600"' in conf          # ours kept
    assert 'FLASH_BMC_LOG_SIZE = "2048"' in conf         # theirs taken
    assert "<<<<<<<" not in conf
    assert "bmc_log: partition@1c00000" in (workspace / BMC_DTS).read_text()  # untouched file updated
    assert cli("sync", "--check", cwd=workspace).returncode == 0


def test_conflicting_edit_is_marked_and_blocks_the_next_sync(cli: Cli, workspace: Path) -> None:
    _edit(workspace, MACHINE_CONF, 'FLASH_BMC_LOG_SIZE = "4096"', 'FLASH_BMC_LOG_SIZE = "1024"')
    _edit(workspace, BOARD, "{name: bmc-log, offset: 28M, size: 4M, owner: bmc}",
          "{name: bmc-log, offset: 28M, size: 2M, owner: bmc}")
    _commit(workspace)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 2
    assert MACHINE_CONF in r.stderr and "conflict" in r.stderr
    text = (workspace / MACHINE_CONF).read_text()
    assert "<<<<<<< " in text and "=======" in text and ">>>>>>> " in text
    assert 'FLASH_BMC_LOG_SIZE = "1024"' in text and 'FLASH_BMC_LOG_SIZE = "2048"' in text
    before = snapshot(workspace)
    r = cli("sync", "--allow-dirty", cwd=workspace)
    assert r.returncode == 2 and "still has conflict markers" in r.stderr
    assert snapshot(workspace) == before
    # resolve by taking the user's value: the next sync accepts it and keeps it
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))
             and 'FLASH_BMC_LOG_SIZE = "2048"' not in line]
    (workspace / MACHINE_CONF).write_text("".join(lines))
    r = cli("sync", "--allow-dirty", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert 'FLASH_BMC_LOG_SIZE = "1024"' in (workspace / MACHINE_CONF).read_text()
    assert not (workspace / ".cmu610bsp/state/conflicts.json").exists()


def test_check_fails_on_conflict_markers_left_by_an_earlier_sync(cli: Cli, workspace: Path) -> None:
    """A CI gate must not pass a layer dtc and BitBake would fail on: markers left by a sync (or
    pasted from any merge) fail `sync --check` and are named, whether or not they were recorded."""
    _edit(workspace, MACHINE_CONF, 'FLASH_BMC_LOG_SIZE = "4096"', 'FLASH_BMC_LOG_SIZE = "1024"')
    _edit(workspace, BOARD, "{name: bmc-log, offset: 28M, size: 4M, owner: bmc}",
          "{name: bmc-log, offset: 28M, size: 2M, owner: bmc}")
    _commit(workspace)
    assert cli("sync", cwd=workspace).returncode == 2
    _commit(workspace, "conflicts committed by mistake")
    for args in (["sync", "--check"], ["sync", "--check", "--json"]):
        r = cli(*args, cwd=workspace)
        assert r.returncode == 2 and MACHINE_CONF in r.stdout + r.stderr and "in sync" not in r.stdout, r.stdout
    assert json.loads(cli("sync", "--check", "--json", cwd=workspace).stdout)["unresolved"] == [MACHINE_CONF]
    (workspace / ".cmu610bsp/state/conflicts.json").unlink()  # not recorded: still found
    _edit(workspace, BMC_DTS, "/ {", "<<<<<<< HEAD\n=======\n>>>>>>> theirs\n/ {")
    r = cli("sync", "--check", cwd=workspace)
    assert r.returncode == 2 and MACHINE_CONF in r.stderr and BMC_DTS in r.stderr, r.stderr
    assert cli("sync", "--allow-dirty", cwd=workspace).returncode == 2


def test_json_has_one_shape_in_every_mode(cli: Cli, workspace: Path) -> None:
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    shapes = {}
    for mode in ("--check", "--dry-run", None):
        r = cli("sync", "--json", *([mode] if mode else []), cwd=workspace)
        assert r.returncode == (2 if mode == "--check" else 0), r.stderr
        data = json.loads(r.stdout)
        shapes[mode] = set(data)
        assert data["mode"] == {"--check": "check", "--dry-run": "dry-run", None: "sync"}[mode]
        assert MACHINE_CONF in [f["path"] for f in data["files"]]
        assert set(data["files"][0]) == {"path", "action", "hand_edited", "diff"}
    assert shapes["--check"] == shapes["--dry-run"] == shapes[None]


def test_dropped_edited_file_is_kept_and_unedited_one_deleted(cli: Cli, workspace: Path) -> None:
    # the sled board replaces the evb: every evb file is dropped by the new render
    cfg = workspace / "cmu610bsp.yml"
    (workspace / "configs/boards/cmu610-sled.yaml").write_text(
        (REPO / "configs/boards/cmu610-sled.yaml").read_text())
    cfg.write_text(cfg.read_text().replace("configs/boards/cmu610-evb.yaml", "configs/boards/cmu610-sled.yaml"))
    _edit(workspace, MACHINE_CONF, "CMU610_BOARD", "# still needed by the lab\nCMU610_BOARD")
    _commit(workspace)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert (workspace / MACHINE_CONF).is_file() and "still needed by the lab" in (workspace / MACHINE_CONF).read_text()
    assert f"kept because you edited it: {MACHINE_CONF}" in r.stdout
    assert not (workspace / "meta-cmu610/conf/machine/cmu610-evb-qemu.conf").exists()
    assert (workspace / "meta-cmu610/conf/machine/cmu610-sled.conf").is_file()


def test_keep_globs_are_respected(cli: Cli, workspace: Path) -> None:
    cfg = workspace / "cmu610bsp.yml"
    keep = "keep:\n- meta-cmu610/README.md\n- meta-cmu610/conf/machine/cmu610-evb.conf"
    cfg.write_text(cfg.read_text().replace("keep: []", keep))
    (workspace / "meta-cmu610/README.md").write_text("ours\n")
    _edit(workspace, MACHINE_CONF, "CMU610_BOARD", "CMU610_MINE = \"1\"\nCMU610_BOARD")
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    _commit(workspace)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert (workspace / "meta-cmu610/README.md").read_text() == "ours\n"
    assert '"cmu610-evb"' in (workspace / MACHINE_CONF).read_text() and "CMU610_MINE" in (workspace / MACHINE_CONF).read_text()
    assert '"lab-9"' in (workspace / "meta-cmu610/conf/machine/cmu610-evb-qemu.conf").read_text()


def test_check_exits_2_on_drift_and_0_after_sync(cli: Cli, workspace: Path) -> None:
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    _commit(workspace)
    before = snapshot(workspace)
    r = cli("sync", "--check", cwd=workspace)
    assert r.returncode == 2
    assert f"--- a/{MACHINE_CONF}" in r.stdout and '+OBMC_HOSTNAME ?= "lab-9"' in r.stdout
    r = cli("sync", "--check", "--json", cwd=workspace)
    data = json.loads(r.stdout)
    assert r.returncode == 2 and data["clean"] is False and any(f["path"] == MACHINE_CONF for f in data["files"])
    r = cli("sync", "--dry-run", cwd=workspace)
    assert r.returncode == 0 and f"update       {MACHINE_CONF}" in r.stdout
    assert snapshot(workspace) == before
    assert cli("sync", "--commit", cwd=workspace).returncode == 0
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    repo = git.Repo(workspace)
    assert not repo.is_dirty(untracked_files=True)
    assert "cmu610bsp sync: regenerate with cmu610bsp" in repo.head.commit.message


def test_edit_sync_loop_needs_no_commit_of_the_description(cli: Cli, workspace: Path) -> None:
    """A description edit is sync's input: an uncommitted one never blocks it. What blocks it is a
    hand edit git does not have in a file the sync would merge into."""
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert '"lab-9"' in (workspace / MACHINE_CONF).read_text()
    _edit(workspace, BOARD, "hostname: lab-9", "hostname: lab-10")  # again, nothing committed
    (workspace / "notes.txt").write_text("unrelated\n")
    assert cli("sync", cwd=workspace).returncode == 0
    _edit(workspace, MACHINE_CONF, "CMU610_BOARD", "CMU610_MINE = \"1\"\nCMU610_BOARD")
    _edit(workspace, BOARD, "hostname: lab-10", "hostname: lab-11")
    before = snapshot(workspace)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 2 and "not committed" in r.stderr and MACHINE_CONF in r.stderr, r.stderr
    assert BOARD not in r.stderr and "notes.txt" not in r.stderr
    assert snapshot(workspace) == before
    r = cli("sync", "--allow-dirty", cwd=workspace)
    assert r.returncode == 0, r.stderr
    text = (workspace / MACHINE_CONF).read_text()
    assert "CMU610_MINE" in text and '"lab-11"' in text


def test_dry_run_names_the_hand_edits_a_real_run_keeps(cli: Cli, workspace: Path) -> None:
    _edit(workspace, MACHINE_CONF, "CMU610_BOARD", "CMU610_MINE = \"1\"\nCMU610_BOARD")
    _edit(workspace, BMC_DTS, "/ {", "/* lab */\n/ {")
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    r = cli("sync", "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert f"merge        {MACHINE_CONF}  (your edit is kept)" in r.stdout
    assert f"kept as you edited it: {BMC_DTS}" in r.stdout
    data = json.loads(cli("sync", "--dry-run", "--json", cwd=workspace).stdout)
    assert {"path": MACHINE_CONF, "outcome": "merged"} in data["hand_edited"]
    assert {"path": BMC_DTS, "outcome": "kept"} in data["hand_edited"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_sync_killed_midway_leaves_tree_byte_for_byte(cli: Cli, workspace: Path, sig: int) -> None:
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    _edit(workspace, MACHINE_CONF, "CMU610_BOARD", "CMU610_MINE = \"1\"\nCMU610_BOARD")
    _commit(workspace)
    before = snapshot(workspace)
    p = spawn_cli("sync", cwd=workspace, stderr=subprocess.PIPE, text=True,
                  env={**os.environ, "CMU610BSP_TEST_PAUSE": "swapped-one"})
    try:
        assert "paused at swapped-one" in p.stderr.readline()
        p.send_signal(sig)
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    if sig == signal.SIGTERM:  # a signal it can handle: it rolls back before exiting
        assert p.returncode == 130 and snapshot(workspace) == before
    assert cli("sync", "--dry-run", cwd=workspace).returncode == 0  # any command rolls back first
    assert snapshot(workspace) == before


NO_GIT_IDENTITY = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
                   "GIT_AUTHOR_NAME": "", "GIT_AUTHOR_EMAIL": "", "GIT_COMMITTER_NAME": "", "GIT_COMMITTER_EMAIL": ""}


def test_commit_without_a_git_identity(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """A fresh CI container has no user.name/user.email: `sync --commit` and `init` still commit
    (with the tool's default identity), nothing is left staged."""
    env = {**NO_GIT_IDENTITY, "HOME": str(tmp_path)}
    r = cli("init", str(tmp_path / "fresh"), env=env)
    assert r.returncode == 0, r.stderr
    assert git.Repo(tmp_path / "fresh").head.commit.author.name == "cmu610bsp"
    _edit(workspace, BOARD, "hostname: cmu610-evb", "hostname: lab-9")
    _commit(workspace)
    r = cli("sync", "--commit", cwd=workspace, env=env)
    assert r.returncode == 0, r.stderr
    repo = git.Repo(workspace)
    assert not repo.is_dirty(untracked_files=True)
    assert repo.head.commit.author.name == "cmu610bsp" and "regenerate" in repo.head.commit.message
