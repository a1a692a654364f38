"""`toolchain show` with a toolchain installed from an archive: where it is on this machine and how
the workspace records it (issue 22: the record's `path` is empty for an archive install, which
records its place in the cache, and the kas file's CMU610_TOOLCHAIN_PATH default is empty too;
`show` printed both as they are in the files, not what a build gets)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import Cli

GCC = "/usr/bin/riscv64-unknown-elf-gcc"
pytestmark = pytest.mark.skipif(not shutil.which(GCC), reason="needs Debian's gcc-riscv64-unknown-elf")


def _archive(tmp: Path) -> tuple[Path, str]:
    """A toolchain archive as a vendor ships one: riscv-gcc/bin/riscv64-unknown-elf-gcc (a wrapper
    of Debian's compiler, enough for what `show` reads), and its sha256."""
    path = tmp / "team-gcc.tar.gz"
    script = f'#!/bin/sh\nexec {GCC} "$@"\n'.encode()
    with tarfile.open(path, "w:gz") as tar:
        for name in ("riscv-gcc", "riscv-gcc/bin"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("riscv-gcc/bin/riscv64-unknown-elf-gcc")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_show_says_where_an_archive_install_is_and_how_it_is_recorded(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    archive, digest = _archive(tmp_path)
    env = {"CMU610BSP_CACHE": str(tmp_path / "cache")}
    r = cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace, env=env)
    assert r.returncode == 0, r.stderr
    assert cli("sync", "--allow-dirty", cwd=workspace).returncode == 0
    cache = f"team-gcc-{digest[:12]}/riscv-gcc"
    root = tmp_path / "cache" / "toolchains" / cache
    r = cli("toolchain", "show", cwd=workspace, env={**env, "COLUMNS": "300"})
    assert r.returncode == 0, r.stderr
    assert f"recorded as: cache: {cache} " in r.stdout and f"on this machine: {root}\n" in r.stdout
    # what `build` gives kas on this machine, not the file's empty default
    assert f"CMU610_TOOLCHAIN_PATH = {root}\n" in r.stdout, r.stdout
    r = cli("toolchain", "show", "--json", cwd=workspace, env=env)
    shown = json.loads(r.stdout)
    assert shown["location"] == str(root) and shown["record"]["cache"] == cache and "path" not in shown["record"]
    assert shown["recorded_as"].startswith(f"cache: {cache} ")
    assert shown["consumers"]["configs/kas/toolchain.yml"]["CMU610_TOOLCHAIN_PATH"] == str(root)
    # CMU610BSP_TOOLCHAIN overrides the record, and show says so
    elsewhere = tmp_path / "elsewhere"
    shown = json.loads(cli("toolchain", "show", "--json", cwd=workspace,
                           env={**env, "CMU610BSP_TOOLCHAIN": str(elsewhere)}).stdout)
    assert shown["location"] == str(elsewhere) and shown["recorded_as"].startswith("$CMU610BSP_TOOLCHAIN")
    assert shown["consumers"]["configs/kas/toolchain.yml"]["CMU610_TOOLCHAIN_PATH"] == str(elsewhere)
