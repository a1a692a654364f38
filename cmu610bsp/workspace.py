"""A cmu610bsp workspace: its config file, its inputs, and the state of each generated file.

Layout (what `init` creates):
    cmu610bsp.yml                 which SoC and board descriptions, `keep:` globs, `ci:` systems
    configs/soc/<soc>.yaml        the chip as data
    configs/boards/<board>.yaml   one file per board
    meta-cmu610/...               generated (Yocto layer, Zephyr module, devicetrees)
    .gitlab-ci.yml, .github/...   generated CI pipelines, when `ci:` asks for them
    .cmu610bsp/state/manifest.json  every generated file with its hash, the inputs, the version
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cmu610bsp import config, layout, manifest, project
from cmu610bsp.config import WorkspaceConfig
from cmu610bsp.layout import CONFIG_FILE, OWNED_FILES, OWNED_ROOTS
from cmu610bsp.manifest import sha256
from cmu610bsp.project import Project
from cmu610bsp.yamlio import read_text


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: WorkspaceConfig

    @property
    def roots(self) -> list[str]:
        """Directories the generator owns, swapped as a whole on every write."""
        return list(OWNED_ROOTS)

    @property
    def files(self) -> list[str]:
        """Generated files outside those directories (the CI pipelines), swapped one by one."""
        return list(OWNED_FILES)

    def kept(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, g) for g in self.config.keep)


def open_workspace(root: Path) -> Workspace:
    return Workspace(root, config.load_config(root))


def load_project(ws: Workspace) -> Project:
    """Read and validate every input; all findings at once, nothing written."""
    return project.load_project(ws.root, ws.config)


def input_paths(ws: Workspace) -> list[str]:
    """The description files a render depends on, as cmu610bsp.yml names them."""
    paths = [CONFIG_FILE, ws.config.soc, *ws.config.boards, *ws.config.products]
    if ws.config.catalog:
        paths.append(ws.config.catalog)
    return sorted(set(paths))


def input_files(ws: Workspace) -> dict[str, str]:
    """The description files a render depends on, by workspace-relative path."""
    return {p: read_text(ws.root / p) for p in input_paths(ws)}


def manifest_of(ws: Workspace, files: dict[str, str]) -> manifest.Manifest:
    """The manifest of this render of the workspace's inputs."""
    return manifest.make(input_files(ws), files)


FileState = Literal["create", "unchanged", "update", "edited", "untracked", "keep-glob", "delete", "keep-edited"]


@dataclass(frozen=True)
class FileEntry:
    """One file of the workspace against the new render: what it is now, what the render says."""

    path: str
    state: FileState
    current: bytes | None      # the bytes on disk (None: no file)
    new: bytes | None          # the new render (None: no longer generated)


def classify(ws: Workspace, files: dict[str, str]) -> list[FileEntry]:
    """Every generated or previously generated file, classified once for generate and sync:
    create / unchanged / update (untouched since generated) / edited (by hand since) /
    untracked (there, but not ours) / keep-glob (a keep: glob covers it) and, for files the
    render drops, delete (untouched) / keep-edited (edited by hand, left in place)."""
    last = manifest.read(ws.root)
    recorded = last.files if last else {}
    # nothing is read, written or deleted through a link (it could lead anywhere)
    layout.refuse_links(ws.root, [*ws.roots, *ws.files, layout.TXN_DIR, layout.BACKUP_ROOT, *files, *recorded])
    out: list[FileEntry] = []
    for path, text in files.items():
        new = text.encode()
        disk = ws.root / path
        current = disk.read_bytes() if disk.is_file() else None
        if ws.kept(path) and disk.exists():
            out.append(FileEntry(path, "keep-glob", current, current))
        elif current is None:
            out.append(FileEntry(path, "create", None, new))
        elif current == new:
            out.append(FileEntry(path, "unchanged", current, new))
        elif path not in recorded:
            out.append(FileEntry(path, "untracked", current, new))
        elif sha256(current) != recorded[path]:
            out.append(FileEntry(path, "edited", current, new))
        else:
            out.append(FileEntry(path, "update", current, new))
    for path, digest in sorted(recorded.items()):
        disk = ws.root / path
        if path in files or not disk.is_file():
            continue
        current = disk.read_bytes()
        if ws.kept(path):
            out.append(FileEntry(path, "keep-glob", current, current))
        elif sha256(current) == digest:
            out.append(FileEntry(path, "delete", current, None))
        else:
            out.append(FileEntry(path, "keep-edited", current, current))
    return out
