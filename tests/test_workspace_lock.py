"""One writer at a time: commands that write a workspace hold its lock; a second one waits, then
refuses naming the holder; a reader never rolls back a write in flight; two syncs at once lose
nothing."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import BOARD, MACHINE_CONF, Cli, edit, snapshot, spawn_cli

MINE = "meta-cmu610/recipes-bsp/local/mine.bbappend"  # a user's file in a generated directory, never committed


def _start(ws: Path, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return spawn_cli(*argv, cwd=ws, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _paused(ws: Path, argv: list[str], point: str, resume: Path | None = None) -> subprocess.Popen[str]:
    env = {"CMU610BSP_TEST_PAUSE": point, **({"CMU610BSP_TEST_RESUME": str(resume)} if resume else {})}
    p = _start(ws, argv, env)
    assert p.stderr is not None
    line = p.stderr.readline()
    assert f"paused at {point}" in line, line + p.stderr.read()
    return p


def _user_files(ws: Path) -> None:
    (ws / MINE).parent.mkdir(parents=True, exist_ok=True)
    (ws / MINE).write_text("# mine, not committed\n")
    edit(ws / BOARD, "hostname: cmu610-evb", "hostname: lab-7")


def test_a_second_writer_refuses_naming_the_first(cli: Cli, workspace: Path) -> None:
    _user_files(workspace)
    before = snapshot(workspace)
    first = _paused(workspace, ["sync"], "staged")
    try:
        for argv in (["sync"], ["generate"], ["ci", "gitlab"], ["keys", "generate"]):
            r = cli(*argv, cwd=workspace, env={"CMU610BSP_LOCK_WAIT": "0.5"})
            assert r.returncode == 2, (argv, r.stdout, r.stderr)
            assert f"being written by pid {first.pid}: cmu610bsp sync" in r.stderr, r.stderr
    finally:
        first.kill()
        first.wait()
    # the first, killed mid-write, is rolled back by the next command: as it all was before
    assert cli("board", "show", cwd=workspace).returncode == 0
    assert snapshot(workspace) == before


def test_a_reader_leaves_a_write_in_flight_alone(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """A reader that finds a write's stage rolls it back only if its writer is gone."""
    _user_files(workspace)
    resume = tmp_path / "resume"
    writer = _paused(workspace, ["sync"], "swapped-one", resume)
    try:
        r = cli("board", "show", cwd=workspace)
        assert r.returncode == 0 and "rolled back" not in r.stderr, r.stderr
        resume.touch()
        err = writer.communicate(timeout=120)[1]
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert '"lab-7"' in (workspace / MACHINE_CONF).read_text() and (workspace / MINE).is_file()
    assert cli("sync", "--check", cwd=workspace).returncode == 0


def test_a_second_writer_waits_for_the_first(workspace: Path) -> None:
    _user_files(workspace)
    first = _paused(workspace, ["sync"], "committed")  # past the commit point: SIGINT lets it finish
    second = _start(workspace, ["generate"], {"CMU610BSP_LOCK_WAIT": "120"})
    try:
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=120) == 0
        assert second.wait(timeout=120) == 0, second.communicate()[1]
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
    assert (workspace / MINE).is_file() and '"lab-7"' in (workspace / MACHINE_CONF).read_text()


@pytest.mark.parametrize("round_", range(4))
def test_two_syncs_at_once_lose_nothing(cli: Cli, workspace: Path, round_: int) -> None:
    """As found: two plain `sync` started together (one shared transaction directory) deleted a
    user's uncommitted files in 2 runs of 8. Now the second waits for the first."""
    _user_files(workspace)
    both = [_start(workspace, ["sync"], {"CMU610BSP_LOCK_WAIT": "300"}) for _ in range(2)]
    results = [(p.wait(timeout=400), p.communicate()[1]) for p in both]
    assert [rc for rc, _ in results] == [0, 0], results
    assert (workspace / MINE).read_text() == "# mine, not committed\n"
    assert cli("sync", "--check", cwd=workspace).returncode == 0


def test_lock_and_devtool_finish_write_the_workspace_and_take_its_lock(cli: Cli, workspace: Path) -> None:
    """kas's lock files land in configs/kas and `devtool finish` writes into meta-cmu610: both
    wait for a writer in flight, then refuse naming it, before kas runs (nothing written)."""
    src = str(Path(__file__).parent / "fixtures" / "buildsys")
    _user_files(workspace)  # a description edit: the sync has something to write, and pauses doing it
    before = snapshot(workspace)
    first = _paused(workspace, ["sync"], "staged")
    try:
        for argv in (["lock", "littlebmc", "--source", f"openbmc={src}"],
                     ["devtool", "finish", "cmu610-bmc-fw", "--line", "littlebmc", "--source",
                      f"openbmc={src}"]):
            r = cli(*argv, cwd=workspace, env={"CMU610BSP_LOCK_WAIT": "0.3"})
            assert r.returncode == 2, (argv, r.stdout, r.stderr)
            assert f"being written by pid {first.pid}: cmu610bsp sync" in r.stderr, r.stderr
            assert not (workspace / "configs/kas/base.lock.yml").exists()
    finally:
        first.kill()
        first.wait()
    assert cli("board", "show", cwd=workspace).returncode == 0
    assert {k: v for k, v in snapshot(workspace).items() if not k.startswith("build/")} == before
