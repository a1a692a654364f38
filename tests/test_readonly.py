"""A workspace (or cache, or results directory) the tool cannot write: every writing command is a
user error (exit 2) naming the path and the system's reason, and leaves nothing half written.
It used to be exit 1, `OSError: Read-only file system`, for toolchain install after unpacking.

As root the directory is a read-only bind mount (chmod does not stop root), else mode 0555."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from cmu610bsp import generate
from cmu610bsp import workspace as ws_mod
from cmu610bsp.errors import WriteFailed
from conftest import BOARD, Cli, edit, read_only, snapshot

SRC = f"openbmc={Path(__file__).parent / 'fixtures' / 'buildsys'}"


def _edited(ws: Path) -> None:
    """A description edit, so that generate and sync have something to write."""
    edit(ws / BOARD, "  hostname: cmu610-evb", "  hostname: cmu610-evb2")


def test_generate_in_read_only_workspace_raises_write_failed(workspace: Path) -> None:
    _edited(workspace)
    before = snapshot(workspace)
    with read_only(workspace), pytest.raises(WriteFailed) as info:
        generate.generate(ws_mod.open_workspace(workspace))
    message = info.value.message
    assert message.startswith(f"cannot write {workspace}/"), message
    assert "Read-only file system" in message or "Permission denied" in message, message
    assert snapshot(workspace) == before


@pytest.mark.parametrize("argv", [("generate",), ("sync", "--allow-dirty"), ("build", "littlebmc", "--source", SRC, "--dry-run"),
                                  ("lock", "littlebmc", "--source", SRC)],
                         ids=["generate", "sync", "build-dry-run", "lock"])
def test_cli_read_only_workspace_exits_2(cli: Cli, workspace: Path, argv: tuple[str, ...]) -> None:
    _edited(workspace)
    before = snapshot(workspace)
    with read_only(workspace):
        r = cli(*argv, cwd=workspace)
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"error: cannot write {workspace}/"), r.stderr
    assert "Read-only file system" in first or "Permission denied" in first, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert snapshot(workspace) == before


def _archive(tmp: Path) -> tuple[Path, str]:
    """A small archive: the write checks come before extraction, so its content does not matter."""
    path = tmp / "gcc.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("riscv/bin/riscv64-unknown-elf-gcc")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"gcc"))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_toolchain_install_checks_workspace_and_cache_before_unpacking(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    archive, digest = _archive(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {"CMU610BSP_CACHE": str(cache)}
    before = snapshot(workspace)
    with read_only(workspace):
        r = cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: cannot write {workspace}/cmu610bsp.yml.tmp: "), r.stderr
    assert "nothing was extracted" in r.stderr, r.stderr
    assert list(cache.iterdir()) == [] and snapshot(workspace) == before
    with read_only(cache):
        r = cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: cannot write {cache}/toolchains: "), r.stderr
    assert list(cache.iterdir()) == [] and snapshot(workspace) == before


def test_qemu_smoke_read_only_results_exits_2_before_booting(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    elf = tmp_path / "fw.elf"  # an RV32 ELF header is all the up-front image check reads
    elf.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(11) + (243).to_bytes(2, "little") + bytes(44))
    with read_only(results):
        r = cli("qemu", "smoke", "--image", f"cpu0={elf}", "--image", f"cpu1={elf}", "--results", str(results),
                cwd=workspace)
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.stderr.startswith(f"error: cannot write {results}/"), r.stderr
    assert "nothing was booted" in r.stderr.splitlines()[0], r.stderr
    assert list(results.iterdir()) == []
