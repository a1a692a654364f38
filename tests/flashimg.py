"""A flash image for the default board made without a Zephyr tree: the boot stage built with
Debian's RISC-V GCC and two test images (tests/firmware in its AMP_IMAGE mode, linked at each
domain's RAM address) packed by cmu610bsp.flash. Hart 0's image prints "cpu0: boot ok" and then
releases hart 1, whose image prints "cpu1: boot ok" and powers the twin off."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Sequence
from pathlib import Path

from cmu610bsp import bootstage, flash, flash_layout, proc, resources
from cmu610bsp.model import Board, Soc, load_board, load_catalog, load_soc

FW = Path(__file__).parent / "firmware"
GCC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
MISSING = (f"needs {GCC} (Debian's gcc-riscv64-unknown-elf) and {QEMU} (qemu-system-misc)"
           if not (shutil.which(GCC) and shutil.which(QEMU)) else "")


def _ok(argv: list[str]) -> str:
    r = proc.run(argv, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _image(out: Path, name: str, window: flash_layout.Window, extra: Sequence[str] = ()) -> flash.Image:
    """The test firmware linked at `window.base`; entry read from the ELF header (e_entry); `extra`:
    more compiler arguments (defines, sources)."""
    # GCC 12 picks its rv64 multilib for rv32..._zicsr_zifencei: link with the rv32 libgcc
    libgcc = Path(_ok([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"]).strip()).parent
    elf, binary = out / f"{name}.elf", out / f"{name}.bin"
    _ok([GCC, "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany", "-ffreestanding", "-nostdlib",
         "-nostartfiles", "-O2", "-DAMP_IMAGE", f"-Wl,--defsym=LOAD_ADDRESS={window.base:#x}", "-T", str(FW / "link.ld"),
         "-Wl,--no-warn-rwx-segments", *extra, str(FW / "start.S"), str(FW / "fw.c"), f"-L{libgcc}", "-lgcc", "-o", str(elf)])
    _ok(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)])
    (entry,) = struct.unpack_from("<I", elf.read_bytes(), 24)
    return flash.Image(binary.read_bytes(), window.base, entry, window.hart)


def amp_flash_image(out: Path) -> tuple[Board, Soc, bytes]:
    """The default board, its SoC and its 32 MiB flash image with the two test images."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    catalog = load_catalog(resources.sensor_catalog())
    boot = bootstage.build(board, soc, catalog, out / "boot").read_bytes()
    images = {d: _image(out, d, w) for d, w in flash_layout.windows(board, soc, catalog).items()}
    return board, soc, flash_layout.pack(board, soc, images, boot)
