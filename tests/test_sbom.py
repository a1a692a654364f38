"""Each board's SBOM (SPDX 3) and the build's provenance (in-toto/SLSA v1) after a build
(cmu610bsp/sbom.py, provenance.py, kasbuild/attest.py): real kas on the fixture build system,
which deploys a flash image and manifest the test made and an OE create-spdx document; the SBOM
checked by SPDX's own tools (spdx-python-model, spdx3-validate: tests/spdxcheck.py), every sha256
of the flash manifest in it; the provenance checked by the in-toto attestation framework's
bindings, its subjects exactly summary.json's other artifacts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from cmu610bsp import fwpackage, sbom
from conftest import Cli
from spdxcheck import manifest_hashes, model_errors, sbom_hashes, validate_errors

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"
MACHINE = "cmu610-evb"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _flash(tmp: Path) -> tuple[Path, Path]:
    """A flash image and its manifest as the flash image recipe deploys them (partitions with their
    bytes' sha256; firmware partitions with their image's, its signed form's and its key's)."""
    parts = [("boot", 0, b"\x13" * 64, None), ("keys", 0x1000, b"\x01" * 32, None),
             ("secure-fw", 0x2000, b"S" * 512, "secure"), ("bmc-fw-a", 0x4000, b"B" * 512, "bmc")]
    flash = bytearray(b"\xff" * 0x6000)
    entries = []
    for name, off, data, domain in parts:
        flash[off:off + len(data)] = data
        size = 0x2000 if off else 0x1000
        entry: dict[str, Any] = {"partition": name, "offset": off, "size": size, "role": "firmware" if domain else "data",
                                 "slot": "a" if name.endswith("-a") else None, "domain": domain or "secure",
                                 "sha256": _sha(bytes(flash[off:off + size])), "erased": False}
        if name == "keys":
            entry["keys"] = {"key_sha256": [_sha(b"public key"), _sha(b"next public key")], "anti_rollback": {"bmc": 1}}
        if domain:
            entry["image"] = {"hart": 0 if domain == "secure" else 1, "version": "0.1.0", "security_counter": 1,
                              "sha256": _sha(data[:100]), "signed_sha256": _sha(data), "key_sha256": _sha(b"public key")}
        entries.append(entry)
    (tmp / "flash.bin").write_bytes(bytes(flash))
    (tmp / "flash-manifest.json").write_text(json.dumps({"board": "cmu610-evb", "machine": MACHINE, "flash_size": len(flash),
                                                          "partitions": entries, "budgets": {}}))
    return tmp / "flash.bin", tmp / "flash-manifest.json"


def _oe_document(build: Path) -> tuple[Path, str]:
    """A create-spdx recipe document where BitBake's deploy area has it, as OE writes it (its shape
    read from a real build's static-cmu610-flash-image.spdx.json)."""
    ns = "http://spdx.org/spdxdocs/cmu610-flash-image-03f53846/a6f35792"
    pkg = f"{ns}/recipe/cmu610-flash-image"
    doc = {"@context": sbom.SPDX_CONTEXT, "@graph": [
        {"type": "CreationInfo", "@id": "_:CreationInfo0", "specVersion": "3.0.1", "created": "2026-12-06T00:00:00Z",
         "createdBy": [f"{ns}/agent/OpenEmbedded"]},
        {"type": "Organization", "spdxId": f"{ns}/agent/OpenEmbedded", "creationInfo": "_:CreationInfo0",
         "name": "OpenEmbedded"},
        {"type": "SpdxDocument", "spdxId": f"{ns}/document/static-cmu610-flash-image", "creationInfo": "_:CreationInfo0",
         "rootElement": [pkg], "element": [pkg], "name": "static-cmu610-flash-image"},
        {"type": "software_Package", "spdxId": pkg, "creationInfo": "_:CreationInfo0", "name": "cmu610-flash-image"},
    ]}
    path = build / sbom.OE_SPDX / MACHINE.replace("-", "_") / "static" / "static-cmu610-flash-image.spdx.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path, pkg


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, pristine: Any) -> dict[str, Any]:
    """One fixture build of littlebmc for the default board (module-wide: it is the expensive part)."""
    from conftest import cli_in_process

    tmp = tmp_path_factory.mktemp("sbom")
    ws = pristine(tmp / "ws")
    flash, manifest = _flash(tmp)
    build = ws / "build" / "littlebmc"
    build.mkdir(parents=True)
    package = tmp / "bmc-update.pldm"
    package.write_bytes(fwpackage.write(fwpackage.Package(b"B" * 512, {"board": "cmu610-evb"}, "0.1.0"), MACHINE))
    (build / "fake-bitbake.json").write_text(json.dumps({"deploy": {"flash.bin": str(flash),
                                                                    "flash-manifest.json": str(manifest),
                                                                    "bmc-update.pldm": str(package)}}))
    oe_path, oe_pkg = _oe_document(build)
    r = cli_in_process("build", "littlebmc", "--source", SRC, "--json", cwd=ws)
    assert r.returncode == 0, r.stderr
    return {"ws": ws, "build": build, "summary": json.loads(r.stdout), "manifest": json.loads(manifest.read_text()),
            "oe": (oe_path, oe_pkg), "flash": flash}


def test_the_sbom_is_listed_and_holds_every_sha256_of_the_flash_manifest(built: dict[str, Any]) -> None:
    s, build = built["summary"], built["build"]
    assert s["sbom"] == f"attest/{MACHINE}/flash.spdx.json"
    assert s["sbom"] in [a["path"] for a in s["artifacts"]] and s["provenance"] in [a["path"] for a in s["artifacts"]]
    doc = json.loads((build / s["sbom"]).read_text())
    graph = doc["@graph"]
    hashes = sbom_hashes(doc)
    listed = manifest_hashes(built["manifest"])
    # 4 partitions, 2 images (payload, signed), 2 keys (the signing one, the next one)
    assert len(listed) == 4 + 2 * 2 + 2
    assert listed <= hashes, listed - hashes
    assert _sha(built["flash"].read_bytes()) in hashes
    by_name = {e.get("name"): e for e in graph}
    assert by_name["zephyr"]["software_packageVersion"] == "0d6f47a50097fa9c77e4a75ace91d35a2ab80a21"
    assert {"libpldm", "libmctp", "cmu610-secure-fw", "cmu610-bmc-fw"} <= set(by_name)
    assert by_name["debian-riscv64-unknown-elf (stand-in)"]["comment"].startswith("a directory install")
    creation = graph[0]
    generator = {e["type"]: e["spdxId"] for e in graph if e.get("name") == "cmu610bsp 0.1.0"}
    assert creation["createdUsing"] == [generator["Tool"]] and creation["createdBy"] == [generator["SoftwareAgent"]]
    # OE's own document of the recipe, imported by reference with its sha256
    (imported,) = next(e for e in graph if e["type"] == "SpdxDocument")["import"]
    oe_path, oe_pkg = built["oe"]
    assert imported["externalSpdxId"] == oe_pkg and imported["verifiedUsing"][0]["hashValue"] == _sha(oe_path.read_bytes())


def test_the_sbom_describes_the_update_package_and_the_image_it_carries(built: dict[str, Any]) -> None:
    """The update package is an artifact a field unit takes: the SBOM says what is inside it."""
    doc = json.loads((built["build"] / built["summary"]["sbom"]).read_text())
    by_id = {e["spdxId"]: e for e in doc["@graph"] if "spdxId" in e}
    (pkg,) = [e for e in by_id.values() if e.get("name") == f"tmp/deploy/images/{MACHINE}/bmc-update.pldm"]
    assert pkg["software_primaryPurpose"] == "firmware" and "DSP0267" in pkg["comment"]
    assert pkg["verifiedUsing"][0]["hashValue"] == _sha((built["build"] / pkg["name"]).read_bytes())
    (rel,) = [e for e in by_id.values() if e["type"] == "Relationship" and e["from"] == pkg["spdxId"]]
    (carried,) = [by_id[i] for i in rel["to"]]
    assert rel["relationshipType"] == "contains" and "version 0.1.0" in carried["comment"]
    assert carried["verifiedUsing"][0]["hashValue"] == _sha(b"B" * 512)


def test_the_sbom_passes_spdx_python_model_and_refuses_a_broken_one(built: dict[str, Any], tmp_path: Path) -> None:
    path = built["build"] / built["summary"]["sbom"]
    assert model_errors(path) == []
    doc = json.loads(path.read_text())
    rel = next(e for e in doc["@graph"] if e["type"] == "Relationship")
    del rel["to"]                                   # a relationship to nothing
    broken = tmp_path / "broken.spdx.json"
    broken.write_text(json.dumps(doc))
    assert any("to" in e for e in model_errors(broken))


def test_the_sbom_passes_spdx3_validate(built: dict[str, Any], tmp_path: Path) -> None:
    """spdx3-validate's JSON schema and SHACL, with the SPDX model files it would fetch (about
    40 s of SHACL on this machine under load)."""
    path = built["build"] / built["summary"]["sbom"]
    assert validate_errors(path) == []


def test_the_provenance_subjects_are_summary_artifacts(built: dict[str, Any]) -> None:
    s, build = built["summary"], built["build"]
    text = (build / s["provenance"]).read_text()
    stmt = Statement.copy_from_pb(json_format.Parse(text, statement_pb2.Statement()))
    stmt.validate()
    data = json.loads(text)
    json_format.ParseDict(data["predicate"], provenance_pb2.Provenance())   # strict: unknown fields refused
    assert data["predicateType"] == "https://slsa.dev/provenance/v1"
    subjects = {x["name"]: x["digest"]["sha256"] for x in data["subject"]}
    assert subjects == {a["path"]: a["sha256"] for a in s["artifacts"] if a["path"] != s["provenance"]}
    for name, sha in subjects.items():
        assert _sha((build / name).read_bytes()) == sha
    deps = {d["name"]: d for d in data["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert deps["zephyr"]["digest"] == {"gitCommit": "0d6f47a50097fa9c77e4a75ace91d35a2ab80a21"}
    assert deps["workspace"]["digest"]["gitCommit"]


def test_a_failed_build_writes_neither(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    build = workspace / "build" / "littlebmc"
    build.mkdir(parents=True)
    flash, manifest = _flash(tmp_path)
    (build / "fake-bitbake.json").write_text(json.dumps({"fail": "entity-manager:do_compile", "deploy": {
        "flash.bin": str(flash), "flash-manifest.json": str(manifest)}}))
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace)
    s = json.loads(r.stdout)
    assert r.returncode == 2 and s["result"] == "failed" and "sbom" not in s
    assert not (build / "attest").exists()


def test_a_whole_openbmc_target_build_does_not_attest_the_firmware_builds_flash_image(
        cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """`--target cmu610-littlebmc-image` builds in build/littlebmc-openbmc: the flash image an
    earlier firmware build deployed in build/littlebmc is not its output, nor is its SBOM rewritten."""
    build = workspace / "build" / "littlebmc"
    build.mkdir(parents=True)
    flash, manifest = _flash(tmp_path)
    (build / "fake-bitbake.json").write_text(json.dumps({"deploy": {"flash.bin": str(flash),
                                                                    "flash-manifest.json": str(manifest)}}))
    assert cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace).returncode == 0
    attested = {p: p.read_bytes() for p in (build / "attest").rglob("*") if p.is_file()}
    assert attested
    r = cli("build", "littlebmc", "--target", "cmu610-littlebmc-image", "--source", SRC, "--json", cwd=workspace)
    s = json.loads(r.stdout)
    assert r.returncode == 0 and "sbom" not in s and "provenance" not in s, r.stdout
    assert {p: p.read_bytes() for p in (build / "attest").rglob("*") if p.is_file()} == attested


def test_a_local_checkout_with_a_space_or_hash_is_a_file_uri_in_the_provenance(tmp_path: Path) -> None:
    from cmu610bsp import provenance

    checkout = tmp_path / "my libpldm #2"
    src = sbom.Source("libpldm", None, None, str(checkout))
    facts = sbom.Facts("littlebmc", "cmu610-evb", MACHINE, "cmu610bsp 0.1.0", "2026-12-06T00:00:00Z", "gcc", None,
                       sbom.Source("zephyr", "https://example.invalid/zephyr", "0" * 40), (src,))
    run = provenance.Run("kas build", "cmu610-flash-image", None, "2026-12-06T00:00:00Z", "2026-12-06T00:01:00Z")
    deps = provenance.statement(facts, run, [])["predicate"]["buildDefinition"]["resolvedDependencies"]  # type: ignore[index]
    (dep,) = [d for d in deps if d["name"] == "libpldm"]
    assert dep["uri"] == checkout.as_uri() and "%20" in dep["uri"] and "%23" in dep["uri"]
