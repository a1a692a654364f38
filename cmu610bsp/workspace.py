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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from cmu610bsp import __version__, layout, render, resources
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.layout import CONFIG_FILE, MANIFEST, OWNED_ROOTS, STATE_ROOT, find_root, sha256  # noqa: F401 - re-exported
from cmu610bsp.model import Strict, load_board, load_catalog, load_product, load_soc, parse_model, read_yaml
from cmu610bsp.validate import check_board, check_soc

DEFAULT_PRODUCTS = ["configs/products/bigbmc.yaml", "configs/products/littlebmc.yaml"]


class OpenBmcPin(Strict):
    """The OpenBMC tree the layer is written and tested against."""

    url: str = "https://github.com/openbmc/openbmc.git"
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] = "8e3322f34f210d677bd97f98e11212ee9d7748cf"


class ToolchainRecord(Strict):
    """The RISC-V toolchain every consumer (kas/Yocto, Zephyr) uses; written by `toolchain install`.

    Without one, Debian's riscv64-unknown-elf GCC in /usr is the stand-in."""

    name: str
    path: str                      # directory holding bin/<prefix>gcc
    prefix: str = "riscv64-unknown-elf-"
    sysroot: str | None = None     # for a linux-gnu (glibc) toolchain
    sha256: str | None = None      # of the archive it was installed from
    xuantie: bool = False          # accepts -mcpu=e906*


STANDIN_TOOLCHAIN = ToolchainRecord(name="debian-riscv64-unknown-elf (stand-in)", path="/usr")


def _name_and_email(value: str) -> str:
    if not re.fullmatch(r"[^<>@]+ <[^<>@\s]+@[^<>@\s]+>", value):
        raise ValueError('expected "Name <email>", e.g. "Jane Doe <jane@example.com>"')
    return value


class WorkspaceConfig(Strict):
    version: int = Field(1, ge=1, le=1)
    soc: str
    boards: list[str] = Field(min_length=1)
    products: list[str] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS), min_length=1)
    catalog: str | None = None
    openbmc: OpenBmcPin = OpenBmcPin()
    toolchain: ToolchainRecord | None = None
    keep: list[str] = []
    # the layer's maintainer: its README and SECURITY.md name them (yocto-check-layer)
    maintainer: Annotated[str, AfterValidator(_name_and_email)] | None = None


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


def find(start: Path | None = None) -> Workspace:
    """The workspace containing `start` (like git and west, search upwards)."""
    return open_workspace(find_root(start))


def open_workspace(root: Path) -> Workspace:
    path = root / CONFIG_FILE
    return Workspace(root, parse_model(WorkspaceConfig, read_yaml(path), path))


def _rel(ws: Workspace, path: str) -> Path:
    return ws.root / path


def load_project(ws: Workspace) -> render.Project:
    """Read and validate every input; all findings at once, nothing written."""
    cfg_file = str(ws.root / CONFIG_FILE)
    soc_path = _rel(ws, ws.config.soc)
    catalog_path = _rel(ws, ws.config.catalog) if ws.config.catalog else resources.sensor_catalog()
    soc = load_soc(soc_path)
    catalog = load_catalog(catalog_path)
    findings = check_soc(soc, soc_path)
    products = []
    for i, pp in enumerate(ws.config.products):
        product = load_product(_rel(ws, pp))
        if any(p.name == product.name for p in products):
            findings.append(Finding(cfg_file, f"products[{i}]", f"product line {product.name!r} is described twice"))
        products.append(product)
    boards = []
    names: dict[str, str] = {}
    for i, b in enumerate(ws.config.boards):
        bpath = _rel(ws, b)
        board = load_board(bpath)
        if board.name in names:
            findings.append(Finding(cfg_file, f"boards[{i}]", f"board name {board.name!r} is also used by {names[board.name]}"))
        names[board.name] = b
        findings += check_board(board, soc, catalog, bpath)
        for j, line in enumerate(board.product_lines):
            if not any(p.name == line for p in products):
                findings.append(Finding(str(bpath), f"product_lines[{j}]", f"no description of product line {line!r} in the workspace (products: in {CONFIG_FILE})"))
        boards.append(board)
    if findings:
        raise BspError("the description has errors; nothing was written", findings)
    return render.Project(soc, tuple(boards), catalog, str(soc_path), tuple(products),
                          ws.config.openbmc.url, ws.config.openbmc.commit,
                          ws.config.toolchain or STANDIN_TOOLCHAIN, ws.config.maintainer)


def input_files(ws: Workspace) -> dict[str, str]:
    """The description files a render depends on, by workspace-relative path."""
    paths = [CONFIG_FILE, ws.config.soc, *ws.config.boards, *ws.config.products]
    if ws.config.catalog:
        paths.append(ws.config.catalog)
    return {p: _rel(ws, p).read_text(encoding="utf-8") for p in sorted(set(paths))}


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
    project = load_project(ws)
    files = render.render(project)
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
