"""Console output: rich on a terminal, plain text otherwise, JSON when asked.

What we print is printed literally: markup, highlighting and emoji codes are off on both consoles
and table cells are `Text`, so user data such as a pattern `^[a-z]$` reaches the reader as written.
Off a terminal (a pipe, a CI log) the consoles have no width to fit: nothing is cut or wrapped.
A reader that goes away (`... | head`) ends our output, not the command (`streams.py`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Off a terminal a console is this wide: wider than any line we print, so tables keep every cell whole.
UNBOUNDED = 1 << 20


def _console(stderr: bool) -> Console:
    c = Console(stderr=stderr, markup=False, highlight=False, emoji=False, soft_wrap=True)
    if not c.is_terminal:
        c.width = UNBOUNDED
    return c


out = _console(stderr=False)
err = _console(stderr=True)


def reset() -> None:
    """New consoles for the next command line in this process (cli.run calls it): whether its
    streams are a terminal, and so their width and colours, is decided again for that call."""
    global out, err
    out, err = _console(stderr=False), _console(stderr=True)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str | Text]]) -> Table:
    """A table whose title and cells are shown literally, whatever console prints it, and whole."""
    t = Table(title=Text(title))
    for col in columns:
        t.add_column(Text(col), overflow="fold")  # on a terminal too: fold, never cut a value
    for row in rows:
        t.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return t


def status(message: str) -> AbstractContextManager[object]:
    """A spinner on a terminal; nothing when output is piped (CI logs stay clean)."""
    if err.is_terminal:
        return err.status(Text(message))
    return nullcontext()


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
