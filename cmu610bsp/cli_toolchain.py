"""`cmu610bsp toolchain ...` and `cmu610bsp doctor`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from cmu610bsp import ui
from cmu610bsp.errors import BspError

toolchain_app = typer.Typer(help="The RISC-V toolchain every consumer uses.", no_args_is_help=True)

WsOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _workspace(path: Path | None):  # type: ignore[no-untyped-def]
    from cmu610bsp.cli import _ws

    return _ws(path)


@toolchain_app.command("install")
def install(
    source: Annotated[Path, typer.Argument(help="Toolchain archive (.tar.gz/.tar.xz/...) or directory.")],
    sha256: Annotated[Optional[str], typer.Option("--sha256", help="Expected SHA-256 of the archive (required for archives).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Name to record.")] = None,
    ws_dir: WsOpt = None,
) -> None:
    """Verify, extract safely into the cache, and record the toolchain in cmu610bsp.yml."""
    from cmu610bsp import toolchain

    ws = _workspace(ws_dir)
    with ui.status("installing toolchain"):
        rec = toolchain.install(ws, source, sha256, name)
    ui.out.print(f"recorded {rec.name}: {rec.path}/bin/{rec.prefix}gcc"
                 + (" (XuanTie: accepts -mcpu=e906)" if rec.xuantie else ""), markup=False)
    ui.out.print("run `cmu610bsp sync` to feed it to the kas and Zephyr settings", markup=False)


@toolchain_app.command("check")
def check(ws_dir: WsOpt = None, as_json: JsonOpt = False) -> None:
    """Find the compiler, read version/target/multilibs, compile and link an RV32 program."""
    from cmu610bsp import toolchain, workspace

    ws = _workspace(ws_dir)
    project = workspace.load_project(ws)
    hart = project.soc.harts[0]
    rec, stand_in = toolchain.current(ws)
    with ui.status("compiling and linking a test program"):
        rep = toolchain.check(rec, stand_in, hart.isa, hart.abi, hart.mcpu)
    if as_json:
        ui.print_json(rep.as_dict())
    else:
        t = Table(title=f"toolchain: {rec.name}" + (" — STAND-IN, not the XuanTie toolchain" if stand_in else ""))
        t.add_column("what")
        t.add_column("result")
        t.add_row("gcc", rep.gcc)
        t.add_row("version", rep.version)
        t.add_row("target", rep.target)
        rv32 = [m.split(";")[0] for m in rep.multilibs if m.startswith("rv32")]
        t.add_row("multilibs", f"{len(rep.multilibs)} ({len(rv32)} rv32: {', '.join(rv32[:6])}{', ...' if len(rv32) > 6 else ''})")
        t.add_row("CPU flag", f"-mcpu={rep.mcpu} accepted (XuanTie)" if rep.mcpu else f"-mcpu=e906 not accepted: -march={hart.isa} -mabi={hart.abi}")
        t.add_row("GCC 12 multilib trap", ("yes: link with " + " ".join(rep.link_flags)) if rep.multilib_trap else "no")
        t.add_row("RV32 compile + link", "ok (ELF32 RISC-V)" if rep.elf_ok else "FAILED")
        for p in rep.problems:
            t.add_row("problem", p)
        ui.out.print(t)
    if not rep.ok:
        raise typer.Exit(2)


@toolchain_app.command("show")
def show(ws_dir: WsOpt = None, as_json: JsonOpt = False) -> None:
    """What the workspace uses, and where each consumer gets it."""
    from cmu610bsp import toolchain

    ws = _workspace(ws_dir)
    rec, stand_in = toolchain.current(ws)
    cons = toolchain.consumers(ws)
    if as_json:
        ui.print_json({"record": rec.model_dump(), "stand_in": stand_in, "consumers": cons})
        return
    ui.out.print(f"toolchain: {rec.name}", markup=False)
    if stand_in:
        ui.out.print("  this is the stand-in (Debian's riscv64-unknown-elf GCC): install the XuanTie toolchain with `cmu610bsp toolchain install`", markup=False)
    ui.out.print(f"  compiler: {rec.path}/bin/{rec.prefix}gcc", markup=False)
    for where, values in cons.items():
        ui.out.print(f"  {where}:", markup=False)
        for k, v in values.items():
            ui.out.print(f"    {k} = {v}", markup=False)
    if not cons:
        raise BspError("no generated toolchain settings found", hint="run `cmu610bsp sync`")


def doctor(ws_dir: WsOpt = None, as_json: JsonOpt = False) -> None:
    """Host prerequisites for building and booting, with the fix for each problem."""
    from cmu610bsp import doctor as doc
    from cmu610bsp import toolchain, workspace

    try:
        ws = _workspace(ws_dir)
        rec, stand_in = toolchain.current(ws)
        where = ws.root
    except BspError:
        rec, stand_in, where = workspace.STANDIN_TOOLCHAIN, True, Path.cwd()
    items = doc.run(rec.path, rec.prefix, stand_in, where)
    if as_json:
        ui.print_json({"ok": all(i.status != "fail" for i in items), "items": [i.as_dict() for i in items]})
    else:
        for i in items:
            ui.out.print(f"{i.status:5} {i.name:11} {i.detail}", markup=False)
            if i.fix and i.status != "ok":
                ui.out.print(f"{'':17} fix: {i.fix}", markup=False)
    if any(i.status == "fail" for i in items):
        raise typer.Exit(2)
