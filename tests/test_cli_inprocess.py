"""`cli.run` again and again in one process, as the tests run most command lines: each command
line starts from nothing another one set (global options, log level and handler, SIGTERM's
handler, the consoles' idea of the terminal) and leaves nothing behind; `check` parses the files as
they are now, whatever an earlier `check` in the process read."""

from __future__ import annotations

import io
import logging
import re
import signal
from pathlib import Path

import pytest

from cmu610bsp import workspace as ws_mod
from cmu610bsp.checks import yocto
from cmu610bsp.cli import common, run
from conftest import Cli


def test_workspace_and_debug_of_one_call_are_not_the_next_ones(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    r = cli("--debug", "-w", str(workspace), "toolchain", "check")
    assert r.returncode == 0 and "$ /usr/bin/riscv64-unknown-elf-gcc --version" in r.stderr, r.stderr
    r = cli("toolchain", "check", cwd=workspace)
    assert r.returncode == 0 and "$ " not in r.stderr, r.stderr  # no --debug: no command logged
    r = cli("board", "show", cwd=tmp_path)  # no -w: the earlier call's workspace is not this one's
    assert r.returncode == 2 and "no cmu610bsp.yml" in r.stderr, r.stdout + r.stderr


def test_a_traceback_only_for_the_call_that_asked(cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(ws_mod, "load_project", boom)
    r = cli("--debug", "board", "show", cwd=workspace)
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr, r.stderr
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "internal error: RuntimeError: kaboom" in r.stderr, r.stderr


def test_process_state_is_put_back(workspace: Path) -> None:
    """After a command line that succeeded and one refused by the parser alike."""
    root = logging.getLogger()

    def state() -> tuple[object, ...]:
        return root.level, list(root.handlers), signal.getsignal(signal.SIGTERM), common.GLOBALS.workspace, common.GLOBALS.debug

    before = state()
    for argv, rc in ((["--debug", "-w", str(workspace), "board", "show", "--json"], 0),
                     (["-w", str(workspace), "no-such-command"], 2)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.stdout", io.StringIO())
            mp.setattr("sys.stderr", io.StringIO())
            assert run(argv) == rc, argv
        assert state() == before, argv


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as rich asks."""

    def isatty(self) -> bool:
        return True


def test_consoles_are_fitted_to_each_calls_streams(cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe gets plain, whole table rows; a terminal 40 columns wide gets styled tables that fit
    in 40 columns; whichever came first in the process."""
    piped = cli("board", "show", cwd=workspace, env={"COLUMNS": "40"})
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout
    assert max(len(line) for line in piped.stdout.splitlines() if "│" in line) > 40
    term = _Terminal()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "xterm-256color")  # rich styles nothing on a dumb terminal (a CI shell's TERM)
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(workspace)
    monkeypatch.setattr("sys.stdout", term)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert run(["board", "show"]) == 0
    monkeypatch.undo()
    shown = term.getvalue()
    rows = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in shown.splitlines() if "│" in line]
    assert "\x1b[" in shown and "Sensors" in shown and rows and max(map(len, rows)) <= 40, shown
    again = cli("board", "show", cwd=workspace, env={"COLUMNS": "40"})
    assert again.stdout == piped.stdout


def test_check_parses_the_files_as_they_are_now(workspace: Path) -> None:
    """BitBake keeps each .inc it parsed for the life of the process: a second check after an edit
    of one must see the edit."""
    ws = ws_mod.open_workspace(workspace)
    assert yocto.check_bitbake(ws).status == "ok"
    inc = workspace / "meta-cmu610/conf/machine/include/cmu610.inc"
    inc.write_text(inc.read_text() + "this is not BitBake\n")
    result = yocto.check_bitbake(ws)
    assert result.status == "failed" and "cmu610.inc" in str(result.findings), result
