"""`cmu610bsp config`: the firmware's Kconfig settings, with Zephyr's menuconfig or --set, written
back into the description (fwconfig.py). Imports what it runs when it runs (cli/__init__.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cmu610bsp.cli.common import Command, DebugOpt, WorkspaceOpt, open_ws
from cmu610bsp.cli.project import report_sync


def register(app: typer.Typer) -> None:
    app.command("config", cls=Command)(config)


def config(
    line: Annotated[str, typer.Argument(metavar="LINE", show_default=False, help="Product line.")],
    domain: Annotated[str, typer.Option("--domain", metavar="bmc|secure",
                                        help="The BMC firmware (hart 1, the line's settings) or the secure firmware "
                                             "(hart 0, the workspace's settings).")] = "bmc",
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="CONFIG_X=VALUE", show_default=False,
                                                   help="Set an option instead of running menuconfig (repeatable).")] = None,
    board: Annotated[str | None, typer.Option(
        "--board", "-b", metavar="BOARD", show_default=False,
        help="The board whose configuration to start from (default: the line's first).")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", metavar="NAME=PATH", show_default=False,
        help="zephyr=DIR (default: $ZEPHYR_BASE, else the last build's), and the checkouts of the OpenBMC "
             "components the firmware takes (libpldm=DIR, libmctp=DIR; default: the last build's), as `build` "
             "takes them (repeatable).")] = None,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="Merge even into hand-edited files whose edits are not committed (as sync).")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Configure the firmware: Zephyr's menuconfig on the line's configuration (or --set), then
    only the difference from the defaults written into the description (firmware.kconfig of
    configs/products/LINE.yaml; --domain secure: secure_firmware.kconfig of cmu610bsp.yml) and synced."""
    from cmu610bsp import fwconfig, ui
    from cmu610bsp.firmware import kconfig_lines
    from cmu610bsp.kasbuild.compose import parse_sources

    ws = open_ws(workspace, debug)
    result = fwconfig.run(ws, line, domain, board, set_ or [], parse_sources(source), allow_dirty)
    where = "secure_firmware.kconfig" if domain == "secure" else "firmware.kconfig"
    before, after = (dict(line.split("=", 1) for line in kconfig_lines(v)) for v in (result.before, result.after))
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            change = f"{old} -> {new}" if old is not None and new is not None else f"{new} (new)" if new else "removed"
            ui.out.print(f"{result.path}: {where}: {name}: {change}")
    if result.sync is None:
        ui.out.print(f"{result.path}: {where} unchanged")
    if not result.checked:
        ui.err.print("note: no Zephyr tree: the values were written as given, checked by the description's rules only; "
                     "give --source zephyr=DIR or ZEPHYR_BASE to check them against Kconfig and keep only what differs "
                     "from the defaults")
    for name in result.unmet:
        ui.err.print(f"warning: {name} cannot be set from the description (another fragment sets it)")
    if result.sync is not None:
        report_sync(result.sync)
