"""The one subprocess wrapper, on real child processes."""

from __future__ import annotations

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
