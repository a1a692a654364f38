"""The flash image's SBOM: one SPDX 3.0.1 document (JSON-LD) per line and board, written beside
summary.json after a build (`build`, `build --all-boards`).

What it says: the flash image and each partition's bytes and each firmware image, with their
sha256 as the flash manifest has them; every deployed file; the BMC update package and the signed
image it carries (what `cmu610bsp update` writes into a slot); the two Zephyr applications and their
version; the Zephyr tree and the OpenBMC recipes' sources the firmware links (URL and commit, or
the local checkout a `--source` gave); the toolchain (name and checksum); the generator (this
tool and its version); and, where BitBake's create-spdx wrote them (its deploy area), OE's own
documents of the layer's recipes, imported by reference with their sha256 (`ExternalMap`), not
copied. One `build_Build` ties inputs, tool and outputs together.

Checked by the SPDX project's own tools: spdx-python-model (the model's bindings: types,
properties, cardinalities) and spdx3-validate (JSON schema and SHACL), tests/test_sbom.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPDX_CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
OE_SPDX = "tmp/deploy/spdx/3.0.1"     # create-spdx's deploy area in the line's build directory


@dataclass(frozen=True)
class Source:
    """A source tree the firmware is built from: where it is fetched and at which commit, or the
    local checkout a `--source NAME=PATH` gave."""

    name: str
    url: str | None
    commit: str | None
    local: str | None = None


@dataclass(frozen=True)
class Facts:
    """What the build knows about one board's flash image beyond its files."""

    line: str
    board: str
    machine: str
    generator: str                         # "cmu610bsp 0.1.0"
    created: str                           # ISO 8601, UTC
    toolchain: str
    toolchain_sha256: str | None           # of the archive it was installed from
    zephyr: Source
    components: tuple[Source, ...] = ()
    applications: tuple[tuple[str, str], ...] = ()   # (recipe name, version)


@dataclass(frozen=True)
class UpdatePackage:
    """The deployed BMC update package (fwpackage.py): its path among the deployed files, and the
    component it carries (the signed BMC image) by sha256 and version."""

    path: str
    image_sha256: str
    version: str


class _Graph:
    """The document's elements, each with its spdxId under the document's namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.items: list[dict[str, Any]] = []
        self.imports: list[dict[str, Any]] = []

    def add(self, kind: str, local: str, **props: Any) -> str:
        spdx_id = f"{self.ns}/{local}"
        self.items.append({"type": kind, "spdxId": spdx_id, "creationInfo": "_:creation",
                           **{k: v for k, v in props.items() if v is not None}})
        return spdx_id

    def relate(self, src: str, kind: str, to: Sequence[str]) -> None:
        if to:
            digest = hashlib.sha256(f"{src} {kind} {' '.join(to)}".encode()).hexdigest()[:16]
            self.add("Relationship", f"relationship/{digest}", relationshipType=kind, **{"from": src}, to=list(to))


def _hash(sha256: str) -> list[dict[str, str]]:
    return [{"type": "Hash", "algorithm": "sha256", "hashValue": sha256}]


def _source(g: _Graph, src: Source) -> str:
    location = src.url if src.url else (Path(src.local).resolve().as_uri() if src.local else None)
    comment = f"local checkout {src.local}" if src.local else None
    return g.add("software_Package", f"source/{src.name}", name=src.name, software_packageVersion=src.commit,
                 software_downloadLocation=location, software_primaryPurpose="source", comment=comment,
                 externalIdentifier=[{"type": "ExternalIdentifier", "externalIdentifierType": "gitoid",
                                      "identifier": f"gitoid:commit:sha1:{src.commit}"}] if src.commit else None)


def document(facts: Facts, manifest: Mapping[str, Any], flash_sha256: str,
             files: Iterable[tuple[str, str]], oe_docs: Iterable[tuple[str, str, list[str]]] = (),
             package: UpdatePackage | None = None) -> dict[str, Any]:
    """The SPDX document (JSON-ready). `manifest`: the flash manifest the recipe deployed;
    `files`: (path, sha256) of every deployed file; `oe_docs`: (path, sha256, the recipe package
    ids it describes) of create-spdx's documents to import; `package`: the update package, one of
    `files`, described with the image it carries."""
    ns = f"https://spdx.org/spdxdocs/cmu610bsp-{facts.line}-{facts.machine}-{flash_sha256[:16]}"
    g = _Graph(ns)
    tool = g.add("Tool", "tool/generator", name=facts.generator)
    agent = g.add("SoftwareAgent", "agent/generator", name=facts.generator)
    flash = g.add("software_Package", f"image/{facts.machine}", name=f"{facts.machine} flash image",
                  software_packageVersion=facts.line, software_primaryPurpose="firmware", verifiedUsing=_hash(flash_sha256),
                  summary=f"the {facts.board} board's flash image of the {facts.line} line ({facts.machine})")
    parts: list[str] = []
    keys: set[str] = set()
    for p in manifest.get("partitions", []):
        part = g.add("software_File", f"partition/{p['partition']}", name=f"partition {p['partition']}",
                     software_primaryPurpose="firmware" if p.get("image") or p.get("role") == "boot" else "data",
                     verifiedUsing=_hash(p["sha256"]),
                     comment=f"offset {p['offset']:#x}, {p['size']} bytes, role {p['role']}"
                             + (", erased" if p.get("erased") else "") + (f", slot {p['slot']}" if p.get("slot") else ""))
        parts.append(part)
        image = p.get("image")
        if image and image.get("sha256"):
            img = g.add("software_File", f"partition/{p['partition']}/image", name=f"{p['partition']} image",
                        software_primaryPurpose="executable", verifiedUsing=_hash(image["sha256"]),
                        comment=f"hart {image.get('hart')}, version {image.get('version')}"
                                + (f", security counter {image['security_counter']}" if "security_counter" in image else ""))
            g.relate(part, "contains", [img])
            if image.get("signed_sha256"):   # what the signature covers: MCUboot's SHA256 TLV
                signed = g.add("software_File", f"partition/{p['partition']}/signed", name=f"{p['partition']} signed image",
                               software_primaryPurpose="firmware", verifiedUsing=_hash(image["signed_sha256"]),
                               comment="MCUboot's SHA256 TLV: its header, the image and the protected TLVs, as signed")
                g.relate(part, "contains", [signed])
            if image.get("key_sha256"):
                keys.add(image["key_sha256"])
        keys.update((p.get("keys") or {}).get("key_sha256", []))     # the keys partition's trusted keys
    g.relate(flash, "contains", parts)
    signers = [g.add("software_File", f"key/{k[:16]}", name=f"image signing key {k[:16]}", software_primaryPurpose="other",
                     verifiedUsing=_hash(k), comment="the sha256 of a public key (DER) that signs the images or that "
                                                     "the keys partition trusts")
               for k in sorted(keys)]
    deployed = {path: g.add("software_File", f"file/{path}", name=path, verifiedUsing=_hash(sha),
                            **(_package_file() if package and path == package.path else {}))
                for path, sha in sorted(files)}
    outputs = list(deployed.values())
    if package and package.path in deployed:
        carried = g.add("software_File", "update/bmc/image", name="bmc update image", software_primaryPurpose="firmware",
                        verifiedUsing=_hash(package.image_sha256),
                        comment=f"the signed BMC image (MCUboot format), version {package.version}: what `cmu610bsp "
                                "update` writes into the inactive BMC slot")
        g.relate(deployed[package.path], "contains", [carried])
    apps = [g.add("software_Package", f"application/{name}", name=name, software_packageVersion=version,
                  software_primaryPurpose="firmware") for name, version in facts.applications]
    zephyr = _source(g, facts.zephyr)
    libs = [_source(g, c) for c in facts.components]
    for app in apps:
        g.relate(app, "hasStaticLink", [zephyr, *libs])
    g.relate(flash, "contains", apps)
    toolchain = g.add("software_Package", "tool/toolchain", name=facts.toolchain, software_primaryPurpose="install",
                      verifiedUsing=_hash(facts.toolchain_sha256) if facts.toolchain_sha256 else None,
                      comment=None if facts.toolchain_sha256 else "a directory install: no archive checksum")
    build = g.add("build_Build", f"build/{facts.machine}", build_buildType="https://cmu610bsp.invalid/build/kas-bitbake/v1",
                  build_buildId=f"{facts.line}/{facts.machine}/{flash_sha256[:16]}",
                  build_parameter=[{"type": "DictionaryEntry", "key": "line", "value": facts.line},
                                   {"type": "DictionaryEntry", "key": "machine", "value": facts.machine}])
    g.relate(build, "hasInput", [zephyr, *libs])
    g.relate(build, "usesTool", [toolchain, tool, *signers])
    g.relate(build, "hasOutput", [flash, *outputs])
    for path, sha, ids in oe_docs:
        g.imports += [{"type": "ExternalMap", "externalSpdxId": i, "locationHint": path, "verifiedUsing": _hash(sha)}
                      for i in ids]
        g.relate(build, "hasInput", ids)
    elements = [e["spdxId"] for e in g.items]
    sbom = g.add("software_Sbom", "sbom", name=f"{facts.machine} flash image SBOM", software_sbomType=["build"],
                 rootElement=[flash], element=elements)
    g.add("SpdxDocument", "document", name=f"cmu610bsp-{facts.line}-{facts.machine}",
                profileConformance=["core", "software", "build"], rootElement=[sbom],
                element=[*elements, sbom], dataLicense=None, **({"import": g.imports} if g.imports else {}))
    creation = {"type": "CreationInfo", "@id": "_:creation", "specVersion": SPEC_VERSION, "created": facts.created,
                "createdBy": [agent], "createdUsing": [tool]}
    return {"@context": SPDX_CONTEXT, "@graph": [creation, *g.items]}


def _package_file() -> dict[str, str]:
    return {"software_primaryPurpose": "firmware",
            "comment": "PLDM firmware update package (DMTF DSP0267) of the BMC image"}


def oe_documents(build_dir: Path, recipes: Iterable[str]) -> list[tuple[str, str, list[str]]]:
    """create-spdx's recipe documents (static-<recipe>.spdx.json) of `recipes` in the build's deploy
    area: (path relative to the build directory, sha256, the ids of the recipe's packages in it)."""
    base = build_dir / OE_SPDX
    wanted = set(recipes)
    out = []
    for path in sorted(base.glob("*/static/static-*.spdx.json")) if base.is_dir() else []:
        recipe = path.name.removeprefix("static-").removesuffix(".spdx.json")
        if recipe not in wanted:
            continue
        raw = path.read_bytes()
        try:
            graph = json.loads(raw).get("@graph", [])
        except ValueError:
            continue
        ids = [e["spdxId"] for e in graph if isinstance(e, dict) and e.get("type") == "software_Package" and "spdxId" in e]
        if ids:
            out.append((str(path.relative_to(build_dir)), hashlib.sha256(raw).hexdigest(), ids))
    return out
