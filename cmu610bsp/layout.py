"""Where things are in a workspace: the generated files, the workspace's own state, each line's
build and what it deploys. Plain names and paths, depending on nothing but errors.py: `build` reads
the generated files through these without loading the description model."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cmu610bsp.errors import BspError, Finding

CONFIG_FILE = "cmu610bsp.yml"
STATE_ROOT = ".cmu610bsp/state"
MANIFEST = f"{STATE_ROOT}/manifest.json"
# What `generate --force` overwrote, by a hash of it: `<BACKUP_ROOT>/<id>/<path>` (not committed).
BACKUP_ROOT = ".cmu610bsp/backup"
LAYER = "meta-cmu610"
ZEPHYR_MODULE = f"{LAYER}/zephyr"
# The shell settings for building Zephyr by hand with the workspace's toolchain: beside the module,
# not in it (the firmware recipes fetch the whole module: a file in it that changes with the
# toolchain would make them fetch and unpack again when only their compile tasks must rerun)
TOOLCHAIN_ENV = f"{LAYER}/toolchain.env"
KAS_DIR = "configs/kas"
# Directories whose content the generator owns (each swapped atomically as a whole).
OUTPUT_ROOTS = (LAYER, KAS_DIR)
# Everything a generator write swaps; what an interrupted write is rolled back in.
OWNED_ROOTS = (*OUTPUT_ROOTS, STATE_ROOT)
# Generated files outside those directories, where their consumer looks for them: each swapped
# on its own (txn). The CI pipelines a workspace asks for (`ci:` in cmu610bsp.yml), by system.
CI_FILES = {"gitlab": ".gitlab-ci.yml", "github": ".github/workflows/cmu610bsp.yml"}
OWNED_FILES = tuple(CI_FILES.values())
# Where a write's staged copies and journal live while it runs (txn), and the workspace's lock.
TXN_DIR = ".cmu610bsp/txn"
LOCK_FILE = ".cmu610bsp/lock"
# kas's work directory (repositories, downloads, shared state), each line's build below it; ignored
# by the workspace's git (init's .gitignore)
BUILD_DIR = "build"
# What the flash image recipe deploys for a machine (BitBake's DEPLOY_DIR_IMAGE of a line's build).
DEPLOY_IMAGES = "tmp/deploy/images"
# A line's build of the whole OpenBMC composition: build/<line><suffix> (BuildPaths.openbmc).
OPENBMC_BUILD_SUFFIX = "-openbmc"
FLASH_IMAGE = "flash.bin"
FLASH_MANIFEST = "flash-manifest.json"
UPDATE_PACKAGE = "bmc-update.pldm"     # the BMC image's update package (fwpackage.py)


@dataclass(frozen=True)
class BuildPaths:
    """Where one line's build lives in the workspace (`root` may be relative: the CI pipelines'):
    build/<line> is the line's firmware build (the flash image, `--smoke`, `--all-boards`: the
    firmware composition, composition.py), build/<line>-openbmc its build of the whole OpenBMC
    composition (`--target cmu610-<line>-image` and its `--plan`)."""

    root: Path
    line: str
    openbmc: bool = False

    @property
    def work(self) -> Path:
        return self.root / BUILD_DIR

    @property
    def name(self) -> str:
        return f"{self.line}{OPENBMC_BUILD_SUFFIX}" if self.openbmc else self.line

    @property
    def build(self) -> Path:
        return self.work / self.name

    @property
    def overlay(self) -> Path:
        return self.work / ".kas" / f"{self.name}.yml"

    @property
    def devtool_workspace(self) -> Path:
        """devtool's workspace layer of the line, shared by both of its build directories: a
        recipe modified in either is modified in both (in the firmware composition, those it
        does not parse are masked with the rest)."""
        return self.work / self.line / "workspace"

    @property
    def pycache(self) -> Path:
        """Where BitBake's processes keep their Python bytecode (PYTHONPYCACHEPREFIX): a BitBake
        tree the build user cannot write (a shared checkout) is otherwise compiled again by every
        BitBake process of every run, about a second of a no-op build."""
        return self.work / ".pycache"

    @property
    def log(self) -> Path:
        return self.build / "cmu610bsp-build.log"

    @property
    def summary(self) -> Path:
        return self.build / "summary.json"

    # a plan keeps its own record: it does not replace the last build's log and summary
    @property
    def plan_log(self) -> Path:
        return self.build / "cmu610bsp-plan.log"

    @property
    def plan_summary(self) -> Path:
        return self.build / "plan.json"

    @property
    def plan_facts(self) -> Path:
        """The task facts BitBake's side of the plan writes (bbplan.py)."""
        return self.build / "plan-tasks.json"

    def deploy(self, machine: str) -> Path:
        """Where BitBake deploys `machine`'s images."""
        return self.build / DEPLOY_IMAGES / machine

    @property
    def smoke(self) -> Path:
        """`build --smoke`'s transcripts and JUnit (one board)."""
        return self.build / "smoke"


def openbmc_checkout(root: Path) -> Path:
    """Where kas checks out openbmc/openbmc (BitBake's tree included) for every line's build."""
    return root / BUILD_DIR / "openbmc"


def smoke_spec(board: str, line: str) -> str:
    """The smoke spec generated for a board's line, in the Zephyr module (workspace-relative)."""
    return f"{ZEPHYR_MODULE}/smoke/{board}/{line}.yaml"


def smoke_results(root: Path, board: str, line: str) -> Path:
    """Where `qemu smoke` keeps a run's transcript and result by default."""
    return root / BUILD_DIR / "smoke" / f"{board}-{line}"


def debug_console(root: Path, board: str, line: str) -> Path:
    """Where `debug` keeps the twin's console while gdb has the terminal."""
    return root / BUILD_DIR / "debug" / f"{board}-{line}" / "console.log"


def find_root(start: Path | None = None) -> Path:
    """The workspace containing `start` (like git and west, search upwards)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    raise BspError(f"no {CONFIG_FILE} in {here} or above", hint="run `cmu610bsp init` first, or pass --workspace")


def workspace_root(path: Path | None) -> Path:
    """The workspace: `path` (which must be one), or found upwards from here."""
    root = path.resolve() if path else find_root()
    if not (root / CONFIG_FILE).is_file():
        raise BspError(f"{root}: no {CONFIG_FILE} here", hint="pass the directory `cmu610bsp init` created")
    return root


def plain(rel: str) -> bool:
    """A workspace-relative path as the generator writes one: relative, no empty, `.` or `..` part."""
    parts = rel.split("/")
    return bool(rel) and not PurePosixPath(rel).is_absolute() and all(p not in ("", ".", "..") for p in parts)


def owned(rel: str) -> bool:
    """A path the generator may write or delete: a plain path inside a generated directory, or a
    generated file outside them."""
    return plain(rel) and (rel in OWNED_FILES or any(rel.startswith(r + "/") for r in OWNED_ROOTS))


def first_link(root: Path, rel: str) -> str | None:
    """The first part of `rel` (from the workspace down, the last part included) that is a
    symbolic link, as a workspace-relative path; None if there is none (or the path ends first)."""
    here = root
    for i, part in enumerate(rel.split("/")):
        here = here / part
        try:
            if os.path.islink(here):
                return "/".join(rel.split("/")[: i + 1])
            if not here.is_dir():
                return None
        except OSError:
            return None
    return None


def refuse_links(root: Path, rels: Iterable[str]) -> None:
    """The generator never writes, deletes or reads its files through a link: one on the way to
    any of these paths is the user's to replace (it could lead anywhere, out of the workspace)."""
    links = sorted({link for rel in rels if (link := first_link(root, rel))})
    if links:
        raise BspError("generated paths pass through symbolic links; nothing was written",
                       [Finding(link, "path", f"a symbolic link (to {os.readlink(root / link)}) where cmu610bsp "
                                "writes generated files") for link in links],
                       hint="replace each link with the directory or file itself: cmu610bsp never writes or deletes "
                            "through a link, which could lead out of the workspace")
