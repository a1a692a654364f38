"""The process's standard streams when the reader of a pipe goes away (`cmu610bsp ... | head`,
`... | true`): our output ends there, the command does not. It finishes and exits with its own
code, with no BrokenPipeError traceback and no "Exception ignored" line at interpreter exit.
A leaf without rich, so that the CLI's edge can use it before any command is imported."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO, cast


class _PipeSafe:
    """A text stream whose reader may go away: on the first EPIPE its file descriptor is pointed
    at /dev/null, so what is still written (and Python's flush at exit) goes nowhere quietly and
    the command finishes with its own exit code."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    def _closed(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed()
            self._stream.flush()  # what was buffered now goes to /dev/null


@contextmanager
def closed_pipe_guard() -> Iterator[None]:
    """While the block runs, stdout and stderr survive a reader that closed its end of a pipe."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (cast(TextIO, _PipeSafe(s)) if _has_fd(s) else s for s in saved)
    try:
        yield
    finally:
        for s in (sys.stdout, sys.stderr):
            s.flush()
        sys.stdout, sys.stderr = saved


def _has_fd(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):  # pytest's capture, io.StringIO
        return False
    return True
