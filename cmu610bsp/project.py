"""The `Project` the workspace's description files assemble (cmu610bsp.yml names them: config.py).

`load_project` is the one loader every command uses, `init` included: it reads every input,
runs every rule of `validate.py`, and raises one `BspError` carrying all findings, so one run
shows every problem and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cmu610bsp import components, resources, sensor_twin
from cmu610bsp.config import (
    STANDIN_TOOLCHAIN,
    CiSystem,
    SecureFirmware,
    SigningRecord,
    ToolchainRecord,
    WorkspaceConfig,
    ZephyrPin,
    load_config,
)
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.layout import CONFIG_FILE
from cmu610bsp.model import Board, Catalog, Product, Soc, load_board, load_catalog, load_product, load_soc
from cmu610bsp.names import check_names
from cmu610bsp.validate import check_board, check_soc, check_workspace


@dataclass(frozen=True)
class Project:
    """Everything one render needs: the validated SoC, boards, products and sensor catalogue."""

    soc: Soc
    boards: tuple[Board, ...]
    catalog: Catalog
    soc_file: str
    products: tuple[Product, ...]
    openbmc_url: str
    openbmc_commit: str
    toolchain: ToolchainRecord
    maintainer: str | None = None
    zephyr: ZephyrPin = field(default_factory=ZephyrPin)
    ci: tuple[CiSystem, ...] = ()
    secure_firmware: SecureFirmware = field(default_factory=SecureFirmware)
    # the image signing key's public halves (`keys generate|rotate`): the keys partition trusts both slots
    signing: SigningRecord | None = None


M = TypeVar("M")


def _attempt(errors: list[BspError], load: Callable[[Path], M], path: Path) -> M | None:
    """`load(path)`, or None with its error kept: every file is read before any is reported."""
    try:
        return load(path)
    except BspError as e:
        errors.append(e)
        return None


def _together(errors: list[BspError], headline: str) -> BspError:
    """One error for every file that could not be read: the only one as it is, else all their
    findings (a file's error without findings becomes one)."""
    if len(errors) == 1:
        return errors[0]
    findings = [f for e in errors for f in (e.findings or [Finding("(description)", "(file)", e.message)])]
    return BspError(headline, findings)


def load_project(root: Path, config: WorkspaceConfig | None = None,
                 headline: str = "the description has errors; nothing was written") -> Project:
    """Read and validate every input named by `config` (read from `root` when not given),
    paths taken relative to `root`; all findings at once in one BspError, nothing written.
    `headline` lets `init` say which description it was given."""
    cfg = config if config is not None else load_config(root)
    soc_path = root / cfg.soc
    board_paths = [root / b for b in cfg.boards]
    product_paths = [root / p for p in cfg.products]
    errors: list[BspError] = []
    soc = _attempt(errors, load_soc, soc_path)
    catalog_path = root / cfg.catalog if cfg.catalog else resources.sensor_catalog()
    catalog = _attempt(errors, load_catalog, catalog_path)
    products = [x for p in product_paths if (x := _attempt(errors, load_product, p))]
    boards = [b for p in board_paths if (b := _attempt(errors, load_board, p))]
    if errors:
        raise _together(errors, headline)
    assert soc is not None and catalog is not None
    findings = check_soc(soc, soc_path) + sensor_twin.check_catalog(catalog, catalog_path)
    findings += components.check_products(products, product_paths)
    for board, path in zip(boards, board_paths, strict=True):
        findings += check_board(board, soc, catalog, path)
    findings += check_workspace(cfg.boards, boards, board_paths, products, str(root / CONFIG_FILE))
    findings += check_names(soc, boards, board_paths, products, product_paths)
    if findings:
        raise BspError(headline, findings)
    return Project(soc, tuple(boards), catalog, str(soc_path), tuple(products),
                   cfg.openbmc.url, cfg.openbmc.commit, cfg.toolchain or STANDIN_TOOLCHAIN, cfg.maintainer, cfg.zephyr,
                   tuple(cfg.ci), cfg.secure_firmware, cfg.signing)
