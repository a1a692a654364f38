"""Issue 21, must show 2: no field of a description and no toolchain's name makes `sync`, `check`
(BitBake's parse included), CMake on a generated board.cmake or a sourced toolchain.env run
anything. Each field (found by walking the models) gets values that, run by any of them, create a
canary file: each value is refused at load with its file and field named, or it is synced,
checked, configured and sourced, and the canary never appears.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import text_consumers
import textfields
from cmu610bsp import checks, layout, project, sync, toolchain
from cmu610bsp import workspace as ws_mod
from cmu610bsp.errors import BspError
from conftest import Cli

FIELDS = textfields.free_fields()


@pytest.fixture
def canary() -> Iterator[Path]:
    path = textfields.canary_path()
    yield path
    path.unlink(missing_ok=True)


def run_everything(ws: Path) -> list[str]:
    """What a user runs on a workspace, in-process where the tool runs it: sync, every check;
    then CMake on each board.cmake, and a shell sourcing toolchain.env. The checks that failed."""
    sync.run(ws_mod.open_workspace(ws), allow_dirty=True)
    opened = ws_mod.open_workspace(ws)
    failed = [name for name, fn in checks.ALL.items() if fn(opened).status != "ok"]
    for cmake in sorted((ws / layout.ZEPHYR_MODULE).rglob("board.cmake")):
        assert text_consumers.run_cmake(cmake, ws).returncode == 0
    assert text_consumers.source_sh(ws / layout.TOOLCHAIN_ENV, ws).returncode == 0
    return failed


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_no_field_runs_anything(field: textfields.Field, workspace: Path, canary: Path) -> None:
    base = textfields.full_description()
    file = textfields.where(base, field)
    ran = 0
    for value in textfields.attacks(field, canary):
        files = textfields.with_value(base, field, value)
        shutil.rmtree(workspace / "configs")
        textfields.write(files, workspace)
        try:
            project.load_project(workspace)
        except BspError as e:
            assert any(f.file == str(workspace / file) for f in e.findings), (value, e)
            continue
        ran += 1
        failed = run_everything(workspace)
        assert not canary.exists(), f"{value!r} ran"
        assert not failed, f"{value!r}: checks failed: {failed}"
    assert not canary.exists()
    if field.grammar == "text":
        assert ran, "a text field takes quotes, $(...) and backticks: some attack must get through to the consumers"


# ---------------------------------------------------------------- a toolchain's names
def fake_toolchain(root: Path) -> Path:
    """A directory with bin/riscv64-unknown-elf-gcc (a script: install runs it, it compiles nothing)."""
    gcc = root / "bin" / "riscv64-unknown-elf-gcc"
    gcc.parent.mkdir(parents=True)
    gcc.write_text("#!/bin/sh\nexit 1\n")
    gcc.chmod(0o755)
    return root


def archive_of(top: str, path: Path) -> tuple[Path, str]:
    """A tarball whose one top-level directory is `top`, holding the fake compiler."""
    with tarfile.open(path, "w:gz") as tar:
        data = b"#!/bin/sh\nexit 1\n"
        member = tarfile.TarInfo(f"{top}/bin/riscv64-unknown-elf-gcc")
        member.size, member.mode = len(data), 0o755
        tar.addfile(member, io.BytesIO(data))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


HOSTILE_NAMES = ["tc $(touch {c})", "tc`touch {c}`", "tc';touch {c};'", 'tc";touch {c};"', "tc${{@open('{c}','w')}}"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_directory_or_archive_named_to_run_code_is_refused(name: str, workspace: Path, canary: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(canary.parent)  # a directory name has no "/": the canary is named relative to here
    opened = ws_mod.open_workspace(workspace)
    config = (workspace / layout.CONFIG_FILE).read_bytes()
    text = name.format(c=canary.name)
    directory = fake_toolchain(tmp_path / text)
    with pytest.raises(BspError) as e:
        toolchain.install(opened, directory, None, None)
    assert {f.field for f in e.value.findings} >= {"toolchain.path"}, e.value
    archive, digest = archive_of(text, tmp_path / "tc.tar.gz")
    with pytest.raises(BspError) as e:
        toolchain.install(opened, archive, digest, None)
    assert "toolchain.cache" in {f.field for f in e.value.findings}, e.value   # the name may be text
    assert not list((tmp_path / "cache" / "toolchains").iterdir()), "nothing is left in the cache"
    with pytest.raises(BspError) as e:
        toolchain.install(opened, fake_toolchain(tmp_path / "clean"), None, f"x\n{text}")
    assert {f.field for f in e.value.findings} == {"toolchain.name"}
    assert (workspace / layout.CONFIG_FILE).read_bytes() == config
    assert not canary.exists()


def test_a_toolchain_name_with_quotes_and_dollars_is_recorded_and_runs_nothing(workspace: Path, canary: Path,
                                                                                 tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted text goes all the way: recorded, synced, checked, sourced."""
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    archive, digest = archive_of("vendor-gcc-13.2", tmp_path / "tc.tar.gz")
    name = f"vendor \"GCC\" 13 $(touch {canary}) `touch {canary}` ';touch {canary};'"
    record = toolchain.install(ws_mod.open_workspace(workspace), archive, digest, name)
    assert yaml.safe_load((workspace / layout.CONFIG_FILE).read_text())["toolchain"]["name"] == name == record.name
    assert run_everything(workspace) == []
    consumers = toolchain.consumers(ws_mod.open_workspace(workspace))
    assert consumers["configs/kas/toolchain.yml"]["CMU610_TOOLCHAIN_NAME"] != ""
    assert not canary.exists()


def test_the_cli_refuses_a_hostile_toolchain_directory_with_exit_2(cli: Cli, workspace: Path, canary: Path,
                                                                   tmp_path: Path) -> None:
    directory = fake_toolchain(tmp_path / f"tc $(touch {canary})")
    config = (workspace / layout.CONFIG_FILE).read_bytes()
    r = cli("toolchain", "install", str(directory), cwd=workspace)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "toolchain.path" in r.stderr and "nothing was installed" in r.stderr
    assert (workspace / layout.CONFIG_FILE).read_bytes() == config
    assert not canary.exists()
