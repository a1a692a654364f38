"""The one subprocess wrapper: logs `cwd$ argv`, runs the child in its own process group, and
never lets it outlive the caller (timeout, Ctrl-C, SIGTERM or an exception all kill the group)."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("cmu610bsp.proc")


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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except BaseException:
        kill_group(proc)
        raise
    return Result(args, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[str], grace: float = 3.0) -> None:
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
