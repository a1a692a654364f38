"""`cmu610bsp debug` and `qemu run --gdb`: gdb-multiarch on the board's QEMU twin.

QEMU's gdb stub shows each hart as a thread of one process (thread 1 is hart 0, the secure
domain; thread 2 hart 1, the BMC domain), so one gdb sees both. Both firmwares' symbols are
loaded, each where its image runs: an ELF given with --image is loaded by QEMU at its own
addresses; from a flash image, the boot stage copies each image from its partition to the load
address its header names (flash-manifest.json), and the ELF deployed beside it is loaded at that
address (its own when they agree, as the flash recipe makes sure). The boot stage's ELF, which
both harts start in from flash, is loaded too when it was deployed.

`debug` runs QEMU with the stub on a socket in its private scratch directory (no port to take
or to expose), halted, and gdb on the terminal (Ctrl-C is gdb's: it interrupts the target) or
with a script (`--batch FILE`, gdb -batch). QEMU's console goes to a transcript. QEMU and gdb
are stopped on every way out.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pexpect

from cmu610bsp import flash, proc, qemu
from cmu610bsp.errors import BspError, ChildFailed, Finding
from cmu610bsp.layout import FLASH_MANIFEST
from cmu610bsp.model import Soc

GDB = "gdb-multiarch"
BOOTSTAGE_ELF = "bootstage.elf"
STUB_WAIT = 30.0  # seconds for QEMU to open its stub (a loaded 2-core machine is slow to start it)


@dataclass(frozen=True)
class Symbols:
    """One ELF's symbols for gdb, and how far its image runs from the addresses it was linked at."""

    elf: Path
    what: str        # "hart 0", "hart 1", "boot stage"
    offset: int = 0  # load address - the ELF's lowest loaded address


def find_gdb() -> str:
    path = shutil.which(GDB)
    if not path:
        raise BspError(f"{GDB} not found on PATH", hint=f"apt-get install {GDB} (`cmu610bsp doctor` lists what is missing)")
    return path


def tcp_stub(port: int) -> str:
    """QEMU's -gdb chardev for `qemu run --gdb=PORT`: on the loopback interface only (the stub
    gives full control of the guest), refused here, naming the port, when something holds it."""
    if not 0 < port < 65536:
        raise BspError(f"--gdb={port}: not a TCP port (1 to 65535)")
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as QEMU binds it
        probe.bind(("127.0.0.1", port))
    except OSError as e:
        raise BspError(f"--gdb={port}: port {port} on 127.0.0.1 is busy ({e.strerror})",
                       hint="another QEMU or debugger holds it: give another port, --gdb=PORT") from None
    finally:
        probe.close()
    return f"tcp:127.0.0.1:{port}"


def _elf_base(path: Path) -> int:
    """The lowest physical address a 32-bit little-endian ELF loads a segment at (the packer's
    reader, flash.elf_load, as the image's load address is derived)."""
    try:
        _, segments = flash.elf_load(path.read_bytes(), str(path))
    except OSError as e:
        raise BspError(f"{path}: cannot read: {e.strerror}") from None
    except (flash.FlashError, struct.error) as e:
        raise BspError(str(e) if isinstance(e, flash.FlashError) else f"{path}: a truncated ELF") from None
    return min(s.address for s in segments if s.filesz)


def image_symbols(images: qemu.Images) -> list[Symbols]:
    """--image/--deploy ELFs: QEMU loads each at its own addresses, so gdb does too."""
    return [Symbols(elf, f"hart {hart}") for hart, elf in sorted(images.by_hart.items())]


def deployed_symbols(deploy: Path, harts: int) -> list[Symbols]:
    """The ELFs a build deployed beside its flash image (zephyr-cpu<hart>.elf), each at the load
    address the image's header names (flash-manifest.json), and the boot stage's when present."""
    loads: dict[int, int] = {}
    manifest = deploy / FLASH_MANIFEST
    if manifest.is_file():
        try:
            for part in json.loads(manifest.read_text()).get("partitions", []):
                image = part.get("image")
                if image:
                    loads.setdefault(int(image["hart"]), int(image["load_address"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise BspError("not a flash manifest", [Finding(str(manifest), "partitions", str(e) or type(e).__name__)]) from None
    out = []
    for hart in range(harts):
        elf = deploy / f"zephyr-cpu{hart}.elf"
        if not elf.is_file():
            raise BspError(f"no symbols for hart {hart}: {elf} not found",
                           hint="the flash image's firmware ELFs are deployed beside it; build the line again")
        out.append(Symbols(elf, f"hart {hart}", loads[hart] - _elf_base(elf) if hart in loads else 0))
    if (deploy / BOOTSTAGE_ELF).is_file():
        out.append(Symbols(deploy / BOOTSTAGE_ELF, "boot stage"))
    return out


def _quoted(path: Path) -> str:
    """A file name as gdb's argument splitter reads it back (double quotes, backslash escapes)."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def gdb_commands(symbols: list[Symbols], stub: Path) -> list[str]:
    """What gdb runs before the user's commands: every ELF's symbols where its image runs, then
    the connection to the stub; the harts stay halted."""
    cmds = ["set pagination off", "set confirm off"]
    for s in symbols:
        cmds.append(f"add-symbol-file {_quoted(s.elf)}" + (f" -o {s.offset:#x}" if s.offset else ""))
    cmds.append(f"target remote {stub}")  # gdb sees the path is a socket and connects to it
    return cmds


def banner(symbols: list[Symbols], harts: int) -> str:
    threads = ", ".join(f"thread {h + 1} is hart {h}" for h in range(harts))
    return f"gdb: {threads}; symbols: " + "; ".join(f"{s.what} {s.elf}" for s in symbols)


def session(soc: Soc, images: qemu.Images, symbols: list[Symbols], transcript: Path, batch: Path | None,
            timeout: float | None, on_line: Callable[[str], None]) -> int:
    """Boot the twin halted with its stub, then gdb on it: on this terminal, or running `batch`
    (its output to `on_line`, `timeout` seconds at most). gdb's exit code; QEMU is stopped
    however this ends."""
    gdb = find_gdb()
    if batch is not None and not batch.is_file():
        raise BspError(f"--batch {batch}: file not found")
    twin = qemu.Qemu(soc, images, transcript, gdb=True)
    stop = threading.Event()
    drain = threading.Thread(target=_drain, args=(twin, stop), daemon=True)
    try:
        twin.start()
        drain.start()
        assert twin.gdb_socket is not None
        _wait_for_stub(twin, twin.gdb_socket, transcript)
        ex = [a for c in gdb_commands(symbols, twin.gdb_socket) for a in ("-ex", c)]
        if batch is None:
            return proc.foreground([gdb, "-q", *ex])
        argv = [gdb, "-q", "-nx", "-batch", *ex, "-x", str(batch.resolve())]
        rc = proc.stream(argv, on_line, timeout=timeout)
        if rc:
            raise ChildFailed(argv, rc, hint=f"a command of {batch} failed (gdb's output above); console: {transcript}")
        return rc
    finally:
        stop.set()
        if drain.is_alive():
            drain.join(timeout=5)
        twin.stop()


def _wait_for_stub(twin: qemu.Qemu, stub: Path, transcript: Path) -> None:
    """QEMU opens its stub's socket as it starts: gdb connects once it is there."""
    end = time.monotonic() + STUB_WAIT
    while not stub.exists():
        if twin.child is None or not twin.child.isalive():
            raise BspError("QEMU exited before its gdb stub opened", hint=f"its output: {transcript}")
        if time.monotonic() > end:
            raise BspError(f"QEMU did not open its gdb stub within {STUB_WAIT:g} s", hint=f"its output: {transcript}")
        time.sleep(0.02)


def _drain(twin: qemu.Qemu, stop: threading.Event) -> None:
    """Read QEMU's console into its transcript while gdb runs (a full pty would stall the guest)."""
    child = twin.child
    while child is not None and not stop.is_set():
        try:
            child.read_nonblocking(4096, timeout=0.2)
        except pexpect.TIMEOUT:
            continue
        except (pexpect.EOF, OSError, ValueError):
            return
