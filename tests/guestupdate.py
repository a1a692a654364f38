"""An update whose flash writes happen in the guest, as on the chip, so that a power cut can kill
QEMU in the middle of it (tests/test_powercut.py).

The agent that writes is a TEST STAND-IN for the BMC firmware's PLDM update service (not built
yet): tests/firmware/update_agent.c, built into the BMC test images that confirm. What it applies
is the tool's own plan: the host serialises update.plan(...)'s operations (those `cmu610bsp update`
applies, in its order), QEMU's loader device puts them in the twin's RAM at OPS_ADDRESS, and the
agent performs each with the flash's CFI commands. `kills` names the points of that run at which
the test kills QEMU, each as a store to one flash word that QEMU's gdbstub watches (abflash.boot_cut),
and the flash the file must hold then: the plan's operations up to that point, exactly.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import flash, flash_layout, resources, update
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import FW

# The middle of the twin's RAM (QEMU virt, -m 256 from 0x80000000): above every domain's window
# and the PSRAM, below the device tree QEMU places at the top. kit's images and `agent_args` check it.
OPS_ADDRESS = 0x88000000
OPS_MAGIC = 0x31504F55           # "UOP1", update_agent.c's
ERASE, PROGRAM = 1, 2
# The agent's stores to the word an action works on (an erase: its block's first word): the
# command (0x20, 0x40), the confirm (0xD0) or the data word, clear status (0x50), read array (0xFF).
STORES_PER_ACTION = 4
SPREAD = 8                       # kill points inside each program operation


def agent_args() -> list[str]:
    """Compiler arguments that build the update agent into a BMC test image (abflash.kit's `agent`),
    once the operations' address is known to be clear of everything the twin's images use."""
    soc = load_soc(resources.builtin_soc())
    used = [(w.base, w.size) for w in flash_layout.windows(load_board(resources.builtin_board()), soc,
                                                           load_catalog(resources.sensor_catalog())).values()]
    if "psram" in soc.memory:
        used.append((soc.qemu.psram_base, soc.memory["psram"].size))
    top = 0x80000000 + soc.qemu.ram_mib * 2**20
    assert all(base + size <= OPS_ADDRESS for base, size in used) and top >= OPS_ADDRESS + 2**24, used
    return [f"-DUPDATE_OPS={OPS_ADDRESS:#x}", str(FW / "update_agent.c")]


def is_erase(op: update.Op) -> bool:
    """An erase in update.py's terms: a whole erase block of 0xFF at a block boundary."""
    return (op.offset % update.ERASE_BLOCK == 0 and len(op.data) == update.ERASE_BLOCK
            and op.data.count(flash.ERASED) == update.ERASE_BLOCK)


def serialise(ops: Sequence[update.Op]) -> bytes:
    """The operation list update_agent.c reads (little-endian words): magic, count, then per
    operation kind, flash offset, length, and a program's data padded with 0xFF to whole words."""
    out = bytearray(struct.pack("<II", OPS_MAGIC, len(ops)))
    for op in ops:
        if is_erase(op):
            out += struct.pack("<III", ERASE, op.offset, len(op.data))
        else:
            out += struct.pack("<III", PROGRAM, op.offset, len(op.data))
            out += op.data + bytes([flash.ERASED]) * (-len(op.data) % 4)
    return bytes(out)


def loader(ops_file: Path) -> list[str]:
    """QEMU arguments that put the serialised operations in RAM where the agent looks."""
    return ["-device", f"loader,file={ops_file},addr={OPS_ADDRESS:#x},force-raw=on"]


@dataclass(frozen=True)
class Kill:
    """QEMU killed right after the `stores`-th store to the flash word at `word`; the first `done`
    operations are written then, and `partial` bytes of the next."""

    what: str
    word: int
    stores: int
    done: int
    partial: int = 0

    def flash(self, start: bytes, ops: Sequence[update.Op]) -> bytes:
        """What the flash holds at this kill, starting from `start`."""
        out = bytearray(start)
        update.apply(out, ops[:self.done])
        if self.partial:
            op = ops[self.done]
            update.apply(out, [update.Op(op.offset, op.data[:self.partial], op.what)])
        return bytes(out)


def kills(ops: Sequence[update.Op]) -> list[Kill]:
    """The kill points of an update: after each erase; after the first, last and SPREAD-spaced
    words of each program (a program of one word: after it); and right before the commit point,
    the last operation (the trailer magic's last word), with its program command issued. (QEMU's
    pflash erases the block at the erase's setup command already, the chip at its confirm: the kill
    after the confirm finds the block erased on both.)"""
    acted: Counter[int] = Counter()          # the agent's actions on each word so far
    out: list[Kill] = []
    for i, op in enumerate(ops):
        if is_erase(op):
            out.append(Kill(f"after {op.what}", op.offset, STORES_PER_ACTION * acted[op.offset] + 2, i + 1))
            acted[op.offset] += 1
            continue
        words = (len(op.data) + 3) // 4
        if i == len(ops) - 1:
            out.append(Kill(f"in {op.what}: its program command issued, its data not", op.offset,
                            STORES_PER_ACTION * acted[op.offset] + 1, i))
        for w in sorted({words * k // SPREAD for k in range(SPREAD)} | {words - 1}):
            at, written = op.offset + 4 * w, min(4 * (w + 1), len(op.data))
            what = f"after {op.what}" if words == 1 else f"in {op.what}: word {w + 1} of {words} written"
            last = written == len(op.data)
            out.append(Kill(what, at, STORES_PER_ACTION * acted[at] + 2, i + 1 if last else i, 0 if last else written))
        for w in range(words):
            acted[op.offset + 4 * w] += 1
    return out
