"""`cmu610bsp qemu run|smoke`: boot a board's QEMU twin with both domains' images. Each command
imports what it runs when it runs (cli/__init__.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmu610bsp import layout
from cmu610bsp.cli.common import OPTIONAL_VALUES, DebugOpt, WorkspaceOpt, open_ws
from cmu610bsp.errors import BspError, CheckFailed
from cmu610bsp.names import board_of, machine_name

if TYPE_CHECKING:
    from cmu610bsp import qemu, workspace
    from cmu610bsp.model import Board
    from cmu610bsp.project import Project

app = typer.Typer(help="Boot QEMU twins and smoke-test images.", no_args_is_help=True)

BoardOpt = Annotated[list[str] | None, typer.Option("--board", "-b", metavar="BOARD", show_default=False,
                                                    help="Board (default: the first of the workspace; repeatable).")]
LineOpt = Annotated[list[str] | None, typer.Option("--line", "-l", metavar="LINE", show_default=False,
                                                   help="Product line (default: the board's first; repeatable).")]
ImageOpt = Annotated[list[str] | None, typer.Option("--image", metavar="cpuN=ELF", show_default=False,
                                                    help="The image of hart N (repeatable; default: the "
                                                         "flash image of the last build).")]
DeployOpt = Annotated[Path | None, typer.Option("--deploy", metavar="DIR", show_default=False,
                                                help="Directory holding the images (see docs/qemu.md).")]


def _targets(boards: list[str] | None, lines: list[str] | None, ws_dir: Path | None,
             debug: bool, last_build: bool) -> tuple[workspace.Workspace, Project, list[tuple[Board, str]]]:
    """(board, line) pairs to boot. Without --line: the board's first line, or, when the images
    are the last build's, the line built last for the board's twin."""
    from cmu610bsp import smoke_jobs, workspace

    ws = open_ws(ws_dir, debug)
    project = workspace.load_project(ws)
    known = {b.name: b for b in project.boards}
    out: list[tuple[Board, str]] = []
    for name in boards or [project.boards[0].name]:
        name = board_of(name) if board_of(name) in known else name
        if name not in known:
            raise BspError(f"--board {name!r}: not a board of this workspace", hint="boards: " + ", ".join(known))
        b = known[name]
        chosen = lines or [smoke_jobs.latest_line(ws.root, name, tuple(b.product_lines)) if last_build
                           else b.product_lines[0]]
        for line in chosen:
            if line not in b.product_lines:
                raise BspError(f"--line {line!r}: {name} serves {', '.join(b.product_lines)}")
            out.append((b, line))
    return ws, project, out


def _images(root: Path, board: str, line: str, harts: int, image: list[str] | None,
            deploy: Path | None) -> qemu.Images:
    """--image/--deploy ELFs (quick iteration), else the flash image of the line's last build."""
    from cmu610bsp import qemu, smoke_jobs

    if image or deploy:
        return qemu.images_for(board, harts, image, deploy)
    return smoke_jobs.last_flash(root, line, board)


# `--gdb` alone means this port (cli/common.py: OPTIONAL_VALUES): QEMU's own default, as `-s`
GDB_PORT = int(OPTIONAL_VALUES["--gdb"])


@app.command("run")
def run(board: BoardOpt = None, line: LineOpt = None, image: ImageOpt = None, deploy: DeployOpt = None,
        gdb: Annotated[int | None, typer.Option(
            "--gdb", metavar="[PORT]", show_default=False,
            help=f"Start halted, with QEMU's gdb stub on 127.0.0.1:PORT (--gdb alone: {GDB_PORT}).")] = None,
        workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Boot the QEMU twin: the flash image of the line's last build (pflash), or each domain's ELF
    on its hart (--image/--deploy); console on this terminal (Ctrl-A X quits QEMU)."""
    from cmu610bsp import debug as debugger
    from cmu610bsp import proc, qemu, ui

    ws, project, targets = _targets(board, line, workspace, debug, not (image or deploy))
    b, ln = targets[0]
    images = _images(ws.root, b.name, ln, len(project.soc.harts), image, deploy)
    stub = debugger.tcp_stub(gdb) if gdb is not None else None
    argv = qemu.command(project.soc, images, Path("/dev/null"), qemu.find_binary(), stub)
    i = argv.index("-qmp")
    del argv[i:i + 2]
    argv[argv.index("-serial") + 1] = "mon:stdio"
    what = f"the flash image of the last {ln} build" if images.flash else "the given images"
    ui.err.print(f"booting {machine_name(b.name, True)} with {what}; Ctrl-A X quits")
    if stub:
        ui.err.print(f"halted: gdb stub on 127.0.0.1:{gdb} (`target remote :{gdb}`; thread N+1 is hart N), "
                     f"or `cmu610bsp debug` for both harts with their symbols")
    rc = proc.interactive(argv)
    if rc:
        raise BspError(f"QEMU exited with {rc}")


@app.command("smoke")
def smoke(
    board: BoardOpt = None, line: LineOpt = None, image: ImageOpt = None, deploy: DeployOpt = None,
    spec: Annotated[Path | None, typer.Option("--spec", metavar="FILE", show_default=False,
                                              help="Smoke spec (default: configs/smoke/[<board>/]<line>.yaml, "
                                                   "else the generated one).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE", show_default=False,
                                               help="Write JUnit XML here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", show_default=False,
                                                  help="Overall deadline per run.")] = None,
    parallel: Annotated[int, typer.Option("--parallel", "-j", min=1, metavar="N", help="Runs at once.")] = 1,
    results: Annotated[Path | None, typer.Option("--results", metavar="DIR", show_default=False,
                                                 help="Where transcripts go (default build/smoke/).")] = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Boot each board/line's images and check the smoke spec; exit 0 pass, 2 fail. Without
    --image/--deploy: the flash image of the line's last build for the board's twin."""
    from cmu610bsp import qemu, smoke_jobs, ui
    from cmu610bsp import smoke as sm

    ws, project, targets = _targets(board, line, workspace, debug, not (image or deploy))
    qemu.find_binary()
    harts = len(project.soc.harts)
    jobs = [smoke_jobs.job(ws.root, b.name, ln, partial(_images, ws.root, b.name, ln, harts, image, deploy),
                           results / f"{b.name}-{ln}" if results else layout.smoke_results(ws.root, b.name, ln), spec)
            for b, ln in targets]
    with ui.status(f"smoke-testing {len(jobs)} target(s)"):
        runs = smoke_jobs.run_all(project.soc, jobs, timeout, parallel)
    if junit:
        sm.junit(runs, junit)
    if as_json:
        print(sm.to_json(runs))
    else:
        rows = [[r.target, c.name, "pass" if c.passed else "FAIL", f"{c.seconds:.2f}", c.message] for r in runs for c in r.cases]
        rows += [[r.target, "run", "ERROR", "", r.error] for r in runs if r.error]
        ui.out.print(ui.table("smoke", ("target", "check", "result", "at s", "detail"), rows))
        for r in runs:
            ui.out.print(f"{r.target}: {'PASS' if r.passed else 'FAIL'} in {r.seconds:.2f} s, transcript {r.transcript}")
    failed = [r.target for r in runs if not r.passed]
    if failed:
        raise CheckFailed(f"smoke failed: {', '.join(failed)}")


def debug_command(
    board: Annotated[str | None, typer.Option("--board", "-b", metavar="BOARD", show_default=False,
                                              help="Board (default: the first of the workspace).")] = None,
    line: Annotated[str | None, typer.Option("--line", "-l", metavar="LINE", show_default=False,
                                             help="Product line (default: the one built last).")] = None,
    image: ImageOpt = None, deploy: DeployOpt = None,
    batch: Annotated[Path | None, typer.Option("--batch", metavar="FILE", show_default=False,
                                               help="Run gdb's commands from FILE and exit (gdb -batch -x FILE).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", show_default=False,
                                                  help="With --batch: stop the session after this long.")] = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Debug both harts: the QEMU twin started halted and gdb-multiarch attached to it, each hart a
    thread (thread N+1 is hart N), both firmwares' symbols loaded from the last build (or the
    --image ELFs). Ctrl-C is gdb's; quitting gdb stops QEMU."""
    from cmu610bsp import debug as debugger
    from cmu610bsp import ui

    last = not (image or deploy)
    ws, project, targets = _targets([board] if board else None, [line] if line else None, workspace, debug, last)
    b, ln = targets[0]
    harts = len(project.soc.harts)
    debugger.find_gdb()
    images = _images(ws.root, b.name, ln, harts, image, deploy)
    symbols = (debugger.deployed_symbols(images.flash.parent, harts) if images.flash
               else debugger.image_symbols(images))
    transcript = layout.debug_console(ws.root, b.name, ln)
    what = f"the flash image of the last {ln} build" if images.flash else "the given images"
    ui.err.print(f"debugging {machine_name(b.name, True)} with {what}; console: {transcript}")
    ui.err.print(debugger.banner(symbols, harts))
    debugger.session(project.soc, images, symbols, transcript, batch, timeout, lambda text: print(text, flush=True))
