"""QEMU control for the QEMU twin of a board: both domains' images on one `-smp 2` virt machine.

The console is driven with pexpect (a pty), control goes through QMP (qemu.qmp). QEMU never
outlives us: it runs in its own session with a parent-death signal (SIGKILL if the tool dies,
even by SIGKILL), and `stop()` asks QMP to quit, then terminates and kills it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pexpect

from cmu610bsp import proc
from cmu610bsp.errors import BspError
from cmu610bsp.fileio import writing
from cmu610bsp.model import Soc
from cmu610bsp.names import machine_name

log = logging.getLogger("cmu610bsp.qemu")
BINARY = "qemu-system-riscv32"
_live: set[Qemu] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class Images:
    """What the twin boots: one ELF per hart (cpu0, the secure domain, through -kernel, the others
    through the loader), or the board's flash image as QEMU virt's pflash, whose boot stage checks
    and starts both harts as the chip's boot ROM would."""

    by_hart: dict[int, Path] = field(default_factory=dict)
    flash: Path | None = None

    def files(self) -> dict[str, Path]:
        return {"flash": self.flash} if self.flash else {f"hart {h}": p for h, p in sorted(self.by_hart.items())}


def command(soc: Soc, images: Images, qmp_socket: Path, binary: str, gdb: str | None = None) -> list[str]:
    """QEMU's command line for the twin; with `gdb` (a chardev: `tcp:127.0.0.1:1234`,
    `unix:PATH,server=on,wait=off`) its gdb stub listens there and every hart starts halted (-S)."""
    q = soc.qemu
    argv = [binary, "-machine", q.machine, "-smp", str(q.smp), "-m", str(q.ram_mib), "-bios", "none",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-net", "none", "-no-reboot",
            "-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    if gdb:
        argv += ["-gdb", gdb, "-S"]
    if images.flash:
        # writable, as the chip's flash: the boot stage's trial and revert writes and the BMC
        # firmware's confirmation land in the file (QEMU's option syntax doubles commas)
        return [*argv, "-drive", f"if=pflash,unit=0,format=raw,file={str(images.flash).replace(',', ',,')}"]
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


SCRATCH_PREFIX = "cmu610bsp-qemu-"


def sweep_scratch(tmp: Path | None = None) -> list[Path]:
    """Remove the scratch directories (QMP socket) of runs whose process is gone: a SIGKILLed
    run cannot clean up after itself, so the next one does. Returns what it removed."""
    base = tmp or Path(tempfile.gettempdir())
    removed = []
    for d in base.glob(f"{SCRATCH_PREFIX}*"):
        pid = d.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not pid.isdigit():
            pid = ""  # made before the directory named its owner: nobody owns it any more
        if pid and Path(f"/proc/{pid}").exists():
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class Qemu:
    """One running QEMU; use as a context manager so it is always stopped."""

    def __init__(self, soc: Soc, images: Images, transcript: Path | None = None, gdb: bool = False):
        for what, path in images.files().items():
            if not path.is_file():
                raise BspError(f"image for {what} not found: {path}")
        sweep_scratch()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        self.qmp_socket = Path(self._tmp.name) / "qmp.sock"
        # with `gdb`: the stub on a socket only this user can reach (no port to collide on or to
        # expose), every hart halted until the debugger continues them
        self.gdb_socket = Path(self._tmp.name) / "gdb.sock" if gdb else None
        stub = f"unix:{self.gdb_socket},server=on,wait=off" if self.gdb_socket else None
        self.argv = command(soc, images, self.qmp_socket, find_binary(), stub)
        self.transcript = transcript
        self.child: pexpect.spawn | None = None
        self._log: TextIO | None = None

    def start(self) -> pexpect.spawn:
        if self.transcript:
            with writing(self.transcript, "nothing was booted"):
                self.transcript.parent.mkdir(parents=True, exist_ok=True)
                self._log = self.transcript.open("w", encoding="utf-8")
        with _live_lock:
            _live.add(self)
        self.child = proc.console(self.argv)
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
                with contextlib.suppress(pexpect.TIMEOUT, pexpect.ExceptionPexpect):
                    child.expect(pexpect.EOF, timeout=3)
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


def _elf32_riscv(path: Path) -> str | None:
    """Why path is not an RV32 ELF QEMU's loader can boot, or None."""
    try:
        with path.open("rb") as fh:
            head = fh.read(20)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if head[:4] != b"\x7fELF":
        return "not an ELF file"
    if head[4] != 1 or int.from_bytes(head[18:20], "little") != 243:
        return "not a 32-bit RISC-V ELF"
    return None


def images_for(board: str, harts: int, image: list[str] | None, deploy: Path | None) -> Images:
    """The image of every hart of `board`'s twin: --image cpuN=ELF items, or found in a deploy
    directory. A hart the SoC does not have, or a file that is not an RV32 ELF, is refused here,
    before QEMU starts (QEMU would boot hart 0 or just time out)."""
    if image and deploy:
        raise BspError("give either --image or --deploy, not both")
    out: dict[int, Path] = {}
    if image:
        for item in image:
            cpu, sep, given = item.partition("=")
            if not sep or not cpu.startswith("cpu") or not cpu[3:].isdigit():
                raise BspError(f"--image {item!r}: expected cpuN=PATH")
            if int(cpu[3:]) >= harts:
                raise BspError(f"--image {item!r}: the CMU610 has harts cpu0 to cpu{harts - 1}")
            out[int(cpu[3:])] = Path(given).resolve()
    elif deploy:
        for hart in range(harts):
            twin = deploy / machine_name(board, True)
            cands = (twin / f"cpu{hart}" / "zephyr.elf", twin / f"zephyr-cpu{hart}.elf",
                     deploy / f"cpu{hart}" / "zephyr.elf", deploy / f"zephyr-cpu{hart}.elf")
            found = next((c for c in cands if c.is_file()), None)
            if found is None:
                raise BspError(f"--deploy {deploy}: no image for hart {hart} of {board}",
                               hint=f"expected {twin}/cpu{hart}/zephyr.elf or {deploy}/zephyr-cpu{hart}.elf")
            out[hart] = found.resolve()
    else:
        raise BspError("no images: give --image cpu0=ELF --image cpu1=ELF, or --deploy DIR")
    for hart, path in sorted(out.items()):
        if not path.is_file():
            raise BspError(f"image for cpu{hart} not found: {path}")
        why = _elf32_riscv(path)
        if why:
            raise BspError(f"image for cpu{hart}: {path}: {why}")
    return Images(out)
