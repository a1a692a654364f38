"""The one subprocess wrapper: logs `cwd$ argv`, runs the child in its own process group, and
never lets it outlive the caller (timeout, Ctrl-C, SIGTERM or an exception all kill the group;
`foreground`'s child, which shares the tool's group, has its process tree killed instead)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cmu610bsp.errors import Timeout

if TYPE_CHECKING:
    import pexpect

log = logging.getLogger("cmu610bsp.proc")
_PR_SET_PDEATHSIG = 1
# resolved here, not between fork and exec, where loading a library could wait on a lock
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn: the child gets `sig` when the process that started it dies, even by SIGKILL
    (which no handler of ours can turn into a cleanup)."""
    def arm() -> None:
        _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return arm


def _capture(args: tuple[str, ...], cwd: Path | None, env: Mapping[str, str] | None, timeout: float | None,
             input: bytes | None) -> tuple[int, bytes, bytes]:
    """Run a child to completion, output captured as bytes; its whole group is killed on any way
    out (a timeout is the user-facing Timeout). What `run` and `run_binary` share."""
    log.debug("%s$ %s", cwd or Path.cwd(), shlex.join(args))
    proc = subprocess.Popen(
        args, cwd=cwd, env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent(),
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise Timeout(f"{args[0]} ran past {timeout:g} s and was stopped") from None
    except BaseException:
        kill_group(proc)
        raise
    return proc.returncode, out, err


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(
    argv: Sequence[str | os.PathLike[str]],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input: str | None = None,
) -> Result:
    """Run argv to completion and capture its output as text (undecodable bytes replaced)."""
    args = tuple(str(a) for a in argv)
    rc, out, err = _capture(args, cwd, env, timeout, input.encode() if input is not None else None)
    return Result(args, rc, out.decode(errors="replace"), err.decode(errors="replace"))


@dataclass(frozen=True)
class BinaryResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes


def run_binary(argv: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> BinaryResult:
    """`run` for a child whose output is bytes to keep as they are (git merge-file's merge)."""
    args = tuple(str(a) for a in argv)
    rc, out, err = _capture(args, cwd, None, None, None)
    return BinaryResult(args, rc, out, err)


def kill_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def stream(
    argv: Sequence[str | os.PathLike[str]],
    on_line: Callable[[str], None],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int:
    """Run argv, handing each output line (stdout and stderr merged) to on_line; returns the exit
    code. Timeout raises `Timeout`; Ctrl-C/SIGTERM/any exception kill the child's group first."""
    args = tuple(str(a) for a in argv)
    log.debug("%s$ %s", cwd or Path.cwd(), shlex.join(args))
    # unbuffered bytes, split in pump(): a buffered readline() after select() keeps lines it read
    # ahead invisible until the child prints again (a long task's "Started" line would wait)
    proc = subprocess.Popen(args, cwd=cwd, env=dict(env) if env is not None else None, bufsize=0,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=die_with_parent())
    assert proc.stdout is not None
    try:
        return pump(proc, proc.stdout.fileno(), on_line, timeout, args[0])
    finally:
        proc.stdout.close()


def pump(
    proc: subprocess.Popen[bytes],
    fd: int,
    on_line: Callable[[str], None],
    timeout: float | None = None,
    name: str = "child",
) -> int:
    """Hand each line the child writes on fd to on_line until it closes it; returns the child's
    exit code. Timeout raises `Timeout`; Ctrl-C/SIGTERM/any exception kill the child's group."""
    import selectors
    import time

    deadline = time.monotonic() + timeout if timeout else None
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    pending = b""
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Timeout(f"{name} ran past {timeout:g} s and was stopped")
            if sel.select(timeout=min(left, 1.0) if left is not None else 1.0):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    on_line(line.decode(errors="replace").rstrip("\r"))
        if pending:
            on_line(pending.decode(errors="replace").rstrip("\r"))
        return proc.wait()
    except BaseException:
        kill_group(proc)
        raise
    finally:
        sel.close()


def interactive(argv: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> int:
    """Run argv on this terminal (its stdin, stdout, stderr) until it exits; its exit code. It has
    its own process group, so Ctrl-C reaches the tool, which stops the child's group and raises."""
    args = tuple(str(a) for a in argv)
    log.debug("%s$ %s", cwd or Path.cwd(), shlex.join(args))
    proc = subprocess.Popen(args, cwd=cwd, start_new_session=True, preexec_fn=die_with_parent())
    try:
        return proc.wait()
    except BaseException:
        kill_group(proc)
        raise


def foreground(argv: Sequence[str | os.PathLike[str]], cwd: Path | None = None,
               env: Mapping[str, str] | None = None) -> int:
    """Run an interactive program that owns Ctrl-C (a debugger interrupts its target with it) on
    this terminal until it exits; its exit code. It stays in the tool's process group, so the
    terminal's Ctrl-C reaches it, while the tool ignores SIGINT meanwhile (as Zephyr's west
    runners do around gdb). That group is the tool's, so it cannot be killed as a group: SIGTERM
    or an exception stop the child's whole process tree instead (`_stop_tree`: cmake's ninja and
    the menuconfig it starts). What no handler sees is narrower: the tool's SIGKILL kills the
    child alone (`die_with_parent`), and a process the child leaves behind when it exits by
    itself is init's by then, out of its tree."""
    import threading

    args = tuple(str(a) for a in argv)
    log.debug("%s$ %s", cwd or Path.cwd(), shlex.join(args))
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        proc = subprocess.Popen(args, cwd=cwd, env=dict(env) if env is not None else None, preexec_fn=_owns_ctrl_c)
        try:
            return proc.wait()
        except BaseException:
            _stop_tree(proc)
            raise
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


_killed_with_us = die_with_parent(signal.SIGKILL)


def _owns_ctrl_c() -> None:
    """foreground's child, before exec: SIGINT's default back (the tool ignores it meanwhile,
    and exec would hand SIG_IGN on), and SIGKILL when the tool dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _killed_with_us()


def _stop_tree(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM a child that shares our process group and every process below it, then SIGKILL
    what is left after `grace` seconds (kill_group's shape without a group to kill). The tree is
    read from /proc on each round, walked from the child and from every process found before:
    one whose parent has died is re-parented to init and no longer hangs under the child."""
    table = _processes()
    # pid -> start time (a pid is reused); the child's own pid is its own until we reap it
    tree = {proc.pid: table[proc.pid][1]} if proc.returncode is None and proc.pid in table else {}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        end, sent = time.monotonic() + wait, set[int]()
        while True:
            alive = _grow(tree, table)
            if not alive:
                proc.wait()  # the child has exited: reap it if the last poll came too early
                return
            for pid in alive - sent:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            sent |= alive
            if time.monotonic() >= end:
                break
            time.sleep(0.1)
            proc.poll()  # reaps the child once it has exited, so that it counts as gone
            table = _processes()
    proc.wait()  # SIGKILLed; what is still there after 5 s is stuck in the kernel, not ours to wait for


def _processes() -> dict[int, tuple[int, str, str]]:
    """Every process now: pid -> (parent pid, start time, state), from /proc/*/stat."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()  # after "pid (comm)", which may hold anything
            table[int(stat.parent.name)] = (int(fields[1]), fields[19], fields[0])
    return table


def _grow(tree: dict[int, str], table: dict[int, tuple[int, str, str]]) -> set[int]:
    """Add to `tree` every process below one of its live ones; return the live ones (a zombie is
    dead, a pid now with another start time was reused by a process not ours)."""
    below: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        below.setdefault(ppid, []).append(pid)
    alive: set[int] = set()
    todo = [pid for pid, start in tree.items() if pid in table and table[pid][1] == start]
    while todo:
        pid = todo.pop()
        tree[pid] = table[pid][1]  # below a live one of ours: ours, even on a pid used before
        if table[pid][2] != "Z":
            alive.add(pid)
        todo += below.get(pid, [])
    return alive


def console(argv: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> pexpect.spawn:
    """Start argv on a pseudo-terminal for a test to read and type at (QEMU's serial console).
    pexpect makes it a session leader; it gets SIGKILL when this process dies, however it dies."""
    import pexpect

    args = [str(a) for a in argv]
    log.debug("%s$ %s", cwd or Path.cwd(), shlex.join(args))
    return pexpect.spawn(args[0], args[1:], cwd=str(cwd) if cwd else None, timeout=None, echo=False,
                         preexec_fn=die_with_parent(signal.SIGKILL), encoding="utf-8", codec_errors="replace")
