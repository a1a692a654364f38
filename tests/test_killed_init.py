"""`init` killed (SIGKILL) at any point: the next `init` (or `init --force`) takes out what the
killed one wrote and does it all again, to a committed workspace like any other."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import git
import pytest

from conftest import MACHINE_CONF, Cli, cli_in_process, snapshot, spawn_cli

# in the scratch's generate, after the first entry moved in, with a repository and no commit yet
# (as found: both refused), after the first commit
KILLS = [("staged", ["init"]), ("init-moving", ["init"]), ("init-moving", ["init", "--force"]),
         ("init-git", ["init"]), ("init-git", ["init", "--force"]), ("init-committed", ["init"]),
         ("init-committed", ["init", "--force"])]


def _killed_init(target: Path, point: str, *extra: str) -> None:
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point}
    p = spawn_cli("init", str(target), *extra, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None
        line = p.stderr.readline()
        assert f"paused at {point}" in line, line + p.stderr.read()
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()


def _complete(ws: Path) -> git.Repo:
    for rel in ("cmu610bsp.yml", "configs/boards/cmu610-evb.yaml", "configs/kas/base.yml", MACHINE_CONF,
                ".cmu610bsp/state/manifest.json"):
        assert (ws / rel).is_file(), rel
    assert not (ws / ".cmu610bsp/init").exists() and not (ws / ".cmu610bsp/init.json").exists()
    assert cli_in_process("sync", "--check", cwd=ws).returncode == 0
    return git.Repo(ws)


@pytest.mark.parametrize(("point", "again"), KILLS, ids=[f"{p}-{' '.join(a)}" for p, a in KILLS])
def test_a_killed_init_is_done_again(cli: Cli, tmp_path: Path, point: str, again: list[str]) -> None:
    ws = tmp_path / "ws"
    _killed_init(ws, point)
    r = cli(*again, str(ws))
    assert r.returncode == 0, r.stderr
    repo = _complete(ws)
    assert len(list(repo.iter_commits())) == 1 and not repo.is_dirty(untracked_files=True)
    assert r.stdout.count("first commit") == 1 and repo.head.commit.hexsha[:12] in r.stdout


def test_a_killed_forced_init_keeps_what_was_there(cli: Cli, tmp_path: Path) -> None:
    """Beside the user's files (`init --force`): the next init still needs --force for them, and
    keeps them, and their .gitignore lines, and commits none of them."""
    ws = tmp_path / "home"
    ws.mkdir()
    (ws / "notes.txt").write_text("mine\n")
    (ws / ".gitignore").write_text("*.log\n")
    _killed_init(ws, "init-moving", "--force")
    before = snapshot(ws)
    r = cli("init", str(ws))
    assert r.returncode == 2 and "not empty (notes.txt)" in r.stderr and "--force" in r.stderr, r.stderr
    assert snapshot(ws) == before
    r = cli("init", "--force", str(ws))
    assert r.returncode == 0, r.stderr
    repo = _complete(ws)
    assert (ws / "notes.txt").read_text() == "mine\n" and "notes.txt" in repo.untracked_files
    ignore = (ws / ".gitignore").read_text()
    assert ignore.startswith("*.log\n") and ignore.count("/.cmu610bsp/txn/") == 1
    assert "notes.txt" not in repo.git.ls_files().splitlines()


@pytest.mark.parametrize("point", ["staged", "init-moving"])
def test_an_interrupted_init_takes_out_what_it_wrote_or_finishes(tmp_path: Path, point: str) -> None:
    """SIGTERM before the scratch's write is committed: init leaves the directory as it found it
    (none here). After it, the interrupt is held and init finishes, as every command does."""
    ws = tmp_path / "ws"
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point}
    p = spawn_cli("init", str(ws), env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None and f"paused at {point}" in p.stderr.readline()
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=120)[1]
    finally:
        if p.poll() is None:
            p.kill()
    if point == "staged":
        assert p.returncode == 130 and not ws.exists(), err
    else:
        assert p.returncode == 0 and "the command finished" in err, err
        assert len(list(_complete(ws).iter_commits())) == 1
