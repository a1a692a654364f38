"""Rendering: the validated project in, a {relative path: text} mapping out.

Deterministic by construction: no timestamps, sorted iteration everywhere, one Jinja
environment with StrictUndefined so a template typo fails loudly instead of printing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from cmu610bsp import __version__, resources, views
from cmu610bsp.model import Board, Catalog, Soc

LAYER = "meta-cmu610"
ZEPHYR_MODULE = f"{LAYER}/zephyr"
# Top-level directories whose content the generator owns (swapped atomically as a whole).
OUTPUT_ROOTS = (LAYER,)


@dataclass(frozen=True)
class Project:
    """Everything one render needs: the validated SoC, boards and sensor catalogue."""

    soc: Soc
    boards: tuple[Board, ...]
    catalog: Catalog
    soc_file: str


def _hex(value: int) -> str:
    return f"{value:#x}"


def _cells(value: int) -> str:
    return f"{value:#x}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["hex"] = _hex
    env.filters["xnode"] = lambda v: f"{v:x}"
    env.filters["kib"] = lambda v: v // 1024
    env.filters["dtstr"] = lambda v: '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    env.globals["generator"] = f"cmu610bsp {__version__}"
    return env


def render(project: Project, env: jinja2.Environment | None = None) -> dict[str, str]:
    """Every generated file of the workspace, keyed by its path relative to the workspace."""
    env = env or environment()
    soc = project.soc
    out: dict[str, str] = {}

    def put(path: str, template: str, **ctx: object) -> None:
        out[path] = env.get_template(template).render(soc=soc, **ctx)

    z = ZEPHYR_MODULE
    vendors = sorted({soc.vendor, "xuantie"} | {b.vendor for b in project.boards})
    put(f"{z}/zephyr/module.yml", "zephyr/module.yml.j2")
    put(f"{z}/dts/bindings/vendor-prefixes.txt", "zephyr/vendor-prefixes.txt.j2", vendors=vendors)
    for b in views.bindings(soc, project.catalog):
        put(f"{z}/dts/bindings/{b['dir']}/{b['compatible']}.yaml", "zephyr/binding.yaml.j2", binding=b)
    dts_dir = f"{z}/dts/riscv/{soc.vendor}"
    put(f"{dts_dir}/{soc.name}.dtsi", "dts/soc.dtsi.j2", periphs=views.peripheral_views(soc, False))
    put(f"{dts_dir}/{soc.name}-secure.dtsi", "dts/soc-secure.dtsi.j2", periphs=views.peripheral_views(soc, True))
    put(f"{dts_dir}/{soc.name}-qemu.dtsi", "dts/soc-qemu.dtsi.j2")
    soc_dir = f"{z}/soc/{soc.vendor}/{soc.name}"
    isa = views.isa_symbols(soc, project.soc_file)
    for name in ("soc.yml", "Kconfig.soc", "Kconfig", "Kconfig.defconfig", "CMakeLists.txt"):
        put(f"{soc_dir}/{name}", f"zephyr/soc/{name}.j2", isa_symbols=isa)
    for board in sorted(project.boards, key=lambda b: b.name):
        for twin in (False, True):
            bv = views.board_view(board, soc, project.catalog, twin)
            _render_board(put, bv, soc)
    return dict(sorted(out.items()))


def _render_board(put, bv: views.BoardView, soc: Soc) -> None:  # type: ignore[no-untyped-def]
    bdir = f"{ZEPHYR_MODULE}/boards/{bv.board.vendor}/{bv.zname}"
    ctx = {"bv": bv, "board": bv.board}
    put(f"{bdir}/board.yml", "zephyr/board/board.yml.j2", **ctx)
    put(f"{bdir}/Kconfig.{bv.zname}", "zephyr/board/Kconfig.board.j2", **ctx)
    put(f"{bdir}/Kconfig.defconfig", "zephyr/board/Kconfig.defconfig.j2", **ctx)
    put(f"{bdir}/board.cmake", "zephyr/board/board.cmake.j2", **ctx)
    for dom in bv.domains:
        stem = f"{bdir}/{bv.zname}_{soc.name}_{dom.cluster}"
        put(f"{stem}.dts", "dts/board.dts.j2", dom=dom, **ctx)
        put(f"{stem}_defconfig", "zephyr/board/defconfig.j2", dom=dom, **ctx)
        put(f"{stem}.yaml", "zephyr/board/twister.yaml.j2", dom=dom, **ctx)


def dts_files(files: dict[str, str]) -> list[str]:
    return [p for p in files if p.endswith(".dts")]


def dts_include_dirs(workspace: Path, soc: Soc) -> list[Path]:
    """The include path Zephyr gives the C preprocessor for this module's devicetrees."""
    z = workspace / ZEPHYR_MODULE
    return [z / "dts" / "riscv", z / "dts" / "common", z / "dts", z / "include"]
