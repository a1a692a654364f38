"""What every command shares: the global options (defined once, accepted before or after the
command's name), the workspace lookup, and the console. A leaf: it imports no command module."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from cmu610bsp import layout, txn

if TYPE_CHECKING:
    from cmu610bsp import workspace as workspace_mod


@dataclass
class Globals:
    """The global options as the command line gave them (before or after the command name)."""

    workspace: Path | None = None
    debug: bool = False


GLOBALS = Globals()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", metavar="DIR", show_default=False,
                 help="Workspace directory (default: search upwards from the current directory)."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Log every command run as `cwd$ argv`; show tracebacks.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option("--source", metavar="NAME=PATH", show_default=False,
                 help="Use a local checkout for repository NAME (repeatable)."),
]


class Command(TyperCommand):
    """A command whose help writes its arguments as click and argparse do: `LINE`, `[DIR]`,
    `[SYSTEM]...`, in the usage line and the Arguments section alike. Typer (0.29) appends each
    argument's Python type in the help (`LINE <str>`, `[SYSTEM]... <list[str]>`), braces a required
    one (`{LINE}`) and brackets and dots a metavar again (`[[SYSTEM]...]...`). Every command that
    takes an argument is registered with `cls=Command`. (ctx and formatter are click's, which
    typer vendors privately: typed Any.)"""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for p in self.get_params(ctx):
            record = p.get_help_record(ctx)
            if record is None:
                continue
            if p.param_type_name == "argument":
                args.append((_argument(p), record[1]))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _argument(p: Any) -> str:
    """An argument as a usage line writes it: NAME, [NAME] when optional, ... when repeated."""
    name = p.metavar or (p.name or "").upper()
    name = name if p.required else f"[{name}]"
    return name + ("..." if p.nargs != 1 else "")


# Options whose value may be left out (`qemu run --gdb` is `--gdb=1234`), with what it is then:
# typer's parser has no such option, so the bare option is given its value before it parses.
OPTIONAL_VALUES = {"--gdb": "1234"}


def optional_values(argv: list[str]) -> list[str]:
    """argv with each bare option of OPTIONAL_VALUES given its value: one that is last, or followed
    by another option, takes the default; `--gdb 4000` and `--gdb=4000` are left as written."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        if arg in OPTIONAL_VALUES and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            arg = f"{arg}={OPTIONAL_VALUES[arg]}"
        out.append(arg)
    return out


@contextmanager
def fresh_globals() -> Iterator[None]:
    """One command line's global options: none set when it starts, the earlier ones back when it
    ends, so a second command line in the same process never sees the first one's -w or --debug."""
    saved = GLOBALS.workspace, GLOBALS.debug
    GLOBALS.workspace, GLOBALS.debug = None, False
    try:
        yield
    finally:
        GLOBALS.workspace, GLOBALS.debug = saved


def set_globals(workspace: Path | None, debug: bool) -> None:
    """Merge one place's global options (the root's or a command's): given ones win."""
    if workspace is not None:
        GLOBALS.workspace = workspace
    if debug and not GLOBALS.debug:
        GLOBALS.debug = True
        logging.getLogger().setLevel(logging.DEBUG)


def root(workspace: Path | None = None, debug: bool = False) -> Path:
    """The workspace this command acts on (its own -w, the global one, or found upwards), after
    rolling back any write a killed command left half done."""
    from cmu610bsp.ui import err  # rich: loaded by the commands that print

    set_globals(workspace, debug)
    path = layout.workspace_root(GLOBALS.workspace)
    if txn.recover(path, list(layout.OWNED_ROOTS)):
        err.print("note: rolled back an interrupted write; the workspace is as it was before it")
    return path


def open_ws(workspace: Path | None = None, debug: bool = False) -> workspace_mod.Workspace:
    from cmu610bsp import workspace as workspace_mod  # the description's models (pydantic): not for --help

    return workspace_mod.open_workspace(root(workspace, debug))
