"""A/B update with trial, confirm and revert on the QEMU twin (abflash.py: the boot stage and test
images, a pflash drive that keeps the guest's writes): the update writes the slot the boot stage
does not fall back to, the boot stage starts it once on trial, its firmware confirms it, and an
unconfirmed trial reverts on the next reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from abflash import Kit, boot, kit
from cmu610bsp import flash, update
from flashimg import MISSING

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return kit(tmp_path_factory.mktemp("abupdate"), {"v1": True, "v2": True, "bad": False})


def _states(k: Kit, path: Path) -> dict[str, tuple[bool, bool, bool, int]]:
    """partition -> (complete, confirmed, tried, generation) as the file holds them."""
    return {s.partition.name: (s.complete, s.confirmed, s.tried, s.generation)
            for s in update.slots(k.partitions, path.read_bytes())}


def test_the_guest_writes_land_in_the_flash_file(k: Kit, tmp_path: Path) -> None:
    """Verified first, as the issue asks: QEMU virt's pflash without readonly=on keeps what the
    guest programs (the boot stage's copy_done, the firmware's image_ok) in its backing file."""
    path = tmp_path / "flash.bin"
    path.write_bytes(k.factory)
    update.update_file(path, k.partitions, k.bmc["v2"])
    before = path.read_bytes()
    assert boot(path).code == 0
    after = path.read_bytes()
    end = next(p for p in k.partitions if p.name == "bmc-fw-b")
    end_at = end.offset + end.size
    changed = [i for i in range(len(before)) if before[i] != after[i]] if before != after else []
    assert changed == [end_at + flash.COPY_DONE_OFF, end_at + flash.IMAGE_OK_OFF]
    assert after[end_at + flash.COPY_DONE_OFF] == after[end_at + flash.IMAGE_OK_OFF] == flash.FLAG_SET


def test_factory_image_boots_slot_a_and_confirms_nothing(k: Kit, tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    path.write_bytes(k.factory)
    b = boot(path)
    assert b.code == 0, b.out
    assert "boot: bmc-fw-a: ok, version" in b.out and b.bmc_image == "v1" and "cpu1: nothing to confirm" in b.out
    assert path.read_bytes() == k.factory


def test_update_trial_confirm_then_an_unhealthy_update_reverts(k: Kit, tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    path.write_bytes(k.factory)
    plan = update.update_file(path, k.partitions, k.bmc["v2"])
    assert (plan.target.partition.name, plan.generation) == ("bmc-fw-b", 1)
    assert _states(k, path) == {"bmc-fw-a": (True, True, False, 0), "bmc-fw-b": (True, False, False, 1)}

    b = boot(path)                                   # the trial
    assert b.code == 0, b.out
    assert "boot: bmc-fw-b: ok, on trial until its firmware confirms it" in b.out
    assert b.bmc_image == "v2" and "cpu1: confirmed" in b.out
    b = boot(path)                                   # confirmed: it stays
    assert "boot: bmc-fw-b: ok, version" in b.out and b.bmc_image == "v2" and "cpu1: nothing to confirm" in b.out

    plan = update.update_file(path, k.partitions, k.bmc["bad"])
    assert (plan.target.partition.name, plan.generation) == ("bmc-fw-a", 2)
    b = boot(path)                                   # its trial: it never confirms
    assert "boot: bmc-fw-a: ok, on trial" in b.out and b.bmc_image == "bad" and "confirmed" not in b.out
    b = boot(path)                                   # the next reset reverts
    assert "boot: bmc-fw-a: its trial was not confirmed: reverted, trying the next slot" in b.out
    assert "boot: bmc-fw-b: ok, version" in b.out and b.bmc_image == "v2"
    b = boot(path)                                   # and for good
    assert "boot: bmc-fw-a: no complete image (trailer magic unset)" in b.out and b.bmc_image == "v2"
    assert _states(k, path)["bmc-fw-b"] == (True, True, True, 1)

    plan = update.update_file(path, k.partitions, k.bmc["v2"])   # the reverted slot takes the next update
    assert (plan.target.partition.name, plan.generation) == ("bmc-fw-a", 2)   # above every complete slot


def test_a_damaged_update_is_refused_and_the_confirmed_slot_boots(k: Kit, tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    path.write_bytes(k.factory)
    update.update_file(path, k.partitions, k.bmc["v2"])
    raw = bytearray(path.read_bytes())
    b_slot = next(p for p in k.partitions if p.name == "bmc-fw-b")
    raw[b_slot.offset + flash.HEADER_SIZE + 5] ^= 0x5A
    path.write_bytes(raw)
    b = boot(path)
    assert b.code == 0, b.out
    assert "boot: bmc-fw-b: hash mismatch (header, image or protected TLVs changed), trying the next slot" in b.out
    assert "boot: bmc-fw-a: ok, version" in b.out and b.bmc_image == "v1"
