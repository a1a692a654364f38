"""Where things are in a workspace. Plain names, no dependencies: `build` reads the generated
files through these without loading the description model."""

from __future__ import annotations

from pathlib import Path

from cmu610bsp.errors import BspError

CONFIG_FILE = "cmu610bsp.yml"
STATE_ROOT = ".cmu610bsp/state"
MANIFEST = f"{STATE_ROOT}/manifest.json"
LAYER = "meta-cmu610"
ZEPHYR_MODULE = f"{LAYER}/zephyr"
KAS_DIR = "configs/kas"
# Directories whose content the generator owns (each swapped atomically as a whole).
OUTPUT_ROOTS = (LAYER, KAS_DIR)
# Everything a generator write swaps; what an interrupted write is rolled back in.
OWNED_ROOTS = (*OUTPUT_ROOTS, STATE_ROOT)


def find_root(start: Path | None = None) -> Path:
    """The workspace containing `start` (like git and west, search upwards)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    raise BspError(f"no {CONFIG_FILE} in {here} or above", hint="run `cmu610bsp init` first, or pass --workspace")
