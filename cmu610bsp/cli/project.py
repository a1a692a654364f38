"""Commands on the description and what it renders: init, generate, sync, check, board show. Each
imports what it runs when it runs (cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cmu610bsp import layout
from cmu610bsp.cli.common import Command, DebugOpt, JsonOpt, WorkspaceOpt, open_ws, set_globals
from cmu610bsp.errors import BspError, CheckFailed, listing

if TYPE_CHECKING:
    from cmu610bsp import sync as sync_mod

board_app = typer.Typer(help="Inspect board descriptions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(init)
    app.command()(generate)
    app.command()(sync)
    app.command()(check)
    app.add_typer(board_app, name="board")


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", show_default=False,
                                              help="Where to create the workspace.")] = Path("."),
    board: Annotated[str | None, typer.Option("--board", "-b", metavar="FILE|NAME", show_default=False,
                                              help="Board description file, or the name of a built-in board.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Create the workspace in a non-empty directory (nothing there is overwritten or committed).")] = False,
    debug: DebugOpt = False,
) -> None:
    """Create a workspace: description files, generated BSP, and a git repository with a first commit."""
    from cmu610bsp import init as init_mod
    from cmu610bsp import ui

    set_globals(None, debug)
    with ui.status("creating workspace"):
        result = init_mod.init(directory, board, force=force)
    ui.out.print(f"Created workspace {result.root} for board {result.board} ({result.files} generated files).")
    if result.committed:
        ui.out.print(f"git: first commit {result.committed[:12]}")
    else:
        ui.out.print("git: the directory is inside an existing repository; commit the new files yourself.")


def generate(
    force: Annotated[bool, typer.Option("--force", help="Overwrite files edited by hand.")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Render everything from the description, atomically; refuses to overwrite hand edits."""
    from cmu610bsp import generate as generate_mod
    from cmu610bsp import ui

    ws = open_ws(workspace, debug)
    with ui.status("generating"):
        result = generate_mod.generate(ws, force=force)
    files = {p: v for p, v in result.changes.items() if p != layout.MANIFEST}
    written = sum(1 for v in files.values() if v is not None)
    deleted = sum(1 for v in files.values() if v is None)
    ui.out.print(f"{written} written, {deleted} deleted, {result.unchanged} unchanged")
    for p in sorted(result.edited + result.untracked):
        ui.out.print(f"overwritten: {p} (what it held is kept in {result.backup}/{p})")
    for p in result.kept:
        ui.out.print(f"kept (keep: glob): {p}")
    for p in result.stale_kept:
        ui.out.print(f"no longer generated, kept because it was edited: {p}")


def sync(
    check_only: Annotated[bool, typer.Option(
        "--check", help="Change nothing; exit 2 with a diff on drift, or naming files with conflict markers.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would change, file by file, and which hand edits a real run keeps.")] = False,
    as_json: JsonOpt = False,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="Merge even into hand-edited files whose edits are not committed.")] = False,
    do_commit: Annotated[bool, typer.Option("--commit", help="Commit the result, naming the generator version.")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Re-render and merge into the workspace three ways: hand edits survive, overlaps conflict."""
    from cmu610bsp import sync as sync_mod
    from cmu610bsp import ui

    ws = open_ws(workspace, debug)
    mode: sync_mod.Mode = "check" if check_only else "dry-run" if dry_run else "sync"
    with ui.status("rendering and merging"):
        result = sync_mod.run(ws, mode, allow_dirty=allow_dirty, commit=do_commit)
    report_sync(result, as_json)


def report_sync(result: sync_mod.SyncResult, as_json: bool = False) -> None:
    """Print a sync's outcome (text, or `sync --json`'s object) and exit as it stands for."""
    from cmu610bsp import sync as sync_mod
    from cmu610bsp import ui

    mode = result.mode
    if as_json:
        ui.print_json(result.as_json())
        sync_mod.verdict(result)
        return
    for a in result.plan.changes:
        note = {"merge": "  (your edit is kept)", "conflict": "  (your edit overlaps the new render)"}
        ui.out.print(f"{a.action:12} {a.path}{note.get(a.action, '') if a.edited else ''}")
        if mode == "check":
            ui.out.print(a.diff(), end="")
    if result.manifest_changed and mode != "sync":
        ui.out.print(f"{'update':12} {layout.MANIFEST}")
    for p in result.unresolved:
        ui.out.print(f"{'unresolved':12} {p}  (conflict markers left)")
    kept = {"kept": "nothing new for it, kept as you edited it",
            "no-longer-generated": "no longer generated, kept because you edited it"}
    for a in result.plan.edited:
        if a.outcome in kept:
            ui.out.print(f"{kept[a.outcome]}: {a.path}")
    if mode == "sync":
        counts: dict[str, int] = {}
        for a in result.plan.changes:
            counts[a.action] = counts.get(a.action, 0) + 1
        ui.out.print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "already in sync")
    else:
        left = f", {len(result.unresolved)} with conflict markers" if result.unresolved else ""
        ui.out.print("in sync" if result.clean else f"{len(result.plan.changes)} file(s) would change{left}")
    sync_mod.verdict(result)
    if result.committed is not None:
        ui.out.print(f"git: committed {result.committed[:12]}" if result.committed else "git: nothing to commit")


def check(as_json: JsonOpt = False, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """The description's rules, then every generated file against its real consumer."""
    from cmu610bsp import checks, ui
    from cmu610bsp import workspace as ws_mod

    ws = open_ws(workspace, debug)
    results: list[checks.CheckResult] = []
    try:
        ws_mod.load_project(ws)
        results.append(checks.CheckResult("model", "ok", detail="description is valid"))
    except BspError as e:
        results.append(checks.CheckResult("model", "failed", e.findings or [], e.message))
    for name, fn in checks.ALL.items():
        with ui.status(f"check {name}"):
            results.append(fn(ws))
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        ui.print_json({"ok": not failed, "checks": [r.as_dict() for r in results]})
    else:
        for r in results:
            ui.out.print(f"{r.status:8} {r.name:16} {r.detail}")
            for line in listing(r.findings, " " * 9):
                ui.out.print(line)
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(results)} checks failed: {', '.join(r.name for r in failed)}")


@board_app.command("show", cls=Command)
def board_show(
    name: Annotated[str | None, typer.Argument(metavar="NAME", show_default=False,
                                               help="Board name (default: every board).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The validated model as JSON.")] = False,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Tables of the model: domains, memory map, partitions, sensors, fans, GPIO lines."""
    from cmu610bsp import show, ui
    from cmu610bsp import workspace as ws_mod

    project = ws_mod.load_project(open_ws(workspace, debug))
    boards = [b for b in project.boards if name in (None, b.name)]
    if not boards:
        raise BspError(f"no board named {name!r} in this workspace",
                       hint="boards: " + ", ".join(b.name for b in project.boards))
    if as_json:
        ui.print_json({"soc": project.soc.model_dump(), "boards": [b.model_dump() for b in boards]})
        return
    for b in boards:
        show.print_board(ui.out, project, b)
