"""Real-consumer checks of the Yocto side: BitBake's own parser, oelint-adv, kas's schema and
entity-manager's schema."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from cmu610bsp import components, layer, layout, proc, resources
from cmu610bsp.checks.result import CheckResult, read_generated, result
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.names import component_variant, machine_name
from cmu610bsp.project import Project
from cmu610bsp.workspace import Workspace, load_project

# Stand-ins for files of oe-core and meta-phosphor that the layer refers to. BitBake's parser
# (PyPI bitbake-setup) has no metadata of its own; these empty files let it parse our files so
# that every variable *we* set can be checked. The OpenBMC integration test parses the layer in
# a real openbmc tree.
_STANDIN_FILES = (
    "conf/machine/include/riscv/arch-riscv.inc",
    "classes/base.bbclass",
    "classes/deploy.bbclass",
    "classes/nopackages.bbclass",
    "classes/obmc-phosphor-image.bbclass",
    "recipes/entity-manager_git.bb",
)


def import_bb() -> Any:
    """BitBake's `bb` package from PyPI's bitbake-setup, which lacks hashserv and prserv."""
    for name in ("hashserv", "hashserv.client", "prserv", "prserv.serv"):
        sys.modules.setdefault(name, types.ModuleType(name))
    import bb.data
    import bb.parse
    import bb.siggen

    # What BitBake's cooker does before parsing recipes: a signature generator (the no-op one).
    bb.parse.siggen = bb.siggen.init(bb.data.init())
    # BitBake keeps what it parsed of each .inc and .bbclass, and each file's time, for the life of
    # the process: a check reads the files as they are now, not as an earlier one in this process did
    bb.parse.parse_py.BBHandler.cached_statements.clear()
    bb.parse.clear_cache()
    return bb


def _missing(dist: str) -> str:
    return f"{dist}, a dependency of cmu610bsp, is missing from {sys.prefix}: reinstall cmu610bsp there"


def check_bitbake(ws: Workspace) -> CheckResult:
    """Parse every .conf/.inc/.bb/.bbappend with BitBake's parser and compare machine data."""
    try:
        bb = import_bb()
    except ImportError:
        return CheckResult("bitbake-parse", "skipped", detail=_missing("bitbake-setup"))
    try:
        project = load_project(ws)
    except BspError as e:
        return CheckResult("bitbake-parse", "skipped", detail=f"description invalid: {e.message}")
    root = ws.root / layout.LAYER
    findings: list[Finding] = []
    parsed = 0
    with tempfile.TemporaryDirectory() as tmp:
        standin = Path(tmp)
        for rel in _STANDIN_FILES:
            (standin / rel).parent.mkdir(parents=True, exist_ok=True)
            (standin / rel).write_text("")

        # Each machine configuration is checked for its own values with the boards table (every
        # board's variants: the same lines in every machine's configuration, and only variant
        # overrides) stood in: read in each of the 2 x boards configurations it made the check
        # quadratic in the number of boards. The real table is read with the recipes below.
        no_table = standin / "no-boards-table"
        (no_table / "conf/machine/include").mkdir(parents=True)
        (no_table / f"conf/machine/include/{project.soc.name}-boards.inc").write_text("")

        def store(machine: str = "", table: bool = True) -> Any:
            d = bb.data.init()
            d.setVar("BBPATH", f"{root}:{standin}" if table else f"{no_table}:{root}:{standin}")
            d.setVar("TOPDIR", tmp)
            d.setVar("LAYERDIR", str(root))
            d.setVar("__bbclasstype", "recipe")
            if machine:
                d.setVar("MACHINE", machine)
                d.setVar("OVERRIDES", "${MACHINEOVERRIDES}")
                d.setVar("MACHINEOVERRIDES", "${MACHINE}")
            return d

        variants: dict[str, Any] = {}

        def parse(path: Path, d: Any, include: bool = True, shown: Path | None = None) -> Any:
            nonlocal parsed
            parsed += 1
            try:
                out = bb.parse.handle(str(path), d, include)
                if isinstance(out, dict):
                    variants.clear()
                    variants.update({k: v for k, v in out.items() if k})
                    return out[""]
                return out
            except Exception as e:  # noqa: BLE001 - the parser raises several types
                where = str((shown or path).relative_to(ws.root))
                findings.append(Finding(where, "bitbake", str(e).strip().splitlines()[-1]))
                return None

        d = parse(root / "conf/layer.conf", store())
        if d is not None:
            findings += _expect(d, root / "conf/layer.conf", ws.root, {
                "BBFILE_COLLECTIONS": layer.COLLECTION,
                f"LAYERSERIES_COMPAT_{layer.COLLECTION}": layer.LAYERSERIES,
            }, contains=True)
        for b in project.boards:
            for twin in (False, True):
                name = machine_name(b.name, twin)
                conf = root / "conf/machine" / f"{name}.conf"
                d = parse(conf, store(name, table=False))
                if d is not None:
                    findings += _expect(d, conf, ws.root, _machine_expectations(project, b, twin))
        first = project.boards[0].name
        for recipe in sorted(root.glob("recipes-*/*/*.bb")):
            # in the first board's configuration, which lists every board's variants
            d = parse(root / "conf/machine" / f"{first}.conf", store(first))
            d = d if d is not None else store(first)
            d.setVar("PN", recipe.stem.split("_")[0])  # bitbake.conf's, from the file name
            d = parse(recipe, d, include=False)
            product = next((p for p in project.products if recipe.stem == p.image), None)
            if d is not None and product is not None:
                have = (d.getVar("IMAGE_FEATURES") or "").split()
                missing = [f for f in product.image_features if f not in have]
                if missing:
                    findings.append(Finding(str(recipe.relative_to(ws.root)), "IMAGE_FEATURES", f"missing {missing}"))
            if d is not None:
                pn = recipe.stem.split("_")[0]
                findings += [Finding(str(recipe.relative_to(ws.root)), field, reason)
                             for field, reason in _firmware_findings(pn, d)]
                # the recipe's variants (a board's, a secure domain's: cmu610_variant.bbclass)
                for name, v in sorted(variants.items()) if pn in (*FIRMWARE, FLASH_IMAGE) else []:
                    findings += [Finding(str(recipe.relative_to(ws.root)), f"{field} ({name})", reason)
                                 for field, reason in _firmware_findings(pn, v, variant=True)]
                if pn in (*FIRMWARE, FLASH_IMAGE) and not variants:
                    findings.append(Finding(str(recipe.relative_to(ws.root)), "BBCLASSEXTEND", "no board variants"))
        for comp in components.used(project.products):
            # OpenBMC's recipe stood in (a git SRC_URI and a SRCREV, as libpldm's and libmctp's
            # have), in the layer's configuration: the layer must make its source variant
            stand = standin / "recipes" / f"{comp}_git.bb"
            # DEPENDS appended as meson's python3native class does: the firmware composition has
            # no native recipe to provide it (composition.py)
            stand.write_text(f'LICENSE = "Apache-2.0"\nSRCREV = "{"0" * 40}"\n'
                             f'SRC_URI = "git://github.com/openbmc/{comp};branch=main;protocol=https"\n'
                             'DEPENDS:append = " python3-native"\n')
            d = parse(root / "conf/layer.conf", store(first))
            d = parse(root / "conf/machine" / f"{first}.conf", d) if d is not None else None
            if d is not None:
                d.setVar("PN", comp)
                d.setVar("BPN", comp)  # bitbake.conf's, from PN
                d.setVar("OVERRIDES", "pn-${PN}:${MACHINEOVERRIDES}")  # bitbake.conf's pn- override
                variants.clear()
                if parse(stand, d, include=False, shown=root / "conf/layer.conf") is not None:
                    findings += _component_findings(comp, variants, ws.root / layout.LAYER / "conf/layer.conf", ws.root)
        # entity-manager's (the layer's own; a devtool finish may have added others, e.g. libpldm's)
        for append in sorted(root.glob("recipes-*/*/entity-manager*.bbappend")):
            for b in project.boards:
                d = store(b.name)
                d.setVar("__BBAPPEND", str(append))
                d = parse(standin / "recipes/entity-manager_git.bb", d, include=False, shown=append)
                if d is not None and f"file://{b.name}.json" not in (d.getVar("SRC_URI") or ""):
                    findings.append(Finding(
                        str(append.relative_to(ws.root)), "SRC_URI", f"{b.name}.json not fetched for MACHINE={b.name}"))
    return result("bitbake-parse", findings, f"{parsed} parses with BitBake's parser (oe-core and meta-phosphor files stood in)")


def _component_findings(comp: str, variants: dict[str, Any], conf: Path, root: Path) -> list[Finding]:
    """What the firmware needs of an OpenBMC recipe's source variant: its name, the task the
    firmware waits for, and nothing built (the recipe's meson/autotools never runs)."""
    where = str(conf.relative_to(root))
    v = next((x for k, x in variants.items() if k.startswith("cmu610_zephyr_lib")), None)
    if v is None:
        return [Finding(where, "BBCLASSEXTEND", f"no cmu610_zephyr_lib variant of {comp}")]
    tasks = v.getVar("__BBTASKS", False) or []
    out = []
    if v.getVar("PN") != component_variant(comp):
        out.append(Finding(where, f"PN ({comp})", f"{v.getVar('PN')}, not {component_variant(comp)}"))
    if "do_cmu610_share" not in tasks:
        out.append(Finding(where, f"do_cmu610_share ({comp})", "the variant does not share its source"))
    if (v.getVar("DEPENDS") or "").strip():
        out.append(Finding(where, f"DEPENDS ({comp})", f"the source variant depends on {v.getVar('DEPENDS').strip()}, "
                           "which the firmware composition does not parse"))
    built = [t for t in ("do_configure", "do_compile", "do_install") if t in tasks]
    if built:
        out.append(Finding(where, f"tasks ({comp})", f"the source variant still has {', '.join(built)}"))
    return out


FIRMWARE = ("cmu610-secure-fw", "cmu610-bmc-fw")
FLASH_IMAGE = "cmu610-flash-image"


def _firmware_findings(pn: str, d: Any, variant: bool = False) -> list[tuple[str, str]]:
    """What the firmware chain needs of a parsed recipe: firmware and flash image build with the
    workspace's toolchain, its identity in their signatures, nothing native (no fakeroot), a
    deploy task; the flash image waits for both firmwares; a line's image for the flash image.
    The recipe itself (not a variant) builds nothing: it stands for its variant of MACHINE."""
    out: list[tuple[str, str]] = []
    def flag(task: str, name: str) -> list[str]:
        return str(d.getVarFlag(task, name) or "").split()

    if pn in (*FIRMWARE, FLASH_IMAGE) and not variant:
        alias = f"{pn}-{d.getVar('CMU610_ALIAS_OF')}:do_deploy"
        if alias not in flag("do_build", "depends"):
            out.append(("do_build[depends]", f"does not build its variant of this machine ({alias})"))
    elif pn in (*FIRMWARE, FLASH_IMAGE):
        if d.getVar("INHIBIT_DEFAULT_DEPS") != "1":
            out.append(("INHIBIT_DEFAULT_DEPS", "not 1: OE's cross compiler and libc would be built"))
        for task in ("do_prepare_recipe_sysroot", "do_install", "do_devshell"):
            if any("fakeroot" in dep for dep in flag(task, "depends")):
                out.append((f"{task}[depends]", "still waits for virtual/fakeroot-native"))
        if "CMU610_TOOLCHAIN_ID" not in flag("do_compile", "vardeps"):
            out.append(("do_compile[vardeps]", "the toolchain's identity is not in the signature"))
        if "CMU610_TOOLCHAIN_PATH" not in flag("do_compile", "vardepsexclude"):
            out.append(("do_compile[vardepsexclude]", "the toolchain's place would be in the signature"))
        if "do_deploy" not in (d.getVar("__BBTASKS", False) or []):
            out.append(("do_deploy", "no deploy task"))
    if pn in FIRMWARE and variant:
        if not (d.getVar("S") or "").endswith(f"/apps/{d.getVar('CMU610_FW_DOMAIN')}"):
            out.append(("S", "not the layer's application of the recipe's domain"))
        if "cmu610-zephyr-source:do_patch" not in flag("do_configure", "depends"):
            out.append(("do_configure[depends]", "does not wait for the shared Zephyr tree (cmu610-zephyr-source)"))
        for comp in (d.getVar("CMU610_FW_COMPONENTS") or "").split():
            if f"{component_variant(comp)}:do_cmu610_share" not in flag("do_configure", "depends"):
                out.append(("do_configure[depends]", f"does not wait for the source of {comp}"))
    if pn == FLASH_IMAGE and variant:
        missing = [f for f in FIRMWARE if not any(x.startswith(f"{f}-") and x.endswith(":do_deploy")
                                                  for x in flag("do_compile", "depends"))]
        if missing:
            out.append(("do_compile[depends]", f"does not wait for {', '.join(missing)}:do_deploy"))
    machine_flash = f"{FLASH_IMAGE}-{d.getVar('MACHINE')}:do_deploy"
    if pn.endswith("-image") and pn != FLASH_IMAGE and machine_flash not in flag("do_image_complete", "depends"):
        out.append(("do_image_complete[depends]", f"the line's image does not build {FLASH_IMAGE}"))
    return out


def _machine_expectations(project: Project, board: Any, twin: bool) -> dict[str, str]:
    soc = project.soc
    want = {
        "CMU610_BOARD": board.name,
        "DEFAULTTUNE": soc.name,
        f"TUNE_FEATURES:tune-{soc.name}": layer.tune_features(soc),
        "FLASH_SIZE": str(soc.memory["flash"].size // 1024),
        "PREFERRED_PROVIDER_virtual/kernel": "linux-dummy",
        "CMU610_ZEPHYR_TARGET_SECURE": layer.zephyr_targets(board, soc, twin)[0],
        "CMU610_ZEPHYR_TARGET_BMC": layer.zephyr_targets(board, soc, twin)[1],
    }
    for p in layer.flash_vars(board):
        want[f"FLASH_{p.name}_OFFSET"] = str(p.offset_kib)
        want[f"FLASH_{p.name}_SIZE"] = str(p.size_kib)
    return want


def _expect(d: Any, path: Path, root: Path, want: dict[str, str], contains: bool = False) -> list[Finding]:
    out = []
    for var, value in want.items():
        got = (d.getVar(var) or "").strip()
        ok = value in got.split() if contains and " " not in value else got == value
        if not ok:
            out.append(Finding(str(path.relative_to(root)), var, f"parsed as {got!r}, expected {value!r}"))
    return out


def check_oelint(ws: Workspace) -> CheckResult:
    """oelint-adv on every recipe and append: errors fail, warnings are reported by the tool."""
    # the oelint-adv installed beside cmu610bsp (a venv need not be on PATH), else one on PATH
    if importlib.util.find_spec("oelint_adv") is not None:
        argv = [sys.executable, "-m", "oelint_adv"]
    elif exe := shutil.which("oelint-adv"):
        argv = [exe]
    else:
        return CheckResult("oelint", "skipped", detail=_missing("oelint-adv"))
    root = ws.root / layout.LAYER
    files = sorted(map(str, [*root.glob("recipes-*/*/*.bb"), *root.glob("recipes-*/*/*.bbappend")]))
    if not files:
        return CheckResult("oelint", "ok", detail="no recipes")
    r = proc.run([*argv, "--quiet", "--release", "whinlatter", "--hide", "info", *files], timeout=300)
    findings = []
    for line in (r.stderr + r.stdout).splitlines():
        parts = line.split(":", 4)
        if len(parts) == 5 and parts[2] == "error":
            findings.append(Finding(os.path.relpath(parts[0], ws.root), parts[3], parts[4].strip()))
    return result("oelint", findings, f"{len(files)} recipes/appends, oelint-adv --release whinlatter")


def check_kas(ws: Workspace) -> CheckResult:
    """Every kas file against the JSON schema shipped inside the installed kas package."""
    import jsonschema

    try:
        import kas
    except ImportError:
        return CheckResult("kas-schema", "skipped", detail="kas not installed")
    schema = json.loads((Path(kas.__file__).parent / "schema-kas.json").read_text())
    findings = []
    files = sorted((ws.root / layout.KAS_DIR).glob("*.yml"))
    for f in files:
        rel = str(f.relative_to(ws.root))
        try:
            jsonschema.validate(read_generated(f, ws.root), schema)
        except BspError as e:
            findings += e.findings
        except jsonschema.ValidationError as e:
            findings.append(Finding(rel, "/".join(map(str, e.absolute_path)) or "(top level)", e.message))
    return result("kas-schema", findings, f"{len(files)} kas files, kas {getattr(kas, '__version__', '')} schema")


def em_schema_dir() -> Path:
    """$CMU610BSP_EM_SCHEMAS (entity-manager's schemas/ directory), else the shipped copies."""
    env = os.environ.get("CMU610BSP_EM_SCHEMAS")
    return Path(env) if env else resources.entity_manager_schemas()


def check_entity_manager(ws: Workspace) -> CheckResult:
    """entity-manager configurations against entity-manager's own schemas (global.json)."""
    d = em_schema_dir()
    if not (d / "global.json").is_file():
        return result("entity-manager", [Finding("CMU610BSP_EM_SCHEMAS", str(d), "no global.json here")],
                       "not entity-manager's schemas/ directory")
    import jsonschema
    from referencing import Registry, Resource

    base = "https://cmu610bsp.invalid/em/"
    try:
        resources = [(base + p.name, Resource.from_contents(read_generated(p, kind="json"), default_specification=_draft7()))
                     for p in sorted(d.glob("*.json"))]
    except BspError as e:
        return result("entity-manager", e.findings, f"a schema in {d} is unreadable")
    registry: Registry = Registry().with_resources(resources)
    validator = jsonschema.Draft7Validator({"$ref": base + "global.json"}, registry=registry)
    findings = []
    files = sorted((ws.root / layout.LAYER).glob("recipes-*/*/files/*.json"))
    for f in files:
        try:
            config = read_generated(f, ws.root, "json")
        except BspError as e:
            findings += e.findings
            continue
        for err in validator.iter_errors(config):
            where = "/".join(map(str, err.absolute_path)) or "(top level)"
            findings.append(Finding(str(f.relative_to(ws.root)), where, err.message))
    return result("entity-manager", findings, f"{len(files)} configurations against {d}")


def _draft7() -> Any:
    from referencing.jsonschema import DRAFT7

    return DRAFT7


CHECKS = {
    "bitbake-parse": check_bitbake,
    "oelint": check_oelint,
    "kas-schema": check_kas,
    "entity-manager": check_entity_manager,
}
