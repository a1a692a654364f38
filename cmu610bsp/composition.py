"""The firmware composition: what `cmu610bsp build LINE` gives BitBake to build a flash image.

A line's flash image needs a dozen of the OpenBMC tree's 3120 recipes: the layer's firmware
recipes and the OpenBMC recipes the firmware takes. The firmware composition is the OpenBMC
composition (the same layers, distro, machine and configuration, so every task it runs has the
signature it has there, and shared state, downloads and the hash server serve both) with a
BBMASK that leaves BitBake only those recipes and their bbappends in any composed layer
(configs/kas/firmware.yml): it parses the layers' configuration and classes and a few recipes,
in seconds instead of minutes. It serves the default target (the flash image), `--all-boards`,
`--smoke`, `--plan` of those, and devtool on the recipes it parses; `--target cmu610-<line>-image`
(and its `--plan`) and devtool on any other recipe use the whole OpenBMC composition, in a build
directory of its own (`layout.BuildPaths(..., openbmc=True)`), which shares the line's devtool
workspace.
"""

from __future__ import annotations

import re

from cmu610bsp.names import LAYER_RECIPES, component_variant

# A recipe's name as BitBake reads it from a file name (bitbake.conf's PN): before the first '_'.
_RECIPE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")


def recipes(openbmc: tuple[str, ...]) -> tuple[str, ...]:
    """Every recipe the firmware composition parses: the layer's firmware recipes and `openbmc`,
    the OpenBMC recipes the firmware takes (components.used over the workspace's lines: their files
    in meta-phosphor, each the source of the layer's variant of it, with their bbappends). The one
    list: the mask of configs/kas/firmware.yml (render.py) and devtool's choice of composition
    (kasbuild.Lines.composed) come from it. One composition file serves every line, so each line
    parses what any line takes (a recipe more is a fraction of a second of a parse)."""
    return (*LAYER_RECIPES, *openbmc)


def mask(names: tuple[str, ...]) -> str:
    """A BBMASK entry (one regular expression, no space: BBMASK splits on spaces) that masks every
    .bb and .bbappend file except those of the recipes `names`: `<name>.bb`, `<name>_<version>.bb`
    and their appends (`<name>_%.bbappend`...), in whichever layer. BitBake searches each file's
    path with it (bb/cooker.py collect_bbfiles): a match masks the file."""
    bad = [n for n in names if not _RECIPE_NAME.fullmatch(n)]
    if bad or not names:
        raise ValueError(f"not recipe names: {bad or names!r}")
    # the grammar leaves '.' and '+' to escape (re.escape would escape every '-' too)
    keep = "|".join(re.sub(r"([.+])", r"\\\1", n) for n in sorted(set(names)))
    # from the last '/': a file name that is not one of the kept recipes' is masked
    return rf"/(?!(?:{keep})(?:_[^/]*)?\.bb(?:append)?$)[^/]+\.bb(?:append)?$"


def serves(target: str | None) -> bool:
    """Whether a `build --target` is the firmware composition's: none (the line's flash image),
    a layer recipe or one of its board variants (`<recipe>-<variant>`). Any other target,
    including the OpenBMC recipes the firmware takes (a build of them is OpenBMC's Linux build),
    is built by the whole OpenBMC composition."""
    if not target:
        return True
    name = target.split(":", 1)[0]
    return any(name == r or name.startswith(r + "-") for r in LAYER_RECIPES)


def parses(recipe: str, names: tuple[str, ...]) -> bool:
    """Whether devtool works on `recipe` in the firmware composition, which parses `names` (the
    layer recipes' board variants and the OpenBMC recipes' firmware variants with them), or needs
    the whole OpenBMC one."""
    return bool(recipe) and (recipe in names or serves(recipe) or any(recipe == component_variant(n) for n in names))
