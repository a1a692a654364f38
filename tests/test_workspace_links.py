"""Writes and deletes that stay in the workspace: a link at a generated path or in a generated
directory is refused (naming it) rather than written through, `generate --force` backs files up
with their own mode, and the manifest's paths are checked when it is read."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cmu610bsp import generate, layout, manifest, sync
from cmu610bsp import workspace as ws_mod
from cmu610bsp.errors import BspError
from conftest import BOARD, MACHINE_CONF, Cli, edit, snapshot

SECRET = "secret\n"


def _outside(tmp_path: Path) -> Path:
    """A file of the user's outside the workspace, readable by its owner only."""
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return secret


def _lab(ws: Path) -> None:
    """A description edit: the next render rewrites the machine configuration, among others."""
    edit(ws / BOARD, "hostname: cmu610-evb", "hostname: lab-7")


WRITERS = {
    "sync": lambda ws: sync.run(ws_mod.open_workspace(ws), "sync", allow_dirty=True),
    "generate --force": lambda ws: generate.generate(ws_mod.open_workspace(ws), force=True),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_link_at_a_generated_path_is_refused_not_written_through(workspace: Path, tmp_path: Path, writer: str) -> None:
    secret = _outside(tmp_path)
    conf = workspace / MACHINE_CONF
    conf.unlink()
    conf.symlink_to(secret)
    _lab(workspace)
    before = snapshot(workspace)
    with pytest.raises(BspError) as e:
        WRITERS[writer](workspace)
    assert MACHINE_CONF in str(e.value) and "symbolic link" in str(e.value), e.value
    assert secret.read_text() == SECRET and secret.stat().st_mode & 0o777 == 0o600
    assert snapshot(workspace) == before  # no backup of the secret either


# generated directories (and the state directory) moved elsewhere and linked back; both writers
# read the workspace through one classification, so one of them each
LINKED_DIRS = [("sync", "meta-cmu610/conf"), ("sync", "meta-cmu610"), ("sync", "configs/kas"),
               ("sync", ".cmu610bsp/state"), ("sync", ".cmu610bsp"), ("generate --force", "meta-cmu610/conf")]


@pytest.mark.parametrize(("writer", "linked"), LINKED_DIRS)
def test_a_linked_generated_directory_is_refused(workspace: Path, tmp_path: Path, linked: str, writer: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.move(workspace / linked, elsewhere)
    (workspace / linked).symlink_to(elsewhere)
    _lab(workspace)
    outside, before = snapshot(elsewhere), snapshot(workspace)
    with pytest.raises(BspError) as e:
        WRITERS[writer](workspace)
    assert f"{linked}: " in str(e.value) and "symbolic link" in str(e.value), e.value
    assert snapshot(elsewhere) == outside and snapshot(workspace) == before


def test_the_cli_names_the_link_and_exits_2(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    secret = _outside(tmp_path)
    conf = workspace / MACHINE_CONF
    conf.unlink()
    conf.symlink_to(secret)
    r = cli("generate", "--force", cwd=workspace)
    assert r.returncode == 2, r.stderr
    assert f"{MACHINE_CONF}: " in r.stderr and "symbolic link" in r.stderr and "nothing was written" in r.stderr, r.stderr
    assert secret.read_text() == SECRET and not (workspace / layout.BACKUP_ROOT).exists()


def test_a_backup_keeps_the_files_mode(workspace: Path) -> None:
    conf = workspace / MACHINE_CONF
    conf.write_text(conf.read_text() + "# private tweak\n")
    conf.chmod(0o600)
    plan = generate.generate(ws_mod.open_workspace(workspace), force=True)
    kept = workspace / str(plan.backup) / MACHINE_CONF
    assert kept.read_text().endswith("# private tweak\n")
    assert kept.stat().st_mode & 0o777 == 0o600


def _record(ws: Path, section: str, path: str, entry: object) -> None:
    manifest = ws / layout.MANIFEST
    data = json.loads(manifest.read_text())
    data[section][path] = entry
    manifest.write_text(json.dumps(data))


def _climb(root: str, target: Path) -> str:
    """A path that starts in a generated root and, by `..`, reaches `target` from anywhere."""
    return root + "/" + "../" * 64 + str(target).lstrip("/")


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_manifest_path_outside_the_generated_roots_is_refused(workspace: Path, tmp_path: Path, writer: str) -> None:
    """A file recorded with its checksum and no longer rendered is deleted: not a file outside."""
    victim = _outside(tmp_path)
    rel = _climb("meta-cmu610", victim)
    _record(workspace, "files", rel, manifest.sha256(victim.read_bytes()))
    with pytest.raises(BspError) as e:
        WRITERS[writer](workspace)
    assert layout.MANIFEST in str(e.value) and "files" in str(e.value), e.value
    assert victim.read_text() == SECRET


@pytest.mark.parametrize("bad", ["configs/board.yaml", "/etc/passwd", "meta-cmu610/./x", "meta-cmu610//x", "meta-cmu610"])
def test_manifest_paths_must_be_plain_paths_in_a_generated_root(workspace: Path, bad: str) -> None:
    _record(workspace, "files", bad, "0" * 64)
    with pytest.raises(BspError) as e:
        manifest.read(workspace)
    assert layout.MANIFEST in str(e.value) and bad in str(e.value), e.value


def test_sync_rebuilds_recorded_inputs_only_inside_its_scratch(workspace: Path, tmp_path: Path) -> None:
    """sync re-renders the last generation from the inputs recorded in the manifest: an input
    path that climbs out (or is absolute) is not written where it points."""
    target = tmp_path / "written"
    _record(workspace, "inputs", _climb("configs", target), {"sha256": "0" * 64, "text": "pwned\n"})
    _record(workspace, "inputs", str(tmp_path / "absolute"), {"sha256": "0" * 64, "text": "pwned\n"})
    _lab(workspace)
    sync.run(ws_mod.open_workspace(workspace), "sync", allow_dirty=True)
    assert not target.exists() and not (tmp_path / "absolute").exists()
    assert os.listdir(tmp_path) == ["ws"]
