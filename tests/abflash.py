"""A/B update on the QEMU twin without a Zephyr tree: the boot stage and test images (flashimg.py)
in the default board's flash, BMC images that name themselves (IMAGE_TAG) and confirm their trial
or not (CONFIRM, through the boot stage's confirm.c), booted from a pflash drive WITHOUT
readonly=on: the guest's flash writes (trial, revert, confirm) land in the file, as on the chip.

`boot_cut` is a power cut in the guest: QEMU's gdbstub (on a unix socket in the test's tmp dir)
watches every store to the A/B trailers (or to other narrow ranges); QEMU is SIGKILLed right after
the n-th one (stepped over: QEMU stops before it), and pflash writes each program and erase to its
file as it happens."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import bootstage, flash, flash_layout, proc, resources
from cmu610bsp.model import Board, Soc, load_board, load_catalog, load_soc
from flashimg import QEMU, _image, signing_key


@dataclass(frozen=True)
class Kit:
    """The default board, its partition table, the factory flash image (v1 in both BMC slots) and
    BMC images (signed with the factory image's key, what an update package carries) by tag."""

    board: Board
    soc: Soc
    partitions: list[flash.Partition]
    factory: bytes
    bmc: dict[str, bytes]


def kit(out: Path, tags: dict[str, bool], agent: Sequence[str] = ()) -> Kit:
    """Build the boot stage, the secure image and one BMC image per tag (True: it confirms);
    `agent`: more compiler arguments for the images that confirm (guestupdate.py's update agent)."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    catalog = load_catalog(resources.sensor_catalog())
    boot = bootstage.build(board, soc, catalog, out / "boot").read_bytes()
    windows = flash_layout.windows(board, soc, catalog)
    src = bootstage.SOURCES

    def bmc(tag: str, confirm: bool) -> flash.Image:
        extra = [f'-DIMAGE_TAG="{tag}"', f"-I{out / 'boot'}", f"-I{src}", f"-I{src / 'libc'}"]
        if confirm:
            extra += ["-DCONFIRM", str(src / "confirm.c"), str(src / "flashprog.S"), *agent]
        return _image(out, f"bmc-{tag}", windows["bmc"], extra)

    images = {tag: bmc(tag, confirm) for tag, confirm in tags.items()}
    key = signing_key(out / "signing-key.pem")
    factory = flash_layout.pack(board, soc, {"secure": _image(out, "secure", windows["secure"]), "bmc": images["v1"]},
                                boot, key)
    return Kit(board, soc, flash_layout.partitions(board), factory,
               {tag: flash.signed(i, key) for tag, i in images.items()})


def put(path: Path, image: bytes, block: int = 256 * 1024) -> None:
    """Make the flash file hold `image`, writing only the blocks that differ (a cut state differs
    from the last one in a few blocks; rewriting 32 MiB per boot is most of a test's time)."""
    if not path.exists():
        path.write_bytes(image)
        return
    with path.open("r+b") as f:
        old = f.read()
        for at in range(0, len(image), block):
            if old[at:at + block] != image[at:at + block]:
                f.seek(at)
                f.write(image[at:at + block])


def _argv(path: Path, extra: Sequence[str] = ()) -> list[str]:
    return [QEMU, "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none", "-display", "none",
            "-monitor", "none", "-serial", "stdio", "-drive", f"if=pflash,unit=0,format=raw,file={path}",
            "-no-reboot", *extra]


@dataclass(frozen=True)
class Boot:
    code: int
    out: str

    @property
    def bmc_image(self) -> str | None:
        """The tag of the BMC image that started, None if none did."""
        m = re.search(r"cpu1: image (\w+)", self.out)
        return m.group(1) if m else None


def boot(path: Path, extra: Sequence[str] = ()) -> Boot:
    """Boot the flash file (`extra`: more QEMU arguments) until the guest powers off."""
    lines: list[str] = []
    code = proc.stream(_argv(path, extra), lines.append, timeout=120)
    return Boot(code, "\n".join(lines))


def _packet(data: str) -> bytes:
    return f"${data}#{sum(data.encode()) % 256:02x}".encode()


class _Gdb:
    """The few packets of GDB's remote protocol this needs: watchpoints, continue (each reply acked)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.02)
        else:
            raise AssertionError(f"QEMU's gdbstub never listened on {path}")
        self.buf = b""

    def ask(self, data: str) -> str | None:
        """Send a packet; its reply, or None when QEMU went away (the guest powered off)."""
        self.sock.sendall(_packet(data))
        while True:
            m = re.search(rb"\$([^#]*)#..", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                self.sock.sendall(b"+")
                return m.group(1).decode()
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def boot_cut(path: Path, kit_: Kit, after: int, tmp: Path, watches: Sequence[tuple[int, int]] = (),
             extra: Sequence[str] = ()) -> int:
    """Boot `path` (`extra`: more QEMU arguments) and SIGKILL QEMU right after the `after`-th store
    to an A/B trailer, or to the flash ranges (offset, size) `watches` names; the stores seen (fewer
    than `after` when the guest powered off first)."""
    sock = tmp / "gdb.sock"
    sock.unlink(missing_ok=True)
    qemu = subprocess.Popen([*_argv(path, extra), "-S", "-gdb", f"unix:{sock},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=proc.die_with_parent(signal.SIGKILL))
    gdb = None
    try:
        gdb = _Gdb(sock)
        base = kit_.soc.qemu.flash_base
        ranges = watches or [(p.offset + p.size - flash.TRAILER_SIZE, flash.TRAILER_SIZE)
                             for p in kit_.partitions if p.slot]
        zs = [f"{base + at:x},{size:x}" for at, size in ranges]
        seen = 0
        while seen < after:
            for w in zs:
                assert gdb.ask(f"Z2,{w}") == "OK"
            reply = gdb.ask("c")
            if reply is None or reply.startswith(("W", "X")):
                break
            assert "watch" in reply, reply
            # QEMU stops before the store: step over it without the watchpoints, as GDB does
            for w in zs:
                assert gdb.ask(f"z2,{w}") == "OK"
            assert (gdb.ask("s") or "").startswith("T"), "the store was not stepped over"
            seen += 1
        os.killpg(qemu.pid, signal.SIGKILL)      # the power cut
        qemu.wait(timeout=30)
        return seen
    finally:
        if gdb:
            gdb.close()
        proc.kill_group(qemu)
