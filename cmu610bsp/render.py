"""Rendering: the validated project in, a {relative path: text} mapping out.

Deterministic by construction: no timestamps, sorted iteration everywhere, one Jinja
environment with StrictUndefined so a template typo fails loudly instead of printing nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import jinja2

from cmu610bsp import (
    __version__,
    bootcrypto,
    bootstage,
    components,
    composition,
    entity_manager,
    escape,
    firmware,
    flash,
    flash_layout,
    fwpackage,
    hsm,
    layer,
    mcuimage,
    names,
    pipelines,
    resources,
    securedomain,
    sensor_twin,
    zephyr,
)
from cmu610bsp.kinds import KINDS
from cmu610bsp.layout import KAS_DIR, LAYER, TOOLCHAIN_ENV, ZEPHYR_MODULE, smoke_spec
from cmu610bsp.model import Soc
from cmu610bsp.project import Project
from cmu610bsp.smoke_spec import smoke_spec as line_smoke_spec

# Layers of the openbmc/openbmc tree a CMU610 build uses (paths inside that repository).
OPENBMC_LAYERS = (
    "meta",
    "meta-openembedded/meta-oe",
    "meta-openembedded/meta-networking",
    "meta-openembedded/meta-python",
    "meta-phosphor",
)


# md5 of Zephyr's LICENSE (Apache-2.0) for the firmware's LIC_FILES_CHKSUM: BitBake checks it
ZEPHYR_LICENSE_MD5 = "fa818a259cbed7ce8bc2a22d35a464fc"
# The firmware recipes: domain, title, what the application does (zephyr/apps/<domain>)
FIRMWARE = (
    ("secure", "CMU610 secure-domain firmware",
     "The secure domain's Zephyr application on its hart: banner and the devices the domain owns, "
     "then the release of the BMC hart."),
    ("bmc", "CMU610 BMC-domain firmware",
     "The BMC domain's Zephyr application for the product line: banner, the devices it owns, the "
     "board's sensor and fan inventory and a shell command that lists it."),
)


class Put(Protocol):
    """Render `template` with `ctx` (and the SoC) into the file at `path` of the output."""

    def __call__(self, path: str, template: str, **ctx: object) -> None: ...


def _hex(value: int) -> str:
    return f"{value:#x}"


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment of the process: compiling the templates is most of a render's time, and
    `sync` renders twice, the tests hundreds of times; jinja2 recompiles a template whose file changed."""
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
    env.filters["hexbyte"] = lambda v: f"{v:02x}"
    # text from a description is written through one of these, by the file's language (escape.py)
    env.filters["line"] = escape.line            # a `#` comment, a line of plain text
    env.filters["c_comment"] = escape.c_comment  # inside /* */
    env.filters["bb"] = escape.bitbake           # a quoted BitBake value
    env.filters["dtstr"] = escape.dts            # a quoted devicetree string
    env.filters["yaml"] = escape.yaml_value      # a YAML value (PyYAML)
    env.filters["sq"] = escape.yaml_single       # a YAML single-quoted scalar (PyYAML)
    env.filters["dq"] = escape.yaml_double       # a YAML double-quoted scalar (PyYAML)
    env.filters["md"] = escape.markdown          # Markdown text
    env.filters["sh"] = escape.sh                # a POSIX shell word
    env.filters["tojson_pretty"] = escape.json_pretty
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
    for b in zephyr.bindings(soc, project.catalog):
        # a peripheral's binding is rendered from its kind's entry in the table; cores, sensors and
        # fans are not peripheral kinds and have their own
        put(f"{z}/dts/bindings/{b['dir']}/{b['compatible']}.yaml", "zephyr/binding.yaml.j2", binding=b,
            kind=KINDS.get(b["kind"]))  # type: ignore[call-overload]
    dts_dir = f"{z}/dts/riscv/{soc.vendor}"
    put(f"{dts_dir}/{soc.name}.dtsi", "dts/soc.dtsi.j2", periphs=zephyr.peripheral_views(soc, False))
    put(f"{dts_dir}/{soc.name}-secure.dtsi", "dts/soc-secure.dtsi.j2", periphs=zephyr.peripheral_views(soc, True))
    put(f"{dts_dir}/{names.machine_name(soc.name, True)}.dtsi", "dts/soc-qemu.dtsi.j2")
    soc_dir = f"{z}/soc/{soc.vendor}/{soc.name}"
    isa = zephyr.isa_symbols(soc, project.soc_file)
    for name in ("soc.yml", "Kconfig.soc", "Kconfig", "Kconfig.defconfig", "CMakeLists.txt"):
        put(f"{soc_dir}/{name}", f"zephyr/soc/{name}.j2", isa_symbols=isa)
    for board in sorted(project.boards, key=lambda b: b.name):
        for twin in (False, True):
            bv = zephyr.board_view(board, soc, project.catalog, twin)
            _render_board(put, bv, soc, project)
    domains = secure_domains(project, env)
    for sd in domains:
        out.update(sd.files)
    _render_apps(put, out, project, domains)
    _render_layer(put, project, domains)
    _render_firmware(put, out, project)
    _render_kas(put, project)
    if project.ci:
        ci = pipelines.pipeline(project)
        for path, template in pipelines.files(project).items():
            put(path, template, pipeline=ci)
    return dict(sorted(out.items()))


def secure_domains(project: Project, env: jinja2.Environment | None = None) -> list[securedomain.SecureDomain]:
    """The description's distinct secure domains, each with its Zephyr board rendered."""
    env = env or environment()

    def board_files(bv: zephyr.BoardView) -> dict[str, str]:
        files: dict[str, str] = {}

        def put(path: str, template: str, **ctx: object) -> None:
            files[path] = env.get_template(template).render(soc=project.soc, **ctx)

        _render_board(put, bv, project.soc, project)
        return files

    return securedomain.secure_domains(project, board_files)


def _render_layer(put: Put, project: Project, domains: list[securedomain.SecureDomain]) -> None:
    """The Yocto machine layer: layer.conf, SoC include, a machine per board and twin, images."""
    soc = project.soc
    boards = sorted(project.boards, key=lambda b: b.name)
    lines = [p for p in sorted(project.products, key=lambda p: p.name)
             if any(p.name in b.product_lines for b in boards)]
    machines = [
        {"name": names.machine_name(b.name, twin), "title": names.title(b.full_name, twin),
         "lines": ", ".join(b.product_lines)}
        for b in boards for twin in (False, True)
    ]
    common = {"collection": layer.COLLECTION, "layerseries": layer.LAYERSERIES}
    contact = layer.contact(project.maintainer)
    put(f"{LAYER}/README.md", "layer/README.md.j2", machines=machines, products=lines, maintainer=contact, **common)
    put(f"{LAYER}/SECURITY.md", "layer/SECURITY.md.j2", maintainer=contact)
    put(f"{LAYER}/conf/layer.conf", "layer/layer.conf.j2", components=components.used(project.products), **common)
    put(f"{LAYER}/conf/machine/include/{soc.name}.inc", "layer/soc.inc.j2", tune_features=layer.tune_features(soc))
    variants = layer.board_variants(boards, soc, domains)
    archs = sorted({str(v["arch"]) for v in variants} | {sd.variant.replace("-", "_") for sd in domains})
    put(f"{LAYER}/conf/machine/include/{soc.name}-boards.inc", "layer/boards.inc.j2", machines=variants,
        secure_domains=domains, archs=archs)
    put(f"{LAYER}/classes/cmu610_variant.bbclass", "layer/classes/cmu610_variant.bbclass.j2")
    for b in boards:
        for twin in (False, True):
            zboard, machine = names.zephyr_board(b.name, twin), names.machine_name(b.name, twin)
            dts = [names.board_dts(b.vendor, b.name, soc.name, getattr(b.domains, d).hart, twin) for d in ("secure", "bmc")]
            put(f"{LAYER}/conf/machine/{machine}.conf", "layer/machine.conf.j2",
                board=b, twin=twin, title=names.title(b.full_name, twin), zboard=zboard,
                targets=layer.zephyr_targets(b, soc, twin), devicetrees=dts, flash=layer.flash_vars(b),
                secure_domain=securedomain.of_machine(domains, machine).variant)
    tdir = f"{LAYER}/conf/templates/default"
    put(f"{tdir}/bblayers.conf.sample", "layer/conf/templates/bblayers.conf.sample.j2")
    put(f"{tdir}/local.conf.sample", "layer/conf/templates/local.conf.sample.j2", default_machine=boards[0].name)
    put(f"{tdir}/conf-notes.txt", "layer/conf/templates/conf-notes.txt.j2",
        machines=[m["name"] for m in machines], products=lines)
    for p in lines:
        put(f"{LAYER}/recipes-core/images/{p.image}.bb", "layer/image.bb.j2", product=p)
    em_dir = f"{LAYER}/recipes-phosphor/configuration"
    put(f"{em_dir}/entity-manager_%.bbappend", "layer/entity-manager.bbappend.j2",
        boards=[{"board": b.name, "machine": names.machine_name(b.name, t)} for b in boards for t in (False, True)])
    for b in boards:
        put(f"{em_dir}/files/{b.name}.json", "layer/entity-manager.json.j2",
            config=entity_manager.configuration(b, project.soc, project.catalog))


def _render_firmware(put: Put, out: dict[str, str], project: Project) -> None:
    """Classes and recipes that build both harts' Zephyr firmware and the flash image."""
    soc = project.soc
    put(f"{LAYER}/classes/cmu610_baremetal.bbclass", "layer/classes/cmu610_baremetal.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_nofakeroot.bbclass", "layer/classes/cmu610_nofakeroot.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_firmware_only.bbclass", "layer/classes/cmu610_firmware_only.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_zephyr.bbclass", "layer/classes/cmu610_zephyr.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_parse_cache.bbclass", "layer/classes/cmu610_parse_cache.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_plan.bbclass", "layer/classes/cmu610_plan.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_zephyr_lib.bbclass", "layer/classes/cmu610_zephyr_lib.bbclass.j2")
    put(f"{LAYER}/classes/cmu610_signing.bbclass", "layer/classes/cmu610_signing.bbclass.j2")
    fw = f"{LAYER}/recipes-bsp/cmu610-firmware"
    put(f"{fw}/cmu610-zephyr-source_1.0.bb", "layer/zephyr-source.bb.j2", zephyr=project.zephyr,
        zephyr_git=layer.git_src_uri(project.zephyr.url), zephyr_license_md5=ZEPHYR_LICENSE_MD5)
    for domain, title, what in FIRMWARE:
        put(f"{fw}/cmu610-{domain}-fw_1.0.bb", "layer/firmware.bb.j2", domain=domain, title=title, description=what,
            secure_components=components.SECURE)
    fl = f"{LAYER}/recipes-bsp/cmu610-flash"
    put(f"{fl}/cmu610-flash-image_1.0.bb", "layer/flash-image.bb.j2", sodium={
        "sdist": bootcrypto.SDIST, "sha256": bootcrypto.SDIST_SHA256, "sources": bootcrypto.SOURCES,
        "defines": bootcrypto.DEFINES, "bootstage": bootstage.C_SOURCES, "complete": bootcrypto.COMPLETE})
    put(f"{fl}/files/cmu610-pack-flash.py", "layer/pack-flash.py.j2")
    # what BitBake cannot import from cmu610bsp: the packer's modules, as they are, and the boot stage's sources
    out[f"{fl}/files/cmu610_flash.py"] = Path(flash.__file__).read_text()
    out[f"{fl}/files/cmu610_mcuimage.py"] = Path(mcuimage.__file__).read_text()
    # the signing function's PKCS#11 path: a key in an HSM signs inside BitBake too
    out[f"{fl}/files/cmu610_hsm.py"] = Path(hsm.__file__).read_text()
    out[f"{fl}/files/cmu610_fwpackage.py"] = Path(fwpackage.__file__).read_text()
    _ship(out, bootstage.SOURCES, f"{fl}/files/bootstage",
          sorted(src.relative_to(bootstage.SOURCES).as_posix() for src in bootstage.SOURCES.rglob("*") if src.is_file()))
    trusted = [s.sha256 for s in project.signing.slots] if project.signing else []
    for b in sorted(project.boards, key=lambda b: b.name):
        for twin in (False, True):
            mdir = f"{fl}/files/{names.machine_name(b.name, twin)}"
            out[f"{mdir}/cmu610_boot_config.h"] = bootstage.config_header(b, soc, project.catalog, twin)
            out[f"{mdir}/cmu610_boot_config.ld"] = bootstage.linker_config(b, soc, project.catalog, twin)
            out[f"{mdir}/flash-layout.json"] = json.dumps(flash_layout.layout(b, soc, project.catalog, twin, trusted),
                                                          indent=2, sort_keys=True, allow_nan=False) + "\n"


def _ship(out: dict[str, str], src: Path, dest: str, names: Iterable[str]) -> None:
    """Sources the layer carries as they are (no board data in them): copied, not rendered."""
    for name in names:
        out[f"{dest}/{name}"] = (src / name).read_text()


def _render_kas(put: Put, project: Project) -> None:
    """kas configs: base (OpenBMC pin, layer, machine), one per product line, fragments."""
    default = sorted(project.boards, key=lambda b: b.name)[0].name
    openbmc = {"url": project.openbmc_url, "commit": project.openbmc_commit, "layers": OPENBMC_LAYERS}
    put(f"{KAS_DIR}/base.yml", "kas/base.yml.j2", default_machine=default, openbmc=openbmc, self_repo="cmu610bsp")
    for p in sorted(project.products, key=lambda p: p.name):
        # the line's default board: the first in the description that serves it (what `build`
        # takes without --board; kas with base.yml:<line>.yml alone builds the same)
        machine = next((b.name for b in project.boards if p.name in b.product_lines), None)
        put(f"{KAS_DIR}/{p.name}.yml", "kas/line.yml.j2", product=p, machine=machine, components=components.for_line(p))
    tv = zephyr.toolchain_view(project.toolchain)
    put(f"{KAS_DIR}/toolchain.yml", "kas/toolchain.yml.j2", toolchain=project.toolchain, tv=tv)
    put(TOOLCHAIN_ENV, "zephyr/toolchain.env.j2", toolchain=project.toolchain, tv=tv)
    put(f"{KAS_DIR}/cache.yml", "kas/cache.yml.j2")
    recipes = composition.recipes(components.used(project.products))
    put(f"{KAS_DIR}/firmware.yml", "kas/firmware.yml.j2", recipes=recipes, mask=composition.mask(recipes))
    put(f"{KAS_DIR}/local-sources.yml", "kas/local-sources.yml.j2")


def _render_apps(put: Put, out: dict[str, str], project: Project,
                 domains: list[securedomain.SecureDomain]) -> None:
    """The two firmware applications of the module (their C sources are copied as they are: they
    hold no board data), their bindings, each line's fragment, and each board's smoke specs."""
    z, soc = ZEPHYR_MODULE, project.soc
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-firmware.yaml", "zephyr/bindings/firmware.yaml.j2")
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-inventory.yaml", "zephyr/bindings/inventory.yaml.j2")
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-mctp.yaml", "zephyr/bindings/mctp.yaml.j2")
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-firmware-images.yaml", "zephyr/bindings/firmware-images.yaml.j2")
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-ab-slots.yaml", "zephyr/bindings/ab-slots.yaml.j2")
    put(f"{z}/dts/bindings/firmware/{soc.vendor},{soc.name}-sensors.yaml", "zephyr/bindings/sensors.yaml.j2",
        backdoors=sensor_twin.BACKDOORS)
    products = sorted(project.products, key=lambda p: p.name)
    lines = [p.name for p in products]
    version = firmware.version_parts(__version__)
    apps = resources.templates_dir() / "zephyr" / "apps"
    line_components = [(p.name, components.for_line(p)) for p in products]
    for app in firmware.APPS:
        for name in ("CMakeLists.txt", "prj.conf"):
            put(f"{z}/apps/{app}/{name}", f"zephyr/apps/{app}/{name}.j2", lines=lines, line_components=line_components,
                secure_components=components.SECURE, secure_kconfig=firmware.app_kconfig(None),
                settings=firmware.kconfig_lines(project.secure_firmware.kconfig))
        put(f"{z}/apps/{app}/VERSION", "zephyr/apps/VERSION.j2", version=version)
        _ship(out, apps / app, f"{z}/apps/{app}", firmware.APP_SOURCES[app])
    _ship(out, apps, f"{z}/apps", firmware.COMMON_SOURCES)
    put(f"{z}/apps/common/components.cmake", "zephyr/apps/components.cmake.j2",
        components=list(components.COMPONENTS.values()))
    _ship(out, resources.templates_dir() / "zephyr", z, firmware.MODULE_SOURCES)
    put(f"{z}/apps/bmc/Kconfig", "zephyr/apps/bmc/Kconfig.j2", features=firmware.features(project.products))
    for p in products:
        put(f"{z}/apps/bmc/{p.name}.conf", "zephyr/apps/bmc/line.conf.j2", product=p, config=firmware.line_config(p))
    for b in sorted(project.boards, key=lambda b: b.name):
        for p in products:
            if p.name in b.product_lines:
                put(smoke_spec(b.name, p.name), "zephyr/smoke.yaml.j2",
                    spec=line_smoke_spec(b, soc, project.catalog, p, __version__,
                                             securedomain.of_machine(domains, names.machine_name(b.name, True)).name))


def _render_board(put: Put, bv: zephyr.BoardView, soc: Soc, project: Project) -> None:
    bdir = f"{ZEPHYR_MODULE}/{names.zephyr_board_dir(bv.board.vendor, bv.board.name, bv.twin)}"
    ctx = {"bv": bv, "board": bv.board}
    put(f"{bdir}/board.yml", "zephyr/board/board.yml.j2", **ctx)
    put(f"{bdir}/Kconfig.{bv.zname}", "zephyr/board/Kconfig.board.j2", **ctx)
    put(f"{bdir}/Kconfig.defconfig", "zephyr/board/Kconfig.defconfig.j2", **ctx)
    put(f"{bdir}/board.cmake", "zephyr/board/board.cmake.j2", **ctx)
    for dom in bv.domains:
        dts = names.board_dts(bv.board.vendor, bv.board.name, soc.name, dom.hart, bv.twin)
        stem = f"{ZEPHYR_MODULE}/{dts.removesuffix('.dts')}"
        bmc = dom.name == "bmc"
        put(f"{stem}.dts", "dts/board.dts.j2", dom=dom, fw=firmware.firmware_node(bv.board, soc, dom.name),
            inventory=firmware.inventory(bv.board, soc, project.catalog) if bmc else None,
            sensors=firmware.sensor_nodes(bv.board, soc, project.catalog, bv.twin) if bmc else None,
            mctp=firmware.mctp_node(bv.board, soc, dom.name, bv.twin),
            images=firmware.firmware_images(bv.board) if not bmc else None,
            adc_ref_mv=sensor_twin.ADC_REF_MV, adc_resolution=sensor_twin.ADC_RESOLUTION, **ctx)
        put(f"{stem}_defconfig", "zephyr/board/defconfig.j2", dom=dom, **ctx)
        put(f"{stem}.yaml", "zephyr/board/twister.yaml.j2", dom=dom, **ctx)

