"""All-or-nothing updates of the generated trees.

A change is applied to a staged copy of each output root, then every root is swapped with its
copy by an atomic directory exchange (Linux renameat2 RENAME_EXCHANGE). A journal and a marker file
in each staged root let the next command undo a swap that was cut short, even by SIGKILL, so
the workspace is either exactly as before or exactly as intended. A generated file that lives
outside those directories (a file root: `.gitlab-ci.yml`, where GitLab looks for it) is staged
whole and exchanged with the file, renamed in, or moved out into the stage; the journal records
the inode each swap puts in place, by which the next command knows whether it happened.

The journal is written whole or not at all (a temporary file, synced, renamed): a full disk or a
kill while it is written leaves no journal, so no swap began and the next command only drops the
stage. Every write and roll-back holds the workspace lock (wslock), so a command never rolls
back another one's write in flight. Nothing is written, deleted or renamed through a link: a link
on the way to a generated path is refused (layout.refuse_links), staged files are opened with
O_NOFOLLOW, and a journal naming paths the generator never writes is refused.

Interrupts: before the commit point, SIGINT (and SIGTERM, which the CLI turns into
KeyboardInterrupt) rolls the swap back at once. From the commit point on they are held: inside
`finish_after_commit` (the CLI wraps every command in it) until the command has finished, so a
command never reports "interrupted" over a write it completed; outside it, until the swap's
clean-up is done. A second Ctrl-C cannot cut a roll-back short either.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

from cmu610bsp import layout, wslock
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import writing

TXN_DIR = layout.TXN_DIR
MARKER_PREFIX = ".cmu610bsp-txn-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_HELD = (signal.SIGINT, signal.SIGTERM)
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


class _Interrupts:
    """Whether SIGINT/SIGTERM are held (the mask to restore), and whether a command scope is open."""

    restore: set[int | signal.Signals] | None = None
    scope = False


def _hold() -> None:
    """Hold SIGINT and SIGTERM: they stay pending instead of interrupting (main thread only)."""
    if _Interrupts.restore is None and threading.current_thread() is threading.main_thread():
        _Interrupts.restore = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)


def _release() -> list[str]:
    """Stop holding them; the ones that came meanwhile are taken (and named), not raised."""
    came: list[str] = []
    if _Interrupts.restore is None:
        return came
    while (info := signal.sigtimedwait(_HELD, 0)) is not None:
        came.append(signal.Signals(info.si_signo).name)
    restore, _Interrupts.restore = _Interrupts.restore, None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, restore)
    except KeyboardInterrupt:  # came between the last look and the unblocking
        came.append("SIGINT")
    return came


@contextmanager
def finish_after_commit() -> Iterator[list[str]]:
    """One command's scope: once a write in it passes its commit point, SIGINT and SIGTERM are
    held until the scope ends, so the command finishes; on the way out the list yielded gets the
    names of the signals that came meanwhile (the caller says the command finished anyway)."""
    _Interrupts.scope = True
    came: list[str] = []
    try:
        yield came
    finally:
        _Interrupts.scope = False
        came += _release()


def _enc(root: str) -> str:
    return root.replace("/", "%")


def pause(point: str) -> None:
    """Fault-injection point for the kill tests: CMU610BSP_TEST_PAUSE=<point> stops here
    (printing the point on stderr) until the process is killed, or, where SIGINT and SIGTERM are
    held (past the commit point), until one of them is pending, or until the file named by
    CMU610BSP_TEST_RESUME exists (the test has done what it wanted done meanwhile)."""
    if os.environ.get("CMU610BSP_TEST_PAUSE") == point:
        os.write(2, f"paused at {point}\n".encode())
        resume = os.environ.get("CMU610BSP_TEST_RESUME")
        while not signal.sigpending() & set(_HELD) and not (resume and os.path.exists(resume)):
            time.sleep(0.05)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(ws: Path, roots: Sequence[str]) -> bool:
    """Undo a swap that a killed command left half done. Returns True if it undid anything.

    `roots` are the output roots the caller knows; markers left there after a commit point
    (a kill between the journal's removal and the markers') are dropped too. Only when there is
    something to recover does it take the workspace lock; held by another process, the stage is
    that live writer's, not an interrupted one's, and is left to it."""
    if not os.path.lexists(ws / TXN_DIR):
        return False
    try:
        with wslock.held(ws, "recovery of an interrupted write", wait=0):
            layout.refuse_links(ws, [TXN_DIR])
            return _recover(ws, roots)
    except wslock.Busy:
        return False


def _journal(ws: Path, journal: Path) -> dict[str, Any] | None:
    """The journal, or None when there is none to act on. It is renamed into place only once
    written and synced (`_write_journal`): one that does not parse was never published by this
    version (an older one wrote it in place), and no swap starts before it is, so none began."""
    try:
        data = json.loads(journal.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    if not _journal_ok(data):
        raise BspError(f"{journal}: a journal naming paths cmu610bsp never writes; nothing was changed",
                       [Finding(str(journal.relative_to(ws)), "roots/files", "not the generated directories and files")],
                       hint=f"cmu610bsp did not write it: remove {TXN_DIR}/")
    return cast(dict[str, Any], data)


def _journal_ok(data: object) -> bool:
    """Its shape, and only the generated roots and files (and directories above those) named."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not all(
            isinstance(data.get(k), t) for k, t in (("roots", list), ("created", list), ("files", dict))):
        return False
    if not all(isinstance(r, str) for r in data["roots"] + data["created"]):
        return False
    entries = data["files"].values()
    if not all(isinstance(e, dict) and isinstance(e.get("made", []), list) for e in entries):
        return False
    made = [m for e in entries for m in e.get("made", [])]
    return ((set(data["roots"]) | set(data["created"])) <= set(layout.OWNED_ROOTS)
            and set(data["files"]) <= set(layout.OWNED_FILES)
            and all(isinstance(m, str) and layout.plain(m) and any(f.startswith(m + "/") for f in data["files"])
                    for m in made))


def _recover(ws: Path, roots: Sequence[str]) -> bool:
    txn = ws / TXN_DIR
    undone = False
    data = _journal(ws, txn / "journal.json")
    if data is not None:
        marker = MARKER_PREFIX + data["id"]
        for root, entry in data["files"].items():
            undone |= _recover_file(ws, root, txn / "stage" / _enc(root), entry)
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
    # the markers before the stage: a kill between the two leaves the stage, and so a next recovery
    _drop_markers([ws / r for r in roots])
    shutil.rmtree(txn)
    return undone


def _ino(path: Path) -> int | None:
    try:
        return path.lstat().st_ino
    except FileNotFoundError:
        return None


def _recover_file(ws: Path, root: str, staged: Path, entry: dict[str, Any]) -> bool:
    """Undo one file root's swap if it happened: `entry` has the inode the swap put in place (the
    new file; for a deletion, the old file moved into the stage) and the directories it made."""
    live = ws / root
    aside = staged.with_name(staged.name + ".aside")
    if aside.exists() and not staged.exists():
        os.rename(aside, staged)  # fallback exchange cut after its second rename
    if not live.exists() and aside.exists():
        os.rename(aside, live)    # ... or after its first
        return True
    if entry.get("delete"):
        if _ino(live) is None and _ino(staged) == entry["ino"]:
            os.rename(staged, live)
            return True
        return False
    if _ino(live) != entry["ino"]:
        return False
    if staged.exists():
        _exchange(live, staged)   # the old file back
        return True
    live.unlink()                 # it was created
    for made in reversed(entry["made"]):
        with suppress(OSError):
            (ws / made).rmdir()
    return True


def _drop_markers(dirs: list[Path]) -> None:
    for d in dirs:
        for c in d.iterdir() if d.is_dir() and not d.is_symlink() else []:
            if c.name.startswith(MARKER_PREFIX):
                c.unlink()


def _put(top: Path, target: Path, content: bytes) -> None:
    """Write a staged file: never through a link (the stage is a copy of roots with none on the
    way to a changed path, refuse_links saw to that; this makes sure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not Path(os.path.realpath(target.parent)).is_relative_to(os.path.realpath(top)):
        raise OSError(errno.ELOOP, "a symbolic link on the way", str(target.parent))
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)


def _write_journal(txn: Path, data: dict[str, Any]) -> Path:
    """Publish the journal whole: written and synced under another name, then renamed in."""
    journal, tmp = txn / "journal.json", txn / "journal.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json.dumps(data).encode())
        fh.flush()
        os.fsync(fh.fileno())
    pause("journal-written")
    os.rename(tmp, journal)
    _fsync_dir(txn)
    return journal


def commit(ws: Path, roots: list[str], changes: Mapping[str, bytes | None], files: Sequence[str] = ()) -> None:
    """Apply {path: content, or None to delete} under `roots` (directories) and to `files` (file
    roots), all or nothing; a write the file system refuses (read-only, full) is the user's
    `WriteFailed`, after the roll-back. Holds the workspace lock."""
    for path in changes:
        if not layout.plain(path) or (path not in files and not any(path.startswith(r + "/") for r in roots)):
            raise ValueError(f"{path} is outside the generated roots {roots} and files {list(files)}")
    with wslock.held(ws, "write"), writing(ws, "nothing was changed"):
        layout.refuse_links(ws, [*roots, *files, TXN_DIR, *changes])
        _commit(ws, roots, changes, files)


def _stage_files(ws: Path, stage: Path, changes: Mapping[str, bytes | None]) -> dict[str, dict[str, Any]]:
    """Stage each changed file root's new content; what the journal records of each: the inode
    its swap puts in place (a deletion moves the live file into the stage) and the directories
    the file needs made, shallowest first."""
    out: dict[str, dict[str, Any]] = {}
    for root, content in changes.items():
        live, staged = ws / root, stage / _enc(root)
        if content is None:
            ino = _ino(live)
            if ino is not None:
                out[root] = {"delete": True, "ino": ino}
            continue
        staged.write_bytes(content)
        made = [str(d.relative_to(ws)) for d in reversed(live.parents) if d.is_relative_to(ws) and d != ws and not d.exists()]
        out[root] = {"ino": _ino(staged), "made": made}
    return out


def _swap_file(ws: Path, stage: Path, root: str, entry: dict[str, Any]) -> None:
    live, staged = ws / root, stage / _enc(root)
    if entry.get("delete"):
        os.rename(live, staged)
    elif _ino(live) is not None:
        _exchange(staged, live)
    else:
        for made in entry["made"]:
            (ws / made).mkdir(exist_ok=True)
        os.rename(staged, live)


def _commit(ws: Path, roots: list[str], changes: Mapping[str, bytes | None], files: Sequence[str]) -> None:
    recover(ws, roots)
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
                    _put(staged, target, content)
            (staged / marker).touch()
        moves = _stage_files(ws, stage, {f: changes[f] for f in files if f in changes})
        pause("staged")
        journal = _write_journal(txn, {"id": txid, "roots": roots, "created": created, "files": moves})
        for root in roots:
            live, staged = ws / root, stage / _enc(root)
            if root in created:
                live.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, live)
            else:
                _exchange(staged, live)
            pause("swapped-one")
        for root, entry in moves.items():
            _swap_file(ws, stage, root, entry)
            pause("swapped-file")
        _hold()  # from here no interrupt until the command (or, outside one, this clean-up) is done
        journal.unlink()  # the commit point
        pause("committed")
    except BaseException:
        # Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt) or an error before the commit
        # point: put every root back now rather than leave it to the next command
        _hold()
        try:
            recover(ws, roots)
        finally:
            came = [] if _Interrupts.scope else _release()
        if came:
            raise KeyboardInterrupt from None
        raise
    _fsync_dir(txn)
    _drop_markers([ws / r for r in roots])
    shutil.rmtree(txn)
    for root, entry in moves.items():
        if entry.get("delete"):
            _prune_empty((ws / root).parent, ws)  # the directories the file was the last one in
    if not _Interrupts.scope and _release():
        raise KeyboardInterrupt  # a library caller asked for no finishing: the write is complete


def _prune_empty(d: Path, top: Path) -> None:
    while d != top and d.is_dir() and not any(d.iterdir()):
        d.rmdir()
        d = d.parent
