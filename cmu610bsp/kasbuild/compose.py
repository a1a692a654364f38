"""What one `cmu610bsp build` hands kas: the composition of the workspace's kas files, the run's
overlay (board, target, local sources, caches), kas's environment and command line.

Layout: KAS_WORK_DIR = <ws>/build (repos, downloads, shared state: shared by every line and run),
KAS_BUILD_DIR = <ws>/build/<line> for the line's firmware composition (its flash image:
composition.py) and <ws>/build/<line>-openbmc for its whole OpenBMC composition (another target),
the per-run overlay in <ws>/build/.kas/<build>.yml (kas wants every file of a composition inside
one repository).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmu610bsp import bootcrypto, buildpath, components, composition, keys, toolchain
from cmu610bsp.config import STANDIN_TOOLCHAIN, ToolchainRecord
from cmu610bsp.errors import BspError
from cmu610bsp.fileio import write_whole
from cmu610bsp.kasbuild import libsource, plan
from cmu610bsp.layout import KAS_DIR, BuildPaths, openbmc_checkout
from cmu610bsp.names import board_of, is_twin, machine_name, twin_machine
from cmu610bsp.yamlio import read_text

# Sources a recipe fetches (not kas repositories) that --source can point at a local tree:
# Zephyr, fetched by the firmware recipes at the revision pinned in cmu610bsp.yml (`zephyr:`), and
# the OpenBMC recipes the firmware is built with, at the revision their recipe pins (libsource.py).
BITBAKE_SOURCES = ("zephyr", *components.COMPONENTS)
# The firmware composition's own file (composition.py), between the cache file and the overlay.
FIRMWARE_FILE = "firmware.yml"
_HASHSERV = re.compile(r"[\w.-]+:\d+")
_URL = re.compile(r"(https?|file|ftp|s3|gs)://\S+")


@dataclass(frozen=True)
class Request:
    """What the user asked of one build (the CLI's options, parsed and checked)."""

    line: str
    board: str | None = None
    target: str | None = None
    plan: bool = False
    sources: dict[str, Path] = field(default_factory=dict)
    cache: Path | None = None
    sstate_mirror: str | None = None
    hashserv: str | None = None
    timeout: float | None = None
    offline: bool = False
    # several targets in one BitBake run (`build LINE --all-boards`: each board's flash image),
    # which goes on past a failed task so that every board gets its result (bitbake -k)
    targets: tuple[str, ...] = ()
    keep_going: bool = False
    # the whole OpenBMC composition whatever the target (devtool on a recipe the firmware
    # composition does not parse)
    full: bool = False

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise BspError(f"--timeout {self.timeout:g}: expected a number of seconds above 0")
        if self.hashserv is not None and not _HASHSERV.fullmatch(self.hashserv):
            raise BspError(f"--hashserv {self.hashserv!r}: expected HOST:PORT")
        if self.sstate_mirror is not None and not _URL.fullmatch(self.sstate_mirror):
            raise BspError(f"--sstate-mirror {self.sstate_mirror!r}: expected a URL (file://, http://, https://, ...)")
        for name, path in sorted(self.sources.items()):
            if not (path / ".").is_dir():
                raise BspError(f"--source {name}={path}: not a directory")

    @property
    def openbmc(self) -> bool:
        """Built by the whole OpenBMC composition (build/<line>-openbmc), not the firmware one."""
        return self.full or not composition.serves(self.target)

    def paths(self, root: Path) -> BuildPaths:
        return BuildPaths(root, self.line, self.openbmc)


def check_paths(root: Path, req: Request) -> None:
    """Refuse, before anything is written or run, a workspace, --cache or --source directory
    BitBake or OE cannot build with (buildpath.py): each would fail every parse or every build."""
    buildpath.refuse(root, "the workspace")
    if req.cache:
        buildpath.refuse(req.cache.resolve(), "the --cache directory", workspace=False)
    for name, path in sorted(req.sources.items()):
        buildpath.refuse(path.resolve(), f"the --source {name} directory", workspace=False)


def parse_sources(items: list[str] | None) -> dict[str, Path]:
    """--source NAME=PATH, repeated."""
    out = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise BspError(f"--source {item!r}: expected NAME=PATH")
        out[name] = Path(path).expanduser()
    return out


def read_kas_file(path: Path) -> dict[str, Any]:
    """A generated kas file (or kas's lock file), which a hand edit may have broken."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    try:
        data = yaml.load(read_text(path), Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        raise BspError(f"{path}: not valid YAML: {' '.join(str(e).split())}",
                       hint="fix the hand edit, or `cmu610bsp generate --force` to render it again") from None
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Lines:
    """Which product lines and boards the description has, which board serves which line, and
    the toolchain: what the model knows, read once per build and handed to it (a build never
    re-reads it from generated files)."""

    lines: tuple[str, ...]
    boards: dict[str, tuple[str, ...]]   # board -> the lines it serves, in description order
    toolchain: ToolchainRecord = STANDIN_TOOLCHAIN
    # line -> the OpenBMC recipes its two firmwares are built with (components.py)
    components: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def composed(self) -> tuple[str, ...]:
        """The recipes the firmware composition parses (the same for every line: configs/kas/firmware.yml)."""
        used = {n for names in self.components.values() for n in names}
        return composition.recipes(tuple(n for n in components.COMPONENTS if n in used))

    def machine(self, line: str, board: str | None) -> tuple[str, str]:
        """(board, machine) of a build of `line`: --board (a board, or its QEMU twin
        `<board>-qemu`) or the first board of the description serving the line."""
        if line not in self.lines:
            raise BspError(f"unknown product line {line!r}", hint="lines: " + (", ".join(self.lines) or "none"))
        if board is None:
            board = next((b for b, served in self.boards.items() if line in served), None)
            if board is None:
                raise BspError(f"no board of this workspace serves {line}",
                               hint="add it to a board's product_lines and run `cmu610bsp sync`")
        machine = board
        if board not in self.boards and is_twin(board) and board_of(board) in self.boards:
            board = board_of(board)  # the twin builds what its board builds, for QEMU
        if board not in self.boards:
            twins = [machine_name(b, True) for b in self.boards]
            raise BspError(f"--board {board!r}: not a board of this workspace",
                           hint="boards: " + ", ".join([*self.boards, *twins]))
        if line not in self.boards[board]:
            raise BspError(f"{board} does not serve {line} (it serves {', '.join(self.boards[board]) or 'no line'})")
        return board, machine

    def smoke_machine(self, line: str, board: str | None) -> str:
        """The machine `build --smoke` builds: the twin of --board (or of the line's first board); a
        board that is the chip itself is refused before anything runs."""
        name, machine = self.machine(line, board)
        if machine == twin_machine(name):
            return machine
        if board is not None:
            raise BspError(f"--smoke boots the QEMU twin of {name}: give --board {twin_machine(name)}",
                           hint="the chip's flash image does not boot on QEMU virt (other addresses)")
        return twin_machine(name)


def line_file(root: Path, line: str) -> Path:
    path = root / KAS_DIR / f"{line}.yml"
    if not path.is_file():
        raise BspError(f"{path.relative_to(root)} not found", hint="run `cmu610bsp sync`")
    return path


def kas_files(root: Path, req: Request) -> list[Path]:
    """base + line + toolchain + cache (+ firmware: the firmware composition's mask) + the run's
    overlay (written by `write_overlay`)."""
    kas = root / KAS_DIR
    files = [kas / "base.yml", line_file(root, req.line), kas / "toolchain.yml", kas / "cache.yml"]
    if not req.openbmc:
        files.append(kas / FIRMWARE_FILE)
    for f in files:
        if not f.is_file():
            raise BspError(f"{f.relative_to(root)} not found", hint="run `cmu610bsp sync`")
    return [*files, req.paths(root).overlay]


def composition_of(root: Path, req: Request) -> str:
    """The colon-separated kas files of this run, relative to the workspace (kas's config argument)."""
    return ":".join(str(f.relative_to(root)) for f in kas_files(root, req))


def composed_repos(root: Path, req: Request) -> dict[str, dict[str, object]]:
    """The repos section of the composition, merged the way kas merges it (later files win)."""
    repos: dict[str, dict[str, object]] = {}
    for f in kas_files(root, req):
        if f.is_file():
            for name, repo in (read_kas_file(f).get("repos") or {}).items():
                repos.setdefault(name, {}).update(repo or {})
    return repos


def overlay(root: Path, req: Request, machine: str) -> dict[str, object]:
    """The per-run kas fragment: machine, target, local sources, caches, devtool's layer."""
    data: dict[str, object] = {"header": {"version": 14}, "machine": machine}
    if req.target:
        data["target"] = req.target
    if req.targets:
        data["target"] = list(req.targets)
    # the layer's repository is the workspace itself, also when the workspace sits inside another
    # git repository (kas would take that one's top level, and miss meta-cmu610)
    repos: dict[str, object] = {"cmu610bsp": {"path": str(root)}}
    known = composed_repos(root, req)
    for name, path in sorted(req.sources.items()):
        if name in BITBAKE_SOURCES:
            continue
        if name not in known:
            raise BspError(f"--source {name}={path}: the configuration has no repository {name!r}",
                           hint="repositories: " + ", ".join(sorted([*known, *BITBAKE_SOURCES])))
        repos[name] = {"url": None, "path": str(path.resolve())}
    paths = req.paths(root)
    if (paths.devtool_workspace / "conf" / "layer.conf").is_file():
        # kas rewrites bblayers.conf on every run: keep devtool's workspace layer in it
        repos["devtool-workspace"] = {"path": str(paths.devtool_workspace), "layers": {".": None}}
    data["repos"] = repos
    # the signing key's variables, declared for kas to pass on to BitBake: their values come from
    # the environment kas runs in (`changes`), never from this file (a PIN)
    data["env"] = {"PYTHONPATH": str(_bitbake_lib(root, req)), "PYTHONPYCACHEPREFIX": str(paths.pycache),
                   **dict.fromkeys(keys.BUILD_ENV, "")}
    conf = _zephyr_tree(req.sources.get("zephyr"))
    for name in sorted(set(req.sources) & set(components.COMPONENTS)):
        conf += libsource.checkout_lines(name, req.sources[name], openbmc_tree(root, req))[0]
    if req.offline:
        conf.append('BB_NO_NETWORK = "1"')
    if req.cache:
        cache = req.cache.resolve()
        conf += [f'DL_DIR = "{cache}/downloads"', f'SSTATE_DIR = "{cache}/sstate-cache"']
    if req.sstate_mirror:
        conf.append(f'SSTATE_MIRRORS = "file://.* {req.sstate_mirror.rstrip("/")}/PATH;downloadfilename=PATH"')
    if req.hashserv:
        conf += [f'BB_HASHSERVE = "{req.hashserv}"', 'BB_SIGNATURE_HANDLER = "OEEquivHash"']
    if conf:
        # kas writes local_conf_header entries sorted by id: this one must come last
        data["local_conf_header"] = {"zz-cmu610bsp-run": "\n".join(conf) + "\n"}
    return data


def _zephyr_tree(tree: Path | None) -> list[str]:
    """--source zephyr=PATH: the firmware recipes clone Zephyr from PATH at its HEAD (a local
    checkout is taken as it is committed, like --source openbmc; `unpinned` reports it)."""
    if tree is None:
        return []
    path = tree.resolve()
    rev = libsource.head(path, "zephyr", hint="the firmware recipes clone Zephyr at a revision: give a git clone of Zephyr")
    return [f'CMU610_ZEPHYR_TREE = "{path}"', f'CMU610_ZEPHYR_SRCREV = "{rev}"']


def _bitbake_lib(root: Path, req: Request) -> Path:
    """BitBake's own library, as PYTHONPATH for every BitBake process kas starts.

    oe-init-build-env sets PYTHONPATH="$BITBAKEDIR/lib:$PYTHONPATH"; with an empty PYTHONPATH the
    trailing ':' puts the current directory (the build directory) on every BitBake process's
    sys.path. On a read-only BitBake tree, BitBake's shell parser writes its ply tables
    (pyshtables.py) into the build directory; the next BitBake process, even the second one inside
    a single devtool command, then imports them from there and dies ("No module named 'pysh'").
    kas's `env:` replaces the value after the init script ran: the same path without the ':'."""
    return openbmc_tree(root, req) / "bitbake" / "lib"


def downloads(root: Path, req: Request) -> Path:
    """BitBake's DL_DIR in this run: the --cache's, else the workspace's (configs/kas/cache.yml)."""
    return req.cache.resolve() / "downloads" if req.cache else BuildPaths(root, req.line).work / "downloads"


def openbmc_tree(root: Path, req: Request) -> Path:
    """The OpenBMC tree of this run: --source openbmc, else kas's checkout of it."""
    tree = req.sources.get("openbmc")
    return tree.resolve() if tree else openbmc_checkout(root)


def write_overlay(root: Path, req: Request, machine: str) -> Path:
    """Write the run's overlay atomically (kas reads it as one of the composition's files)."""
    path = req.paths(root).overlay
    data = overlay(root, req, machine)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = "# Written by cmu610bsp build for this run; not to be edited.\n" + yaml.dump(data, Dumper=dumper, sort_keys=True)
    write_whole(path, text)
    return path


@dataclass(frozen=True)
class Environment:
    """What a build changes in the caller's environment for kas: the variables it sets, and the
    caller's KAS_* variables it takes out (kas reads every KAS_* variable as its own setting).
    A dry run prints exactly these; `apply` is the environment kas runs in."""

    set: dict[str, str]
    unset: tuple[str, ...]

    def apply(self, base: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in base.items() if k not in self.unset}
        env.update(self.set)
        return env


def changes(root: Path, req: Request, record: ToolchainRecord, base: Mapping[str, str] | None = None) -> Environment:
    """kas's work and build directories, where the workspace's toolchain is on this machine, the
    Python Zephyr's scripts run in and the boot stage's libsodium sources are
    (configs/kas/toolchain.yml declares them as kas env), the signing key (keys.build_env; the
    run's overlay declares it), and LANG when the caller has none; on top of `base` (this
    process's environment)."""
    base = os.environ if base is None else base
    p = req.paths(root)
    values = {"KAS_WORK_DIR": str(p.work), "KAS_BUILD_DIR": str(p.build), **toolchain.kas_env(record),
              **keys.build_env(root)}
    values["CMU610_LIBSODIUM_DIR"] = str(bootcrypto.location())      # prepared by `environment`
    if "LANG" not in base:
        values["LANG"] = "en_US.UTF-8"
    return Environment(values, tuple(sorted(k for k in base if k.startswith("KAS_") and k not in values)))


def environment(root: Path, req: Request, record: ToolchainRecord) -> dict[str, str]:
    """The whole environment kas runs in: this process's, with `changes` made; the boot stage's
    libsodium sources prepared in the cache where `changes` says they are (the flash image's
    recipe compiles them)."""
    bootcrypto.libsodium()
    return changes(root, req, record).apply(os.environ)


def kas(*args: str) -> list[str]:
    """kas as installed with cmu610bsp (a dependency), not the first `kas` on PATH: the version
    whose schema `check` validates against, and found where only cmu610bsp's own entry point is
    on PATH (pipx). Also spares a version-manager shim (pyenv) on every run."""
    return [sys.executable, "-m", "kas", *args]


def target(root: Path, req: Request) -> str:
    """What the run builds: --target, else the line kas file's target (its flash image)."""
    if req.targets:
        return " ".join(req.targets)
    return req.target or str(read_kas_file(line_file(root, req.line)).get("target") or "")


def build_command(root: Path, req: Request) -> list[str]:
    """The command of this run: what runs, what is logged, what summary.json records. A build is
    `kas build` (`-k` for a rack: one board's failure does not stop the others); a plan is
    bbplan.py in `kas shell`, asking BitBake's server for the target's task graph and shared-state
    lookup (cmu610bsp/kasbuild/plan.py says why not `bitbake -n`)."""
    if not req.plan:
        return kas("build", composition_of(root, req), *(["--", "-k"] if req.keep_going else []))
    script = [sys.executable, str(plan.script()), str(req.paths(root).plan_facts), target(root, req)]
    return kas("shell", composition_of(root, req), "-c", shlex.join(script))


def unpinned(root: Path, req: Request) -> list[str]:
    """Repositories the build would take at whatever revision they are at: a url with no commit
    and no entry in kas's lock file, or a local checkout given with --source."""
    lock_file = root / KAS_DIR / "base.lock.yml"
    lock = read_kas_file(lock_file) if lock_file.is_file() else {}
    locked = set((lock.get("overrides") or {}).get("repos") or {})
    out = [f"{name} (local checkout {req.sources[name]})" for name in BITBAKE_SOURCES if name in req.sources
           and (name not in components.COMPONENTS
                or not libsource.pinned(name, req.sources[name], openbmc_tree(root, req)))]
    for name, repo in sorted(composed_repos(root, req).items()):
        if name in req.sources:
            out.append(f"{name} (local checkout {req.sources[name]})")
        elif repo.get("url") and not repo.get("commit") and name not in locked:
            out.append(name)
    return out


def unfetched(root: Path, req: Request) -> list[str]:
    """Repositories kas would have to clone before it can do anything (even `kas dump`)."""
    work = req.paths(root).work
    return [name for name, repo in sorted(composed_repos(root, req).items())
            if repo.get("url") and not (work / name / ".git").exists()]


def devtool_recipes(root: Path, line: str) -> list[str]:
    """Recipes devtool's workspace layer overrides in this line's build directory."""
    appends = BuildPaths(root, line).devtool_workspace / "appends"
    if not appends.is_dir():
        return []
    return sorted(p.name.split("_")[0].removesuffix(".bbappend") for p in appends.glob("*.bbappend"))
