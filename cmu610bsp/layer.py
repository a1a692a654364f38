"""Views for the Yocto layer: machine variables, product lines, board variants, layer metadata.

Like `zephyr.py`, this decides and the templates print.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmu610bsp import escape
from cmu610bsp.model import Board, Product, Soc
from cmu610bsp.names import flash_var_name, machine_name, zephyr_target
from cmu610bsp.securedomain import SecureDomain, of_machine
from cmu610bsp.zephyr import isa_parts

# OpenBMC and the Yocto release series the layer is written for (the series OpenBMC's own
# layers declare in LAYERSERIES_COMPAT).
LAYERSERIES = "wrynose whinlatter"
COLLECTION = "cmu610-layer"

def tune_features(soc: Soc) -> str:
    """oe-core TUNE_FEATURES for the SoC's ISA: 'rv 32 i m a c zicsr zifencei'."""
    return " ".join(["rv", "32", *isa_parts(soc.harts[0].isa)])


@dataclass(frozen=True)
class FlashVar:
    name: str
    offset_kib: int
    size_kib: int
    owner: str


def flash_vars(board: Board) -> list[FlashVar]:
    """Partition offsets and sizes in KiB (OpenBMC's FLASH_* unit), ordered by offset."""
    return [
        FlashVar(flash_var_name(p.name), p.offset // 1024, p.size // 1024, p.owner)
        for p in sorted(board.flash.partitions, key=lambda p: p.offset)
    ]


def zephyr_targets(board: Board, soc: Soc, twin: bool) -> list[str]:
    return [zephyr_target(board.name, soc.name, getattr(board.domains, d).hart, twin) for d in ("secure", "bmc")]


def contact(maintainer: str | None) -> str | None:
    """The maintainer as the layer's Markdown files name them: the name as text, the address (of
    a tight grammar: project._name_and_email) as Markdown's link to it."""
    if maintainer is None:
        return None
    name, _, address = maintainer.rpartition(" <")
    return f"{escape.markdown(name)} <{address}"


def git_src_uri(url: str) -> str:
    """A git repository's URL as BitBake's git fetcher takes it: git://host/path;protocol=scheme."""
    scheme, _, rest = url.partition("://")
    return f"git://{rest};protocol={scheme}"


def products_for(board: Board, products: tuple[Product, ...]) -> list[Product]:
    return [p for p in products if p.name in board.product_lines]


def board_variants(boards: list[Board], soc: Soc, domains: list[SecureDomain]) -> list[dict[str, object]]:
    """Each board machine (chip and twin) as a variant of the firmware and flash image recipes:
    its BMC target and hart, its secure domain's variant and hart, its shared-state architecture."""
    out: list[dict[str, object]] = []
    for b in boards:
        for twin in (False, True):
            machine = machine_name(b.name, twin)
            out.append({"machine": machine, "arch": machine.replace("-", "_"),
                        "secure": of_machine(domains, machine).variant, "bmc_target": zephyr_targets(b, soc, twin)[1],
                        "bmc_hart": b.domains.bmc.hart, "secure_hart": b.domains.secure.hart})
    return out
