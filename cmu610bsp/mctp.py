"""MCTP between the two harts: each domain's endpoint ID and the RAM window the layer's binding
(meta-cmu610/zephyr/apps/common/mctp_shm.c) carries packets through, as the board description
gives them (`mctp:`), with defaults when it does not.

The window is RAM both harts reach that no domain's memory covers. A description that gives none
gets WINDOW_SIZE bytes from the end of the BMC domain's PSRAM slice (its SRAM slice when it has no
PSRAM): that slice is smaller by as much in every generated file (devicetree, boot stage, flash
layout), so the window still overlaps no domain's memory. It comes out of the BMC's memory, not
the secure domain's: the root of trust may see the BMC's RAM, the BMC must never see the secure
domain's. On the chip the doorbell is each hart's CLINT software interrupt (msip), as on the twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cmu610bsp.errors import Finding
from cmu610bsp.model import Board, Soc

# DSP0236: 0 is the null EID, 1-7 are reserved, 255 is the broadcast EID
EID_MIN, EID_MAX = 8, 254
DEFAULT_EIDS = {"secure": 9, "bmc": 8}
WINDOW_SIZE = 4096   # two rings of eight 68-byte packets and their indices fit in one page
# PLDM terminus IDs: the secure hart's is what GetTID answers
TIDS = {"secure": 1, "bmc": 2}


@dataclass(frozen=True)
class Window:
    region: Literal["sram", "psram"]
    offset: int          # in the region
    size: int
    carved_from: str | None = None   # the domain whose slice gave it (a default window), or None

    def address(self, soc: Soc, twin: bool) -> int:
        q = soc.qemu
        base = (q.sram_base if self.region == "sram" else q.psram_base) if twin else soc.memory[self.region].base
        return base + self.offset


@dataclass(frozen=True)
class Endpoints:
    secure_eid: int
    bmc_eid: int
    window: Window

    def eid(self, domain: str) -> int:
        return self.secure_eid if domain == "secure" else self.bmc_eid

    def peer(self, domain: str) -> str:
        return "bmc" if domain == "secure" else "secure"


def endpoints(board: Board) -> Endpoints:
    """The board's endpoints: its `mctp:` values, each default where absent."""
    m = board.mctp
    secure = m.secure_eid if m.secure_eid is not None else DEFAULT_EIDS["secure"]
    bmc = m.bmc_eid if m.bmc_eid is not None else DEFAULT_EIDS["bmc"]
    if m.window is not None:
        return Endpoints(secure, bmc, Window(m.window.region, m.window.offset, m.window.size))
    dom = board.domains.bmc
    regions = {s.region: s for s in dom.memory}
    s = regions.get("psram") or regions.get("sram")
    if s is None:  # no slice at all: reported by validate
        return Endpoints(secure, bmc, Window("sram", 0, WINDOW_SIZE))
    return Endpoints(secure, bmc, Window(s.region, s.offset + s.size - WINDOW_SIZE, WINDOW_SIZE, "bmc"))


def carved(board: Board, domain: str, region: str) -> int:
    """Bytes the default window takes from the end of `domain`'s `region` slice."""
    w = endpoints(board).window
    return w.size if w.carved_from == domain and w.region == region else 0


def check(board: Board, soc: Soc, f: str) -> list[Finding]:
    """EIDs in range and distinct; a window inside its region, page-aligned, large enough, and
    outside every domain's memory; a default window's slice large enough to give it."""
    out: list[Finding] = []
    ep = endpoints(board)
    for field, eid in (("secure_eid", ep.secure_eid), ("bmc_eid", ep.bmc_eid)):
        if not EID_MIN <= eid <= EID_MAX:
            out.append(Finding(f, f"mctp.{field}", f"EID {eid} is not an endpoint ID an endpoint may take "
                               f"({EID_MIN} to {EID_MAX}; 0 is null, 1-7 are reserved, 255 is broadcast)"))
    if ep.secure_eid == ep.bmc_eid:
        field = "bmc_eid" if board.mctp.bmc_eid is not None else "secure_eid"
        out.append(Finding(f, f"mctp.{field}", f"EID {ep.bmc_eid} is both domains' (mctp.secure_eid and "
                           "mctp.bmc_eid must differ; defaults: secure 9, BMC 8)"))
    w = ep.window
    if w.carved_from:
        slices = [s for s in board.domains.bmc.memory if s.region == w.region]
        if slices and slices[0].size < 2 * WINDOW_SIZE:
            out.append(Finding(f, "mctp.window", f"no window given, and the BMC domain's {w.region} slice is too small "
                               f"to give one ({WINDOW_SIZE} bytes from its end): give mctp.window"))
        return out
    where = "mctp.window"
    total = soc.memory[w.region].size if w.region in soc.memory else 0
    if w.offset % 4096 or w.size % 4096:
        out.append(Finding(f, where, "offset and size must be 4 KiB aligned"))
    if w.size < WINDOW_SIZE:
        out.append(Finding(f, f"{where}.size", f"{w.size:#x} bytes: the binding's rings need {WINDOW_SIZE:#x}"))
    if w.offset + w.size > total:
        out.append(Finding(f, where, f"ends at {w.offset + w.size:#x}, past the {total:#x}-byte {w.region}"))
    for dname in ("secure", "bmc"):
        for i, s in enumerate(getattr(board.domains, dname).memory):
            if s.region == w.region and s.offset < w.offset + w.size and w.offset < s.offset + s.size:
                out.append(Finding(f, where, f"overlaps the {dname} domain's memory (domains.{dname}.memory[{i}], "
                                   f"{s.region} {s.offset:#x}+{s.size:#x}): the window must be memory no domain owns"))
    return out
