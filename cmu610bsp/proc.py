"""The one subprocess wrapper: logs `cwd$ argv`, runs the child in its own process group, and
never lets it outlive the caller (timeout, Ctrl-C, SIGTERM or an exception all kill the group)."""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("cmu610bsp.proc")
_PR_SET_PDEATHSIG = 1
# resolved here, not in the forked child, where loading a library could wait on a lock
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn: the child gets `sig` when the process that started it dies, even by SIGKILL
    (which no handler of ours can turn into a cleanup)."""
    def arm() -> None:
        _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return arm


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
    """Run argv to completion and capture its output; kill its whole group on any way out."""
    args = tuple(str(a) for a in argv)
    where = str(cwd or Path.cwd())
    log.debug("%s$ %s", where, shlex.join(args))
    proc = subprocess.Popen(
        args, cwd=cwd, env=dict(env) if env is not None else None, text=True,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent(),
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except BaseException:
        kill_group(proc)
        raise
    return Result(args, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes] | Forked, grace: float = 3.0) -> None:
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


class Timeout(Exception):
    """The child ran past its deadline; it has been killed."""


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


class Forked:
    """A child that is a fork of this process running a Python function (see `fork_call`); it
    answers the part of Popen's interface that `pump` and `kill_group` use."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif time.monotonic() >= deadline:  # type: ignore[operator]
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            else:
                time.sleep(0.01)
        return self.returncode


def fork_call(
    fn: Callable[[], int | None],
    title: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
) -> Forked:
    """Start fn() in a fork of this process, the way `stream` starts a program: own session
    (its own process group), stdin from /dev/null, stdout and stderr into one pipe, SIGTERM when
    this process dies, nothing else inherited. For a Python tool that this process can import
    (kas), it saves the second interpreter's start-up and imports (about 0.15 s a run).
    Call it before starting any thread (a fork copies only the calling one); `pump` the result.
    `title` is the equivalent command line, for the log."""
    log.debug("%s$ %s  (in a fork of this process)", cwd, shlex.join(title))
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(write_end)
        os.set_inheritable(read_end, False)
        return Forked(pid, read_end)
    code = 1
    try:  # the child: never returns into the caller's code
        os.setsid()
        die_with_parent()()
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the caller's locks and files stay with the caller
        # the streams on the new fds, whatever the caller had put in their place (a capture)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        logging.getLogger().handlers.clear()
        try:
            result = fn()
            code = result or 0
        except SystemExit as e:
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - report it on the pipe, then leave
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # no interpreter shutdown: that is the caller's
    raise AssertionError("unreachable")


def pump(
    proc: subprocess.Popen[bytes] | Forked,
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
                raise Timeout(f"{name} ran past {timeout:g} s")
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
