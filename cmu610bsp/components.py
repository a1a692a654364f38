"""The OpenBMC components the firmware can be built with: which OpenBMC recipes this tool knows how
to integrate into a Zephyr application, and how. One table; a product line names the components its
BMC firmware takes (`firmware.openbmc` in configs/products/<line>.yaml), the secure firmware takes
what its MCTP endpoint and PLDM responder need (the same for every line).

A component is built from its OpenBMC recipe's own source (SRC_URI and SRCREV of the recipe file in
the OpenBMC tree, untouched: meta-cmu610 makes a source-only variant of it, classes/
cmu610_zephyr_lib.bbclass), compiled by Zephyr's build with the workspace's toolchain as a Zephyr
module: libpldm carries its own (`zephyr/` upstream), libmctp has none and goes through the layer's
wrapper (meta-cmu610/zephyr/modules/libmctp). The applications' CMake takes each source as
`-D<NAME>_SOURCE=<checkout>` (LIBPLDM_SOURCE, LIBMCTP_SOURCE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmu610bsp.errors import Finding
from cmu610bsp.model import Product


@dataclass(frozen=True)
class Component:
    name: str                  # the OpenBMC recipe's name (PN)
    recipe: str                # its recipe file in the openbmc/openbmc tree
    wrapper: str | None        # the layer's Zephyr module wrapping it (zephyr/modules/<wrapper>), or
                               # None: the source is a Zephyr module itself
    marker: str                # a file every checkout of its source has (a --source is checked by it)
    kconfig: tuple[str, ...]   # what an application that takes it sets
    what: str                  # one line for docs and recipes

    @property
    def cmake_var(self) -> str:
        """The applications' CMake cache variable naming its source checkout."""
        return f"{self.name.upper()}_SOURCE"


COMPONENTS: dict[str, Component] = {c.name: c for c in (
    # the responder's GetFirmwareParameters encoders are in libpldm's "testing" ABI; libpldm's
    # sources use C11 (static_assert), Zephyr's default is C99
    Component("libpldm", "meta-phosphor/recipes-phosphor/libpldm/libpldm_git.bb", None, "zephyr/module.yml",
              ("CONFIG_PLDM=y", "CONFIG_PLDM_ABI_TESTING=y", "CONFIG_STD_C17=y"),
              "PLDM (DSP0240 base, DSP0248 platform monitoring, DSP0267 firmware update) encoders and decoders"),
    Component("libmctp", "meta-phosphor/recipes-phosphor/libmctp/libmctp_git.bb", "libmctp", "core.c",
              ("CONFIG_LIBMCTP=y", "CONFIG_STD_C17=y"),
              "MCTP (DSP0236) core: packetisation, reassembly, control messages; the binding is the layer's"),
)}

# The secure firmware's: its MCTP endpoint and PLDM responder (base and firmware update)
SECURE = ("libpldm", "libmctp")


def for_line(product: Product) -> tuple[str, ...]:
    """The components the line's BMC firmware takes, in the table's order."""
    return tuple(c for c in COMPONENTS if c in product.firmware.openbmc)


def used(products: tuple[Product, ...] | list[Product]) -> tuple[str, ...]:
    """Every component some firmware of the workspace takes (the secure firmware's included)."""
    names = set(SECURE) | {c for p in products for c in p.firmware.openbmc}
    return tuple(c for c in COMPONENTS if c in names)


def kconfig(names: tuple[str, ...]) -> list[str]:
    """The Kconfig assignments the components need, each once, in the table's order."""
    out: list[str] = []
    for n in names:
        out += [k for k in COMPONENTS[n].kconfig if k not in out]
    return out


def check_products(products: list[Product], paths: list[Path]) -> list[Finding]:
    """A line may name only components of the table."""
    out = []
    for product, path in zip(products, paths, strict=True):
        for i, name in enumerate(product.firmware.openbmc):
            if name not in COMPONENTS:
                out.append(Finding(str(path), f"firmware.openbmc[{i}]",
                                   f"no integration of the OpenBMC recipe {name!r} into the firmware is known "
                                   f"(known: {', '.join(COMPONENTS)})"))
    return out


def source_finding(name: str, path: Path) -> str | None:
    """Why `path` is not a checkout of the component's source, or None."""
    c = COMPONENTS[name]
    if not (path / c.marker).is_file():
        return f"not a checkout of {name}'s source (no {c.marker} in it)"
    return None
