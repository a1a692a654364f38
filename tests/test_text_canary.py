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


def _load(workspace: Path, files: dict[str, object]) -> BspError | None:
    shutil.rmtree(workspace / "configs", ignore_errors=True)  # the description's files, written anew
    textfields.write(files, workspace)  # type: ignore[arg-type]
    try:
        project.load_project(workspace)
    except BspError as e:
        return e
    return None


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each field's attacks the description accepts (its own canary path in each): the rest are
    refused at load, which `test_each_field_refuses_or_takes_its_attacks` checks field by field."""
    base = textfields.full_description()
    ws = tmp_path_factory.mktemp("load")
    out: dict[str, list[str]] = {}
    for field in FIELDS:
        out[field.name] = [v for v in textfields.attacks(field, CANARIES[field.name])
                           if _load(ws, textfields.with_value(base, field, v)) is None]
    return out


CANARIES = {f.name: textfields.canary_path() for f in FIELDS}


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_each_field_refuses_or_takes_its_attacks(field: textfields.Field, workspace: Path,
                                                 accepted: dict[str, list[str]]) -> None:
    """A refused attack names the field's file; what a text field takes (quotes, $(...),
    backticks) is what `test_no_field_runs_anything` then runs through every consumer."""
    base = textfields.full_description()
    file = textfields.where(base, field)
    for value in textfields.attacks(field, CANARIES[field.name]):
        error = _load(workspace, textfields.with_value(base, field, value))
        if value in accepted[field.name]:
            assert error is None, (value, error)
        else:
            assert error is not None and any(f.file == str(workspace / file) for f in error.findings), (value, error)
    if field.grammar == "text":
        assert accepted[field.name], "a text field takes quotes, $(...) and backticks: some attack must get through"


def test_no_field_runs_anything(workspace: Path, accepted: dict[str, list[str]]) -> None:
    """Every accepted attack of every field goes through sync, every check, CMake and a sourced
    toolchain.env: a round at a time, each field's k-th attack in round k, all fields at once (one
    run of the consumers per round, not per value). No field's canary appears."""
    base = textfields.full_description()
    rounds = max(len(v) for v in accepted.values())
    assert rounds, "no attack got through to the consumers"
    try:
        for k in range(rounds):
            files = base
            for field in FIELDS:
                if k < len(accepted[field.name]):
                    files = textfields.with_value(files, field, accepted[field.name][k])
            assert _load(workspace, files) is None, f"round {k}: the accepted attacks together do not load"
            failed = run_everything(workspace)
            ran = [name for name, path in CANARIES.items() if path.exists()]
            assert not ran, f"round {k}: the attack on {ran} ran"
            assert not failed, f"round {k}: checks failed: {failed}"
    finally:
        for path in CANARIES.values():
            path.unlink(missing_ok=True)


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
