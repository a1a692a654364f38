"""Where the shipped templates and built-in descriptions live.

Installed, they sit inside the package (see pyproject's force-include); in a source checkout they
are the top-level `templates/` and `configs/` directories. The upstream schemas the checks need are
package data (`cmu610bsp/data/`, with their licence and upstream commit in SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"cmu610bsp is installed without its {name}/ directory")


def templates_dir() -> Path:
    return _find("templates")


def builtin_configs_dir() -> Path:
    """The directory holding `soc/`, `boards/` and `catalog/` shipped with the tool."""
    return _find("configs")


def builtin_soc() -> Path:
    return builtin_configs_dir() / "soc" / "cmu610.yaml"


def builtin_board(name: str = "cmu610-evb") -> Path:
    return builtin_configs_dir() / "boards" / f"{name}.yaml"


def builtin_product(name: str) -> Path:
    return builtin_configs_dir() / "products" / f"{name}.yaml"


def sensor_catalog() -> Path:
    return builtin_configs_dir() / "catalog" / "sensor-kinds.yaml"


def zephyr_schemas() -> Path:
    """Zephyr's pykwalify schemas for board.yml, soc.yml and twister files, as shipped."""
    return _PKG / "data" / "zephyr-schemas"


def kconfig_frontend() -> Path:
    """The Kconfig frontend `config` has Zephyr's build run (kconfig_tree.py)."""
    return _PKG / "data" / "kconfig" / "cmu610_kconfig.py"


def entity_manager_schemas() -> Path:
    """entity-manager's JSON schemas (entry point global.json), as shipped."""
    return _PKG / "data" / "entity-manager-schemas"
