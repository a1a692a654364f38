"""The A/B update without QEMU: update.plan's order and refusals on the default board's flash, the
update package (PLDM, fwpackage.py) round trip and its refusals, `cmu610bsp update` at the CLI
edge, the layer's packer writing the package, and libpldm's decoder accepting it (with
LIBPLDM_DIR). The boots are test_abupdate.py's and test_powercut.py's."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from dataclasses import asdict
from pathlib import Path

import pytest

from cmu610bsp import flash, flash_layout, fwpackage, mcuimage, proc, resources, update
from cmu610bsp.errors import BspError
from cmu610bsp.model import load_board, load_soc
from conftest import Cli
from flashimg import GCC, run_layer_packer, signing_key

BOARD, SOC = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
PARTS = flash_layout.partitions(BOARD)


def _image_of(tag: bytes, size: int = 3000) -> flash.Image:
    return flash.Image(tag * (size // len(tag)), 0x800C0000, 0x800C0000, 1, (1, 2, 3))


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return signing_key(tmp_path_factory.mktemp("key") / "key.pem")


def _factory(key: str, security_counter: int = 0) -> bytes:
    bmc = _image_of(b"v1")
    images = {"secure": flash.Image(b"s" * 500, 0x80000000, 0x80000000, 0),
              "bmc": flash.Image(bmc.data, bmc.load_address, bmc.entry, bmc.hart, bmc.version, security_counter)}
    return flash.pack(PARTS, images, SOC.memory["flash"].size, boot=b"\x13\x00\x00\x00" * 16, key=key)


def _content(key: str, tag: bytes, security_counter: int = 0) -> bytes:
    """The signed image an update package carries."""
    image = _image_of(tag)
    return flash.signed(flash.Image(image.data, image.load_address, image.entry, image.hart, image.version,
                                    security_counter), key)


def _slot(name: str) -> flash.Partition:
    return next(p for p in PARTS if p.name == name)


def test_the_update_invalidates_first_and_commits_last(key: str) -> None:
    factory = _factory(key)
    plan = update.plan(PARTS, factory, _content(key, b"v2"))
    b = _slot("bmc-fw-b")
    assert plan.target.partition == b and plan.generation == 1
    first, *_, gen, m0, m1, m2, m3 = plan.ops
    # the block holding the trailer goes first: from then on the slot is never chosen
    assert first.offset == b.offset + b.size - update.ERASE_BLOCK and set(first.data) == {flash.ERASED}
    assert [gen.what, m3.what] == ["program bmc-fw-b generation 1", "program bmc-fw-b magic word 3"]
    assert b"".join(op.data for op in (m0, m1, m2, m3)) == flash.BOOT_MAGIC
    # every operation stays inside the target slot: the fallback and the rest are never written
    assert all(b.offset <= op.offset and op.offset + len(op.data) <= b.offset + b.size for op in plan.ops)
    out = bytearray(factory)
    update.apply(out, plan.ops)
    states = {s.partition.name: s for s in update.slots(PARTS, bytes(out))}
    assert states["bmc-fw-b"].complete and not states["bmc-fw-b"].confirmed and states["bmc-fw-b"].problem is None
    assert update.chosen(list(states.values())) == states["bmc-fw-b"]
    assert bytes(out[:b.offset]) == factory[:b.offset] and bytes(out[b.offset + b.size:]) == factory[b.offset + b.size:]


def test_an_update_during_an_unconfirmed_trial_is_refused(key: str) -> None:
    out = bytearray(_factory(key))
    update.apply(out, update.plan(PARTS, bytes(out), _content(key, b"v2")).ops)
    b = _slot("bmc-fw-b")
    out[b.offset + b.size + flash.COPY_DONE_OFF] = flash.FLAG_SET      # the boot stage started its trial
    with pytest.raises(BspError, match=r"^bmc-fw-b: its trial boot has not been confirmed"):
        update.plan(PARTS, bytes(out), _content(key, b"v3"))
    out[b.offset + b.size + flash.IMAGE_OK_OFF] = flash.FLAG_SET       # its firmware confirmed it
    assert update.plan(PARTS, bytes(out), _content(key, b"v3")).target.partition.name == "bmc-fw-a"


def test_no_confirmed_fallback_and_an_oversized_image_are_refused(key: str) -> None:
    factory = bytearray(_factory(key))
    with pytest.raises(BspError, match=r"^bmc-fw-b: the update's image \(10485761 bytes\) does not fit the 10485712 bytes"):
        update.plan(PARTS, bytes(factory), b"\0" * (10 * 2**20 + 1))
    for name in ("bmc-fw-a", "bmc-fw-b"):
        p = _slot(name)
        factory[p.offset + 9] ^= 0xFF                                    # both images damaged
    with pytest.raises(BspError, match="no A/B slot holds a confirmed, valid image"):
        update.plan(PARTS, bytes(factory), _content(key, b"v2"))


def test_an_image_the_boot_stage_would_refuse_is_not_written(key: str, tmp_path: Path) -> None:
    """Another key, or a security counter below the flash's anti-rollback counter: refused before
    any write (the boot stage would refuse it: verify.c)."""
    factory = _factory(key)
    other = signing_key(tmp_path / "other.pem")
    with pytest.raises(BspError, match=r"^bmc-fw-b: the boot stage would refuse .*signed with a key that is not in the keys"):
        update.plan(PARTS, factory, _content(other, b"v2"))
    keys = next(p for p in PARTS if p.name == flash.KEYS)
    raised = bytearray(_factory(key, security_counter=3))         # both slots' image at 3, the counter raised to 3
    raised[keys.offset:keys.offset + keys.size] = mcuimage.advance_otp(factory[keys.offset:keys.offset + keys.size], "bmc", 3)
    with pytest.raises(BspError, match=r"security counter 2 below the anti-rollback counter 3 \(downgrade\)"):
        update.plan(PARTS, bytes(raised), _content(key, b"v2", security_counter=2))
    assert update.plan(PARTS, bytes(raised), _content(key, b"v2", security_counter=3)).target.partition.name == "bmc-fw-b"


def _package(key: str, tag: bytes = b"v2", machine: str = "cmu610-evb-qemu") -> bytes:
    meta = fwpackage.metadata(BOARD.name, machine, "1.2.3", [asdict(p) for p in PARTS])
    return fwpackage.write(fwpackage.Package(_content(key, tag), meta, "1.2.3"), machine)


def test_the_package_round_trip_and_its_refusals(key: str) -> None:
    raw = _package(key)
    pkg = fwpackage.read(raw)
    assert pkg.image == _content(key, b"v2") and pkg.version == "1.2.3"
    assert pkg.metadata["slots"] == [{"name": "bmc-fw-a", "offset": 4 * 2**20, "size": 10 * 2**20},
                                     {"name": "bmc-fw-b", "offset": 14 * 2**20, "size": 10 * 2**20}]
    assert raw == _package(key), "a package is byte-for-byte reproducible"
    header_size = struct.unpack_from("<H", raw, 17)[0]
    with pytest.raises(fwpackage.PackageError, match=r"^the package header checksum does not match"):
        fwpackage.read(raw[:20] + bytes([raw[20] ^ 1]) + raw[21:])
    with pytest.raises(fwpackage.PackageError, match=r"^the component's sha256 does not match"):
        fwpackage.read(raw[:header_size + 7] + b"X" + raw[header_size + 8:])
    with pytest.raises(fwpackage.PackageError, match=r"^the component runs 10 bytes past the end"):
        fwpackage.read(raw[:-10])
    with pytest.raises(fwpackage.PackageError, match=r"^not a PLDM firmware update package"):
        fwpackage.read(b"\0" * 64)
    with pytest.raises(fwpackage.PackageError, match=r"^truncated"):
        fwpackage.read(raw[:30])
    # crafted headers with a valid checksum whose record length points past the header's end
    for rlen in (0xFFFF, header_size):
        crafted = bytearray(raw)
        at = fwpackage._FIXED.size + raw[fwpackage._FIXED.size - 1] + 1
        crafted[at:at + 2] = struct.pack("<H", rlen)
        crafted[header_size - 4:header_size] = struct.pack("<I", zlib.crc32(bytes(crafted[:header_size - 4])))
        with pytest.raises(fwpackage.PackageError, match=r"^truncated"):
            fwpackage.read(bytes(crafted))
    # a header of its fixed fields alone, with a valid checksum, whose version would follow it
    fixed = fwpackage._FIXED.pack(fwpackage.HEADER_V1_0, fwpackage.FORMAT_REVISION, fwpackage._FIXED.size + 4,
                                  bytes(13), 8, 1, 255)
    with pytest.raises(fwpackage.PackageError, match=r"^truncated"):
        fwpackage.read(fixed + struct.pack("<I", zlib.crc32(fixed)))


def _flash_dir(tmp_path: Path, key: str) -> Path:
    image = tmp_path / "flash.bin"
    image.write_bytes(_factory(key))
    (tmp_path / "flash-manifest.json").write_text(json.dumps({"partitions": flash.manifest(PARTS, image.read_bytes())}))
    return image


def test_cli_update_writes_the_inactive_slot(key: str, cli: Cli, tmp_path: Path) -> None:
    image = _flash_dir(tmp_path, key)
    package = tmp_path / "bmc-update.pldm"
    package.write_bytes(_package(key))
    r = cli("update", str(image), str(package))
    assert r.returncode == 0, r.stderr
    assert "bmc-fw-b: 1.2.3 written (generation 1" in r.stdout and "bmc-fw-a stays the fallback" in r.stdout
    b = next(s for s in update.slots(PARTS, image.read_bytes()) if s.partition.name == "bmc-fw-b")
    assert (b.complete, b.confirmed, b.tried, b.generation, b.problem) == (True, False, False, 1, None)


def test_cli_update_refusals_name_the_file_and_change_nothing(key: str, cli: Cli, tmp_path: Path) -> None:
    image = _flash_dir(tmp_path, key)
    before = image.read_bytes()
    other = tmp_path / "other.pldm"
    meta = fwpackage.metadata("x", "x", "1.0.0", [{"name": "bmc-fw-a", "offset": 0, "size": 4096, "domain": "bmc", "slot": "a"}])
    other.write_bytes(fwpackage.write(fwpackage.Package(_content(key, b"v2"), meta, "1.0.0"), "x"))
    r = cli("update", str(image), str(other))
    assert r.returncode == 2 and "the update package is for another flash layout" in r.stderr
    assert f"{other}: slots: built for" in r.stderr
    junk = tmp_path / "junk.pldm"
    junk.write_bytes(b"junk" * 20)
    r = cli("update", str(image), str(junk))
    assert r.returncode == 2 and f"{junk}: (package): not a PLDM firmware update package" in r.stderr
    r = cli("update", str(image), str(junk), "--manifest", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "no flash manifest" in r.stderr
    link = tmp_path / "link.bin"
    link.symlink_to(image)
    good = tmp_path / "good.pldm"
    good.write_bytes(_package(key))
    r = cli("update", str(link), str(good), "--manifest", str(tmp_path / "flash-manifest.json"))
    assert r.returncode == 2 and "cannot open the flash image for writing" in r.stderr
    fifo = tmp_path / "fifo.json"                 # never read: a FIFO would block the command
    os.mkfifo(fifo)
    r = cli("update", str(image), str(good), "--manifest", str(fifo))
    assert r.returncode == 2 and str(fifo) in r.stderr, r.stderr
    odd = tmp_path / "odd.json"
    rows = json.loads((tmp_path / "flash-manifest.json").read_text())
    rows["partitions"][0]["offset"] = 0.5
    odd.write_text(json.dumps(rows))
    r = cli("update", str(image), str(good), "--manifest", str(odd))
    assert r.returncode == 2 and "offset and size must be whole numbers" in r.stderr, r.stderr
    missing = tmp_path / "missing.bin"          # a mistyped image: named, not its absent manifest
    r = cli("update", str(missing), str(good))
    assert r.returncode == 2 and f"{missing}: (file): missing" in r.stderr and "manifest" not in r.stderr
    assert image.read_bytes() == before and not missing.exists()


@pytest.mark.skipif(not shutil.which(GCC), reason=f"needs {GCC}")
def test_the_layers_packer_writes_the_update_package(workspace: Path, tmp_path: Path) -> None:
    """The flash recipe's packer as BitBake runs it (run_layer_packer) writes bmc-update.pldm: the
    BMC slot's signed image, for this layout, that `update` takes."""
    out, manifest, package = tmp_path / "flash.bin", tmp_path / "flash-manifest.json", tmp_path / "bmc-update.pldm"
    r = run_layer_packer(workspace, tmp_path, "--update-package", str(package),
                         env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert r.returncode == 0, r.stderr
    table, _ = update.read_manifest(manifest)
    pkg, content = update.package_image(table, package)
    slot = next(p for p in table if p.name == "bmc-fw-a")
    assert content == out.read_bytes()[slot.offset:slot.offset + len(content)]
    assert pkg.metadata["machine"] == "cmu610-evb-qemu" and pkg.version == pkg.metadata["version"]
    assert package.read_bytes()[19:32] != bytes(13)           # released at SOURCE_DATE_EPOCH
    if os.environ.get("LIBPLDM_DIR"):
        _libpldm_decodes(Path(os.environ["LIBPLDM_DIR"]), package, tmp_path, len(content))


def _libpldm_decodes(libpldm: Path, package: Path, tmp: Path, size: int) -> None:
    """libpldm's decoder (decode_pldm_firmware_update_package, its iterators) on the package,
    built for the host as its Zephyr module builds it (api.h from api.h.in, the same sources)."""
    inc = tmp / "include/libpldm"
    inc.mkdir(parents=True)
    api = (libpldm / "include/libpldm/api.h.in").read_text()
    (inc / "api.h").write_text("\n".join(f"#define {line.split()[1]} 0" if line.startswith("#mesondefine") else line
                                         for line in api.splitlines()) + "\n")
    harness = Path(__file__).parent / "firmware" / "pldm_package.c"
    exe = tmp / "decode"
    defines = [f"-DLIBPLDM_ABI_{abi}=" for abi in ("STABLE", "TESTING", "DEPRECATED", "DEPRECATED_UNSAFE")]
    r = proc.run(["gcc", "-std=gnu11", "-D_GNU_SOURCE", *defines, f"-I{tmp / 'include'}", f"-I{libpldm / 'include'}",
                  f"-I{libpldm / 'src'}", str(harness), *(str(libpldm / "src" / s) for s in
                  ("edac.c", "utils.c", "dsp/base.c", "dsp/firmware_update.c")), "-o", str(exe)], timeout=300)
    assert r.returncode == 0, r.stderr
    r = proc.run([str(exe), str(package)], timeout=60)
    assert r.returncode == 0, r.stdout
    assert "descriptor: type 2 length 16" in r.stdout
    assert "component: class 10 id 1" in r.stdout and f"size {size} " in r.stdout
