"""The command line: one typer tree. Each command imports the modules it calls when it runs (west's
pattern: start-up, `--help` included, loads none of them; the imports inside the command functions of
cli/ are these); the work is done by the plain modules under it, which the CLI only calls and
prints. `main` is the program's edge: every outcome becomes a published exit code, in one place
(0 ok, 1 internal error, traceback only with --debug, 2 user error or failed check, 124 timeout,
130 interrupted)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer

from cmu610bsp import __version__, txn
from cmu610bsp.cli import build, ci, common, firmware, keys, project, qemu, toolchain, update
from cmu610bsp.cli.common import DebugOpt, WorkspaceOpt
from cmu610bsp.errors import BspError
from cmu610bsp.streams import closed_pipe_guard

app = typer.Typer(
    name="cmu610bsp",
    help="Board support for CMU610 RISC-V BMCs: one board description in, a consistent BSP out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
project.register(app)
build.register(app)
ci.register(app)
firmware.register(app)
update.register(app)
app.add_typer(qemu.app, name="qemu")
app.command("debug")(qemu.debug_command)
app.add_typer(toolchain.app, name="toolchain")
app.add_typer(keys.app, name="keys")
app.command()(toolchain.doctor)


def _version(value: bool) -> None:
    if value:
        print(f"cmu610bsp {__version__}")
        raise typer.Exit()


@app.callback()
def _globals(
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Global options; every command accepts -w/--workspace and --debug after its name too."""
    common.set_globals(workspace, debug)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM is handled like Ctrl-C: every command cleans up (children stopped, half-done
    writes rolled back) on the way out, and the exit code is 130."""
    raise KeyboardInterrupt


def run(argv: list[str]) -> int:
    """Run one command line; returns its exit code (what `main` exits with). A reader that closes
    our output early (`| head`) does not change it (streams.py)."""
    with closed_pipe_guard():
        return _outcome(argv)


def _outcome(argv: list[str]) -> int:
    """An interrupt that comes after a write was committed is held until the command has
    finished (`txn`): the command then says so and exits with its own code, never "interrupted"
    over a done write."""
    with _process_state(), txn.finish_after_commit() as held:
        rc = _run(argv)
    if held:
        print(f"note: {' and '.join(held)} came after the changes were committed; the command finished",
              file=sys.stderr)
    return rc


@contextmanager
def _process_state() -> Iterator[None]:
    """What a command line sets for the whole process, set for this call and put back after it, so
    that `run` can be called again in one process (the tests do) and no call sees another's:
    the global options, log records on this call's stderr (WARNING, or DEBUG with --debug),
    SIGTERM handled like Ctrl-C, and consoles fitted to this call's streams."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    on_term = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    if "cmu610bsp.ui" in sys.modules:  # rich is imported by the commands that print, not here
        from cmu610bsp import ui

        ui.reset()
    try:
        with common.fresh_globals():
            yield
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if on_term is None else on_term)
        root.removeHandler(handler)
        root.setLevel(level)


def _run(argv: list[str]) -> int:
    try:
        try:
            rc = typer.main.get_command(app).main(args=common.optional_values(argv), prog_name="cmu610bsp",
                                                  standalone_mode=False)
        except typer.Exit as e:
            rc = e.exit_code
        except typer.Abort:
            raise KeyboardInterrupt from None
        except typer.TyperException as e:  # a usage error (exit 2), shown by click as click shows it
            show = getattr(e, "show", None)
            if show is None:
                raise
            show()
            rc = int(getattr(e, "exit_code", 2))
        rc = rc if isinstance(rc, int) else 0
    except BspError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        rc = 130
    except Exception as e:  # noqa: BLE001 - the edge of the program
        if common.GLOBALS.debug:
            traceback.print_exc()
        else:
            print(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    if rc == 130:  # Ctrl-C or SIGTERM, raised or turned into an exit code on the way (typer does)
        print("interrupted", file=sys.stderr)
    return rc


def main() -> NoReturn:
    sys.exit(run(sys.argv[1:]))

