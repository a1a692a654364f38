"""`cmu610bsp build`: compose the workspace's kas files, run `kas build` as a child process, follow
BitBake's progress, and report. kas checks out and BitBake builds; this package only drives them
(kasbuild, not build: that is the workspace's build directory).

    compose.py  what kas is given (composition, the run's overlay, environment, command line)
    bitbake.py  BitBake seen from outside (progress lines, its server, its leftovers)
    plan.py     what a build would do, from the task graph and shared-state lookup (--plan;
                bbplan.py is BitBake's side, run in kas's shell)
    rack.py     several boards of a line in one BitBake run (--all-boards)
    report.py   summary.json
    attest.py   each board's SBOM (SPDX 3) and the build's provenance (in-toto/SLSA v1)
    smoke.py    --smoke: the verdict on what the build deployed, booted on the QEMU twin

`run` is the API the CLI (and CI scripts in Python) call; it prints nothing and hands every line
of output and every warning to `on_event`.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cmu610bsp import components, keys, manifest, proc, toolchain, workspace
from cmu610bsp.errors import BspError, Timeout
from cmu610bsp.kasbuild import attest, bitbake, compose, libsource, plan, report
from cmu610bsp.kasbuild.compose import Lines, Request
from cmu610bsp.kasbuild.report import Summary
from cmu610bsp.yamlio import read_text

if TYPE_CHECKING:
    from cmu610bsp.project import Project

__all__ = ["DryRun", "Event", "Lines", "Request", "Summary", "dry_run", "lines_from", "lines_of", "run"]


@dataclass(frozen=True)
class Event:
    """Something a build said: a `warning` before kas starts, or a line of kas/BitBake `output`
    (with the progress it moved, if any)."""

    kind: str
    text: str
    progress: bitbake.Progress | None = None
    moved: bool = False


def lines_of(root: Path) -> Lines:
    """Product lines and which board serves which, from the validated description."""
    return lines_from(workspace.load_project(workspace.open_workspace(root)))


def lines_from(project: Project) -> Lines:
    """The same, from a description already loaded (`build --smoke` needs it for QEMU too)."""
    return Lines(tuple(p.name for p in project.products),
                 {b.name: tuple(b.product_lines) for b in project.boards}, project.toolchain,
                 {p.name: components.used([p]) for p in project.products})


def _component_sources(root: Path, req: Request, lines: Lines) -> None:
    """Refuse, before BitBake runs, a component the OpenBMC tree has no recipe for, and an offline
    build that could not fetch a component's source."""
    names, tree = lines.components.get(req.line, ()), compose.openbmc_tree(root, req)
    if (tree / "meta-phosphor").is_dir():
        absent = [n for n in names if not (tree / components.COMPONENTS[n].recipe).is_file()]
        if absent:
            raise BspError(f"the OpenBMC tree {tree} has no recipe for {', '.join(absent)} "
                           f"({', '.join(components.COMPONENTS[n].recipe for n in absent)})",
                           hint=f"the firmware of {req.line} takes it (`firmware.openbmc` of configs/products/"
                                f"{req.line}.yaml; the secure firmware takes {', '.join(components.SECURE)}): "
                                "an OpenBMC tree that has it, or a line without it")
    if not req.offline or req.openbmc:
        # the whole OpenBMC composition builds OpenBMC's own recipes from their pins: the
        # firmware's variant of each, the one a --source serves, is the firmware composition's
        return
    missing = libsource.unfetchable(names, req.sources, tree, compose.downloads(root, req))
    if missing:
        raise BspError(f"--offline: no source of {', '.join(missing)} to build the firmware with (its recipe's "
                       "revision is in no download)",
                       hint=" ".join(f"--source {n}=PATH" for n in missing) + ": a local git checkout of each")


def _warnings(root: Path, req: Request, lines: Lines, env: Mapping[str, str]) -> list[str]:
    """What the user should know before this run (`env`: what kas gets, the signing key in it)."""
    out = []
    stale = manifest.stale_inputs(root)
    if stale:
        out.append(f"changed since the layer was generated: {', '.join(stale)}; this build uses the "
                   "generated files as they are (`cmu610bsp sync` renders the change)")
    floating = compose.unpinned(root, req)
    if floating:
        out.append(f"not pinned to a commit: {', '.join(floating)}; "
                   "`cmu610bsp lock` (or a commit in the kas file) makes CI builds reproducible")
    absent = toolchain.missing(lines.toolchain)
    if absent:
        out.append(f"{absent[0]}; {absent[1]}")
    if "CMU610_SIGNING_KEY" not in env:
        out.append("no image signing key: the flash image recipe cannot sign its images (`cmu610bsp keys generate`, "
                   "or `keys generate --pkcs11 URI` for a key in an HSM)")
    for recipe in compose.devtool_recipes(root, req.line):
        out.append(f"devtool workspace overrides {recipe}: layer changes to it are not used "
                   f"(cmu610bsp devtool reset {recipe})")
    return out


def run(root: Path, req: Request, on_event: Callable[[Event], None] = lambda e: None,
        lines: Lines | None = None, prog: bitbake.Progress | None = None) -> Summary:
    """Build one line for one board; summary.json is written however the run ends (success,
    failure, timeout, Ctrl-C/SIGTERM), and no kas or BitBake process outlives it. `prog`, when
    given, is the Progress that follows the output (a rack reads every task id from it)."""
    compose.check_paths(root, req)
    lines = lines or lines_of(root)
    board, machine = lines.machine(req.line, req.board)
    _component_sources(root, req, lines)
    compose.write_overlay(root, req, machine)
    argv = compose.build_command(root, req)
    env = compose.environment(root, req, lines.toolchain)
    for text in _warnings(root, req, lines, env):
        on_event(Event("warning", text))
    paths = req.paths(root)
    log_path = paths.plan_log if req.plan else paths.log
    prog = prog if prog is not None else bitbake.Progress()
    result, start = "failed", time.monotonic()
    with bitbake.claim(paths.build), log_path.open("w", buffering=1) as log, keys.pin_handover(env) as env:
        bitbake.drop_stale_parser_tables(paths.build)
        paths.plan_facts.unlink(missing_ok=True)

        def on_line(text: str) -> None:
            log.write(text + "\n")
            moved = prog.feed(text)
            on_event(Event("output", text, prog, moved))

        try:
            code = proc.stream(argv, on_line, cwd=root, env=env, timeout=req.timeout)
            result = "success" if code == 0 else "failed"
            if code and not prog.failed_task and not prog.errors:
                prog.errors.append(f"kas exited with {code}")
        except KeyboardInterrupt:
            result = "interrupted"
        except Timeout:
            result = "timeout"
    planned = plan.load(paths.plan_facts) if req.plan and result == "success" else None
    summary = report.summarize(result, req.line, board, machine, req.plan, time.monotonic() - start, prog,
                               log_path, paths.build, shlex.join(argv), compose.target(root, req), planned)
    if not req.targets:   # a rack's boards are attested one by one (rack.py)
        summary = attest.write(root, req, lines, summary)
    report.write(summary, paths.plan_summary if req.plan else paths.summary)
    return summary


@dataclass(frozen=True)
class DryRun:
    """What `run` would do: the command, in which directory, what it changes in this environment
    (variables set, KAS_* variables taken out), and the composed configuration (kas's own
    `kas dump`, or the files when dump would clone first)."""

    cwd: str
    env: dict[str, str]
    unset: tuple[str, ...]
    command: tuple[str, ...]
    config: str
    dumped: bool          # config is `kas dump`'s merged view; else the files one after another
    note: str = ""
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"cwd": self.cwd, "env": self.env, "unset": list(self.unset), "command": list(self.command),
                "config": self.config, "dumped": self.dumped, "note": self.note, "warnings": list(self.warnings)}

    def shell(self) -> str:
        """The same as one line of sh: run in a shell with this environment, it is the build."""
        unset = "".join(f"-u {shlex.quote(k)} " for k in self.unset)
        assign = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        return f"cd {shlex.quote(self.cwd)} && {'env ' + unset if unset else ''}{assign} {shlex.join(self.command)}"


def dry_run(root: Path, req: Request, lines: Lines | None = None) -> DryRun:
    """Everything `run` would hand kas, without running a build (kas dump only when it has
    nothing to clone)."""
    compose.check_paths(root, req)
    lines = lines or lines_of(root)
    _, machine = lines.machine(req.line, req.board)
    compose.write_overlay(root, req, machine)
    argv = compose.build_command(root, req)
    changes = compose.changes(root, req, lines.toolchain)
    warnings = tuple(_warnings(root, req, lines, changes.set))
    missing = compose.unfetched(root, req)
    if missing:
        files = "".join(f"# --- {f.relative_to(root)}\n{read_text(f)}" for f in compose.kas_files(root, req))
        note = (f"kas dump skipped: it would clone {', '.join(missing)} first; with --source NAME=PATH "
                "or after a first build it shows the merged configuration")
        return DryRun(str(root), changes.set, changes.unset, tuple(argv), files, False, note, warnings)
    r = proc.run(compose.kas("dump", compose.composition_of(root, req)), cwd=root, env=changes.apply(os.environ))
    if r.returncode:
        raise BspError("kas dump failed on the composed configuration", hint=r.stderr.strip()[-500:])
    return DryRun(str(root), changes.set, changes.unset, tuple(argv), r.stdout, True, warnings=warnings)
