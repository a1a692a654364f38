"""The repository is the reference workspace of the default board: its generated trees must be
exactly what `generate` renders, and `sync --check` must agree."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO, Cli, snapshot

GENERATED = ("meta-cmu610", "configs/kas", ".cmu610bsp/state")


def test_repository_matches_a_fresh_render(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "ref"
    ws.mkdir()
    shutil.copy(REPO / "cmu610bsp.yml", ws)
    for d in ("configs/soc", "configs/boards", "configs/products"):
        shutil.copytree(REPO / d, ws / d)
    r = cli("generate", cwd=ws)
    assert r.returncode == 0, r.stderr
    for rel in GENERATED:
        want, have = snapshot(ws / rel), snapshot(REPO / rel)
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        differ = sorted(p for p in set(want) & set(have) if want[p] != have[p])
        assert not (missing or extra or differ), f"{rel}: missing {missing}, extra {extra}, different {differ}"


def test_sync_check_passes_on_the_repository(cli: Cli) -> None:
    r = cli("sync", "--check", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "in sync" in r.stdout
