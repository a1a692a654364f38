"""A cmu610bsp workspace: its config file, its inputs, and the manifest of what was generated.

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
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cmu610bsp import __version__, layout, project, wslock
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import writing
from cmu610bsp.layout import CONFIG_FILE, MANIFEST, OWNED_FILES, OWNED_ROOTS, sha256
from cmu610bsp.project import Project, WorkspaceConfig
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
    return Workspace(root, project.load_config(root))


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
    recorded: dict[str, str] = (read_manifest(ws) or {}).get("files", {})  # type: ignore[assignment]
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


@dataclass
class Plan:
    """What a generate would do, file by file."""

    changes: dict[str, bytes | None]
    edited: list[str]          # hand-edited generated files the render would overwrite
    untracked: list[str]       # files not made by us that the render would overwrite
    kept: list[str]            # skipped: matched by `keep:`
    stale_kept: list[str]      # no longer generated, but edited by hand: left in place
    unchanged: int
    backup: str | None = None  # forced: where the overwritten edited/untracked files were kept


def plan(ws: Workspace, files: dict[str, str]) -> Plan:
    """Generate's reading of `classify`: write every change, hand edits included (the caller
    refuses them unless forced)."""
    p = Plan({}, [], [], [], [], 0)
    for e in classify(ws, files):
        if e.state == "unchanged":
            p.unchanged += 1
        elif e.state == "keep-glob":
            if e.path in files:
                p.kept.append(e.path)
            else:
                p.stale_kept.append(e.path)
        elif e.state == "keep-edited":
            p.stale_kept.append(e.path)
        else:
            if e.state == "edited":
                p.edited.append(e.path)
            elif e.state == "untracked":
                p.untracked.append(e.path)
            p.changes[e.path] = e.new
    return p


def generate(ws: Workspace, force: bool = False) -> Plan:
    """Render every file and write the changes atomically; refuse to clobber hand edits. Holds
    the workspace lock from the first read of what it may overwrite."""
    from cmu610bsp import render  # jinja2 and the templates: only for commands that render

    files = render.render(load_project(ws))
    with wslock.held(ws.root, "generate"):
        return _generate(ws, files, force)


def _generate(ws: Workspace, files: dict[str, str], force: bool) -> Plan:
    from cmu610bsp import txn

    txn.recover(ws.root, ws.roots)
    p = plan(ws, files)
    if (p.edited or p.untracked) and not force:
        findings = [Finding(f, "content", "edited by hand since it was generated") for f in p.edited]
        findings += [Finding(f, "content", "exists but was not generated by cmu610bsp") for f in p.untracked]
        raise BspError(
            "generate would overwrite files changed by hand; nothing was written", findings,
            hint="`cmu610bsp sync` merges your edits with the new render; `generate --force` overwrites them",
        )
    if p.edited or p.untracked:
        p.backup = backup(ws, sorted(p.edited + p.untracked))
    manifest = manifest_bytes(ws, files)
    current = (ws.root / MANIFEST).read_bytes() if (ws.root / MANIFEST).exists() else None
    if manifest != current:
        p.changes[MANIFEST] = manifest
    if p.changes:
        txn.commit(ws.root, ws.roots, p.changes, ws.files)
    return p


def _read(path: Path) -> tuple[bytes, int]:
    """A file's bytes and permission bits, never through a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(), os.fstat(fd).st_mode & 0o777


def backup(ws: Workspace, paths: list[str]) -> str:
    """Keep these files as they are now under `BACKUP_ROOT/<id>/`, `<id>` a hash of their paths
    and bytes (the same files give the same place, no clock involved), each with its own mode
    (a file only its owner could read stays so). Written before the swap: if the swap is rolled
    back, the copy is merely redundant. Returns the workspace-relative dir."""
    data = {p: _read(ws.root / p) for p in paths}
    digest = hashlib.sha256(b"".join(p.encode() + b"\0" + sha256(d).encode() + b"\0" for p, (d, _) in data.items()))
    rel = f"{layout.BACKUP_ROOT}/{digest.hexdigest()[:16]}"
    final = ws.root / rel
    if final.is_dir():
        return rel
    scratch = final.with_name(f".{final.name}.{os.getpid()}")
    with writing(final, "nothing was written"):
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            for p, (d, mode) in data.items():
                (scratch / p).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(scratch / p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(d)
            os.rename(scratch, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return rel
