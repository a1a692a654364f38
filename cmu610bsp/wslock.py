"""The workspace lock: one writer at a time.

Every command that writes the workspace (generate, sync, init, ci, config, toolchain install, and the
roll-back of a write a killed command left half done) holds an exclusive flock on
`.cmu610bsp/lock` for as long as it reads what it is about to write and writes it. Two writers
at once shared one transaction directory: one rolled the other's swap back in the middle and
user files were lost. A second writer waits a little (CMU610BSP_LOCK_WAIT seconds, 10 by
default), then gives up naming the holder (exit 2). The kernel drops the lock when its holder
dies, however it dies: there is never a stale lock to remove by hand. Readers do not take it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from cmu610bsp import layout
from cmu610bsp.errors import BspError
from cmu610bsp.fileio import writing

WAIT_ENV = "CMU610BSP_LOCK_WAIT"
DEFAULT_WAIT = 10.0

_held: dict[Path, int] = {}  # the workspaces this process holds, with how deep (a writer calls a writer)


class Busy(BspError):
    """Another process holds the workspace's lock (exit 2)."""


def _wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        raise BspError(f"{WAIT_ENV}: expected a number of seconds, not {os.environ[WAIT_ENV]!r}") from None


def _holder(fd: int) -> str:
    """Who holds it, as the holder wrote it ("pid 1234: cmu610bsp sync"), or a plain word."""
    with suppress(OSError):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            return text
    return "another cmu610bsp command"


@contextmanager
def held(root: Path, command: str, wait: float | None = None) -> Iterator[None]:
    """Hold the workspace's lock for the block (again, if this process holds it already),
    waiting up to `wait` seconds for it (default: CMU610BSP_LOCK_WAIT, else 10); `Busy` if it
    stays taken."""
    root = root.resolve()
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    path = root / layout.LOCK_FILE
    layout.refuse_links(root, [layout.LOCK_FILE])
    with writing(path, "nothing was changed"):
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + (_wait() if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(f"{root}: the workspace is being written by {_holder(fd)}; nothing was changed",
                               hint=f"run the command again once it has finished ({WAIT_ENV} sets how many "
                                    "seconds to wait)") from None
                time.sleep(0.05)
        with suppress(OSError):  # who holds it is for the message above only: a full disk must not stop it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: cmu610bsp {command}\n".encode(), 0)
        _held[root] = 1
        try:
            yield
        finally:
            del _held[root]
            with suppress(OSError):
                os.ftruncate(fd, 0)  # the file stays, empty: the workspace reads the same before and after
    finally:
        os.close(fd)  # releases the lock
