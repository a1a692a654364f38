"""The flash boot of the QEMU twin, end to end without a Zephyr tree: the boot stage built with
Debian's RISC-V GCC, two test images (tests/firmware in its AMP_IMAGE mode, linked at each
domain's RAM address), one 32 MiB image packed by cmu610bsp.flash for the default board, booted as
QEMU virt's pflash. Both harts report; a damaged header or image is refused, naming the partition;
a damaged slot A of the BMC domain boots from slot B."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from cmu610bsp import bootstage, flash, proc, resources
from cmu610bsp.model import Board, Soc, load_board, load_catalog, load_soc

FW = Path(__file__).parent / "firmware"
GCC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
pytestmark = pytest.mark.skipif(not (shutil.which(GCC) and shutil.which(QEMU)),
                                reason=f"needs {GCC} (Debian's gcc-riscv64-unknown-elf) and {QEMU} (qemu-system-misc)")
REFUSED = 3     # the boot stage's power-off code (data/bootstage/boot.c)


def _ok(argv: list[str]) -> str:
    r = proc.run(argv, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _image(out: Path, name: str, window: bootstage.Window) -> flash.Image:
    """The test firmware linked at `window.base`; entry read from the ELF header (e_entry)."""
    # GCC 12 picks its rv64 multilib for rv32..._zicsr_zifencei: link with the rv32 libgcc
    libgcc = Path(_ok([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"]).strip()).parent
    elf, binary = out / f"{name}.elf", out / f"{name}.bin"
    _ok([GCC, "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany", "-ffreestanding", "-nostdlib",
         "-nostartfiles", "-O2", "-DAMP_IMAGE", f"-Wl,--defsym=LOAD_ADDRESS={window.base:#x}", "-T", str(FW / "link.ld"),
         "-Wl,--no-warn-rwx-segments", str(FW / "start.S"), str(FW / "fw.c"), f"-L{libgcc}", "-lgcc", "-o", str(elf)])
    _ok(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)])
    (entry,) = struct.unpack_from("<I", elf.read_bytes(), 24)
    return flash.Image(binary.read_bytes(), window.base, entry, window.hart)


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Board, Soc, bytes]:
    out = tmp_path_factory.mktemp("flashboot")
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    catalog = load_catalog(resources.sensor_catalog())
    boot = bootstage.build(board, soc, catalog, out / "boot").read_bytes()
    images = {d: _image(out, d, w) for d, w in bootstage.windows(board, soc, catalog).items()}
    return board, soc, flash.pack(bootstage.partitions(board), images, soc.memory["flash"].size, boot=boot)


def _boot(img: bytes, tmp: Path) -> tuple[int, str]:
    path = tmp / "flash.bin"
    path.write_bytes(img)
    lines: list[str] = []
    code = proc.stream([QEMU, "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none", "-display", "none",
                        "-monitor", "none", "-serial", "stdio", "-drive", f"if=pflash,unit=0,format=raw,file={path}",
                        "-no-reboot"], lines.append, timeout=120)
    return code, "\n".join(lines)


def _damaged(board: Board, img: bytes, partition: str, at: int) -> bytes:
    """img with one byte flipped `at` bytes into the partition (0: the header's magic)."""
    (p,) = [p for p in board.flash.partitions if p.name == partition]
    out = bytearray(img)
    out[p.offset + at] ^= 0x5A
    return bytes(out)


def test_both_harts_boot_from_flash(packed: tuple[Board, Soc, bytes], tmp_path: Path) -> None:
    _board, soc, img = packed
    assert len(img) == soc.memory["flash"].size == 32 * 2**20
    code, out = _boot(img, tmp_path)
    assert code == 0, out
    assert "boot: secure-fw: ok" in out and "boot: bmc-fw-a: ok" in out
    assert "cpu0: boot ok" in out and "cpu1: boot ok" in out


@pytest.mark.parametrize(("partition", "at", "reason"), [
    ("secure-fw", 0, "bad magic (no image header)"),
    ("secure-fw", 16, "header CRC mismatch"),
    ("secure-fw", flash.HEADER_SIZE + 3, "sha256 mismatch"),
])
def test_a_damaged_secure_image_is_refused(packed: tuple[Board, Soc, bytes], tmp_path: Path,
                                           partition: str, at: int, reason: str) -> None:
    board, _soc, img = packed
    code, out = _boot(_damaged(board, img, partition, at), tmp_path)
    assert code == REFUSED, out
    assert f"boot: {partition}: {reason}" in out
    assert "no good image for the secure domain" in out
    assert "cpu0: boot ok" not in out and "cpu1: boot ok" not in out


def test_the_bmc_hart_falls_back_to_slot_b(packed: tuple[Board, Soc, bytes], tmp_path: Path) -> None:
    board, _soc, img = packed
    code, out = _boot(_damaged(board, img, "bmc-fw-a", flash.HEADER_SIZE + 3), tmp_path)
    assert code == 0, out
    assert "boot: bmc-fw-a: sha256 mismatch, trying the next slot" in out and "boot: bmc-fw-b: ok" in out
    assert "cpu0: boot ok" in out and "cpu1: boot ok" in out


def test_both_bmc_slots_damaged_is_refused(packed: tuple[Board, Soc, bytes], tmp_path: Path) -> None:
    board, _soc, img = packed
    img = _damaged(board, _damaged(board, img, "bmc-fw-a", 0), "bmc-fw-b", flash.HEADER_SIZE + 3)
    code, out = _boot(img, tmp_path)
    assert code == REFUSED, out
    assert "boot: bmc-fw-a: bad magic (no image header), trying the next slot" in out
    assert "boot: bmc-fw-b: sha256 mismatch" in out and "no good image for the bmc domain" in out
    assert "cpu1: boot ok" not in out
