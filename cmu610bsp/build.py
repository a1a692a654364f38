"""`cmu610bsp build`: compose the workspace's kas files and run `kas build`, with progress from
BitBake's task counters, a full log, and a summary CI can parse. kas checks out and BitBake
builds; this module only wraps them.

It reads the generated files only (the line's kas file, the layer's machine confs), never the
description model: the data flows description -> model -> generated files -> build, and a
no-op `build` stays within a few per cent of a bare `kas build` (bench/bench_build.py).

Layout: KAS_WORK_DIR = <ws>/build (repos, downloads, shared state: shared by every line and run),
KAS_BUILD_DIR = <ws>/build/<line> (one per product line), the per-run overlay in
<ws>/build/.kas/<line>.yml (kas wants every file of a composition inside one repository).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmu610bsp.errors import BspError
from cmu610bsp.layout import KAS_DIR, LAYER, read_manifest, sha256

_SETSCENE = re.compile(r"^NOTE: Running setscene task (\d+) of (\d+) \((.*)\)")
_TASK = re.compile(r"^NOTE: Running (?:noexec )?task (\d+) of (\d+) \((.*)\)")
_DONE = re.compile(r"^NOTE: recipe (\S+): task (\S+): (Succeeded|Failed)")
_STARTED = re.compile(r"^NOTE: recipe (\S+): task (\S+): Started")
_SUMMARY = re.compile(r"^NOTE: Tasks Summary: Attempted (\d+) tasks of which (\d+) didn't need to be rerun")
_FAILED_TASK = re.compile(r"^ERROR: Task \((.*)\) failed with exit code")
_FAILED_LOG = re.compile(r"^ERROR: Logfile of failure stored in: (\S+)")
# kas relays BitBake's lines through its logger: "2026-11-24 08:00:56 - INFO     - NOTE: ..."
_KAS_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - [A-Z]+\s+- ")


def bitbake_line(line: str) -> str:
    """The BitBake part of a line kas printed."""
    return _KAS_PREFIX.sub("", line, count=1)


@dataclass
class Options:
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


@dataclass
class Progress:
    """What BitBake's output told us so far."""

    setscene_done: int = 0
    setscene_total: int = 0
    task_done: int = 0
    task_total: int = 0
    running: list[str] = field(default_factory=list)
    attempted: int | None = None
    not_rerun: int | None = None
    failed_task: str | None = None
    failed_log: str | None = None

    def feed(self, line: str) -> bool:
        """Update from one line; True if the counters moved."""
        line = bitbake_line(line)
        if m := _SETSCENE.match(line):
            self.setscene_done, self.setscene_total = int(m.group(1)), int(m.group(2))
            return True
        if m := _TASK.match(line):
            self.task_done, self.task_total = int(m.group(1)), int(m.group(2))
            return True
        if m := _STARTED.match(line):
            self.running.append(f"{m.group(1)}:{m.group(2)}")
            return True
        if m := _DONE.match(line):
            name = f"{m.group(1)}:{m.group(2)}"
            if name in self.running:
                self.running.remove(name)
            return True
        if m := _SUMMARY.match(line):
            self.attempted, self.not_rerun = int(m.group(1)), int(m.group(2))
        elif m := _FAILED_TASK.match(line):
            self.failed_task = self.failed_task or m.group(1)
        elif m := _FAILED_LOG.match(line):
            self.failed_log = self.failed_log or m.group(1)
        return False


def paths(root: Path, line: str) -> dict[str, Path]:
    work = root / "build"
    return {"work": work, "build": work / line, "overlay": work / ".kas" / f"{line}.yml",
            "log": work / line / "cmu610bsp-build.log", "summary": work / line / "summary.json"}


def _yaml(path: Path) -> dict[str, Any]:
    """A generated kas file (or kas's lock file), which a hand edit may have broken."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    try:
        data = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        raise BspError(f"{path}: not valid YAML: {' '.join(str(e).split())}",
                       hint="fix the hand edit, or `cmu610bsp generate --force` to render it again") from None
    return data if isinstance(data, dict) else {}


def product_lines(root: Path) -> list[str]:
    """The lines this workspace was generated for: kas files in configs/kas with a target."""
    return sorted(f.stem for f in (root / KAS_DIR).glob("*.yml") if "target" in _yaml(f))


def _line(root: Path, line: str) -> tuple[Path, dict[str, Any]]:
    """The line's generated kas file and its content; an unknown line is a user error."""
    path = root / KAS_DIR / f"{line}.yml"
    data = _yaml(path) if re.fullmatch(r"[a-z][a-z0-9_]*", line) and path.is_file() else {}
    if "target" not in data:
        raise BspError(f"unknown product line {line!r}", hint="lines: " + (", ".join(product_lines(root)) or
                                                                           "none generated; run `cmu610bsp sync`"))
    return path, data


_CONF_VAR = re.compile(r'^(CMU610_BOARD|CMU610_PRODUCT_LINES)\s*\??=\s*"([^"]*)"', re.M)


def boards(root: Path) -> dict[str, list[str]]:
    """Board -> product lines, from the layer's machine confs (a board's own conf names it in
    CMU610_BOARD; its QEMU twin names the board it copies)."""
    out = {}
    for conf in sorted((root / LAYER / "conf" / "machine").glob("*.conf")):
        found = dict(_CONF_VAR.findall(conf.read_text(errors="replace")))
        if found.get("CMU610_BOARD") == conf.stem:
            out[conf.stem] = found.get("CMU610_PRODUCT_LINES", "").split()
    return out


def kas_files(root: Path, opts: Options) -> list[Path]:
    """base + line + toolchain + cache + the run's overlay (written by `write_overlay`)."""
    kas = root / KAS_DIR
    files = [kas / "base.yml", _line(root, opts.line)[0], kas / "toolchain.yml", kas / "cache.yml"]
    for f in files:
        if not f.is_file():
            raise BspError(f"{f.relative_to(root)} not found", hint="run `cmu610bsp sync`")
    return files + [paths(root, opts.line)["overlay"]]


def _board(root: Path, opts: Options) -> str:
    """--board, checked against the layer's machines, or the line's default board."""
    served = boards(root)
    # a line file generated before it named its default board: the first board serving the line
    board = opts.board or _line(root, opts.line)[1].get("machine") or next(
        (name for name, lines in served.items() if opts.line in lines), None)
    if not isinstance(board, str):
        raise BspError(f"no board of this workspace serves {opts.line}",
                       hint="add it to a board's product_lines and run `cmu610bsp sync`")
    if board not in served:
        raise BspError(f"--board {board!r}: not a board of this workspace", hint="boards: " + ", ".join(served))
    if opts.line not in served[board]:
        raise BspError(f"{board} does not serve {opts.line} (it serves {', '.join(served[board]) or 'no line'})")
    return board


def stale_inputs(root: Path) -> list[str]:
    """Description files changed since the layer was generated (the manifest has their hashes)."""
    try:
        inputs = (read_manifest(root) or {}).get("inputs")
    except BspError:
        return []  # `generate` and `sync` report an unreadable manifest; a build does not need it
    out = []
    for rel, rec in sorted(inputs.items()) if isinstance(inputs, dict) else []:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            out.append(rel)
            continue
        if not isinstance(rec, dict) or sha256(text.encode()) != rec.get("sha256"):
            out.append(rel)
    return out


def overlay(root: Path, opts: Options) -> dict[str, object]:
    """The per-run kas fragment: board, target, local sources, caches, devtool's layer."""
    data: dict[str, object] = {"header": {"version": 14}, "machine": _board(root, opts)}
    if opts.target:
        data["target"] = opts.target
    # the layer's repository is the workspace itself, also when the workspace sits inside another
    # git repository (kas would take that one's top level, and miss meta-cmu610)
    repos: dict[str, object] = {"cmu610bsp": {"path": str(root)}}
    for name, path in sorted(opts.sources.items()):
        if not (path / ".").is_dir():
            raise BspError(f"--source {name}={path}: not a directory")
        repos[name] = {"url": None, "path": str(path.resolve())}
    workspace_layer = paths(root, opts.line)["build"] / "workspace"
    if (workspace_layer / "conf" / "layer.conf").is_file():
        # kas rewrites bblayers.conf on every run: keep devtool's workspace layer in it
        repos["devtool-workspace"] = {"path": str(workspace_layer), "layers": {".": None}}
    data["repos"] = repos
    conf = []
    if opts.offline:
        conf.append('BB_NO_NETWORK = "1"')
    if opts.cache:
        conf += [f'DL_DIR = "{opts.cache.resolve()}/downloads"', f'SSTATE_DIR = "{opts.cache.resolve()}/sstate-cache"']
    if opts.sstate_mirror:
        conf.append(f'SSTATE_MIRRORS = "file://.* {opts.sstate_mirror.rstrip("/")}/PATH;downloadfilename=PATH"')
    if opts.hashserv:
        if not re.fullmatch(r"[\w.-]+:\d+", opts.hashserv):
            raise BspError(f"--hashserv {opts.hashserv!r}: expected HOST:PORT")
        conf += [f'BB_HASHSERVE = "{opts.hashserv}"', 'BB_SIGNATURE_HANDLER = "OEEquivHash"']
    if conf:
        # kas writes local_conf_header entries sorted by id: this one must come last
        data["local_conf_header"] = {"zz-cmu610bsp-run": "\n".join(conf) + "\n"}
    return data


def write_overlay(root: Path, opts: Options) -> Path:
    """Write the run's overlay; also settles opts.board (the line's default board if not given)."""
    path = paths(root, opts.line)["overlay"]
    data = overlay(root, opts)
    path.parent.mkdir(parents=True, exist_ok=True)
    opts.board = str(data["machine"])
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = "# Written by cmu610bsp build for this run; not to be edited.\n" + yaml.dump(data, Dumper=dumper, sort_keys=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def environment(root: Path, opts: Options) -> dict[str, str]:
    p = paths(root, opts.line)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAS_")}
    env.update({"KAS_WORK_DIR": str(p["work"]), "KAS_BUILD_DIR": str(p["build"])})
    env.setdefault("LANG", "en_US.UTF-8")
    return env


def kas(*args: str) -> list[str]:
    """kas as installed with cmu610bsp (a dependency), not the first `kas` on PATH: the version
    whose schema `check` validates against, and found where only cmu610bsp's own entry point is
    on PATH (pipx). Also spares a version-manager shim (pyenv) on every run."""
    return [sys.executable, "-m", "kas", *args]


def composition(root: Path, opts: Options) -> str:
    """The colon-separated kas files of this run, relative to the workspace (kas's config argument)."""
    return ":".join(str(f.relative_to(root)) for f in kas_files(root, opts))


def kas_args(root: Path, opts: Options) -> list[str]:
    """`kas build` arguments of this run (after `kas`; `kas(*these)` is the equivalent command
    line that --dry-run prints and summary.json records)."""
    return ["build", composition(root, opts), *(["--", "-n"] if opts.plan else [])]


def kas_main(args: list[str]) -> None:
    """kas's own entry point with these arguments, in this process (`proc.fork_call` runs it in
    a fork, so kas's exit and signal handling stay kas's)."""
    sys.argv = ["kas", *args]
    from kas.kas import main

    main()


def composed_repos(root: Path, opts: Options) -> dict[str, dict[str, object]]:
    """The repos section of the composition, merged the way kas merges it (later files win)."""
    repos: dict[str, dict[str, object]] = {}
    for f in kas_files(root, opts):
        for name, repo in (_yaml(f).get("repos") or {}).items():
            repos.setdefault(name, {}).update(repo or {})
    return repos


def unpinned(root: Path, opts: Options) -> list[str]:
    """Repositories the build would take at whatever revision they are at: a url with no commit
    and no entry in kas's lock file, or a local checkout given with --source."""
    lock_file = root / KAS_DIR / "base.lock.yml"
    lock = _yaml(lock_file) if lock_file.is_file() else {}
    locked = set(((lock.get("overrides") or {}).get("repos") or {}))
    out = []
    for name, repo in sorted(composed_repos(root, opts).items()):
        if name in opts.sources:
            out.append(f"{name} (local checkout {opts.sources[name]})")
        elif repo.get("url") and not repo.get("commit") and name not in locked:
            out.append(name)
    return out


def unfetched(root: Path, opts: Options) -> list[str]:
    """Repositories kas would have to clone before it can do anything (even `kas dump`)."""
    work = paths(root, opts.line)["work"]
    return [name for name, repo in sorted(composed_repos(root, opts).items())
            if repo.get("url") and not (work / name / ".git").exists()]


def devtool_recipes(root: Path, line: str) -> list[str]:
    appends = paths(root, line)["build"] / "workspace" / "appends"
    return sorted(p.name.split("_")[0].removesuffix(".bbappend") for p in appends.glob("*.bbappend")) if appends.is_dir() else []


@contextmanager
def claim(build_dir: Path) -> Iterator[None]:
    """One cmu610bsp run per build directory: an flock the kernel drops even when the run is
    SIGKILLed. Holding it means no other run owns a BitBake server here, so a server still up
    (one that lingers after a killed run, as with BB_SERVER_TIMEOUT) is stopped first."""
    build_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(build_dir / "cmu610bsp.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BspError(f"another cmu610bsp run is using {build_dir}", hint="wait for it to finish") from None
        stop_bitbake_server(build_dir)
        yield
    finally:
        os.close(fd)


def stop_bitbake_server(build_dir: Path) -> None:
    """BitBake's server runs in its own session and can outlive kas: stop it by its lock file."""
    lock = build_dir / "bitbake.lock"
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        if "bitbake" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") and \
                Path(f"/proc/{pid}/cwd").resolve() != build_dir.resolve():
            return
    except OSError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(30):
            if _gone(pid):
                return
            time.sleep(0.1)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (a container's init may never)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def devtool_layer_as_devtool_writes_it(build_dir: Path) -> None:
    """kas lists devtool's workspace layer as `${TOPDIR}/workspace`; devtool compares bblayers.conf
    entries as text (bb.utils.edit_bblayers_conf expands nothing) and adds the absolute path again,
    so BitBake then stops on a duplicated 'workspacelayer'. Before devtool runs on the kept file,
    write the entry the way devtool does, once (kas and devtool both write one entry per line)."""
    conf = build_dir / "conf" / "bblayers.conf"
    if not conf.is_file():
        return
    text = conf.read_text()
    absolute = str(build_dir / "workspace")
    out, seen = [], False
    for line in text.splitlines(keepends=True):
        if line.strip().rstrip("\\").strip() in ("${TOPDIR}/workspace", absolute):
            if seen:
                continue
            seen, line = True, line.replace("${TOPDIR}/workspace", absolute)
        out.append(line)
    if "".join(out) != text:
        conf.write_text("".join(out))


def drop_stale_parser_tables(build_dir: Path) -> None:
    """With a read-only BitBake tree (--source on a shared checkout), BitBake's shell parser writes
    its tables (pyshtables.py) into the build directory, and the next run that finds them there
    dies with "No module named 'pysh'". They are regenerated in a second: drop them."""
    for stale in [build_dir / "pyshtables.py", *build_dir.glob("__pycache__/pyshtables*")]:
        stale.unlink(missing_ok=True)


def artifacts(build_dir: Path) -> list[dict[str, object]]:
    deploy = build_dir / "tmp" / "deploy" / "images"
    out = []
    for p in sorted(deploy.rglob("*")) if deploy.is_dir() else []:
        if p.is_file() and not p.is_symlink():
            h = hashlib.sha256()
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out.append({"path": str(p.relative_to(build_dir)), "size": p.stat().st_size, "sha256": h.hexdigest()})
    return out


def log_tail(path: str | None, lines: int = 20) -> list[str]:
    if not path or not Path(path).is_file():
        return []
    return Path(path).read_text(errors="replace").splitlines()[-lines:]


def summary(root: Path, opts: Options, result: str, seconds: float, prog: Progress, argv: list[str]) -> dict[str, object]:
    p = paths(root, opts.line)
    restored = prog.setscene_total
    run = prog.task_total
    data: dict[str, object] = {
        "result": result, "line": opts.line, "plan": opts.plan,
        "board": opts.board, "duration_s": round(seconds, 3),
        "tasks": {"attempted": prog.attempted, "not_rerun": prog.not_rerun, "run": run, "restored_from_sstate": restored},
        "log": str(p["log"]), "kas_command": shlex.join(argv),
        "artifacts": artifacts(p["build"]) if result == "success" and not opts.plan else [],
    }
    if prog.failed_task:
        data["failed_task"] = {"task": prog.failed_task, "log": prog.failed_log, "log_tail": log_tail(prog.failed_log)}
    return data


def write_summary(root: Path, line: str, data: dict[str, object]) -> Path:
    path = paths(root, line)["summary"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
