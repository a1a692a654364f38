"""Commands that drive kas and BitBake: build, lock, cache serve, devtool. Each imports what it
runs when it runs (cli/__init__.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmu610bsp.cli.common import Command, DebugOpt, SourceOpt, WorkspaceOpt, root
from cmu610bsp.errors import BspError, CheckFailed, Timeout

if TYPE_CHECKING:
    from cmu610bsp.kasbuild import DryRun, Event, Lines, Request, Summary
    from cmu610bsp.kasbuild.rack import RackSummary
    from cmu610bsp.project import Project

cache_app = typer.Typer(help="Shared state for a fleet of builders.", no_args_is_help=True)
devtool_app = typer.Typer(help="devtool on unmodified OpenBMC recipes, in the workspace's kas shell.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(build)
    app.command(cls=Command)(lock)
    app.add_typer(cache_app, name="cache")
    app.add_typer(devtool_app, name="devtool")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build(
    line: Annotated[str, typer.Argument(metavar="LINE", help="Product line: bigbmc or littlebmc.", show_default=False)],
    board: Annotated[list[str] | None, typer.Option("--board", "-b", metavar="BOARD", show_default=False,
                                                    help="Board (or its QEMU twin, BOARD-qemu) to build for "
                                                         "(default: the line's first board); repeated: those "
                                                         "boards in one BitBake run.")] = None,
    all_boards: Annotated[bool, typer.Option("--all-boards", help="Every board of the line in one BitBake run "
                                             "(one summary a board, one for the run).")] = False,
    target: Annotated[str | None, typer.Option("--target", "-t", metavar="TARGET", show_default=False,
                                               help="BitBake target (default: the line's flash image, cmu610-flash-image, "
                                                    "built in build/LINE from the firmware's recipes alone; other "
                                                    "targets, e.g. cmu610-LINE-image, the OpenBMC userspace image, "
                                                    "in build/LINE-openbmc from all of OpenBMC's).")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="What the build would do, per recipe (run, restored from "
                                       "shared state, current), from BitBake's task graph; builds nothing.")] = False,
    source: SourceOpt = None,
    cache: Annotated[Path | None, typer.Option("--cache", metavar="DIR", show_default=False,
                                               help="Directory for downloads and shared state.")] = None,
    sstate_mirror: Annotated[str | None, typer.Option("--sstate-mirror", metavar="URL", show_default=False,
                                                      help="Shared-state mirror URL.")] = None,
    hashserv: Annotated[str | None, typer.Option("--hashserv", metavar="HOST:PORT", show_default=False,
                                                 help="Hash-equivalence server (see `cmu610bsp cache serve`).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", show_default=False,
                                                  help="Stop the build after this long (exit 124).")] = None,
    offline: Annotated[bool, typer.Option("--offline",
                                          help="BB_NO_NETWORK: fetch only from local sources and premirrors.")] = False,
    smoke: Annotated[bool, typer.Option("--smoke", help="After a successful build, boot its flash image on the QEMU twin "
                                        "and check the line's smoke spec (builds BOARD-qemu; verdict in summary.json).")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE", show_default=False,
                                               help="With --smoke: JUnit XML here (default build/LINE/smoke/junit.xml).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json (with --plan plan.json; with --dry-run the "
                                        "dry run) on stdout.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Print the kas command, environment and composed config; run nothing.")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compose base + line + toolchain + cache + this run's overlay and run `kas build`."""
    from cmu610bsp import composition
    from cmu610bsp import kasbuild as b
    from cmu610bsp import workspace as wsp
    from cmu610bsp.kasbuild import compose

    ws = root(workspace, debug)
    project = wsp.load_project(wsp.open_workspace(ws))  # read once: the build's lines, the smoke's SoC
    lines = b.lines_from(project)
    if all_boards or len(board or []) > 1:
        if plan or dry_run or target:
            raise BspError("--plan, --dry-run and --target build one board: not with several boards")
        if junit:
            raise BspError("--junit is one board's report: with several boards each board's JUnit is in "
                           "build/LINE/boards/MACHINE/junit.xml")
        req = b.Request(line, None, None, False, compose.parse_sources(source), cache, sstate_mirror, hashserv,
                        timeout, offline)
        _rack(ws, project, lines, req, board or [], all_boards, smoke, as_json)
        return
    one = board[0] if board else None
    if smoke:
        if plan:
            raise BspError("--smoke boots what a build deployed: not with --plan")
        if not composition.serves(target):
            raise BspError(f"--smoke boots the line's flash image: not with --target {target}",
                           hint="build the flash image (no --target) with --smoke; the OpenBMC image is built apart")
        one = lines.smoke_machine(line, one)
    elif junit:
        raise BspError("--junit is the report of --smoke: give --smoke too")
    req = b.Request(line, one, target, plan, compose.parse_sources(source), cache, sstate_mirror, hashserv,
                    timeout, offline)
    if dry_run:
        _print_dry_run(b.dry_run(ws, req, lines), as_json)
        return
    with _progress() as show:
        summary = b.run(ws, req, show, lines)
    if smoke and summary.result == "success":
        from cmu610bsp import ui
        from cmu610bsp.kasbuild import smoke as build_smoke

        with ui.status(f"smoke-testing {summary.machine}"):
            summary = build_smoke.one(ws, project, summary, junit)
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2, sort_keys=True))
    else:
        _report(summary)
    _stopped(summary.result, timeout, summary.log)
    if summary.result != "success":
        why = f": {summary.overflow.text()}" if summary.overflow else ""
        raise CheckFailed(f"the build of {summary.line} for {summary.machine} failed{why}; log: {summary.log}")
    if summary.smoke is not None and not summary.smoke.passed:
        raise CheckFailed(f"smoke failed on {summary.machine}: {'; '.join(summary.smoke.failed)}; "
                          f"transcript: {summary.smoke.transcript}")


def _stopped(result: str, timeout: float | None, log: str) -> None:
    """Ctrl-C/SIGTERM (exit 130) and --timeout (exit 124) end the command as they ended the build."""
    if result == "interrupted":
        raise KeyboardInterrupt
    if result == "timeout":
        raise Timeout(f"the build ran past --timeout {timeout or 0:g} s and was stopped; log: {log}")


def _rack(ws: Path, project: Project, lines: Lines, req: Request, boards: list[str], all_boards: bool,
          smoke: bool, as_json: bool) -> None:
    """Several boards of a line in one BitBake run; each board's result and what they shared."""
    from cmu610bsp import render, ui
    from cmu610bsp.kasbuild import rack
    from cmu610bsp.kasbuild import smoke as build_smoke

    picked = rack.select(lines, req.line, boards, all_boards, smoke)
    with _progress() as show:
        summary = rack.run(ws, req, picked, render.secure_domains(project), show, lines)
    if smoke and any(s.result == "success" for s in summary.boards):
        with ui.status(f"smoke-testing {len(summary.boards)} boards"):
            summary = build_smoke.boards(ws, project, summary, req.timeout)
    if as_json:
        ui.print_json(summary.as_dict())
    else:
        _report_rack(summary)
    _stopped(summary.result, req.timeout, summary.run.log)
    bad = [s.machine for s in summary.boards if s.exit_code]
    if bad:
        raise CheckFailed(f"{len(bad)} of {len(summary.boards)} boards of {req.line} failed ({', '.join(bad)}); "
                          f"log: {summary.run.log}")


def _report_rack(r: RackSummary) -> None:
    t = r.run.tasks
    print(f"{r.result}: {r.run.line} for {len(r.boards)} boards in one BitBake run, {r.run.duration_s:.1f} s; "
          f"tasks run {t.run}, restored from shared state {t.restored_from_sstate}; "
          f"hash equivalence {r.hash_equivalence}")
    for s in r.boards:
        smoke = "" if s.smoke is None else f"; smoke {'PASS' if s.smoke.passed else 'FAIL'}"
        failed = f"; first failing task {s.failed_task.task}" if s.failed_task else ""
        print(f"  {s.machine:<24} {s.result:<8} tasks run {s.tasks.run}, restored {s.tasks.restored_from_sstate}"
              f"{failed}{smoke}")
    for sh in r.shared:
        how = f"compiled {sh.compiled}x" if sh.compiled else (f"restored ({sh.restored} tasks)" if sh.restored else "current")
        print(f"  shared {sh.recipe}: {len(sh.boards)} boards, {how}, reused by {sh.reused}")
    print(f"firmware compiles: {len(r.compiled)} for {len(r.boards)} boards")
    print(f"log: {r.run.log}\nsummary: {Path(r.run.log).parent / 'summary.json'} (each board: boards/MACHINE/summary.json)")


def _print_dry_run(d: DryRun, as_json: bool) -> None:
    for text in d.warnings:
        _say(f"warning: {text}")
    if as_json:
        from cmu610bsp import ui

        ui.print_json(d.as_dict())
        return
    print(d.shell())
    if d.note:
        print(f"# {d.note}")
    print(d.config, end="")


@contextmanager
def _progress() -> Iterator[Callable[[Event], None]]:
    """A rich bar on a terminal; on a pipe, warnings, task lines and errors as plain text."""
    from cmu610bsp.kasbuild.bitbake import bitbake_line

    if not sys.stderr.isatty():
        def plain(e: Event) -> None:
            if e.kind == "warning":
                _say(f"warning: {e.text}")
                return
            text = bitbake_line(e.text)
            if text.startswith(("NOTE: Running", "ERROR:", "NOTE: Tasks Summary", "Summary:")):
                _say(text)
        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cmu610bsp import ui

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=ui.err, transient=True)
    with bar:
        setscene = bar.add_task("shared state", total=None)
        tasks = bar.add_task("tasks", total=None)

        def rich_show(e: Event) -> None:
            if e.kind == "warning":
                ui.err.print(f"warning: {e.text}")
            elif e.moved and e.progress is not None:
                p = e.progress
                bar.update(setscene, completed=p.setscene_done, total=p.setscene_total or None)
                running = ", ".join(p.running[-3:])
                bar.update(tasks, completed=p.task_done, total=p.task_total or None,
                           description=f"tasks {running[:60]}" if running else "tasks")
        yield rich_show


def _report(s: Summary) -> None:
    if s.plan_detail is not None:
        _report_plan(s)
        return
    t = s.tasks
    print(f"{s.result}: {s.line} for {s.machine} in {s.duration_s:.1f} s; "
          f"tasks run {t.run}, restored from shared state {t.restored_from_sstate}")
    if s.failed_task:
        print(f"first failing task: {s.failed_task.task}\nlog: {s.failed_task.log}")
        for line in s.failed_task.log_tail:
            print(f"  | {line}")
    for line in s.error:
        print(f"  | {line}")
    for a in s.artifacts:
        print(f"{a.path}  {a.size} bytes  sha256 {a.sha256}")
    parts = s.flash.get("partitions") if s.flash else None
    if isinstance(parts, list):
        print("flash layout:")
        for p in parts:
            image = p.get("image") or {}
            hart = f"  hart {image['hart']}" if "hart" in image else ""
            print(f"  {p.get('partition', '?'):<12} 0x{int(p.get('offset', 0)):08x}  {int(p.get('size', 0)):>9} bytes{hart}")
    budgets = s.flash.get("budgets") if s.flash else None
    if isinstance(budgets, dict) and budgets:
        print("budgets (used of what the description gives):")
    for domain, b in sorted(budgets.items()) if isinstance(budgets, dict) else []:
        rom, ram = b["rom"], b["ram"]
        print(f"  {domain:<7} ROM {rom['used']:>9} of {rom['size']:>9} bytes ({', '.join(rom['partitions'])}); "
              f"RAM {ram['used']:>8} of {ram['size']:>8} bytes at 0x{ram['base']:08x}")
    if s.smoke is not None:
        print(f"smoke: {'PASS' if s.smoke.passed else 'FAIL'} in {s.smoke.seconds:.1f} s; junit {s.smoke.junit}; "
              f"transcript {s.smoke.transcript}")
    print(f"log: {s.log}\nsummary: {Path(s.log).parent / 'summary.json'}")


def _report_plan(s: Summary) -> None:
    p = s.plan_detail
    assert p is not None
    print(f"plan: {s.target} of {s.line} for {s.machine} ({s.duration_s:.1f} s): {p.total} tasks; "
          f"{p.run} would run ({p.noexec} with nothing to execute), {p.restored} restored from shared state "
          f"({p.restored_local} local, {p.restored_mirror} mirror; {p.restored_equivalent} by an equivalent hash), "
          f"{p.current} current, {p.not_needed} not needed")
    busy = [r for r in p.recipes if r.run or r.restored]
    width = max((len(r.pn) for r in busy), default=6)
    if busy:
        print(f"  {'recipe':<{width}}  {'run':>4}  {'restored':>8}  {'current':>7}  {'tasks':>5}")
    for r in busy:
        print(f"  {r.pn:<{width}}  {r.run:>4}  {r.restored:>8}  {r.current:>7}  {r.tasks:>5}")
    print(f"log: {s.log}\nplan: {Path(s.log).parent / 'plan.json'}")


def lock(
    line: Annotated[str, typer.Argument(metavar="LINE", help="Product line whose composition to pin.")] = "bigbmc",
    source: SourceOpt = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Pin every repository revision in a kas lock file (configs/kas/base.lock.yml)."""
    from cmu610bsp import devtool
    from cmu610bsp.kasbuild import compose

    ws = root(workspace, debug)
    locks = devtool.lock(ws, line, compose.parse_sources(source))
    print("pinned: " + (", ".join(locks) or "(kas wrote no lock file: nothing to pin)"))


@cache_app.command("serve")
def serve(
    bind: Annotated[str, typer.Option("--bind", metavar="HOST:PORT", help="Where to listen.")] = "0.0.0.0:8686",
    database: Annotated[Path | None, typer.Option("--database", metavar="FILE", show_default=False,
                                                  help="SQLite database (default build/hashserv.db).")] = None,
    bitbake: Annotated[Path | None, typer.Option("--bitbake", metavar="DIR", show_default=False,
                                                 help="BitBake checkout (default: the workspace's openbmc/bitbake).")] = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run BitBake's hash-equivalence server (from the checked-out BitBake) until Ctrl-C."""
    from cmu610bsp import devtool

    ws = root(workspace, debug)
    _say(f"hash-equivalence server on {bind}; builds use: cmu610bsp build LINE --hashserv HOST:PORT")
    devtool.serve_hashes(ws, bind, database, bitbake, lambda text: print(text, flush=True))


LineOpt = Annotated[str, typer.Option("--line", "-l", metavar="LINE", help="Product line whose build directory to use.")]
OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="BB_NO_NETWORK. Without --source and --offline, the last build's settings are kept.")]
RecipeArg = Annotated[str, typer.Argument(metavar="RECIPE", help="The recipe.", show_default=False)]


def _devtool(args: list[str], line: str, source: list[str] | None, offline: bool, workspace: Path | None,
             debug: bool, recipe: str | None = None) -> Path:
    from cmu610bsp import devtool
    from cmu610bsp.kasbuild import compose

    ws = root(workspace, debug)
    devtool.run(ws, args, line, compose.parse_sources(source), offline, lambda text: print(text, flush=True), recipe)
    return ws


@devtool_app.command("modify", cls=Command)
def modify(
    recipe: RecipeArg,
    srctree: Annotated[Path | None, typer.Argument(metavar="SRCTREE", show_default=False,
                                                   help="Source tree (default: workspace/sources/RECIPE).")] = None,
    no_extract: Annotated[bool, typer.Option("--no-extract", "-n",
                                             help="Use SRCTREE as it is: fetch and unpack nothing.")] = False,
    line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
    workspace: WorkspaceOpt = None, debug: DebugOpt = False,
) -> None:
    """Check out RECIPE's sources into the devtool workspace for editing (or use SRCTREE)."""
    if no_extract and srctree is None:
        raise BspError("--no-extract needs SRCTREE: the source tree to build RECIPE from")
    _devtool(["modify", *(["--no-extract"] if no_extract else []), recipe, *([str(srctree.resolve())] if srctree else [])],
             line, source, offline, workspace, debug, recipe)


@devtool_app.command("build", cls=Command)
def devtool_build(recipe: RecipeArg, line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
                  workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Build RECIPE from the devtool workspace."""
    _devtool(["build", recipe], line, source, offline, workspace, debug, recipe)


@devtool_app.command("status")
def status(line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
           workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Recipes in the devtool workspace."""
    _devtool(["status"], line, source, offline, workspace, debug)


@devtool_app.command("reset", cls=Command)
def reset(recipe: RecipeArg, line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
          workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Drop RECIPE from the devtool workspace."""
    _devtool(["reset", recipe], line, source, offline, workspace, debug, recipe)


@devtool_app.command("finish", cls=Command)
def finish(recipe: RecipeArg,
           layer: Annotated[Path | None, typer.Option("--layer", metavar="DIR", show_default=False,
                                                      help="Where to write (default meta-cmu610).")] = None,
           line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
           workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Turn RECIPE's workspace changes into patches/bbappend in a layer (meta-cmu610 by default)."""
    ws = root(workspace, debug)
    dest = (layer or ws / "meta-cmu610").resolve()
    _devtool(["finish", recipe, str(dest)], line, source, offline, ws, debug, recipe)
    print(f"devtool finish wrote {recipe}'s changes into {dest}")
