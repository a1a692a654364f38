"""Parse a workspace's firmware recipes with an OpenBMC tree's own BitBake, oe-core's bitbake.conf
and global classes, in this process (no server, no task runs), for one MACHINE, and print as JSON
what each variant (cmu610_variant.bbclass) resolves to: its PN, PACKAGE_ARCH, DEPLOY_DIR_IMAGE,
the files its SRC_URI finds, and the base hash of each of its tasks (what its signature is made of
before its dependencies'). Run by tests/test_openbmc_rack.py with the tree's Python requirements:

    python3 tests/bb_variants.py OPENBMC_TREE LAYER MACHINE
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import tempfile
from pathlib import Path

RECIPES = ("recipes-bsp/cmu610-firmware/cmu610-secure-fw_1.0.bb", "recipes-bsp/cmu610-firmware/cmu610-bmc-fw_1.0.bb",
           "recipes-bsp/cmu610-flash/cmu610-flash-image_1.0.bb")
FILES = ("flash-layout.json", "cmu610_boot_config.h")


def main() -> None:
    tree, layer, machine = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    sys.path[:0] = [str(tree / "bitbake" / "lib"), str(tree / "meta" / "lib")]
    import bb  # noqa: PLC0415 - the tree's, found only now
    import bb.data
    import bb.fetch2
    import bb.parse
    import bb.siggen
    import oe

    for m in pkgutil.iter_modules(oe.__path__):  # what addpylib gives a real build
        try:
            importlib.import_module("oe." + m.name)
        except Exception:  # noqa: BLE001, S112 - a module this parse does not need
            continue
    bb.utils._context.update({"oe": oe, "os": os})
    top = tempfile.mkdtemp(prefix="bb-variants-")
    d = bb.data.init()
    for name, value in {"BBPATH": f"{layer}:{tree}/meta:{tree}/meta-phosphor", "TOPDIR": top, "MACHINE": machine,
                        "BB_CURRENT_MC": "", "COREBASE": str((tree / "meta").resolve().parent), "DISTRO": "",
                        "BBLAYERS": f"{tree}/meta {layer}", "BBFILES": "", "BB_HASHSERVE": ""}.items():
        d.setVar(name, value)
    d = bb.parse.handle(str(tree / "meta" / "conf" / "bitbake.conf"), d, True)
    d.setVar("__bbclasstype", "global")
    for cls in ["base", *(d.getVar("INHERIT") or "").split()]:
        bb.parse.BBHandler.inherit(cls, "INHERIT", 0, d)
    d.setVar("BB_SIGNATURE_HANDLER", "basichash")
    bb.parse.siggen = bb.siggen.init(d)
    out: dict[str, dict[str, object]] = {}
    for rel in RECIPES:
        r = bb.data.createCopy(d)
        r.setVar("__bbclasstype", "recipe")
        for key, v in bb.parse.handle(str(layer / rel), r, False).items():
            if not key:
                continue
            fetch = bb.fetch2.Fetch([f"file://{f}" for f in FILES], v) if "flash" in rel else None
            out[str(v.getVar("PN"))] = {
                "package_arch": v.getVar("PACKAGE_ARCH"), "deploy_dir_image": v.getVar("DEPLOY_DIR_IMAGE"),
                "compile_depends": (v.getVarFlag("do_compile", "depends") or "").split(),
                "files": {f: fetch.localpath(f"file://{f}") for f in FILES} if fetch else {},
            }
    for tid, h in bb.parse.siggen.basehash.items():
        fn, _, task = tid.rpartition(":")
        if fn.startswith("virtual:cmu610_variant:"):
            variant = fn.split(":")[2]
            base = Path(fn.split(":", 3)[3]).name.split("_")[0]
            out.setdefault(f"{base}-{variant}", {}).setdefault("basehash", {})[task] = h  # type: ignore[union-attr]
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
