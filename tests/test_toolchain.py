"""`toolchain install|check|show` with real archives made from Debian's RISC-V GCC, and hostile
archives that must be refused with nothing extracted."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import Cli
from toolchains import GCC_DIR, MISSING, debian_gcc_archive

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


@pytest.fixture(scope="session")
def real_toolchain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A relocated copy of the real toolchain (only the rv32imac multilib), packed as a tarball."""
    return debian_gcc_archive(tmp_path_factory.mktemp("tc"))


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    return {"CMU610BSP_CACHE": str(tmp_path / "cache")}


def test_install_check_show_and_consumers(cli: Cli, workspace: Path, real_toolchain: tuple[Path, str],
                                          cache: dict[str, str]) -> None:
    archive, digest = real_toolchain
    r = cli("toolchain", "install", str(archive), "--sha256", digest, "--name", "team-gcc", cwd=workspace, env=cache)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load((workspace / "cmu610bsp.yml").read_text())
    rec = cfg["toolchain"]
    assert rec["name"] == "team-gcc" and rec["prefix"] == "riscv64-unknown-elf-" and rec["sha256"] == digest
    # recorded by its place in the cache, not by this machine's path: a colleague's clone finds it
    assert "path" not in rec and rec["cache"] == f"team-gcc-{digest[:12]}/riscv-gcc"
    root = Path(cache["CMU610BSP_CACHE"], "toolchains", rec["cache"])
    assert (root / "bin/riscv64-unknown-elf-gcc").is_file()
    assert cache["CMU610BSP_CACHE"] not in (workspace / "cmu610bsp.yml").read_text()
    assert cfg["boards"] == ["configs/boards/cmu610-evb.yaml"]  # the rest of the config is kept
    # the compiler really runs from the cache: compile and link RV32
    r = cli("toolchain", "check", "--json", cwd=workspace, env=cache)
    rep = json.loads(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["gcc"].startswith(cache["CMU610BSP_CACHE"]) and rep["stand_in"] is False
    assert rep["rv32_elf"] is True and rep["mcpu"] is None  # Debian's GCC rejects -mcpu=e906
    assert rep["multilib_trap"] is True and rep["link_flags"][0].endswith("rv32imac/ilp32")
    # one record feeds every consumer after sync
    assert cli("sync", "--allow-dirty", cwd=workspace).returncode == 0
    generated = "".join((workspace / f).read_text() for f in ("configs/kas/toolchain.yml", "meta-cmu610/toolchain.env"))
    assert cache["CMU610BSP_CACHE"] not in generated  # nothing machine-specific is committed
    kas = yaml.safe_load((workspace / "configs/kas/toolchain.yml").read_text())
    # the building machine's, set by `build` (and the Python Zephyr's scripts and the packer run
    # in, and where the boot stage's libsodium sources are)
    assert kas["env"] == {"CMU610_TOOLCHAIN_PATH": "", "CMU610_ZEPHYR_PYTHON": "python3", "CMU610_LIBSODIUM_DIR": ""}
    assert f'CMU610_TOOLCHAIN_SHA256 = "{digest}"' in kas["local_conf_header"]["cmu610-toolchain"]
    r = cli("toolchain", "show", "--json", cwd=workspace, env=cache)
    shown = json.loads(r.stdout)
    assert shown["stand_in"] is False
    # the shell that sources toolchain.env finds it in this machine's cache
    assert shown["consumers"]["meta-cmu610/toolchain.env"]["CROSS_COMPILE"] == f"{root}/bin/riscv64-unknown-elf-"


def test_stand_in_is_reported(cli: Cli, workspace: Path) -> None:
    r = cli("toolchain", "check", cwd=workspace, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stdout
    assert "STAND-IN" in r.stdout and "multilib trap" in r.stdout
    # the flag a user copies is printed whole, also in a CI log read 80 columns wide
    assert f"-L{GCC_DIR}/rv32imac/ilp32" in r.stdout, r.stdout
    r = cli("toolchain", "show", cwd=workspace)
    assert "stand-in" in r.stdout and "CROSS_COMPILE = /usr/bin/riscv64-unknown-elf-" in r.stdout


def test_directory_is_recorded_in_place(cli: Cli, workspace: Path, real_toolchain: tuple[Path, str], tmp_path: Path) -> None:
    with tarfile.open(real_toolchain[0]) as tar:
        tar.extractall(tmp_path / "x")  # noqa: S202 - made by the fixture above
    r = cli("toolchain", "install", str(tmp_path / "x/riscv-gcc"), cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((workspace / "cmu610bsp.yml").read_text())["toolchain"]["path"] == str(tmp_path / "x/riscv-gcc")


def _tar(path: Path, entries: list[tarfile.TarInfo], data: bytes = b"#!/bin/sh\n") -> str:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("tc/bin/riscv64-unknown-elf-gcc")
        ok.size = len(data)
        ok.mode = 0o755
        tar.addfile(ok, io.BytesIO(data))
        for e in entries:
            tar.addfile(e, io.BytesIO(b"x" * e.size) if e.isfile() else None)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type = kind
    t.linkname = link
    t.size = size if kind == tarfile.REGTYPE else 0
    return t


HOSTILE = [
    ("dotdot", [_member("tc/../../evil")], "'..'"),
    ("absolute", [_member("/tmp/evil")], "absolute path"),
    ("symlink-escape", [_member("tc/lib/escape", tarfile.SYMTYPE, "../../../etc/passwd")], "symbolic link points outside"),
    ("symlink-absolute", [_member("tc/lib/abs", tarfile.SYMTYPE, "/etc/passwd")], "absolute path"),
    ("hardlink-escape", [_member("tc/lib/hard", tarfile.LNKTYPE, "../etc/passwd")], "hard link points outside"),
    ("device", [_member("tc/dev/sda", tarfile.BLKTYPE)], "device"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_archive_is_refused(cli: Cli, workspace: Path, tmp_path: Path, cache: dict[str, str], case) -> None:
    name, entries, reason = case
    archive = tmp_path / f"{name}.tar.gz"
    digest = _tar(archive, entries)
    before = (workspace / "cmu610bsp.yml").read_text()
    r = cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace, env=cache)
    assert r.returncode == 2, r.stdout + r.stderr
    assert reason in r.stderr and "nothing was extracted" in r.stderr
    cache_dir = Path(cache["CMU610BSP_CACHE"])
    assert not any(p.is_file() or p.is_symlink() for p in cache_dir.rglob("*")) if cache_dir.exists() else True
    assert not Path("/tmp/evil").exists()
    assert (workspace / "cmu610bsp.yml").read_text() == before


def test_wrong_checksum_and_missing_checksum(cli: Cli, workspace: Path, real_toolchain: tuple[Path, str],
                                             cache: dict[str, str]) -> None:
    archive, digest = real_toolchain
    r = cli("toolchain", "install", str(archive), "--sha256", "0" * 64, cwd=workspace, env=cache)
    assert r.returncode == 2 and "checksum mismatch" in r.stderr and digest in r.stderr
    r = cli("toolchain", "install", str(archive), cwd=workspace, env=cache)
    assert r.returncode == 2 and "--sha256" in r.stderr
    assert not Path(cache["CMU610BSP_CACHE"]).exists() or not any(Path(cache["CMU610BSP_CACHE"]).rglob("*gcc*"))


def test_truncated_archive(cli: Cli, workspace: Path, real_toolchain: tuple[Path, str], tmp_path: Path,
                           cache: dict[str, str]) -> None:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(real_toolchain[0].read_bytes()[: 3_000_000])
    digest = hashlib.sha256(cut.read_bytes()).hexdigest()
    r = cli("toolchain", "install", str(cut), "--sha256", digest, cwd=workspace, env=cache)
    assert r.returncode == 2 and "truncated or corrupt" in r.stderr
    assert not any(p.is_file() for p in Path(cache["CMU610BSP_CACHE"]).rglob("*"))


def test_extracted_modes_are_tamed_on_every_python(workspace: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian 12's own python3 (3.11.2) has no tarfile extraction filters: install must not rely
    on them, and still drop setuid bits and group/other write, and leave the toolchain readable
    by the ordinary user BitBake runs as (mkdtemp's 0700 was kept before)."""
    from cmu610bsp import toolchain
    from cmu610bsp import workspace as ws_mod

    real_extractall = tarfile.TarFile.extractall

    def like_3_11_2(self: tarfile.TarFile, path: str | os.PathLike[str] = ".", members=None, *,
                    numeric_owner: bool = False, **kw: object) -> None:
        if kw:
            raise TypeError(f"extractall() got an unexpected keyword argument {next(iter(kw))!r}")
        real_extractall(self, path, members, numeric_owner=numeric_owner)  # type: ignore[call-arg]

    monkeypatch.setattr(tarfile.TarFile, "extractall", like_3_11_2)
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    helper = _member("tc/bin/helper", size=10)
    helper.mode = 0o4777
    tools = _member("tc/share", tarfile.DIRTYPE)
    tools.mode = 0o2777
    archive = tmp_path / "tc.tar.gz"
    digest = _tar(archive, [tools, helper])
    record = toolchain.install(ws_mod.open_workspace(workspace), archive, digest, None)
    root = toolchain.location(record)
    assert (root.parent.stat().st_mode & 0o777) == 0o755
    assert (root / "bin" / "helper").stat().st_mode & 0o7777 == 0o755
    assert (root / "share").stat().st_mode & 0o7777 == 0o755


def test_a_colleagues_clone_resolves_or_says_how_to_get_it(cli: Cli, workspace: Path, real_toolchain: tuple[Path, str],
                                                            cache: dict[str, str], tmp_path: Path) -> None:
    """The record travels with the workspace, the toolchain does not: on a machine without it,
    check and doctor say how to get it (the archive's checksum); CMU610BSP_TOOLCHAIN points at a
    copy anywhere; `build` hands kas the location resolved on the building machine."""
    archive, digest = real_toolchain
    assert cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace, env=cache).returncode == 0
    assert cli("sync", "--allow-dirty", cwd=workspace).returncode == 0
    elsewhere = {"CMU610BSP_CACHE": str(tmp_path / "other-machine-cache")}
    r = cli("toolchain", "check", cwd=workspace, env=elsewhere)
    assert r.returncode == 2 and "is not on this machine" in r.stdout + r.stderr
    assert f"--sha256 {digest}" in r.stdout + r.stderr and "CMU610BSP_TOOLCHAIN" in r.stdout + r.stderr
    r = cli("doctor", "--json", cwd=workspace, env=elsewhere)
    item = next(i for i in json.loads(r.stdout)["items"] if i["name"] == "toolchain")
    assert item["status"] == "fail" and f"--sha256 {digest}" in item["fix"]
    recorded = yaml.safe_load((workspace / "cmu610bsp.yml").read_text())["toolchain"]["cache"]
    there = Path(cache["CMU610BSP_CACHE"], "toolchains", recorded)
    r = cli("toolchain", "check", cwd=workspace, env={**elsewhere, "CMU610BSP_TOOLCHAIN": str(there)})
    assert r.returncode == 0, r.stdout + r.stderr
    fixture = Path(__file__).parent / "fixtures" / "buildsys"
    r = cli("build", "littlebmc", "--source", f"openbmc={fixture}", "--json", cwd=workspace, env=cache)
    assert r.returncode == 0, r.stderr
    log = Path(json.loads(r.stdout)["log"]).read_text()
    assert f"NOTE: fixture bitbake: CMU610_TOOLCHAIN_PATH='{there}'" in log
