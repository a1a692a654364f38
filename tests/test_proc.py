"""The one subprocess wrapper, on real child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cmu610bsp import proc
from conftest import processes


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


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


GRANDCHILD = """
import subprocess, sys, time
p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(p.pid))
print("up", flush=True)
p.wait()
"""


@pytest.mark.parametrize("how", ["stream", "run"])
def test_timeout_kills_the_whole_group(tmp_path: Path, how: str) -> None:
    """A grandchild (as BitBake is kas's) dies with the child's process group when the deadline
    passes; the deadline is the user-facing Timeout (exit 124)."""
    pidfile = tmp_path / "grandchild"
    argv = [sys.executable, "-c", GRANDCHILD, str(pidfile)]
    with pytest.raises(proc.Timeout) as caught:
        if how == "stream":
            proc.stream(argv, lambda line: None, timeout=3)
        else:
            proc.run(argv, timeout=3)
    assert caught.value.exit_code == 124
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_children_get_their_own_group_and_no_stdin(tmp_path: Path) -> None:
    code = "import os, sys; print(os.getsid(0) == os.getpid(), repr(sys.stdin.read()), os.getcwd())"
    r = proc.run([sys.executable, "-c", code], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["True", "''", str(tmp_path)]


def test_the_logged_command_is_the_command_that_ran(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="cmu610bsp.proc")
    proc.run([sys.executable, "-c", "print('x y')"], cwd=tmp_path)
    assert f"{tmp_path}$ {sys.executable} -c 'print('\"'\"'x y'\"'\"')'" in caplog.text


FOREGROUND_TOOL = """
import signal, sys
from cmu610bsp import proc

def terminated(signum, frame):
    raise KeyboardInterrupt  # as the CLI turns SIGTERM into Ctrl-C's cleanup

signal.signal(signal.SIGTERM, terminated)
proc.foreground(["sh", "-c", sys.argv[1]])
"""


def _marked(marker: str) -> list[int]:
    """Processes whose command line holds the marker (the tool's own too, while it runs)."""
    return [pid for pid, cmdline, _ in processes() if marker in cmdline]


@pytest.mark.parametrize("tree", [
    "sh -c 'sleep {marker}; true' & wait",  # a grandchild under a nested shell, as ninja's under cmake
    "trap '' TERM; sleep {marker} & wait",  # SIGTERM ignored by all (inherited through exec): SIGKILL after the grace
], ids=["nested-shell", "ignoring-sigterm"])
def test_foreground_stops_the_childs_whole_tree_on_sigterm(tmp_path: Path, tree: str) -> None:
    """foreground's child shares the tool's process group (the terminal's Ctrl-C must reach it), so
    no group kill covers its descendants: SIGTERM to the tool must still leave none running. A real
    tool process, since the point is the signal and the processes it leaves."""
    marker = f"97.{uuid.uuid4().int % 10**9:09d}"  # `sleep 97.NNNNNNNNN`: only this test's sleep has it
    tool = subprocess.Popen([sys.executable, "-c", FOREGROUND_TOOL, tree.format(marker=marker)],
                            cwd=tmp_path, stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while f"sleep {marker}" not in (cmdline for _, cmdline, _ in processes()):  # the tree's last leaf
            assert time.monotonic() < end and tool.poll() is None, "the tree never started"
            time.sleep(0.05)
        tool.send_signal(signal.SIGTERM)
        tool.wait(timeout=20)
        end = time.monotonic() + 2  # what the tool killed may take a moment to be reaped by init
        while _marked(marker) and time.monotonic() < end:
            time.sleep(0.05)
        assert _marked(marker) == []
    finally:
        tool.kill()
        for pid in _marked(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
