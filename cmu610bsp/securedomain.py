"""Secure domains: the secure firmware is the same for every board whose secure domain is the same.

The secure-domain firmware builds from the SoC, the secure hart, its memory slices, its devices,
the secure partitions of the flash table and (on the chip) which blocks the BMC domain takes
away from it. Boards that agree on all of that get one secure firmware: a Zephyr board of its own,
`<soc>_sd_<hash>` (`_qemu` for the QEMU twins), holding only the secure domain, whose name is a
hash of what it is rendered to (the board's name and its product lines taken out). Its BitBake
recipe (a variant of cmu610-secure-fw, see meta-cmu610/classes/cmu610_variant.bbclass) therefore
has a signature that depends only on what it builds from, never on MACHINE or on a board's name.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cmu610bsp import names, zephyr
from cmu610bsp.model import Board
from cmu610bsp.project import Project

PLACEHOLDER = "placeholder"
# what a secure domain's firmware says it is (the boards' own words differ, the firmware does not)
DESCRIPTION = "secure Zephyr firmware"

# (Zephyr module path -> text) of one secure-domain board, rendered from a stand-in board
Renderer = Callable[[zephyr.BoardView], dict[str, str]]


@dataclass(frozen=True)
class SecureDomain:
    """One distinct secure domain of the description, for the chip or for the QEMU twins."""

    name: str                    # <soc>-sd-<hash>: the firmware's `board`, the Zephyr board's base
    twin: bool
    hart: int
    machines: tuple[str, ...]    # the board machines (or twins) whose flash image takes it
    files: tuple[tuple[str, str], ...] = ()   # its Zephyr board, rendered

    @property
    def variant(self) -> str:
        """Its BitBake variant (cmu610-secure-fw-<variant>): also the deploy directory's name."""
        return names.machine_name(self.name, self.twin)

    @property
    def zephyr_board(self) -> str:
        return names.zephyr_board(self.name, self.twin)

    @property
    def zephyr_target(self) -> str:
        soc = self.name.split("-sd-")[0]
        return names.zephyr_target(self.name, soc, self.hart, self.twin)

    @property
    def recipe(self) -> str:
        return f"cmu610-secure-fw-{self.variant}"


def stand_in(board: Board, project: Project, name: str) -> Board:
    """The board as its secure domain alone sees it: named `name`, the SoC's vendor, every product
    line of the description (the secure firmware serves them all), one description text."""
    secure = board.domains.secure.model_copy(update={"firmware": DESCRIPTION})
    return board.model_copy(update={
        "name": name, "vendor": project.soc.vendor, "full_name": f"{project.soc.name.upper()} secure domain",
        "product_lines": sorted(p.name for p in project.products),
        "domains": board.domains.model_copy(update={"secure": secure})})


def secure_view(board: Board, project: Project, twin: bool) -> zephyr.BoardView:
    bv = zephyr.board_view(board, project.soc, project.catalog, twin)
    return dataclasses.replace(bv, domains=[d for d in bv.domains if d.name == "secure"])


def secure_domains(project: Project, render: Renderer) -> list[SecureDomain]:
    """Every distinct secure domain, chip and twin, with the machines that take it, in name order.
    `render` renders a stand-in board's Zephyr files; the hash is over those texts."""
    soc = project.soc.name
    found: dict[tuple[str, bool], tuple[int, list[str], dict[str, str]]] = {}
    for board in sorted(project.boards, key=lambda b: b.name):
        for twin in (False, True):
            files = render(secure_view(stand_in(board, project, f"{soc}-sd-{PLACEHOLDER}"), project, twin))
            digest = hashlib.sha256("".join(f"{k}\0{v}\0" for k, v in sorted(files.items())).encode())
            key = digest.hexdigest()[:8]
            if (key, twin) not in found:
                named = {k.replace(PLACEHOLDER, key): v.replace(PLACEHOLDER, key).replace(PLACEHOLDER.upper(), key.upper())
                         for k, v in files.items()}
                found[(key, twin)] = (board.domains.secure.hart, [], named)
            found[(key, twin)][1].append(names.machine_name(board.name, twin))
    return sorted((SecureDomain(f"{soc}-sd-{key}", twin, hart, tuple(machines), tuple(sorted(files.items())))
                   for (key, twin), (hart, machines, files) in found.items()), key=lambda s: s.variant)


def of_machine(domains: list[SecureDomain], machine: str) -> SecureDomain:
    return next(s for s in domains if machine in s.machines)
