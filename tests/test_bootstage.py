"""The flash boot of the QEMU twin, end to end without a Zephyr tree: the boot stage built with
Debian's RISC-V GCC, two test images (tests/firmware in its AMP_IMAGE mode, linked at each
domain's RAM address), one 32 MiB image packed by cmu610bsp.flash for the default board, booted as
QEMU virt's pflash. Both harts report; a damaged header or image is refused, naming the partition;
a damaged slot A of the BMC domain boots from slot B."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmu610bsp import flash, proc
from cmu610bsp.model import Board, Soc
from flashimg import MISSING, QEMU, amp_flash_image

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
REFUSED = 3     # the boot stage's power-off code (data/bootstage/boot.c)


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Board, Soc, bytes]:
    return amp_flash_image(tmp_path_factory.mktemp("flashboot"))


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
