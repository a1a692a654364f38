"""All-or-nothing updates of the generated trees.

A change is applied to a staged copy of each output root, then every root is swapped with its
copy by an atomic directory exchange (Linux renameat2 RENAME_EXCHANGE). A journal and a marker file
in each staged root let the next command undo a swap that was cut short, even by SIGKILL, so
the workspace is either exactly as before or exactly as intended.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from cmu610bsp.errors import writing

TXN_DIR = ".cmu610bsp/txn"
MARKER_PREFIX = ".cmu610bsp-txn-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically; both must exist."""
    fn = getattr(_libc, "renameat2", None)
    if fn is not None:
        if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(a))
    # File systems without RENAME_EXCHANGE: three renames, each undone by `recover`.
    aside = a.with_name(a.name + ".aside")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def _enc(root: str) -> str:
    return root.replace("/", "%")


def _pause(point: str) -> None:
    """Fault-injection point for the kill tests: CMU610BSP_TEST_PAUSE=<point> stops here
    (printing the point on stderr) until the process is killed."""
    if os.environ.get("CMU610BSP_TEST_PAUSE") == point:
        os.write(2, f"paused at {point}\n".encode())
        while True:
            time.sleep(60)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(ws: Path, roots: Sequence[str]) -> bool:
    """Undo a swap that a killed command left half done. Returns True if it undid anything.

    `roots` are the output roots the caller knows; markers left there after a commit point
    (a kill between the journal's removal and the markers') are dropped too."""
    txn = ws / TXN_DIR
    journal = txn / "journal.json"
    undone = False
    if journal.exists():
        data = json.loads(journal.read_text())
        marker = MARKER_PREFIX + data["id"]
        for root in data["roots"]:
            live, staged = ws / root, txn / "stage" / _enc(root)
            aside = staged.with_name(staged.name + ".aside")
            if aside.exists() and not staged.exists():
                os.rename(aside, staged)  # fallback swap cut after its first rename
            if (live / marker).exists():
                if root in data["created"]:
                    os.rename(live, staged.with_name(staged.name + ".new"))
                else:
                    _exchange(live, staged)
                undone = True
            elif root not in data["created"] and not live.exists() and aside.exists():
                os.rename(aside, live)
                undone = True
    if txn.exists():
        shutil.rmtree(txn)
    _drop_markers([ws / r for r in roots])
    return undone


def _drop_markers(dirs: list[Path]) -> None:
    for d in dirs:
        for c in d.iterdir() if d.is_dir() else []:
            if c.name.startswith(MARKER_PREFIX):
                c.unlink()


def commit(ws: Path, roots: list[str], changes: Mapping[str, bytes | None]) -> None:
    """Apply {path: content, or None to delete} under `roots`, all or nothing; a write the file
    system refuses (read-only, full) is the user's `WriteFailed`, after the roll-back."""
    with writing(ws, "nothing was changed"):
        _commit(ws, roots, changes)


def _commit(ws: Path, roots: list[str], changes: Mapping[str, bytes | None]) -> None:
    recover(ws, roots)
    for path in changes:
        if not any(path == r or path.startswith(r + "/") for r in roots):
            raise ValueError(f"{path} is outside the generated roots {roots}")
    txn = ws / TXN_DIR
    txid = uuid.uuid4().hex
    marker = MARKER_PREFIX + txid
    stage = txn / "stage"
    stage.mkdir(parents=True)
    try:
        created = []
        for root in roots:
            live, staged = ws / root, stage / _enc(root)
            if live.is_dir():
                shutil.copytree(live, staged, symlinks=True)
            else:
                created.append(root)
                staged.mkdir()
            for path, content in changes.items():
                if not path.startswith(root + "/"):
                    continue
                target = staged / path[len(root) + 1:]
                if content is None:
                    if target.exists() or target.is_symlink():
                        target.unlink()
                        _prune_empty(target.parent, staged)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
            (staged / marker).touch()
        _pause("staged")
        journal = txn / "journal.json"
        journal.write_text(json.dumps({"id": txid, "roots": roots, "created": created}))
        with open(journal) as fh:
            os.fsync(fh.fileno())
        _fsync_dir(txn)
        for root in roots:
            live, staged = ws / root, stage / _enc(root)
            if root in created:
                live.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, live)
            else:
                _exchange(staged, live)
            _pause("swapped-one")
        journal.unlink()  # the commit point
    except BaseException:
        # Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt) or an error before the commit
        # point: put every root back now rather than leave it to the next command
        recover(ws, roots)
        raise
    _fsync_dir(txn)
    _drop_markers([ws / r for r in roots])
    shutil.rmtree(txn)


def _prune_empty(d: Path, top: Path) -> None:
    while d != top and d.is_dir() and not any(d.iterdir()):
        d.rmdir()
        d = d.parent
