"""The command line: a thin layer over the modules. User errors exit 2, internal errors 1
(traceback only with --debug), Ctrl-C 130."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cmu610bsp import __version__, ui
from cmu610bsp.errors import BspError, Finding

if TYPE_CHECKING:
    from cmu610bsp import workspace

app = typer.Typer(
    name="cmu610bsp",
    help="Board support for CMU610 RISC-V BMCs: one board description in, a consistent BSP out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
board_app = typer.Typer(help="Inspect board descriptions.", no_args_is_help=True)
app.add_typer(board_app, name="board")


def _register() -> None:
    """Command groups that live in their own modules."""
    from cmu610bsp.cli_kas import cache_app, devtool_app, lock
    from cmu610bsp.cli_qemu import qemu_app
    from cmu610bsp.cli_toolchain import doctor, toolchain_app

    app.add_typer(toolchain_app, name="toolchain")
    app.add_typer(qemu_app, name="qemu")
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                add_help_option=False, help=_build_help())(build)
    app.command()(lock)
    app.add_typer(cache_app, name="cache")
    app.add_typer(devtool_app, name="devtool")
    app.command()(doctor)


def _build_help() -> str:
    from cmu610bsp.cli_build import HELP

    return HELP + " Options: cmu610bsp build --help."


def build(ctx: typer.Context) -> None:
    """`cmu610bsp.main` sends `build` to cli_build before this app is built; this entry lists it
    in the help and serves any other way in."""
    from cmu610bsp import cli_build

    raise typer.Exit(cli_build.main(list(ctx.args)))


_state: dict[str, object] = {"debug": False, "workspace": None}

WorkspaceOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory (default: search upwards from the current directory).")]


def _version(value: bool) -> None:
    if value:
        print(f"cmu610bsp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and every command run.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(message)s")


def _ws(path: Path | None) -> workspace.Workspace:
    """The workspace to act on, with any write a killed command left half done rolled back."""
    from cmu610bsp import layout, workspace

    root, rolled_back = layout.workspace_root(path)
    if rolled_back:
        ui.err.print("note: rolled back an interrupted write; the workspace is as it was before it")
    return workspace.open_workspace(root)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path("."),
    board: Annotated[Optional[str], typer.Option("--board", "-b", help="Board description file, or the name of a built-in board.")] = None,
) -> None:
    """Create a workspace: description files, generated BSP, and a git repository with a first commit."""
    from cmu610bsp import init as init_mod

    with ui.status("creating workspace"):
        result = init_mod.init(directory, board)
    ui.out.print(f"Created workspace {result.root} for board {result.board} ({result.files} generated files).")
    if result.committed:
        ui.out.print(f"git: first commit {result.committed[:12]}")
    else:
        ui.out.print("git: the directory is inside an existing repository; commit the new files yourself.")


@app.command()
def generate(
    ws_dir: WorkspaceOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files edited by hand.")] = False,
) -> None:
    """Render everything from the description, atomically; refuses to overwrite hand edits."""
    from cmu610bsp import workspace

    ws = _ws(ws_dir)
    with ui.status("generating"):
        plan = workspace.generate(ws, force=force)
    files = {p: v for p, v in plan.changes.items() if p != workspace.MANIFEST}
    written = sum(1 for v in files.values() if v is not None)
    deleted = sum(1 for v in files.values() if v is None)
    ui.out.print(f"{written} written, {deleted} deleted, {plan.unchanged} unchanged")
    for p in plan.kept:
        ui.out.print(f"kept (keep: glob): {p}")
    for p in plan.stale_kept:
        ui.out.print(f"no longer generated, kept because it was edited: {p}")


@app.command()
def sync(
    ws_dir: WorkspaceOpt = None,
    check_only: Annotated[bool, typer.Option("--check", help="Change nothing; exit 2 and show a diff if sync would change anything.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change, file by file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result on stdout.")] = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="Run even if the git tree has uncommitted changes.")] = False,
    do_commit: Annotated[bool, typer.Option("--commit", help="Commit the result, naming the generator version.")] = False,
) -> None:
    """Re-render and merge into the workspace three ways: hand edits survive, overlaps conflict."""
    from cmu610bsp import sync as sync_mod
    from cmu610bsp import workspace

    ws = _ws(ws_dir)
    if not (check_only or dry_run):
        sync_mod.refuse_if_unresolved(ws)
        if not allow_dirty:
            sync_mod.refuse_if_dirty(ws)
    with ui.status("rendering and merging"):
        plan = sync_mod.compute(ws)
    changes = plan.changes
    manifest_changed = not (ws.root / workspace.MANIFEST).exists() or (ws.root / workspace.MANIFEST).read_bytes() != plan.manifest
    if check_only or dry_run:
        drift = bool(changes) or manifest_changed
        if as_json:
            ui.print_json({"clean": not drift, "manifest_changed": manifest_changed,
                           "files": [{"path": a.path, "action": a.action, "diff": a.diff() if check_only else None} for a in changes]})
        else:
            for a in changes:
                ui.out.print(f"{a.action:12} {a.path}", markup=False)
                if check_only:
                    ui.out.print(a.diff(), markup=False, end="")
            if manifest_changed:
                ui.out.print(f"{'update':12} {workspace.MANIFEST}", markup=False)
            ui.out.print("in sync" if not drift else f"{len(changes)} file(s) would change", markup=False)
        if check_only and drift:
            raise typer.Exit(2)
        return
    sync_mod.apply(ws, plan)
    counts: dict[str, int] = {}
    for a in changes:
        counts[a.action] = counts.get(a.action, 0) + 1
    kept = [a.path for a in plan.actions if a.action == "keep-edited"]
    if as_json:
        ui.print_json({"changes": [{"path": a.path, "action": a.action} for a in changes],
                       "conflicts": plan.conflicts, "kept_edited": kept})
    else:
        ui.out.print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "already in sync")
        for p in kept:
            ui.out.print(f"no longer generated, kept because you edited it: {p}", markup=False)
    if plan.conflicts:
        raise BspError("sync merged your edits but some overlap the new render",
                       [Finding(p, "content", "conflict: resolve the marked blocks") for p in plan.conflicts],
                       hint="edit the files, then run `cmu610bsp sync` again")
    if do_commit:
        sha = sync_mod.commit(ws)
        ui.out.print(f"git: committed {sha[:12]}" if sha else "git: nothing to commit")


@app.command()
def check(
    ws_dir: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable results on stdout.")] = False,
) -> None:
    """Semantic checks of the description, then every real-consumer check that can run here."""
    from cmu610bsp import checks, checks_layer, workspace

    ws = _ws(ws_dir)
    results: list[checks.CheckResult] = []
    try:
        workspace.load_project(ws)
        results.append(checks.CheckResult("model", "ok", detail="description is valid"))
    except BspError as e:
        results.append(checks.CheckResult("model", "failed", e.findings or [], e.message))
    for name, fn in {**checks.CHECKS, **checks_layer.CHECKS}.items():
        with ui.status(f"check {name}"):
            results.append(fn(ws))
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        ui.print_json({"ok": not failed, "checks": [r.as_dict() for r in results]})
    else:
        for r in results:
            ui.out.print(f"{r.status:8} {r.name:16} {r.detail}")
            for f in r.findings:
                ui.out.print(f"         {f}")
    if failed:
        raise typer.Exit(2)


@board_app.command("show")
def board_show(
    name: Annotated[Optional[str], typer.Argument(help="Board name (default: every board).")] = None,
    ws_dir: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The validated model as JSON.")] = False,
) -> None:
    """Tables of the model: domains, memory map, partitions, sensors, fans, GPIO lines."""
    from cmu610bsp import show, workspace

    project = workspace.load_project(_ws(ws_dir))
    boards = [b for b in project.boards if name in (None, b.name)]
    if not boards:
        raise BspError(f"no board named {name!r} in this workspace",
                       hint="boards: " + ", ".join(b.name for b in project.boards))
    if as_json:
        ui.print_json({"soc": project.soc.model_dump(), "boards": [b.model_dump() for b in boards]})
        return
    for b in boards:
        show.print_board(ui.out, project, b)


def _is_usage_error(e: BaseException) -> bool:
    """Click's usage errors (typer may vendor its own click, so match by shape, not class)."""
    return callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int)


def debugging() -> bool:
    return bool(_state["debug"])


def run(argv: list[str]) -> int:
    """Run the typer app on argv; its own ways of ending (Exit, Abort, usage errors) become exit
    codes here, the rest is for `main.edge`."""
    _register()
    command = typer.main.get_command(app)
    try:
        rc = command.main(args=argv, prog_name="cmu610bsp", standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        raise KeyboardInterrupt from None
    except Exception as e:  # noqa: BLE001 - click's usage errors, by shape
        if not _is_usage_error(e):
            raise
        e.show()  # type: ignore[attr-defined]
        return 2
    return rc if isinstance(rc, int) else 0  # typer turns Ctrl-C into 130 when not standalone


def main() -> None:
    """Entry point (kept for `cmu610bsp.cli:main` callers): the same as `cmu610bsp.main.main`."""
    from cmu610bsp.main import main as entry

    entry()
