"""Power-cut safety of the A/B update (issue 25, Must show 2): the flash is cut at every point of
an update cycle and the next boot must start a valid image, the one the cut state calls for.

Cut points: in the host-side update (`cmu610bsp update` on the twin's file), after each of its
flash operations and in the middle of each (half its bytes written: a torn program or erase);
in the guest, QEMU SIGKILLed right after each store to an A/B trailer (abflash.boot_cut) during
the trial boot and its confirmation, the trial of an unhealthy image, and the boot that reverts it.
Every cut is followed by a real boot on QEMU, checked for both harts and the BMC image it started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from abflash import Kit, boot, boot_cut, kit, put
from cmu610bsp import update
from flashimg import MISSING

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
CUTS: list[str] = []          # every cut made, to count them


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return kit(tmp_path_factory.mktemp("powercut"), {"v1": True, "v2": True, "bad": False})


def _boots(path: Path, expected: str, cut: str) -> None:
    """The boot after a cut: both harts start, and the BMC image the cut state calls for."""
    b = boot(path)
    assert b.code == 0, f"{cut}:\n{b.out}"
    assert "cpu0: boot ok" in b.out and "cpu1: boot ok" in b.out, f"{cut}:\n{b.out}"
    assert b.bmc_image == expected, f"{cut}: expected {expected}:\n{b.out}"
    CUTS.append(cut)


def _host_update(k: Kit, path: Path, start: bytes, tag: str, old: str) -> bytes:
    """Cut the update of `start` with `tag` everywhere; the boot starts `old` until the last
    operation (the trailer magic) completes, then `tag` on trial. The updated image."""
    plan = update.plan(k.partitions, start, k.bmc[tag])
    for i, op in enumerate(plan.ops):
        for torn in (False, True):
            cut = bytearray(start)
            update.apply(cut, plan.ops[:i])
            if torn:
                update.apply(cut, [update.Op(op.offset, op.data[:max(1, len(op.data) // 2)], op.what)])
            put(path, cut)
            _boots(path, old, f"update {tag}: {'in' if torn else 'before'} {op.what}")
    done = bytearray(start)
    update.apply(done, plan.ops)
    put(path, done)
    _boots(path, tag, f"update {tag}: after its last operation")
    return bytes(done)


def _guest_cuts(k: Kit, path: Path, start: bytes, expected: Callable[[int], str], what: str, tmp: Path) -> int:
    """Kill QEMU after each trailer store of the boot of `start`; the stores that boot makes."""
    n = 0
    while True:
        put(path, start)
        if boot_cut(path, k, n + 1, tmp) < n + 1:
            return n
        n += 1
        _boots(path, expected(n), f"{what}: QEMU killed after trailer store {n}")


def test_every_cut_of_an_update_cycle_boots_a_valid_image(k: Kit, tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    # 1. the update to v2, cut everywhere
    updated = _host_update(k, path, k.factory, "v2", "v1")
    # 2. v2's trial and confirmation (copy_done: stores 1-4, image_ok: 5-8): once copy_done is
    #    programmed (store 2) an unconfirmed v2 reverts to v1; once image_ok is (store 6) v2 stays
    put(path, updated)
    stores = _guest_cuts(k, path, updated, lambda n: "v1" if 2 <= n < 6 else "v2", "v2's trial", tmp_path)
    assert stores == 8
    put(path, updated)
    assert boot(path).bmc_image == "v2"
    confirmed = path.read_bytes()
    # 3. the update to an image that never confirms, cut everywhere
    unhealthy = _host_update(k, path, confirmed, "bad", "v2")
    # 4. its trial (copy_done, stores 1-4): cut before copy_done lands, it is tried again
    assert _guest_cuts(k, path, unhealthy, lambda n: "bad" if n < 2 else "v2", "bad's trial", tmp_path) == 4
    put(path, unhealthy)
    assert boot(path).bmc_image == "bad"
    tried = path.read_bytes()
    # 5. the boot that reverts it (its magic zeroed, four word programs: 16 stores): v2 every time
    assert _guest_cuts(k, path, tried, lambda n: "v2", "the revert of bad", tmp_path) == 16
    guest = sum("QEMU killed" in c for c in CUTS)
    print(f"\n{len(CUTS)} cuts, each followed by a boot: {guest} with QEMU killed in the guest's writes, "
          f"{len(CUTS) - guest} in the host's update")
    assert guest == 8 + 4 + 16 and len(CUTS) >= 50
