"""`cmu610bsp qemu run|smoke`: boot a board's QEMU twin with both domains' images."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from cmu610bsp import resources, ui
from cmu610bsp.errors import BspError

qemu_app = typer.Typer(help="Boot QEMU twins and smoke-test images.", no_args_is_help=True)

BoardOpt = Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board (default: the first of the workspace).")]
LineOpt = Annotated[Optional[list[str]], typer.Option("--line", "-l", help="Product line (default: the board's first).")]
ImageOpt = Annotated[Optional[list[str]], typer.Option("--image", help="cpuN=ELF: the image of hart N.")]
DeployOpt = Annotated[Optional[Path], typer.Option("--deploy", help="Directory holding the images (see docs/qemu.md).")]
WsOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory.")]


def _images(board: str, image: list[str] | None, deploy: Path | None) -> dict[int, Path]:
    if image and deploy:
        raise BspError("give either --image or --deploy, not both")
    out: dict[int, Path] = {}
    if image:
        for item in image:
            cpu, sep, path = item.partition("=")
            if not sep or not cpu.startswith("cpu") or not cpu[3:].isdigit():
                raise BspError(f"--image {item!r}: expected cpuN=PATH")
            out[int(cpu[3:])] = Path(path).resolve()
        return out
    if deploy:
        for hart in (0, 1):
            for cand in (deploy / f"{board}-qemu" / f"cpu{hart}" / "zephyr.elf", deploy / f"{board}-qemu" / f"zephyr-cpu{hart}.elf",
                         deploy / f"cpu{hart}" / "zephyr.elf", deploy / f"zephyr-cpu{hart}.elf"):
                if cand.is_file():
                    out[hart] = cand.resolve()
                    break
            else:
                raise BspError(f"--deploy {deploy}: no image for hart {hart} of {board}",
                               hint=f"expected {deploy}/{board}-qemu/cpu{hart}/zephyr.elf or {deploy}/zephyr-cpu{hart}.elf")
        return out
    raise BspError("no images: give --image cpu0=ELF --image cpu1=ELF, or --deploy DIR")


def _spec_path(ws_root: Path, board: str, line: str, spec: Path | None) -> Path:
    for cand in ([spec] if spec else []) + [ws_root / "configs/smoke" / board / f"{line}.yaml",
                                             ws_root / "configs/smoke" / f"{line}.yaml",
                                             resources.builtin_configs_dir() / "smoke" / f"{line}.yaml"]:
        if cand and cand.is_file():
            return cand
    raise BspError(f"no smoke spec for {board}/{line}", hint=f"write configs/smoke/{line}.yaml or pass --spec")


def _targets(boards: list[str] | None, lines: list[str] | None, ws_dir: Path | None):  # type: ignore[no-untyped-def]
    from cmu610bsp import workspace
    from cmu610bsp.cli import _ws

    ws = _ws(ws_dir)
    project = workspace.load_project(ws)
    known = {b.name: b for b in project.boards}
    chosen = boards or [project.boards[0].name]
    out = []
    for name in chosen:
        if name not in known:
            raise BspError(f"--board {name!r}: not a board of this workspace", hint="boards: " + ", ".join(known))
        b = known[name]
        for line in lines or [b.product_lines[0]]:
            if line not in b.product_lines:
                raise BspError(f"--line {line!r}: {name} serves {', '.join(b.product_lines)}")
            out.append((b, line))
    return ws, project, out


@qemu_app.command("run")
def run(board: BoardOpt = None, line: LineOpt = None, image: ImageOpt = None, deploy: DeployOpt = None,
        ws_dir: WsOpt = None) -> None:
    """Boot the QEMU twin with each domain's image on its hart; console on this terminal
    (Ctrl-A X quits). The tool becomes QEMU, so nothing can outlive it."""
    from cmu610bsp import qemu

    _, project, targets = _targets(board, line, ws_dir)
    b, _ = targets[0]
    images = qemu.Images(_images(b.name, image, deploy))
    argv = qemu.command(project.soc, images, Path("/dev/null"), qemu.find_binary())
    argv = [a for a in argv if not a.startswith("unix:")]
    i = argv.index("-qmp")
    del argv[i]
    argv[argv.index("-serial") + 1] = "mon:stdio"
    ui.err.print(f"booting {b.name}-qemu; Ctrl-A X quits", markup=False)
    sys.stdout.flush()
    os.execv(argv[0], argv)


@qemu_app.command("smoke")
def smoke(
    board: BoardOpt = None, line: LineOpt = None, image: ImageOpt = None, deploy: DeployOpt = None,
    spec: Annotated[Optional[Path], typer.Option("--spec", help="Smoke spec (default: configs/smoke/[<board>/]<line>.yaml).")] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write JUnit XML here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Overall deadline per run, seconds.")] = None,
    parallel: Annotated[int, typer.Option("--parallel", "-j", min=1, help="Runs at once.")] = 1,
    results: Annotated[Optional[Path], typer.Option("--results", help="Where transcripts go (default build/smoke/).")] = None,
    ws_dir: WsOpt = None,
) -> None:
    """Boot each board/line's images and check the smoke spec; exit 0 pass, 2 fail."""
    from cmu610bsp import qemu
    from cmu610bsp import smoke as sm
    from cmu610bsp.views import zephyr_name

    ws, project, targets = _targets(board, line, ws_dir)
    qemu.find_binary()
    jobs = []
    for b, ln in targets:
        values = {"board": b.name, "line": ln, "zephyr_board": zephyr_name(b.name) + "_qemu"}
        s = sm.load_spec(_spec_path(ws.root, b.name, ln, spec), values)
        out = (results or ws.root / "build" / "smoke") / f"{b.name}-{ln}"
        jobs.append((f"{b.name}/{ln}", qemu.Images(_images(b.name, image, deploy)), s, out, values))

    def one(job):  # type: ignore[no-untyped-def]
        name, images, s, out, values = job
        return sm.run(project.soc, images, s, name, out, values, timeout)

    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        with ui.status(f"smoke-testing {len(jobs)} target(s)"):
            if parallel == 1 or len(jobs) == 1:
                runs = [one(j) for j in jobs]
            else:
                with ThreadPoolExecutor(max_workers=parallel) as pool:
                    runs = list(pool.map(one, jobs))
    except KeyboardInterrupt:
        qemu.stop_all()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if junit:
        sm.junit(runs, junit)
    for r in runs:
        (r.transcript.parent / "result.json").write_text(sm.to_json([r]) + "\n") if r.transcript else None
    if as_json:
        print(sm.to_json(runs))
    else:
        t = Table(title="smoke")
        for col in ("target", "check", "result", "at s", "detail"):
            t.add_column(col)
        for r in runs:
            for c in r.cases:
                t.add_row(r.target, c.name, "pass" if c.passed else "FAIL", f"{c.seconds:.2f}", c.message)
            if r.error:
                t.add_row(r.target, "run", "ERROR", "", r.error)
        ui.out.print(t)
        for r in runs:
            ui.out.print(f"{r.target}: {'PASS' if r.passed else 'FAIL'} in {r.seconds:.2f} s, transcript {r.transcript}", markup=False)
    if not all(r.passed for r in runs):
        raise typer.Exit(2)


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
