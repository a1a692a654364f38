"""`cmu610bsp ci`: generated CI pipelines (GitLab CI, GitHub Actions) for the workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from cmu610bsp.cli.common import Command, DebugOpt, WorkspaceOpt, open_ws
from cmu610bsp.cli.project import report_sync
from cmu610bsp.errors import BspError
from cmu610bsp.layout import CI_FILES


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(ci)


def ci(
    systems: Annotated[list[str] | None, typer.Argument(
        metavar="SYSTEM", show_default=False,
        help="gitlab (.gitlab-ci.yml), github (.github/workflows/cmu610bsp.yml).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Stop generating these systems' pipelines.")] = False,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="Merge even into hand-edited files whose edits are not committed (as sync).")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Generate CI pipelines: adds the systems to `ci:` in cmu610bsp.yml and syncs; they are then
    generated files like any other (sync keeps your edits; sync --check fails on drift)."""
    from cmu610bsp import ci as ci_mod
    from cmu610bsp import ui

    ws = open_ws(workspace, debug)
    names = ci_mod.systems(systems or [])
    if not names:
        if remove:
            raise BspError("--remove needs the systems to remove", hint="cmu610bsp ci --remove github")
        for system in ws.config.ci:
            ui.out.print(f"{system:8} {CI_FILES[system]}")
        if not ws.config.ci:
            ui.out.print("no CI pipelines; `cmu610bsp ci gitlab github` generates them")
        return
    with ui.status("rendering and merging"):
        result = ci_mod.change(ws, add=[] if remove else names, remove=names if remove else [], allow_dirty=allow_dirty)
    shown = ", ".join(result.after) or "none"
    ui.out.print(f"ci: {shown}" + (" (cmu610bsp.yml unchanged)" if result.after == result.before else ""))
    report_sync(result.sync)
