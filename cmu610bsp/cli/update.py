"""`cmu610bsp update FLASH_IMAGE PACKAGE`: an A/B update of a flash image file (the twin's, CI's),
as the BMC will do on the chip: the package `build` deploys written into the slot the boot stage
does not fall back to, started once on trial at the next boot. Imports what it runs when it runs
(cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cmu610bsp.cli.common import Command, DebugOpt, WorkspaceOpt, set_globals


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(update)


def update(
    image: Annotated[Path, typer.Argument(metavar="FLASH_IMAGE", show_default=False,
                                          help="The flash image to update in place (flash.bin).")],
    package: Annotated[Path, typer.Argument(metavar="PACKAGE", show_default=False,
                                            help="The update package (bmc-update.pldm, deployed by `build`).")],
    manifest: Annotated[Path | None, typer.Option("--manifest", metavar="JSON", show_default=False,
                                                  help="The flash image's manifest (default: "
                                                       "flash-manifest.json beside it).")] = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write the package's BMC image into the inactive A/B slot of a flash image; the next boot
    starts it on trial, its firmware confirms it, an unconfirmed trial reverts at the reset after."""
    from cmu610bsp import layout, ui
    from cmu610bsp import update as up

    set_globals(workspace, debug)
    up.require_image(image)
    table, machine = up.read_manifest(manifest or image.parent / layout.FLASH_MANIFEST)
    pkg, content = up.package_image(table, package, machine)
    done = up.update_file(image, table, content)
    keep = next(p.name for p in table if p.domain == up.BMC and p.slot and p is not done.target.partition)
    ui.out.print(f"{done.target.partition.name}: {pkg.version} written (generation {done.generation}, "
                 f"{len(done.ops)} flash operations); the next boot starts it on trial, {keep} stays the fallback "
                 "until its firmware confirms it")
