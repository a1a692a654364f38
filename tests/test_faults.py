"""A full disk and a kill at any point of a write: the command fails cleanly (exit 2 naming the
reason) and the next command, whatever it is, finds the workspace as it was or as intended,
with no hand work. The disk is really full: a small tmpfs, mounted as root or in a user and
mount namespace (`unshare`); where neither is allowed the test says so and is skipped."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BOARD, MACHINE_CONF, Cli, edit, snapshot, spawn_cli

IN_NAMESPACE = "CMU610BSP_TEST_IN_NAMESPACE"


@contextlib.contextmanager
def small_tmpfs(mnt: Path, size: str = "16m") -> Iterator[Path]:
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): the disk-full tests need one")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _ran_in_a_namespace(request: pytest.FixtureRequest, tmp_path: Path) -> bool:
    """As root, False: run the test here. Else run it again in a user and mount namespace (where
    this user is root and may mount a tmpfs of its own) and say True once it passed there; where
    there is none, skip saying why."""
    if os.geteuid() == 0:
        return False
    if os.environ.get(IN_NAMESPACE) or not shutil.which("unshare"):
        pytest.skip("not root, and no user+mount namespace (unshare): cannot mount a small tmpfs")
    unshare = ["unshare", "--user", "--map-root-user", "--mount"]
    probe = subprocess.run([*unshare, "true"], capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"not root, and user+mount namespaces are not allowed here ({probe.stderr.strip()})")
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "ns")]
    r = subprocess.run([*unshare, *pytest_argv, request.node.nodeid], cwd=Path(__file__).parents[1],
                       env={**os.environ, IN_NAMESPACE: "1"}, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    return True


def _fill(path: Path) -> None:
    """Fill the file system `path` is on, to the last page."""
    with open(path, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e


def _paused(ws: Path, argv: list[str], point: str, resume: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point, "CMU610BSP_TEST_RESUME": str(resume)}
    p = spawn_cli(*argv, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    line = p.stderr.readline()
    assert f"paused at {point}" in line, line + p.stderr.read()
    return p


# where the disk fills up: before the command starts (it fails staging), at the journal write
# (staged, the journal next), after the first swap (the rest needs no new space: it completes)
FULL_AT = {"start": None, "journal": "staged", "after-the-journal": "swapped-one"}


@pytest.mark.parametrize("when", list(FULL_AT))
def test_a_full_disk_never_needs_hand_work(cli: Cli, workspace: Path, tmp_path: Path, request: pytest.FixtureRequest,
                                           when: str) -> None:
    if _ran_in_a_namespace(request, tmp_path):
        return
    with small_tmpfs(tmp_path / "mnt") as mnt:
        ws = mnt / "ws"
        shutil.copytree(workspace, ws, symlinks=True)
        edit(ws / BOARD, "hostname: cmu610-evb", "hostname: lab-7")
        before = snapshot(ws)
        point, resume = FULL_AT[when], tmp_path / "resume"
        if point is None:
            _fill(mnt / "filler")
            r = cli("sync", cwd=ws)
            rc, err = r.returncode, r.stderr
        else:
            p = _paused(ws, ["sync"], point, resume)
            _fill(mnt / "filler")
            resume.touch()
            _, err = p.communicate(timeout=300)
            rc = p.returncode
        if when == "after-the-journal":
            assert rc == 0, err
            assert '"lab-7"' in (ws / MACHINE_CONF).read_text()
        else:
            assert rc == 2 and "No space left on device" in err and "nothing was changed" in err, err
            assert snapshot(ws) == before
        # the disk still full: a reader works, and no journal or stage is left for anyone to delete
        r = cli("board", "show", cwd=ws)
        assert r.returncode == 0 and "rolled back" not in r.stderr, r.stderr
        assert not (ws / ".cmu610bsp/txn").exists()
        (mnt / "filler").unlink()
        r = cli("sync", cwd=ws)
        assert r.returncode == 0, r.stderr
        assert '"lab-7"' in (ws / MACHINE_CONF).read_text()
        assert cli("sync", "--check", cwd=ws).returncode == 0


@pytest.mark.parametrize("point", ["journal-written", "swapped-file"])
def test_killed_while_writing_the_journal_or_a_file_root(cli: Cli, workspace: Path, point: str) -> None:
    """The points the older kill tests do not reach: between the journal's temporary file and
    its rename, and after a file outside the generated directories was swapped."""
    assert cli("ci", "gitlab", cwd=workspace).returncode == 0
    (workspace / ".gitlab-ci.yml").unlink()  # the sync makes it again
    edit(workspace / BOARD, "hostname: cmu610-evb", "hostname: lab-7")
    before = snapshot(workspace)
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point}
    p = spawn_cli("sync", cwd=workspace, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None and f"paused at {point}" in p.stderr.readline()
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert snapshot(workspace) == before
    assert cli("sync", cwd=workspace).returncode == 0
    assert '"lab-7"' in (workspace / MACHINE_CONF).read_text()
