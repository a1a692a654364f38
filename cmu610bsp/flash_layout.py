"""The flash image of a board as its description lays it out: the partition table as flash.py takes
it, the RAM window each domain's image is copied to, and flash-layout.json, what the layer's flash
image recipe packs by (files/<machine>/flash-layout.json). `pack` packs a board's image here, where
flash.py's own error becomes the user's BspError."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from cmu610bsp import __version__, firmware, flash, names
from cmu610bsp.errors import BspError
from cmu610bsp.model import Board, Catalog, Soc
from cmu610bsp.zephyr import board_view

# Each hart's boot-stage stack sits at the top of its own domain's SRAM (never in the other
# domain's, which that domain's firmware may already be using); images must leave it free. The
# secure hart's verifies signatures (libsodium's Ed25519 takes about 3 KiB of stack) and holds the
# boot stage's .bss at its bottom; the BMC hart's holds its entry point there.
STACK = 0x2000


def partitions(board: Board) -> list[flash.Partition]:
    """The board's partition table as flash.py (standard library only) takes it."""
    harts = {"secure": board.domains.secure.hart, "bmc": board.domains.bmc.hart}
    return [flash.Partition(p.name, p.offset, p.size, p.role, p.owner, harts[p.owner], p.slot)
            for p in board.flash.partitions]


@dataclass(frozen=True)
class Window:
    """Where a domain's image runs: its SRAM slice, less the boot stage's stack at its top."""

    hart: int
    base: int
    size: int

    @property
    def image_limit(self) -> int:
        return self.size - STACK


def windows(board: Board, soc: Soc, catalog: Catalog, twin: bool = True) -> dict[str, Window]:
    """domain -> the RAM its image is copied to, as the domain's devicetree says (zephyr.py)."""
    view = board_view(board, soc, catalog, twin)
    return {d.name: Window(d.hart, d.sram.base, d.sram.size) for d in view.domains}


def layout(board: Board, soc: Soc, catalog: Catalog, twin: bool, trusted: Sequence[str] = ()) -> dict[str, object]:
    """flash-layout.json: the partition table as flash.Partition fields, each domain's RAM window,
    the flash size, the version each domain's image carries in its header: the applications'
    own (their VERSION file, rendered from the same version), which the secure hart's
    GetFirmwareParameters reads back from the headers, and its security counter (the domain's);
    and `trusted_keys`, the sha256 of each public key the keys partition holds (the workspace's
    signing slots, cmu610bsp.yml `signing`), where the workspace has a signing key."""
    counters = {"secure": board.domains.secure.security_counter, "bmc": board.domains.bmc.security_counter}
    return {
        **({"trusted_keys": list(trusted)} if trusted else {}),
        "board": board.name, "machine": names.machine_name(board.name, twin), "flash_size": soc.memory["flash"].size,
        "partitions": [asdict(p) for p in partitions(board)],
        "windows": {d: {"hart": w.hart, "base": w.base, "size": w.size, "image_limit": w.image_limit,
                        "version": list(firmware.version_parts(__version__)), "security_counter": counters[d]}
                    for d, w in sorted(windows(board, soc, catalog, twin).items())},
    }


def pack(board: Board, soc: Soc, images: Mapping[str, flash.Image], boot: bytes, key: str) -> bytes:
    """The board's whole flash image: the boot stage and each domain's image (keyed by domain),
    signed with `key` (a PEM path or a pkcs11: URI), in its partitions (flash.pack); what does
    not fit, has no place or cannot be signed is the user's error."""
    try:
        return flash.pack(partitions(board), images, soc.memory["flash"].size, boot=boot, key=key)
    except flash.FlashError as e:
        raise BspError(f"{board.name}: the flash image cannot be packed: {e}") from None
