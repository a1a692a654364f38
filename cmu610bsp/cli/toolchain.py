"""`cmu610bsp toolchain install|check|show` and `cmu610bsp doctor`. Each imports what it runs when
it runs (cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cmu610bsp.cli.common import Command, DebugOpt, JsonOpt, WorkspaceOpt, open_ws
from cmu610bsp.errors import BspError, CheckFailed

app = typer.Typer(help="The RISC-V toolchain every consumer uses.", no_args_is_help=True)


@app.command("install", cls=Command)
def install(
    source: Annotated[Path, typer.Argument(metavar="ARCHIVE_OR_DIR", show_default=False,
                                           help="Toolchain archive (.tar.gz/.tar.xz/...) or directory.")],
    sha256: Annotated[str | None, typer.Option("--sha256", metavar="HEX", show_default=False,
                                               help="Expected SHA-256 of the archive (required for archives).")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", show_default=False, help="Name to record.")] = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Verify, extract safely into the cache, and record the toolchain in cmu610bsp.yml."""
    from cmu610bsp import toolchain, ui

    ws = open_ws(workspace, debug)
    with ui.status("installing toolchain"):
        rec = toolchain.install(ws, source, sha256, name)
    ui.out.print(f"recorded {rec.name}: {toolchain.location(rec)}/bin/{rec.prefix}gcc"
                 + (" (XuanTie: accepts -mcpu=e906)" if rec.xuantie else ""))
    ui.out.print("run `cmu610bsp sync` to feed it to the kas and Zephyr settings")


@app.command("check")
def check(as_json: JsonOpt = False, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Find the compiler, read version/target/multilibs, compile and link an RV32 program."""
    from cmu610bsp import toolchain, ui
    from cmu610bsp import workspace as ws_mod

    ws = open_ws(workspace, debug)
    hart = ws_mod.load_project(ws).soc.harts[0]
    rec, stand_in = toolchain.current(ws)
    with ui.status("compiling and linking a test program"):
        rep = toolchain.check(rec, stand_in, hart.isa, hart.abi, hart.mcpu)
    if as_json:
        ui.print_json(rep.as_dict())
    else:
        rv32 = [m.split(";")[0] for m in rep.multilibs if m.startswith("rv32")]
        rows = [("gcc", rep.gcc), ("version", rep.version), ("target", rep.target),
                ("multilibs", f"{len(rep.multilibs)} ({len(rv32)} rv32: "
                              f"{', '.join(rv32[:6])}{', ...' if len(rv32) > 6 else ''})"),
                ("CPU flag", f"-mcpu={rep.mcpu} accepted (XuanTie)" if rep.mcpu
                 else f"-mcpu=e906 not accepted: -march={hart.isa} -mabi={hart.abi}"),
                ("GCC 12 multilib trap", ("yes: link with " + " ".join(rep.link_flags)) if rep.multilib_trap else "no"),
                ("RV32 compile + link", "ok (ELF32 RISC-V)" if rep.elf_ok else "FAILED"),
                *(("problem", p) for p in rep.problems)]
        t = ui.table(f"toolchain: {rec.name}" + (" — STAND-IN, not the XuanTie toolchain" if stand_in else ""),
                     ("what", "result"), rows)
        ui.out.print(t)
    if not rep.ok:
        absent = toolchain.missing(rec)
        raise CheckFailed(f"toolchain {rec.name} failed its check: " + "; ".join(rep.problems),
                          hint=absent[1] if absent else None)


@app.command("show")
def show(as_json: JsonOpt = False, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """What the workspace uses, and where each consumer gets it."""
    from cmu610bsp import toolchain, ui

    ws = open_ws(workspace, debug)
    rec, stand_in = toolchain.current(ws)
    cons = toolchain.consumers(ws)
    where = toolchain.location(rec)
    if as_json:
        ui.print_json({"record": rec.model_dump(exclude_none=True), "stand_in": stand_in, "location": str(where),
                       "recorded_as": toolchain.recorded_as(rec), "consumers": cons})
        return
    ui.out.print(f"toolchain: {rec.name}")
    if stand_in:
        ui.out.print("  this is the stand-in (Debian's riscv64-unknown-elf GCC): install the XuanTie toolchain "
                     "with `cmu610bsp toolchain install`")
    ui.out.print(f"  recorded as: {toolchain.recorded_as(rec)}")
    ui.out.print(f"  on this machine: {where}" + ("" if toolchain.missing(rec) is None else " (not there)"))
    ui.out.print(f"  compiler: {where}/bin/{rec.prefix}gcc")
    for file, values in cons.items():
        ui.out.print(f"  {file}:")
        for k, v in values.items():
            ui.out.print(f"    {k} = {v}")
    if not cons:
        raise BspError("no generated toolchain settings found", hint="run `cmu610bsp sync`")


def doctor(as_json: JsonOpt = False, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """Host prerequisites for building and booting, with the fix for each problem."""
    from cmu610bsp import doctor as doc
    from cmu610bsp import toolchain, ui
    from cmu610bsp.config import STANDIN_TOOLCHAIN

    try:
        ws = open_ws(workspace, debug)
        rec, stand_in = toolchain.current(ws)
        where, in_workspace = ws.root, True
    except BspError:
        rec, stand_in, where, in_workspace = STANDIN_TOOLCHAIN, True, Path.cwd(), False
    why = None if stand_in else toolchain.missing(rec)
    items = doc.run(str(toolchain.location(rec)), rec.prefix, stand_in, where, why[1] if why else doc.STANDIN_FIX,
                    in_workspace)
    if as_json:
        ui.print_json({"ok": all(i.status != "fail" for i in items), "items": [i.as_dict() for i in items]})
    else:
        for i in items:
            ui.out.print(f"{i.status:5} {i.name:11} {i.detail}")
            if i.fix and i.status != "ok":
                ui.out.print(f"{'':17} fix: {i.fix}")
    failed = [i.name for i in items if i.status == "fail"]
    if failed:
        raise CheckFailed(f"missing prerequisites: {', '.join(failed)}")
