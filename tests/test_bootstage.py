"""The flash boot of the QEMU twin, end to end without a Zephyr tree: the boot stage built with
Debian's RISC-V GCC (and libsodium's sources), two test images (tests/firmware in its AMP_IMAGE
mode, linked at each domain's RAM address), signed and packed into one 32 MiB image by
cmu610bsp.flash for the default board, booted as QEMU virt's pflash. Both harts report; a damaged
image is refused, naming the partition; a damaged slot A of the BMC domain boots from slot B.
The whole tamper matrix is tests/test_secureboot.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmu610bsp import flash
from cmu610bsp.model import Board
from flashimg import MISSING, REFUSED, Amp, amp_flash_image, boot

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Amp:
    return amp_flash_image(tmp_path_factory.mktemp("flashboot"))


def _damaged(board: Board, img: bytes, partition: str, at: int) -> bytes:
    """img with one byte flipped `at` bytes into the partition (0: the MCUboot header's magic)."""
    (p,) = [p for p in board.flash.partitions if p.name == partition]
    out = bytearray(img)
    out[p.offset + at] ^= 0x5A
    return bytes(out)


def test_both_harts_boot_from_flash(packed: Amp, tmp_path: Path) -> None:
    img = packed.flash
    assert len(img) == packed.soc.memory["flash"].size == 32 * 2**20
    code, out = boot(img, tmp_path)
    assert code == 0, out
    assert "boot: secure-fw: ok, version 0.0.0, security counter 0" in out and "boot: bmc-fw-a: ok" in out
    assert "cpu0: boot ok" in out and "cpu1: boot ok" in out


@pytest.mark.parametrize(("partition", "at", "reason"), [
    ("secure-fw", 0, "bad magic (no signed image)"),
    ("secure-fw", 16, "hash mismatch (header, image or protected TLVs changed)"),
    ("secure-fw", flash.HEADER_SIZE + 3, "hash mismatch (header, image or protected TLVs changed)"),
])
def test_a_damaged_secure_image_is_refused(packed: Amp, tmp_path: Path, partition: str, at: int, reason: str) -> None:
    code, out = boot(_damaged(packed.board, packed.flash, partition, at), tmp_path)
    assert code == REFUSED, out
    assert f"boot: {partition}: {reason}" in out
    assert "no good image for the secure domain" in out
    assert "cpu0: boot ok" not in out and "cpu1: boot ok" not in out


def test_the_bmc_hart_falls_back_to_slot_b(packed: Amp, tmp_path: Path) -> None:
    code, out = boot(_damaged(packed.board, packed.flash, "bmc-fw-a", flash.HEADER_SIZE + 3), tmp_path)
    assert code == 0, out
    assert "boot: bmc-fw-a: hash mismatch (header, image or protected TLVs changed), trying the next slot" in out
    assert "boot: bmc-fw-b: ok" in out
    assert "cpu0: boot ok" in out and "cpu1: boot ok" in out


def test_both_bmc_slots_damaged_is_refused(packed: Amp, tmp_path: Path) -> None:
    board = packed.board
    img = _damaged(board, _damaged(board, packed.flash, "bmc-fw-a", 0), "bmc-fw-b", flash.HEADER_SIZE + 3)
    code, out = boot(img, tmp_path)
    assert code == REFUSED, out
    assert "boot: bmc-fw-a: bad magic (no signed image), trying the next slot" in out
    assert "boot: bmc-fw-b: hash mismatch" in out and "no good image for the bmc domain" in out
    assert "cpu1: boot ok" not in out
