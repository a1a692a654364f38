"""Toolchain archives whose links lead out of the extraction tree: each member's real destination
is resolved through the links the members before it made (a chain of relative links passes any
check of names alone), and anything that lands outside is refused before anything is written."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from cmu610bsp import toolchain
from cmu610bsp import workspace as ws_mod
from cmu610bsp.errors import BspError
from conftest import Cli, snapshot

GCC = "tc/bin/riscv64-unknown-elf-gcc"


def _link(name: str, target: str) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type, t.linkname = tarfile.SYMTYPE, target
    return t


def _hard(name: str, target: str) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mode = tarfile.LNKTYPE, target, 0o777
    return t


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    t = tarfile.TarInfo(name)
    t.size, t.mode = len(data), 0o755
    return t, data


def _archive(path: Path, members: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> str:
    """A gzip tarball of a fake toolchain (bin/<prefix>gcc first) and then `members`, in order."""
    with tarfile.open(path, "w:gz") as tar:
        for m in [_file(GCC, b"#!/bin/sh\n"), *members]:
            info, data = m if isinstance(m, tuple) else (m, None)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Climbs out of <cache>/toolchains/.extract-*/tc: tc/a/b is the extraction tree, tc/a/b/c the
# toolchains directory, tc/a/b/c/d the cache, tc/a/b/c/d/e the test's tmp_path; each link,
# judged alone by its name and target, stays inside.
CLIMB = [_link("tc/a", "."), _link("tc/a/b", ".."), _link("tc/a/b/c", ".."), _link("tc/a/b/c/d", ".."),
         _link("tc/a/b/c/d/e", "..")]
OUT = "tc/a/b/c/d/e"
# One link whose name is deep only through `tc/a -> .`: it sits in tc/ and climbs four levels,
# to the test's tmp_path; the archive's top level stays a single directory, so the toolchain is found.
DEEP = [_link("tc/a", "."), _link("tc/a/a/a/up", "../../../..")]
ESCAPES = {
    # a file written through the chain
    "chained-links-write": [*CLIMB, _file(f"{OUT}/pwned")],
    "deep-named-link-write": [*DEEP, _file("tc/up/pwned")],
    # a link made harmless only until a later one points its first step elsewhere
    "link-repointed-later": [_link("tc/x/a", "b/.."), _link("tc/x/b", ".."), _link("tc/x/a/up", "../../.."),
                             _file("tc/x/a/up/pwned")],
    # a directory made through the chain (mkdir and chmod outside)
    "chained-links-dir": [*CLIMB, tarfile.TarInfo(f"{OUT}/pwned")],
    # a link that was inside when made, pointed outside by a later one
    "link-pointed-out-later": [_link("tc/x/a", "b/../.."), _link("tc/x/b", "..")],
    # a later member named like an earlier link is written through it (here into the compiler)
    "write-through-link": [_link("tc/lib/out", "../bin/riscv64-unknown-elf-gcc"), _file("tc/lib/out", b"evil")],
    # a hard link to a link is a second link elsewhere, with another meaning (here: two levels up
    # from tc/, where tarfile then sets the member's mode on the toolchains directory)
    "hard-link-to-a-link": [_link("tc/lib/x/up", "../.."), _hard("tc/up", "tc/lib/x/up")],
    # a link loop
    "loop": [_link("tc/l1", "l2"), _link("tc/l2", "l1"), _file("tc/l1/x")],
}
ESCAPES["chained-links-dir"][-1].type = tarfile.DIRTYPE


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cache/toolchains").mkdir(parents=True)
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name", list(ESCAPES))
def test_an_archive_cannot_leave_its_extraction_tree(workspace: Path, tmp_path: Path, cache: Path, name: str) -> None:
    archive = tmp_path / "in" / f"{name}.tar.gz"
    archive.parent.mkdir()
    digest = _archive(archive, ESCAPES[name])
    before = snapshot(tmp_path)
    with pytest.raises(BspError) as e:
        toolchain.install(ws_mod.open_workspace(workspace), archive, digest, None)
    assert "nothing was extracted" in str(e.value), e.value
    assert e.value.findings and e.value.findings[0].file == str(archive)
    # nothing written anywhere: not outside, not in the cache, not in the workspace
    assert snapshot(tmp_path) == before


def test_a_hard_link_through_a_chain_leaves_an_outside_file_alone(workspace: Path, tmp_path: Path, cache: Path) -> None:
    """tarfile links to the outside file, then sets the member's mode and time on it."""
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    victim.chmod(0o600)
    os.utime(victim, (1_000_000, 1_000_000))
    archive = tmp_path / "hard.tar.gz"
    digest = _archive(archive, [*CLIMB, _hard("tc/lib/h", f"{OUT}/victim")])
    with pytest.raises(BspError) as e:
        toolchain.install(ws_mod.open_workspace(workspace), archive, digest, None)
    assert "outside the archive" in str(e.value), e.value
    st = victim.stat()
    assert (st.st_mode & 0o7777, st.st_mtime, st.st_nlink) == (0o600, 1_000_000, 1)


def test_the_cli_names_the_member_and_exits_2(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    archive = tmp_path / "chain.tar.gz"
    digest = _archive(archive, [*DEEP, _file("tc/up/pwned")])
    r = cli("toolchain", "install", str(archive), "--sha256", digest, cwd=workspace,
                env={"CMU610BSP_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2, r.stderr
    assert "tc/a/a/a/up: symbolic link points outside" in r.stderr and "nothing was extracted" in r.stderr, r.stderr
    assert not (tmp_path / "pwned").exists()


def test_links_that_stay_inside_are_extracted_as_links(workspace: Path, tmp_path: Path, cache: Path) -> None:
    """What real toolchains ship: relative links (a lib64 -> lib directory link, tools linked to
    each other, a link through a link), hard links to earlier files; all inside."""
    archive = tmp_path / "ok.tar.gz"
    digest = _archive(archive, [
        _link("tc/lib64", "lib"), _file("tc/lib/libx.a", b"lib"), _file("tc/lib64/liby.a", b"via link"),
        _link("tc/bin/cc", "riscv64-unknown-elf-gcc"), _link("tc/bin/gcc", "./cc"),
        _hard("tc/bin/riscv64-unknown-elf-gcc-12", GCC), _link("tc/share", "lib64/../lib"),
    ])
    record = toolchain.install(ws_mod.open_workspace(workspace), archive, digest, None)
    root = toolchain.location(record)
    assert os.readlink(root / "lib64") == "lib" and (root / "lib/liby.a").read_bytes() == b"via link"
    assert (root / "bin/gcc").resolve() == (root / "bin/riscv64-unknown-elf-gcc").resolve()
    hard, gcc = (root / "bin/riscv64-unknown-elf-gcc-12").stat(), (root / "bin/riscv64-unknown-elf-gcc").stat()
    assert hard.st_ino == gcc.st_ino and gcc.st_mode & 0o777 == 0o755
    assert (root / "share/libx.a").read_bytes() == b"lib"
