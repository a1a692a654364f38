"""The workspace's own description (`cmu610bsp.yml`) and the `Project` it assembles.

`load_project` is the one loader every command uses, `init` included: it reads every input,
runs every rule of `validate.py`, and raises one `BspError` carrying all findings, so one run
shows every problem and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, Field

from cmu610bsp import resources
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.layout import CONFIG_FILE
from cmu610bsp.model import (
    Board,
    Catalog,
    Product,
    Soc,
    Strict,
    load_board,
    load_catalog,
    load_product,
    load_soc,
    parse_model,
    unique,
)
from cmu610bsp.names import check_names
from cmu610bsp.text import AbsPath, Prefix, RelPath, Sha256, Text, Url
from cmu610bsp.validate import check_board, check_soc, check_workspace
from cmu610bsp.yamlio import read_yaml

DEFAULT_PRODUCTS = ["configs/products/bigbmc.yaml", "configs/products/littlebmc.yaml"]


class OpenBmcPin(Strict):
    """The OpenBMC tree the layer is written and tested against."""

    url: Url = "https://github.com/openbmc/openbmc.git"
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] = "8e3322f34f210d677bd97f98e11212ee9d7748cf"


class ZephyrPin(Strict):
    """The Zephyr tree both harts' firmware is built from: kas checks it out (repo `zephyr`),
    the firmware recipes fetch it from there at this commit (`--source zephyr=PATH`: a local tree).
    The default is the Zephyr 4.0.0 snapshot the layer is built and booted with."""

    url: Url = "https://github.com/shiyu-sz/zephyr-4.0.0.git"
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] = "0d6f47a50097fa9c77e4a75ace91d35a2ab80a21"


class ToolchainRecord(Strict):
    """The RISC-V toolchain every consumer (kas/Yocto, Zephyr) uses; written by `toolchain install`.

    Without one, Debian's riscv64-unknown-elf GCC in /usr is the stand-in."""

    name: Text
    # Where it lives is resolved on each machine (toolchain.location): an archive install by its
    # place in the toolchain cache (`cache`, named by the archive's checksum), a directory
    # recorded in place by `path` (that machine's path); CMU610BSP_TOOLCHAIN overrides both.
    path: AbsPath | None = None    # a directory recorded in place: bin/<prefix>gcc below it
    cache: RelPath | None = None   # below <cache>/toolchains/: an archive installed by `toolchain install`
    prefix: Prefix = "riscv64-unknown-elf-"
    sysroot: RelPath | None = None # for a linux-gnu (glibc) toolchain, relative to the toolchain root
    sha256: Sha256 | None = None   # of the archive it was installed from
    xuantie: bool = False          # accepts -mcpu=e906*


STANDIN_TOOLCHAIN = ToolchainRecord(name="debian-riscv64-unknown-elf (stand-in)", path="/usr")


# CI systems a workspace can have a generated pipeline for (`ci:`; cmu610bsp/pipelines.py)
CiSystem = Literal["gitlab", "github"]


def _name_and_email(value: str) -> str:
    if not re.fullmatch(r"[^<>@]+ <[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+>", value):
        raise ValueError('expected "Name <email>", e.g. "Jane Doe <jane@example.com>"')
    return value


class WorkspaceConfig(Strict):
    """`cmu610bsp.yml`: which descriptions to render, and what the generator must not touch."""

    version: int = Field(1, ge=1, le=1)
    # description files, read (never rendered)
    soc: Text
    boards: list[Text] = Field(min_length=1)
    products: list[Text] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS), min_length=1)
    catalog: Text | None = None
    openbmc: OpenBmcPin = OpenBmcPin()
    zephyr: ZephyrPin = ZephyrPin()
    toolchain: ToolchainRecord | None = None
    keep: list[Text] = Field(default_factory=list)   # globs of generated files left alone
    # the layer's maintainer: its README and SECURITY.md name them (yocto-check-layer)
    maintainer: Annotated[Text, AfterValidator(_name_and_email)] | None = None
    # the CI systems to generate a pipeline for (`cmu610bsp ci gitlab github`); none by default
    ci: Annotated[list[CiSystem], AfterValidator(unique)] = Field(default_factory=list)


def load_config(root: Path) -> WorkspaceConfig:
    """The workspace's `cmu610bsp.yml`, shape-checked."""
    path = root / CONFIG_FILE
    return parse_model(WorkspaceConfig, read_yaml(path), path)


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
    catalog = _attempt(errors, load_catalog, root / cfg.catalog if cfg.catalog else resources.sensor_catalog())
    products = [x for p in product_paths if (x := _attempt(errors, load_product, p))]
    boards = [b for p in board_paths if (b := _attempt(errors, load_board, p))]
    if errors:
        raise _together(errors, headline)
    assert soc is not None and catalog is not None
    findings = check_soc(soc, soc_path)
    for board, path in zip(boards, board_paths, strict=True):
        findings += check_board(board, soc, catalog, path)
    findings += check_workspace(cfg.boards, boards, board_paths, products, str(root / CONFIG_FILE))
    findings += check_names(soc, boards, board_paths, products, product_paths)
    if findings:
        raise BspError(headline, findings)
    return Project(soc, tuple(boards), catalog, str(soc_path), tuple(products),
                   cfg.openbmc.url, cfg.openbmc.commit, cfg.toolchain or STANDIN_TOOLCHAIN, cfg.maintainer, cfg.zephyr,
                   tuple(cfg.ci))
