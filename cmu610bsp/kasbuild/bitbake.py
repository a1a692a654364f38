"""BitBake as seen from outside: its progress lines, its server (which daemonizes out of our
process group and must still not outlive a run), and the files it leaves that break the next run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cmu610bsp.errors import BspError
from cmu610bsp.fileio import writing

_SETSCENE = re.compile(r"^NOTE: Running setscene task (\d+) of (\d+) \((.*)\)")
_TASK = re.compile(r"^NOTE: Running (noexec )?task (\d+) of (\d+) \((.*)\)")
_DONE = re.compile(r"^NOTE: recipe (\S+): task (\S+): (Succeeded|Failed)")
_STARTED = re.compile(r"^NOTE: recipe (\S+): task (\S+): Started")
_SUMMARY = re.compile(r"^NOTE: Tasks Summary: Attempted (\d+) tasks of which (\d+) didn't need to be rerun")
_FAILED_TASK = re.compile(r"^ERROR: Task \((.*)\) failed with exit code")
_FAILED_LOG = re.compile(r"^ERROR: Logfile of failure stored in: (\S+)")
_ERROR = re.compile(r"^(ERROR|CRITICAL)\b|\bERROR\s*-\s")
# kas relays BitBake's lines through its logger: "2026-11-24 08:00:56 - INFO     - NOTE: ..."
_KAS_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - [A-Z]+\s+- ")


def bitbake_line(line: str) -> str:
    """The BitBake part of a line kas printed."""
    return _KAS_PREFIX.sub("", line, count=1)


@dataclass
class Progress:
    """What BitBake's (and kas's) output told us so far; `feed` is its only writer."""

    setscene_done: int = 0
    setscene_total: int = 0
    task_done: int = 0
    task_total: int = 0
    running: list[str] = field(default_factory=list)
    attempted: int | None = None
    not_rerun: int | None = None
    failed_task: str | None = None
    failed_log: str | None = None
    errors: list[str] = field(default_factory=list)  # the last error lines, for a failure before any task
    ran: list[str] = field(default_factory=list)        # ids of the tasks that executed (not noexec ones)
    restored: list[str] = field(default_factory=list)   # ids of the tasks restored from shared state
    failures: dict[str, str | None] = field(default_factory=dict)  # id of each failed task -> its log
    _log: str | None = None   # the log BitBake names on the line before the task it belongs to

    def feed(self, line: str) -> bool:
        """Update from one line; True if the counters moved."""
        raw = line
        line = bitbake_line(line)
        if m := _SETSCENE.match(line):
            self.setscene_done, self.setscene_total = int(m.group(1)), int(m.group(2))
            self.restored.append(m.group(3).removesuffix("_setscene"))
            return True
        if m := _TASK.match(line):
            self.task_done, self.task_total = int(m.group(2)), int(m.group(3))
            if not m.group(1):
                self.ran.append(m.group(4))
            return True
        if m := _STARTED.match(line):
            self.running.append(f"{m.group(1)}:{m.group(2)}")
            return True
        if m := _DONE.match(line):
            name = f"{m.group(1)}:{m.group(2)}"
            if name in self.running:
                self.running.remove(name)
            return True
        if m := _SUMMARY.match(line):
            self.attempted, self.not_rerun = int(m.group(1)), int(m.group(2))
        elif m := _FAILED_TASK.match(line):
            self.failed_task = self.failed_task or m.group(1)
            self.failures[m.group(1)], self._log = self._log, None
        elif m := _FAILED_LOG.match(line):
            self.failed_log = self.failed_log or m.group(1)
            self._log = m.group(1)
        if _ERROR.search(raw):
            self.errors = [*self.errors[-4:], line.strip()]
        return False


@contextmanager
def claim(build_dir: Path) -> Iterator[None]:
    """One cmu610bsp run per build directory: an flock the kernel drops even when the run is
    SIGKILLed. Holding it means no other run owns a BitBake server here, so a server still up
    (one that lingers after a killed run, as with BB_SERVER_TIMEOUT) is stopped first, and the
    one this run starts is stopped when it ends, however it ends."""
    with writing(build_dir, "nothing was run"):
        build_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(build_dir / "cmu610bsp.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BspError(f"another cmu610bsp run is using {build_dir}", hint="wait for it to finish") from None
        stop_server(build_dir)
        try:
            yield
        finally:
            stop_server(build_dir)
    finally:
        os.close(fd)


def servers(build_dir: Path) -> set[int]:
    """BitBake servers of this build directory: the pid in its lock file, and any process whose
    command line names the lock (a server still starting has not written its pid yet)."""
    found: set[int] = set()
    lock = build_dir / "bitbake.lock"
    with contextlib.suppress(OSError, ValueError, IndexError):
        found.add(int(lock.read_text().split()[0]))
    needle = str(lock).encode()
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                cmdline = (proc_dir / "cmdline").read_bytes()
            except OSError:
                continue
            if b"bitbake" in cmdline and needle in cmdline:
                found.add(int(proc_dir.name))
    out = set()
    for pid in found:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if "bitbake" in cmd or Path(f"/proc/{pid}/cwd").resolve() == build_dir.resolve():
                out.add(pid)
        except OSError:
            continue
    return out


def stop_server(build_dir: Path, grace: float = 10.0) -> None:
    """BitBake's server daemonizes into a session of its own and can outlive kas: stop it, and
    the processes of its group (parsers, workers), by SIGTERM, then SIGKILL after `grace`."""
    ours = os.getpgrp()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = {p for p in servers(build_dir) if not _gone(p)}
        if not pids:
            return
        for pid in pids:
            try:
                # the daemon (a double fork) sits in the process group of its own session with its
                # parser and worker processes: the whole group goes; never our own group
                group = os.getpgid(pid)
                os.killpg(group, sig) if group != ours else os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                continue
        end = time.monotonic() + wait
        while time.monotonic() < end and not all(_gone(p) for p in servers(build_dir)):
            time.sleep(0.1)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (a container's init may never)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def devtool_layer_as_devtool_writes_it(build_dir: Path, workspace: Path) -> None:
    """kas lists devtool's workspace layer relative to TOPDIR (`${TOPDIR}/workspace`, or
    `${TOPDIR}/../<line>/workspace` from the line's other build directory); devtool compares
    bblayers.conf entries as text (bb.utils.edit_bblayers_conf expands nothing) and adds the
    absolute path again, so BitBake then stops on a duplicated 'workspacelayer'. Before devtool runs
    on the kept file, write the entry the way devtool does, once (kas and devtool both write one
    entry per line)."""
    conf = build_dir / "conf" / "bblayers.conf"
    if not conf.is_file():
        return
    text = conf.read_text()
    absolute = os.path.normpath(workspace)
    out, seen = [], False
    for line in text.splitlines(keepends=True):
        entry = line.strip().rstrip("\\").strip()
        if os.path.normpath(entry.replace("${TOPDIR}", str(build_dir))) == absolute:
            if seen:
                continue
            seen = True
            line = line.replace(entry, absolute, 1)
        out.append(line)
    if "".join(out) != text:
        conf.write_text("".join(out))


def drop_stale_parser_tables(build_dir: Path) -> None:
    """With a read-only BitBake tree (--source on a shared checkout), BitBake's shell parser writes
    its tables (pyshtables.py) into the build directory, and the next run that finds them there
    dies with "No module named 'pysh'". They are regenerated in a second: drop them."""
    for stale in [build_dir / "pyshtables.py", *build_dir.glob("__pycache__/pyshtables*")]:
        stale.unlink(missing_ok=True)
