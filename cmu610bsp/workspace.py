"""A cmu610bsp workspace: its config file, its inputs, and the manifest of what was generated.

Layout (what `init` creates):
    cmu610bsp.yml                 which SoC and board descriptions, `keep:` globs
    configs/soc/<soc>.yaml        the chip as data
    configs/boards/<board>.yaml   one file per board
    meta-cmu610/...               generated (Yocto layer, Zephyr module, devicetrees)
    .cmu610bsp/state/manifest.json  every generated file with its hash, the inputs, the version
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import __version__, layout, project, render
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.layout import CONFIG_FILE, MANIFEST, OWNED_ROOTS, sha256

# Kept only for cli_toolchain.py (being rewritten elsewhere): new code imports it from project.
from cmu610bsp.project import STANDIN_TOOLCHAIN as STANDIN_TOOLCHAIN
from cmu610bsp.project import Project, WorkspaceConfig


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: WorkspaceConfig

    @property
    def roots(self) -> list[str]:
        """Directories the generator owns, swapped as a whole on every write."""
        return list(OWNED_ROOTS)

    def kept(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, g) for g in self.config.keep)


def open_workspace(root: Path) -> Workspace:
    return Workspace(root, project.load_config(root))


def load_project(ws: Workspace) -> Project:
    """Read and validate every input; all findings at once, nothing written."""
    return project.load_project(ws.root, ws.config)


def input_files(ws: Workspace) -> dict[str, str]:
    """The description files a render depends on, by workspace-relative path."""
    paths = [CONFIG_FILE, ws.config.soc, *ws.config.boards, *ws.config.products]
    if ws.config.catalog:
        paths.append(ws.config.catalog)
    return {p: (ws.root / p).read_text(encoding="utf-8") for p in sorted(set(paths))}


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob: lets sync find a file's base in the repository."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_manifest(ws: Workspace) -> dict[str, object] | None:
    return layout.read_manifest(ws.root)


def manifest_bytes(ws: Workspace, files: dict[str, str]) -> bytes:
    data = {
        "generator": "cmu610bsp",
        "version": __version__,
        "inputs": {p: {"sha256": sha256(t.encode()), "text": t} for p, t in input_files(ws).items()},
        "files": {p: sha256(t.encode()) for p, t in sorted(files.items())},
        "blobs": {p: git_blob_id(t.encode()) for p, t in sorted(files.items())},
    }
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


@dataclass
class Plan:
    """What a generate would do, file by file."""

    changes: dict[str, bytes | None]
    edited: list[str]          # hand-edited generated files the render would overwrite
    untracked: list[str]       # files not made by us that the render would overwrite
    kept: list[str]            # skipped: matched by `keep:`
    stale_kept: list[str]      # no longer generated, but edited by hand: left in place
    unchanged: int


def plan(ws: Workspace, files: dict[str, str]) -> Plan:
    manifest = read_manifest(ws) or {}
    recorded: dict[str, str] = manifest.get("files", {})  # type: ignore[assignment]
    p = Plan({}, [], [], [], [], 0)
    for path, text in files.items():
        data = text.encode()
        disk = ws.root / path
        if ws.kept(path) and disk.exists():
            p.kept.append(path)
            continue
        current = disk.read_bytes() if disk.is_file() else None
        if current == data:
            p.unchanged += 1
            continue
        if current is not None:
            if path not in recorded:
                p.untracked.append(path)
            elif sha256(current) != recorded[path]:
                p.edited.append(path)
        p.changes[path] = data
    for path, verdict in dropped(ws, files, recorded).items():
        if verdict == "delete":
            p.changes[path] = None
        else:
            p.stale_kept.append(path)
    return p


def dropped(ws: Workspace, files: dict[str, str], recorded: dict[str, str]) -> dict[str, str]:
    """Files generated last time that the new render drops: 'delete' when untouched since,
    'keep-glob' when a keep: glob covers them, 'keep-edited' when the user changed them."""
    out = {}
    for path, digest in sorted(recorded.items()):
        disk = ws.root / path
        if path in files or not disk.is_file():
            continue
        if ws.kept(path):
            out[path] = "keep-glob"
        else:
            out[path] = "delete" if sha256(disk.read_bytes()) == digest else "keep-edited"
    return out


def generate(ws: Workspace, force: bool = False) -> Plan:
    """Render every file and write the changes atomically; refuse to clobber hand edits."""
    from cmu610bsp import txn

    txn.recover(ws.root, ws.roots)
    files = render.render(load_project(ws))
    p = plan(ws, files)
    if (p.edited or p.untracked) and not force:
        findings = [Finding(f, "content", "edited by hand since it was generated") for f in p.edited]
        findings += [Finding(f, "content", "exists but was not generated by cmu610bsp") for f in p.untracked]
        raise BspError(
            "generate would overwrite files changed by hand; nothing was written", findings,
            hint="`cmu610bsp sync` merges your edits with the new render; `generate --force` overwrites them",
        )
    manifest = manifest_bytes(ws, files)
    current = (ws.root / MANIFEST).read_bytes() if (ws.root / MANIFEST).exists() else None
    if manifest != current:
        p.changes[MANIFEST] = manifest
    if p.changes:
        txn.commit(ws.root, ws.roots, p.changes)
    return p
