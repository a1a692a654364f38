"""The one subprocess wrapper, on real child processes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmu610bsp import proc


def test_stream_hands_over_every_line_without_waiting_for_more_output() -> None:
    """Lines printed together, then a pause: each must reach on_line during the pause (a
    buffered readline after select() held them back until the child printed again)."""
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    child = "import sys, time; sys.stdout.write('a\\nb\\u00e9\\nc\\n'); sys.stdout.flush(); time.sleep(3); print('d', end='')"
    rc = proc.stream([sys.executable, "-c", child], lambda line: seen.append((time.monotonic() - start, line)))
    assert rc == 0
    assert [line for _, line in seen] == ["a", "b\u00e9", "c", "d"]
    assert seen[2][0] < 2.5 < seen[3][0]


def test_stream_timeout_kills_the_child() -> None:
    lines: list[str] = []
    start = time.monotonic()
    with pytest.raises(proc.Timeout):
        proc.stream([sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)"], lines.append, timeout=1.5)
    assert lines == ["up"] and time.monotonic() - start < 10


def _lines(child: proc.Forked, timeout: float | None = None) -> tuple[int, list[str]]:
    out: list[str] = []
    try:
        rc = proc.pump(child, child.fd, out.append, timeout=timeout)
    finally:
        os.close(child.fd)
    return rc, out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_fork_call_runs_a_function_like_a_child_process(tmp_path: Path) -> None:
    """Own session, the given cwd and environment, stdin from /dev/null, stdout and stderr in one
    pipe, the caller's other files closed (a held flock must not outlive the caller in it)."""
    held = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
    fcntl.flock(held, fcntl.LOCK_EX)

    def child() -> int:
        print("session leader:", os.getsid(0) == os.getpid(), "cwd:", os.getcwd(), "env:", os.environ.get("X"))
        print("stdin:", sys.stdin.read() == "", file=sys.stderr)
        try:
            os.fstat(held)
            print("lock fd: open")
        except OSError:
            print("lock fd: closed")
        return 3

    try:
        rc, out = _lines(proc.fork_call(child, ["child"], cwd=tmp_path, env={"X": "y"}))
    finally:
        os.close(held)
    assert rc == 3
    assert sorted(out) == sorted([f"session leader: True cwd: {tmp_path} env: y", "stdin: True", "lock fd: closed"])
    assert os.environ.get("X") != "y" and Path.cwd() != tmp_path  # the caller's are untouched


def test_fork_call_exit_codes(tmp_path: Path) -> None:
    def exits() -> None:
        sys.exit(5)

    def fails() -> None:
        raise RuntimeError("boom in the child")

    assert _lines(proc.fork_call(exits, ["x"], cwd=tmp_path, env={}))[0] == 5
    rc, out = _lines(proc.fork_call(fails, ["x"], cwd=tmp_path, env={}))
    assert rc == 1 and out[-1] == "RuntimeError: boom in the child" and out[0].startswith("Traceback")
    assert _lines(proc.fork_call(lambda: None, ["x"], cwd=tmp_path, env={}))[0] == 0


def test_fork_call_timeout_kills_its_group(tmp_path: Path) -> None:
    """A grandchild (as BitBake is kas's) dies with the fork's process group on a timeout."""
    pidfile = tmp_path / "grandchild"

    def child() -> int:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pidfile.write_text(str(p.pid))
        print("up", flush=True)
        return p.wait()

    forked = proc.fork_call(child, ["child"], cwd=tmp_path, env=dict(os.environ))
    start = time.monotonic()
    with pytest.raises(proc.Timeout):
        _lines(forked, timeout=2)
    assert time.monotonic() - start < 10 and forked.returncode is not None
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)
