"""The typed manifest (manifest.py): it reads back what it writes, byte for byte, and a manifest
of the wrong shape is the user's to restore, named field by field, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmu610bsp import layout, manifest
from cmu610bsp.errors import BspError
from conftest import REPO, Cli, snapshot


def test_the_reference_manifest_reads_back_to_its_own_bytes() -> None:
    recorded = manifest.read(REPO)
    assert recorded is not None and recorded.files and recorded.inputs
    assert recorded.to_bytes() == (REPO / layout.MANIFEST).read_bytes()
    assert all(manifest.sha256(i.text.encode()) == i.sha256 for i in recorded.inputs.values())


@pytest.mark.parametrize(("section", "value", "field"), [
    ("files", ["meta-cmu610/README.md"], "files"),
    ("blobs", {"meta-cmu610/README.md": 1}, "blobs.meta-cmu610/README.md"),
    ("inputs", {"cmu610bsp.yml": {"sha256": "0" * 64}}, "inputs.cmu610bsp.yml.text"),
])
def test_a_manifest_of_the_wrong_shape_is_refused_naming_the_field(workspace: Path, cli: Cli, section: str,
                                                                   value: object, field: str) -> None:
    path = workspace / layout.MANIFEST
    data = json.loads(path.read_text())
    data[section] = value
    path.write_text(json.dumps(data))
    before = snapshot(workspace)
    with pytest.raises(BspError) as e:
        manifest.read(workspace)
    assert f"{layout.MANIFEST}: {field}:" in str(e.value) and "restore it from git" in str(e.value), e.value
    r = cli("sync", "--allow-dirty", cwd=workspace)
    assert r.returncode == 2 and "unreadable manifest" in r.stderr and field in r.stderr, r.stderr
    assert snapshot(workspace) == before
