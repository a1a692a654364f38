"""Every description and configuration is read bounded (issue 21): a regular file of at most
yamlio.MAX_BYTES. A FIFO used to hang every command, a link to /dev/zero was read until memory
ran out; now each is a finding naming the file (exit 2), and nothing is written."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from cmu610bsp import yamlio
from cmu610bsp.errors import BspError
from cmu610bsp.project import load_project
from conftest import BOARD, deadline, snapshot


def _refused(path: Path) -> list[str]:
    with deadline(30), pytest.raises(BspError) as info:
        yamlio.read_text(path)
    return [str(f) for f in info.value.findings]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "board.yaml"
    os.mkfifo(fifo)
    assert _refused(fifo) == [f"{fifo}: (file): is a named pipe (FIFO): a description or configuration must be a "
                              "regular file"]


def test_a_link_to_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    link = tmp_path / "board.yaml"
    link.symlink_to("/dev/zero")
    assert _refused(link) == [f"{link}: (file): is a character device: a description or configuration must be a "
                              "regular file"]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert _refused(tmp_path) == [f"{tmp_path}: (file): is a directory: a description or configuration must be a "
                                  "regular file"]


def test_the_size_cap(tmp_path: Path) -> None:
    """MAX_BYTES is read; one byte more is refused with the size and the cap."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (yamlio.MAX_BYTES - 1) + b"\n")
    assert len(yamlio.read_text(path)) == yamlio.MAX_BYTES
    path.write_bytes(b"#" * yamlio.MAX_BYTES + b"\n")
    assert _refused(path) == [f"{path}: (file): {yamlio.MAX_BYTES + 1} bytes: more than the {yamlio.MAX_BYTES} "
                              "bytes (4 MiB) a description or configuration may have"]


def test_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to("real.yaml")
    assert yamlio.read_yaml(tmp_path / "link.yaml") == {"a": 1}


def test_a_board_description_too_large_is_a_finding_of_the_loader(workspace: Path) -> None:
    board = workspace / BOARD
    board.write_text(board.read_text() + "#" * yamlio.MAX_BYTES + "\n")
    with pytest.raises(BspError) as info:
        load_project(workspace)
    assert [f.file for f in info.value.findings] == [str(board)] and "file too large" in info.value.message


def _cli_limited(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI with 2 GiB of address space: an unbounded read fails instead of taking the machine."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run([sys.executable, "-m", "cmu610bsp", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("command", [("board", "show"), ("generate",), ("check",)])
def test_cli_exits_2_on_a_board_that_is_not_a_regular_file(workspace: Path, kind: str, command: tuple[str, ...]) -> None:
    board = workspace / BOARD
    board.unlink()
    if kind == "fifo":
        os.mkfifo(board)
    else:
        board.symlink_to("/dev/zero")
    before = snapshot(workspace) if kind == "dev-zero" else None  # snapshot would block on the FIFO
    r = _cli_limited(list(command), workspace)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    what = "a named pipe (FIFO)" if kind == "fifo" else "a character device"
    assert f"{board}: (file): is {what}" in r.stdout + r.stderr and "Traceback" not in r.stderr, r.stdout + r.stderr
    if before is not None:
        assert snapshot(workspace) == before
