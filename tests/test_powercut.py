"""Power-cut safety of the A/B update (issue 25, Must show 2): QEMU is killed (SIGKILL, the power
cut) at points spread over an update and over the trial and confirm writes, and the next boot
must start a valid, signed image, the one the cut state calls for.

The update is written in the guest, as on the chip: an update agent in the running BMC image
(guestupdate.py, tests/firmware/update_agent.c) is a TEST STAND-IN for the BMC firmware's PLDM
update service (not built yet); the ordering under test is cmu610bsp/update.py's, since the agent
applies update.plan(...)'s operations, those `cmu610bsp update` applies, in their order, with
real CFI flash commands. QEMU is killed after each erase, inside and at the end of each program,
right before and after the trailer magic lands (the commit point); the flash file must then hold
exactly the plan's operations so far, and boots the old image until the magic lands, the new one
on trial after. Then QEMU is killed right after each store to an A/B trailer (abflash.boot_cut)
during the trial boot and its confirmation, the trial of an unhealthy image, and the boot that
reverts it. The same plans are also cut on the host (modelled cuts: prefixes of the plan applied to
the file, with each operation half written too, a torn erase QEMU's atomic erase cannot give),
counted apart. Every cut is followed by a real boot on QEMU, checked for both harts and the BMC
image it started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import guestupdate
from abflash import Kit, boot, boot_cut, kit, put
from cmu610bsp import update
from flashimg import MISSING

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
REAL: list[str] = []          # every kill of QEMU, each followed by a boot
MODELLED: list[str] = []      # every cut modelled on the host, each followed by a boot


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return kit(tmp_path_factory.mktemp("powercut"), {"v1": True, "v2": True, "bad": False}, guestupdate.agent_args())


def _boots(path: Path, expected: str, cut: str, cuts: list[str], trial: bool = False) -> None:
    """The boot after a cut: both harts start, and the BMC image the cut state calls for."""
    b = boot(path)
    assert b.code == 0, f"{cut}:\n{b.out}"
    assert "cpu0: boot ok" in b.out and "cpu1: boot ok" in b.out, f"{cut}:\n{b.out}"
    assert b.bmc_image == expected, f"{cut}: expected {expected}:\n{b.out}"
    assert not trial or "ok, on trial until its firmware confirms it" in b.out, f"{cut}: not on trial:\n{b.out}"
    cuts.append(cut)


def _difference(got: bytes, want: bytes) -> str:
    """Where the flash file differs from what it should hold ('' if nowhere): 32 MiB are not diffed."""
    if got == want:
        return ""
    at = next(i for i in range(min(len(got), len(want))) if got[i] != want[i]) if len(got) == len(want) else -1
    return f"the flash differs from the plan's operations so far at {at:#x}"


def _modelled(k: Kit, path: Path, start: bytes, tag: str, old: str) -> None:
    """Cut the plan of the update of `start` with `tag` on the host, before and in the middle of
    each operation; the boot starts `old` every time (the last operation, the magic, not done)."""
    ops = update.plan(k.partitions, start, k.bmc[tag]).ops
    for i, op in enumerate(ops):
        for torn in (False, True):
            cut = bytearray(start)
            update.apply(cut, ops[:i])
            if torn:
                update.apply(cut, [update.Op(op.offset, op.data[:max(1, len(op.data) // 2)], op.what)])
            put(path, cut)
            _boots(path, old, f"update to {tag}: {'in' if torn else 'before'} {op.what}", MODELLED)


def _update_in_guest(k: Kit, path: Path, start: bytes, tag: str, old: str, tmp: Path) -> bytes:
    """The update of `start` to `tag`, applied by the agent in `old` (the running image), QEMU
    killed at each of guestupdate.kills; the updated flash, which must be the tool's."""
    ops = update.plan(k.partitions, start, k.bmc[tag]).ops
    ops_file = tmp / f"ops-{tag}.bin"
    ops_file.write_bytes(guestupdate.serialise(ops))
    extra = guestupdate.loader(ops_file)
    for cut in guestupdate.kills(ops):
        what = f"update to {tag}: QEMU killed {cut.what}"
        put(path, start)
        assert boot_cut(path, k, cut.stores, tmp, [(cut.word, 4)], extra) == cut.stores, f"{what}: never reached"
        why = _difference(path.read_bytes(), cut.flash(start, ops))
        assert not why, f"{what}: {why}"
        committed = cut.done == len(ops)
        _boots(path, tag if committed else old, what, REAL, trial=committed)
    put(path, start)
    b = boot(path, extra)
    assert b.code == 0 and b.bmc_image == old and "cpu1: update applied" in b.out, b.out
    done = bytearray(start)
    update.apply(done, ops)
    why = _difference(path.read_bytes(), bytes(done))
    assert not why, f"the guest's update of {tag}: {why}"
    return bytes(done)


def _guest_cuts(k: Kit, path: Path, start: bytes, expected: Callable[[int], str], what: str, tmp: Path) -> int:
    """Kill QEMU after each trailer store of the boot of `start`; the stores that boot makes."""
    n = 0
    while True:
        put(path, start)
        if boot_cut(path, k, n + 1, tmp) < n + 1:
            return n
        n += 1
        _boots(path, expected(n), f"{what}: QEMU killed after trailer store {n}", REAL)


def test_every_cut_of_an_update_cycle_boots_a_valid_image(k: Kit, tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    # 1. the update to v2, written by the running v1: modelled cuts, then QEMU killed in it
    _modelled(k, path, k.factory, "v2", "v1")
    updated = _update_in_guest(k, path, k.factory, "v2", "v1", tmp_path)
    in_update = len(REAL)
    # 2. v2's trial and confirmation (copy_done: stores 1-4, image_ok: 5-8): once copy_done is
    #    programmed (store 2) an unconfirmed v2 reverts to v1; once image_ok is (store 6) v2 stays
    stores = _guest_cuts(k, path, updated, lambda n: "v1" if 2 <= n < 6 else "v2", "v2's trial", tmp_path)
    assert stores == 8
    put(path, updated)
    assert boot(path).bmc_image == "v2"
    confirmed = path.read_bytes()
    # 3. the update to an image that never confirms, written by the running v2
    _modelled(k, path, confirmed, "bad", "v2")
    before = len(REAL)
    unhealthy = _update_in_guest(k, path, confirmed, "bad", "v2", tmp_path)
    in_update += len(REAL) - before
    # 4. its trial (copy_done, stores 1-4): cut before copy_done lands, it is tried again
    assert _guest_cuts(k, path, unhealthy, lambda n: "bad" if n < 2 else "v2", "bad's trial", tmp_path) == 4
    put(path, unhealthy)
    assert boot(path).bmc_image == "bad"
    tried = path.read_bytes()
    # 5. the boot that reverts it (its magic zeroed, four word programs: 16 stores): v2 every time
    assert _guest_cuts(k, path, tried, lambda n: "v2", "the revert of bad", tmp_path) == 16
    print(f"\n{len(REAL)} real power cuts (QEMU killed, each followed by a boot): {in_update} in the updates, "
          f"{len(REAL) - in_update} in the trial, confirm and revert writes; "
          f"{len(MODELLED)} more modelled on the host (prefixes of the same plans)")
    assert len(REAL) - in_update == 8 + 4 + 16
    assert in_update >= 20 and len(REAL) >= 50
