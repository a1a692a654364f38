"""QEMU control for the QEMU twin of a board: both domains' images on one `-smp 2` virt machine.

The console is driven with pexpect (a pty), control goes through QMP (qemu.qmp). QEMU never
outlives us: it runs in its own session with a parent-death signal (SIGKILL if the tool dies,
even by SIGKILL), and `stop()` asks QMP to quit, then terminates and kills it.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pexpect

from cmu610bsp import proc
from cmu610bsp.errors import BspError
from cmu610bsp.model import Soc

log = logging.getLogger("cmu610bsp.qemu")
BINARY = "qemu-system-riscv32"
_live: set[Qemu] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class Images:
    """One ELF per hart: cpu0 (secure domain) through -kernel, the others through the loader."""

    by_hart: dict[int, Path]


def command(soc: Soc, images: Images, qmp_socket: Path, binary: str) -> list[str]:
    q = soc.qemu
    argv = [binary, "-machine", q.machine, "-smp", str(q.smp), "-m", str(q.ram_mib), "-bios", "none",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-net", "none", "-no-reboot",
            "-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    first = min(images.by_hart)
    for hart, elf in sorted(images.by_hart.items()):
        if hart == first:
            argv += ["-kernel", str(elf)]
        else:
            argv += ["-device", f"loader,file={elf},cpu-num={hart}"]
    return argv


def find_binary() -> str:
    path = shutil.which(BINARY)
    if not path:
        raise BspError(f"{BINARY} not found on PATH", hint="apt-get install qemu-system-misc")
    return path


class Qemu:
    """One running QEMU; use as a context manager so it is always stopped."""

    def __init__(self, soc: Soc, images: Images, transcript: Path | None = None):
        for hart, elf in images.by_hart.items():
            if not elf.is_file():
                raise BspError(f"image for hart {hart} not found: {elf}")
        self._tmp = tempfile.TemporaryDirectory(prefix="cmu610bsp-qemu-")
        self.qmp_socket = Path(self._tmp.name) / "qmp.sock"
        self.argv = command(soc, images, self.qmp_socket, find_binary())
        self.transcript = transcript
        self.child: pexpect.spawn | None = None
        self._log: TextIO | None = None

    def start(self) -> pexpect.spawn:
        log.debug("%s$ %s", os.getcwd(), shlex.join(self.argv))
        if self.transcript:
            self.transcript.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.transcript.open("w", encoding="utf-8")
        with _live_lock:
            _live.add(self)
        self.child = pexpect.spawn(self.argv[0], self.argv[1:], timeout=None, echo=False,
                                   preexec_fn=proc.die_with_parent(signal.SIGKILL), encoding="utf-8", codec_errors="replace")
        self.child.logfile_read = self._log
        # pexpect's defaults sleep 50-100 ms around sends and closes; a serial console needs none
        self.child.delaybeforesend = None
        self.child.delayafterclose = 0.01
        self.child.delayafterterminate = 0.01
        return self.child

    def status(self) -> str | None:
        """QMP query-status, or None when QMP does not answer."""
        from qemu.qmp.legacy import QEMUMonitorProtocol

        try:
            mon = QEMUMonitorProtocol(str(self.qmp_socket))
            mon.connect()
            try:
                return str(mon.cmd_raw("query-status")["return"]["status"])  # cmd() gives the return value only
            finally:
                mon.close()
        except Exception:  # noqa: BLE001 - QMP unavailable is an answer too
            return None

    def stop(self) -> int | None:
        """QMP quit, then pexpect's escalation (SIGHUP, SIGINT, SIGKILL); QEMU's exit status."""
        child = self.child
        if child is not None:
            if child.isalive():
                self._qmp_quit()
                try:
                    child.expect(pexpect.EOF, timeout=3)
                except (pexpect.TIMEOUT, pexpect.ExceptionPexpect):
                    pass
            try:
                child.close(force=True)
            except pexpect.ExceptionPexpect:
                os.kill(child.pid, signal.SIGKILL)
        with _live_lock:
            _live.discard(self)
        if self._log:
            self._log.close()
            self._log = None
        self._tmp.cleanup()
        return child.exitstatus if child is not None else None

    def _qmp_quit(self) -> None:
        from qemu.qmp.legacy import QEMUMonitorProtocol

        try:
            mon = QEMUMonitorProtocol(str(self.qmp_socket))
            mon.connect()
            mon.cmd("quit")
            mon.close()
        except Exception:  # noqa: BLE001 - QEMU may already be gone; signals follow
            pass

    def __enter__(self) -> Qemu:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    """Stop every QEMU this process started (signal handlers call it)."""
    with _live_lock:
        live = list(_live)
    for q in live:
        q.stop()
