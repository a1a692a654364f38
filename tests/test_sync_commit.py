"""`sync --commit`: the commit holds the description edit that caused the render, and a stale
git index lock is a clear error before anything is written."""

from __future__ import annotations

from pathlib import Path

import git

from conftest import BOARD, MACHINE_CONF, Cli, edit, snapshot


def test_the_commit_holds_the_description_edit(cli: Cli, workspace: Path) -> None:
    edit(workspace / BOARD, "hostname: cmu610-evb", "hostname: lab-7")
    edit(workspace / "cmu610bsp.yml", "keep: []", "keep:\n- meta-cmu610/recipes-mine/*")
    (workspace / "notes.txt").write_text("not a description: not committed\n")
    r = cli("sync", "--commit", cwd=workspace)
    assert r.returncode == 0, r.stderr
    repo = git.Repo(workspace)
    changed = set(repo.git.diff_tree("--no-commit-id", "--name-only", "-r", "HEAD").splitlines())
    assert {BOARD, "cmu610bsp.yml", MACHINE_CONF} <= changed, changed
    assert not repo.is_dirty() and repo.untracked_files == ["notes.txt"]
    assert f"git: committed {repo.head.commit.hexsha[:12]}" in r.stdout


def test_a_stale_index_lock_is_named_before_anything_is_written(cli: Cli, workspace: Path) -> None:
    edit(workspace / BOARD, "hostname: cmu610-evb", "hostname: lab-7")
    lock = workspace / ".git/index.lock"
    lock.touch()
    before = snapshot(workspace)
    r = cli("sync", "--commit", cwd=workspace)
    assert r.returncode == 2, r.stderr
    assert str(lock) in r.stderr and "nothing was written" in r.stderr, r.stderr
    assert snapshot(workspace) == before
    lock.unlink()
    assert cli("sync", "--commit", cwd=workspace).returncode == 0
    assert not git.Repo(workspace).is_dirty()
