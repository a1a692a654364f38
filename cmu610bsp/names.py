"""Names the render derives from the description's names, and the rules that keep them apart.

A board `x` becomes the machines `x` and `x-qemu` (its QEMU twin), the Zephyr boards `x` and
`x_qemu`, the BitBake variants `cmu610-bmc-fw-x` and `cmu610-flash-image-x`, the directory
`files/x/` of the flash recipe; a secure domain becomes `<soc>-sd-<hash>` (Zephyr `<soc>_sd_<hash>`);
a product line's `image` becomes the recipe `recipes-core/images/<image>.bb`; a partition `p`
becomes the machine variables FLASH_P_OFFSET and FLASH_P_SIZE. Two inputs that became one name
would make the last render win without a word, so each rule here refuses the input, naming both.

Every rule is decided from the description alone (no OpenBMC or Zephyr tree at hand):
- a board name does not end in `-qemu` (the twins' suffix), does not start with `<soc>-sd-` (the
  secure domains' names) and is neither the SoC's name (every CMU610 machine's MACHINEOVERRIDES
  entry) nor `bootstage` (the flash recipe's boot-stage sources, files/bootstage/);
- an image is named `cmu610-<...>-image`: `cmu610-` is this layer's namespace (no OpenBMC or OE-core
  recipe has it), `-image` is how `check` and OE tell an image recipe; it is none of the layer's own
  recipes and none of their variants (`<recipe>-<board>`), and no two product lines share one;
- a partition's FLASH_*_OFFSET/_SIZE is not a variable OpenBMC's image classes set for their own
  flash layout (meta-phosphor/classes/image_types_phosphor.bbclass).
The devicetree labels the names become are validate.py's (`_check_labels`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from cmu610bsp.errors import Finding

if TYPE_CHECKING:  # the twin's names are plain text: the CLI's start-up does without the models
    from cmu610bsp.model import Board, Product, Soc

# A board's QEMU twin: the machine <board>-qemu, the Zephyr board <board>_qemu (Zephyr spells '-' as
# '_'); every twin name is made by the functions below, from these two suffixes.
TWIN_SUFFIX = "-qemu"
ZEPHYR_TWIN_SUFFIX = "_qemu"
TWIN_TITLE = " (QEMU twin)"
LAYER_PREFIX = "cmu610-"
IMAGE_SUFFIX = "-image"
# The layer's own recipes (meta-cmu610/recipes-bsp); the firmware and flash image have a variant
# per board machine or secure domain, named <recipe>-<variant> (classes/cmu610_variant.bbclass).
LAYER_RECIPES = ("cmu610-zephyr-source", "cmu610-secure-fw", "cmu610-bmc-fw", "cmu610-flash-image")
# Directories of the flash recipe's files/ that are not a board machine's.
FLASH_FILES_DIRS = ("bootstage",)
# meta-phosphor's image_types_phosphor.bbclass: its flash layout (the `?=` defaults, and
# FLASH_LEB_SIZE / FLASH_UBI_RWFS_LEBS its anonymous Python sets) in every machine's configuration.
OPENBMC_FLASH_VARS = frozenset({
    "FLASH_PEB_SIZE", "FLASH_PAGE_SIZE", "FLASH_LEB_SIZE", "FLASH_UBOOT_SPL_SIZE", "FLASH_UBOOT_OFFSET",
    "FLASH_KERNEL_OFFSET", "FLASH_UBI_OFFSET", "FLASH_ROFS_OFFSET", "FLASH_RWFS_OFFSET", "FLASH_UBI_RWFS_SIZE",
    "FLASH_UBI_RWFS_TXT_SIZE", "FLASH_UBI_RWFS_LEBS", "FLASH_NOR_UBI_OVERHEAD",
})


def zephyr_name(name: str) -> str:
    """A board's (or a secure domain's) name as a Zephyr board is named: 'cmu610-evb' -> 'cmu610_evb'."""
    return name.replace("-", "_")


def machine_name(name: str, twin: bool) -> str:
    """The machine of a board (or a secure domain's variant), or of its QEMU twin: `x`, `x-qemu`."""
    return name + (TWIN_SUFFIX if twin else "")


def zephyr_board(name: str, twin: bool) -> str:
    """The Zephyr board of a board (or a secure domain), or of its QEMU twin: `x_y`, `x_y_qemu`."""
    return zephyr_name(name) + (ZEPHYR_TWIN_SUFFIX if twin else "")


def zephyr_target(name: str, soc: str, hart: int, twin: bool) -> str:
    """The Zephyr board target of one hart: `<zephyr board>/<soc>/cpu<hart>`."""
    return f"{zephyr_board(name, twin)}/{soc}/cpu{hart}"


def zephyr_board_dir(vendor: str, name: str, twin: bool) -> str:
    """Where a Zephyr board lives in the Zephyr module: `boards/<vendor>/<zephyr board>`."""
    return f"boards/{vendor}/{zephyr_board(name, twin)}"


def board_dts(vendor: str, name: str, soc: str, hart: int, twin: bool) -> str:
    """A hart's devicetree in the Zephyr module: `<board dir>/<zephyr board>_<soc>_cpu<hart>.dts`."""
    return f"{zephyr_board_dir(vendor, name, twin)}/{zephyr_board(name, twin)}_{soc}_cpu{hart}.dts"


def twin_machine(name: str) -> str:
    """The QEMU twin's machine of a board given by its name or by its twin's."""
    return machine_name(board_of(name), True)


def board_of(machine: str) -> str:
    """The board a machine is (a twin's board, or the board itself)."""
    return machine.removesuffix(TWIN_SUFFIX)


def is_twin(machine: str) -> bool:
    return machine.endswith(TWIN_SUFFIX)


def title(full_name: str, twin: bool) -> str:
    """How a board's machine is titled: its full name, the twin's with TWIN_TITLE."""
    return full_name + (TWIN_TITLE if twin else "")


def flash_var_name(partition: str) -> str:
    """A partition's part of its FLASH_<name>_OFFSET and FLASH_<name>_SIZE variables (layer.py)."""
    return re.sub(r"[^A-Z0-9]", "_", partition.upper())


def component_variant(recipe: str) -> str:
    """The layer's source-only variant of an OpenBMC recipe the firmware is built with
    (classes/cmu610_zephyr_lib.bbclass): what BitBake and devtool call it."""
    return f"cmu610-zephyr-lib-{recipe}"


def secure_domain_prefix(soc: Soc) -> str:
    """What every secure domain's name starts with (securedomain.py: `<soc>-sd-<hash>`)."""
    return f"{soc.name}-sd-"


def check_names(soc: Soc, boards: list[Board], board_paths: list[Path], products: list[Product],
                product_paths: list[Path]) -> list[Finding]:
    """Every rule of the module docstring, over all the workspace's boards and product lines."""
    out: list[Finding] = []
    for board, path in zip(boards, board_paths, strict=True):
        why = _board_name(board.name, soc)
        if why:
            out.append(Finding(str(path), "name", f"{board.name!r} {why}"))
        out += _partitions(board, str(path))
    images: dict[str, str] = {}
    for product, path in zip(products, product_paths, strict=True):
        why = _image_name(product.image)
        if why:
            out.append(Finding(str(path), "image", f"{product.image!r} {why}"))
        if product.image in images:
            out.append(Finding(str(path), "image", f"{product.image!r} is also the image of {images[product.image]}: "
                               "each product line needs its own image recipe"))
        else:
            images[product.image] = f"the product line {product.name} ({path})"
    return out


def _board_name(name: str, soc: Soc) -> str | None:
    if name.endswith(TWIN_SUFFIX):
        return (f"ends in {TWIN_SUFFIX!r}: a board's QEMU twin is named <board>{TWIN_SUFFIX} (machine) and "
                f"<board>{ZEPHYR_TWIN_SUFFIX} (Zephyr board); name it without {TWIN_SUFFIX!r}")
    if name.startswith(secure_domain_prefix(soc)):
        return (f"starts with {secure_domain_prefix(soc)!r}, the names of the secure-domain firmware boards "
                f"({secure_domain_prefix(soc)}<hash>, Zephyr {soc.name}_sd_<hash>): name it otherwise")
    if name == soc.name:
        return (f"is the SoC's name, which every {soc.name} machine has in MACHINEOVERRIDES: "
                "this board's overrides could not be told from every board's; name it otherwise")
    if name in FLASH_FILES_DIRS:
        return (f"is the directory of the flash recipe's {name} sources (recipes-bsp/cmu610-flash/files/{name}), "
                "where each board machine has a directory of its own: name it otherwise")
    return None


def _image_name(image: str) -> str | None:
    if not image.startswith(LAYER_PREFIX) or not image.endswith(IMAGE_SUFFIX) or image == LAYER_PREFIX + "image":
        return (f"is not named {LAYER_PREFIX}<name>{IMAGE_SUFFIX}: an image recipe of this layer starts with "
                f"{LAYER_PREFIX!r} (no OpenBMC or OE-core recipe does) and ends with {IMAGE_SUFFIX!r}, e.g. "
                f"{LAYER_PREFIX}bigbmc{IMAGE_SUFFIX}")
    for recipe in LAYER_RECIPES:
        if image == recipe:
            return f"is the layer's own recipe {recipe}: name the image otherwise"
        if image.startswith(recipe + "-"):
            return (f"is named like a variant of the layer's recipe {recipe} ({recipe}-<board machine>): "
                    "name the image otherwise")
    return None


def _partitions(board: Board, f: str) -> list[Finding]:
    out: list[Finding] = []
    for i, p in enumerate(board.flash.partitions):
        var = flash_var_name(p.name)
        taken = [v for v in (f"FLASH_{var}_OFFSET", f"FLASH_{var}_SIZE") if v in OPENBMC_FLASH_VARS]
        if taken:
            out.append(Finding(f, f"flash.partitions[{i}].name", f"{p.name!r} would set {', '.join(taken)}, which "
                               "OpenBMC's image classes (image_types_phosphor.bbclass) set for their own flash layout: "
                               "name the partition otherwise"))
    return out
