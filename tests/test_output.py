"""What the CLI prints: a reader that closes the pipe at once changes neither the exit code nor
stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BOARD, edit


def _into_closed_pipe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader has closed it already: every write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "cmu610bsp", *args], cwd=cwd, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)


def test_closed_pipe_keeps_the_commands_exit_code(workspace: Path) -> None:
    edit(workspace / BOARD, "hostname: cmu610-evb", "hostname: lab-9")  # drift for sync --check
    for args, rc in ((("sync", "--check"), 2), (("sync", "--check", "--json"), 2),
                     (("board", "show"), 0), (("board", "show", "--json"), 0), (("--help",), 0)):
        r = _into_closed_pipe(workspace, *args)
        assert r.returncode == rc, (args, r.stderr)
        assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr and "BrokenPipe" not in r.stderr, args
        if rc == 2:
            assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1, r.stderr
