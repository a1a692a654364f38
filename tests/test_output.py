"""What the CLI prints: user data literally (no rich markup), whole in a pipe (no 80-column cut),
and a reader that closes the pipe at once changes neither the exit code nor stderr. In this
process (`cli`), but for the closed pipe: a process whose stdout is that pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BOARD, Cli, edit

MARKUP = "[bold]CMU610[/bold] [a-z][a-z0-9-]*[a-z0-9] :smile: [red]"


def test_user_data_is_printed_literally(cli: Cli, workspace: Path) -> None:
    edit(workspace / BOARD, "full_name: CMU610 evaluation board", f"full_name: '{MARKUP}'")
    edit(workspace / BOARD, "label: Inlet Temp", "label: 'Inlet [i]Temp[/i] [a-z]'")
    r = cli("board", "show", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert MARKUP in r.stdout and "Inlet [i]Temp[/i] [a-z]" in r.stdout
    # and in error messages: a value the user gave, a rule's pattern, exactly as they are
    r = cli("board", "show", "[b]X[/b]", cwd=workspace)
    assert r.returncode == 2 and "no board named '[b]X[/b]'" in r.stderr, r.stderr
    edit(workspace / BOARD, "name: cmu610-evb", "name: Bad")
    for args in (("board", "show"), ("check",)):
        r = cli(*args, cwd=workspace)
        assert r.returncode == 2 and "'^[a-z][a-z0-9-]*[a-z0-9]$'" in r.stdout + r.stderr, r.stdout + r.stderr


def test_plain_output_is_never_cut_to_a_width(cli: Cli, workspace: Path) -> None:
    name = "inlet_temperature_of_the_second_gpu_tray_behind_the_front_panel_" + "x" * 60
    label = "Inlet temperature of the second GPU tray, measured behind the front panel " + "y" * 60
    edit(workspace / BOARD, "name: inlet_temp, label: Inlet Temp", f"name: {name}, label: '{label}'")
    edit(workspace / BOARD, "thresholds: {warning_high: 40, critical_high: 50}",
         "thresholds: {critical_low: -12.5, warning_low: 0.25, warning_high: 40.75, critical_high: 50.125}")
    r = cli("board", "show", cwd=workspace, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if name in line)
    assert label in row and "critical_low=-12.5, warning_low=0.25, warning_high=40.75, critical_high=50.125" in row
    assert "…" not in r.stdout


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
