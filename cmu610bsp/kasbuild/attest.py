"""After a board's flash image is built: its SBOM (sbom.py, SPDX 3) and the build's provenance
(provenance.py, in-toto/SLSA v1), written to <build>/attest/<machine>/ and listed in summary.json
with the artifacts (path, size, sha256) and by name (`sbom`, `provenance`). The provenance's
subjects are the board's other artifacts, the SBOM included.

What the files cannot say, the build knows: the Zephyr tree and the OpenBMC recipes' sources it
was given (a pin, or a `--source` checkout at its HEAD), the toolchain record, the applications'
version, the workspace's commit."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cmu610bsp import __version__, components, config, firmware, fwpackage, proc, sbom
from cmu610bsp import provenance as prov
from cmu610bsp.fileio import sha256_file, write_whole
from cmu610bsp.kasbuild import compose, libsource
from cmu610bsp.kasbuild.compose import Lines, Request
from cmu610bsp.kasbuild.report import Artifact, Summary
from cmu610bsp.layout import DEPLOY_IMAGES, FLASH_IMAGE, FLASH_MANIFEST, UPDATE_PACKAGE

ATTEST_DIR = "attest"
SBOM_FILE = "flash.spdx.json"
PROVENANCE_FILE = "provenance.intoto.json"
APPLICATIONS = ("cmu610-secure-fw", "cmu610-bmc-fw")


def _source(name: str, req: Request, pinned: tuple[str | None, str | None]) -> sbom.Source:
    """A source as this run took it: the --source checkout at its HEAD, else its pin."""
    local = req.sources.get(name)
    if local is not None:
        return sbom.Source(name, None, libsource.head(local.resolve(), name), str(local.resolve()))
    return sbom.Source(name, pinned[0], pinned[1])


def facts(root: Path, req: Request, lines: Lines, board: str, machine: str, created: str) -> sbom.Facts:
    zephyr = config.load_config(root).zephyr
    tree = compose.openbmc_tree(root, req)
    libs = []
    for name in lines.components.get(req.line, components.SECURE):
        pin = libsource.pin(tree, name)
        libs.append(_source(name, req, (pin.url, pin.srcrev) if pin else (None, None)))
    version = ".".join(map(str, firmware.version_parts(__version__)))
    return sbom.Facts(line=req.line, board=board, machine=machine, generator=f"cmu610bsp {__version__}", created=created,
                      toolchain=lines.toolchain.name, toolchain_sha256=lines.toolchain.sha256,
                      zephyr=_source("zephyr", req, (zephyr.url, zephyr.commit)), components=tuple(libs),
                      applications=tuple((a, version) for a in APPLICATIONS))


def _workspace_commit(root: Path) -> str | None:
    r = proc.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"])
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def write(root: Path, req: Request, lines: Lines, summary: Summary) -> Summary:
    """Write the board's SBOM and provenance (a successful build of its flash image only) and
    return its summary with both listed; a build that deployed no flash image and manifest is left
    as it is."""
    build_dir = req.paths(root).build
    deploy = build_dir / DEPLOY_IMAGES / summary.machine
    if summary.result != "success" or summary.plan or not all((deploy / f).is_file() for f in (FLASH_MANIFEST, FLASH_IMAGE)):
        return summary
    finished = datetime.now(UTC).replace(microsecond=0)
    started = finished - timedelta(seconds=round(summary.duration_s))
    f = facts(root, req, lines, summary.board, summary.machine, finished.isoformat().replace("+00:00", "Z"))
    manifest = json.loads((deploy / FLASH_MANIFEST).read_text())
    mine = [a for a in summary.artifacts if a.path.startswith(f"{DEPLOY_IMAGES}/{summary.machine}/")]
    oe = [d for d in sbom.oe_documents(build_dir, _all_recipes(build_dir))
          if d[0].split("/")[-3] == summary.machine.replace("-", "_")]
    doc = sbom.document(f, manifest, sha256_file(deploy / FLASH_IMAGE), [(a.path, a.sha256) for a in mine], oe,
                        _update_package(build_dir, deploy / UPDATE_PACKAGE))
    out = build_dir / ATTEST_DIR / summary.machine
    sbom_path = out / SBOM_FILE
    write_whole(sbom_path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    sbom_artifact = _artifact(build_dir, sbom_path)
    run = prov.Run(summary.kas_command, summary.target, _workspace_commit(root),
                   started.isoformat().replace("+00:00", "Z"), finished.isoformat().replace("+00:00", "Z"))
    subjects = [(a.path, a.sha256) for a in (*summary.artifacts, sbom_artifact)]
    prov_path = out / PROVENANCE_FILE
    write_whole(prov_path, json.dumps(prov.statement(f, run, subjects), indent=1, sort_keys=True) + "\n")
    return dataclasses.replace(summary, artifacts=(*summary.artifacts, sbom_artifact, _artifact(build_dir, prov_path)),
                               sbom=str(sbom_path.relative_to(build_dir)), provenance=str(prov_path.relative_to(build_dir)))


def _update_package(build_dir: Path, path: Path) -> sbom.UpdatePackage | None:
    """The deployed update package and the image it carries; None if the build made none (a
    board without A/B slots). The recipe's packer wrote it, so one it cannot read is a defect."""
    if not path.is_file():
        return None
    pkg = fwpackage.read(path.read_bytes())
    return sbom.UpdatePackage(str(path.relative_to(build_dir)), hashlib.sha256(pkg.image).hexdigest(), pkg.version)


def _all_recipes(build_dir: Path) -> list[str]:
    """The recipes of create-spdx's documents that are the layer's (cmu610-*) or a component's."""
    base = build_dir / sbom.OE_SPDX
    names = {p.name.removeprefix("static-").removesuffix(".spdx.json") for p in base.glob("*/static/static-*.spdx.json")}
    return sorted(n for n in names if n.startswith("cmu610-") or n in components.COMPONENTS)


def _artifact(build_dir: Path, path: Path) -> Artifact:
    return Artifact(str(path.relative_to(build_dir)), path.stat().st_size, sha256_file(path))
