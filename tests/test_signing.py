"""Signed images and the keys partition without QEMU: MCUboot's own verifier (`imgtool verify`,
issue 25's Must show 4) accepts every image the packer ships and refuses a changed one; the keys
partition's slots and its anti-rollback counters, which only grow; the keys the signing function
refuses; and the libsodium sources taken out of their archive by name only."""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cmu610bsp import bootcrypto, bootstage, flash, flash_layout, mcuimage, proc, resources
from cmu610bsp.errors import BspError
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import signing_key

IMAGES = {"secure": flash.Image(b"s" * 1000, 0x80000000, 0x80000010, 0, (1, 2, 3), 5),
          "bmc": flash.Image(b"b" * 3000, 0x800C0000, 0x800C0000, 1, (4, 5, 6), 7)}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return signing_key(tmp_path_factory.mktemp("key") / "key.pem")


def _public_pem(key: str, out: Path) -> Path:
    private = serialization.load_pem_private_key(Path(key).read_bytes(), None)
    out.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    return out


def imgtool_verify(image: Path, public: Path) -> proc.Result:
    return proc.run([sys.executable, "-c", "import sys; from imgtool.main import imgtool; sys.exit(imgtool())",
                     "verify", "-k", str(public), str(image)], timeout=120)


def test_imgtool_verify_accepts_every_shipped_image(key: str, tmp_path: Path) -> None:
    table = flash_layout.partitions(load_board(resources.builtin_board()))
    img = flash.pack(table, IMAGES, 32 * 2**20, boot=b"\x13\0\0\0" * 4, key=key)
    public = _public_pem(key, tmp_path / "public.pem")
    manifest = {e["partition"]: e for e in flash.manifest(table, img)}
    firmware = [p for p in table if p.role == "firmware"]
    assert [p.name for p in firmware] == ["secure-fw", "bmc-fw-a", "bmc-fw-b"]
    for p in firmware:
        path = tmp_path / f"{p.name}.bin"
        path.write_bytes(img[p.offset:p.offset + p.size])        # the partition as shipped
        r = imgtool_verify(path, public)
        assert r.returncode == 0 and "Image was correctly validated" in r.stdout, (p.name, r.stdout, r.stderr)
        image = manifest[p.name]["image"]
        assert isinstance(image, dict)
        version = IMAGES[p.domain].version
        assert f"Image version: {'.'.join(map(str, version or ()))}+0" in r.stdout
        assert f"Image digest: {image['signed_sha256']}" in r.stdout
        assert image["security_counter"] == IMAGES[p.domain].security_counter
    changed = bytearray((tmp_path / "bmc-fw-a.bin").read_bytes())
    changed[mcuimage.HEADER_SIZE + 10] ^= 1
    (tmp_path / "changed.bin").write_bytes(bytes(changed))
    r = imgtool_verify(tmp_path / "changed.bin", public)
    assert r.returncode != 0 and "Image was correctly validated" not in r.stdout


def test_every_image_has_the_same_overhead_and_verifies(key: str) -> None:
    for n in (1, 4, 1001):
        raw = mcuimage.sign(b"x" * n, load=0x80000000, entry=0x80000000, hart=0, version=None, security_counter=0,
                            key=key)
        assert len(raw) == n + mcuimage.OVERHEAD
        v = mcuimage.verify(raw, "p", [mcuimage.key_hash(mcuimage.public_key(key))])
        assert (v.size, v.version, v.security_counter) == (n, None, 0)
    with pytest.raises(mcuimage.ImageError, match=r"^p: signed with a key that is not in the keys partition$"):
        mcuimage.verify(raw, "p", [b"\0" * 32])


def test_the_signing_function_refuses_what_the_boot_stage_cannot_check(tmp_path: Path, key: str) -> None:
    ecdsa = tmp_path / "p256.pem"
    ecdsa.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    args = {"load": 0, "entry": 0, "hart": 0, "version": None, "security_counter": 0}
    with pytest.raises(mcuimage.ImageError, match=r"p256.pem: an ECDSA256P1 key; the boot stage verifies Ed25519"):
        mcuimage.sign(b"x", **args, key=str(ecdsa))              # type: ignore[arg-type]
    with pytest.raises(mcuimage.ImageError, match=r"missing.pem: not a readable private key"):
        mcuimage.sign(b"x", **args, key=str(tmp_path / "missing.pem"))   # type: ignore[arg-type]
    # a token key goes to hsm.py (i25-sbom); without a module it is refused, the PIN not repeated
    with pytest.raises(mcuimage.ImageError, match=r"no PKCS#11 module") as refused:
        mcuimage.sign(b"x", **args, key="pkcs11:token=t;object=k?pin-value=1234")   # type: ignore[arg-type]
    assert "1234" not in str(refused.value)
    with pytest.raises(mcuimage.ImageError, match=r"security counter 2048: the anti-rollback counter holds 0-2047"):
        mcuimage.sign(b"x", **{**args, "security_counter": 2048}, key=key)   # type: ignore[arg-type]


def test_the_keys_partition_and_its_counters_only_grow() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    raw = mcuimage.keys_partition([a, b], 64 * 1024, {"bmc": 9})
    assert mcuimage.trusted_keys(raw) == [a, b]
    assert mcuimage.trusted_keys(mcuimage.keys_partition([a], 4096)) == [a]
    assert mcuimage.trusted_keys(b"\xff" * 4096) == []
    assert (mcuimage.otp_value(raw, "secure"), mcuimage.otp_value(raw, "bmc")) == (0, 9)
    grown = mcuimage.advance_otp(raw, "bmc", 20)
    assert mcuimage.otp_value(grown, "bmc") == 20 and mcuimage.otp_value(grown, "secure") == 0
    # flash programming only clears bits: every byte of the grown partition is the old one with bits cleared
    assert all(new & old == new for new, old in zip(grown, raw, strict=True))
    with pytest.raises(mcuimage.ImageError, match=r"the bmc anti-rollback counter is 20; it only grows"):
        mcuimage.advance_otp(grown, "bmc", 19)
    with pytest.raises(mcuimage.ImageError, match=r"keys: 512 bytes, the key slots and the anti-rollback counters need 768"):
        mcuimage.keys_partition([a], 512)
    with pytest.raises(mcuimage.ImageError, match=r"holds 1 to 2 sha256 key hashes, got 3"):
        mcuimage.keys_partition([a, b, a], 4096)


def _tarball(path: Path, members: dict[str, bytes], links: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_only_the_named_sources_leave_the_archive(tmp_path: Path) -> None:
    root = bootcrypto.ROOT
    members = {root + s: b"/* c */" for s in bootcrypto.SOURCES}
    members |= {root + "include/sodium/crypto_hash_sha256.h": b"h", root + "crypto_aead/x.c": b"unwanted",
                "pynacl-1.6.2/setup.py": b"unwanted"}
    links = {root + "include/sodium/private/evil.h": "/etc/passwd"}
    into = tmp_path / "tree"
    bootcrypto._extract(_tarball(tmp_path / "a.tar.gz", members, links), into)
    got = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file() or p.is_symlink())
    assert got == sorted([".complete", "include/sodium/crypto_hash_sha256.h", *bootcrypto.SOURCES])
    del members[root + bootcrypto.SOURCES[0]]
    with pytest.raises(BspError, match=r"no crypto_hash/sha256/cp/hash_sha256_cp.c in the archive"):
        bootcrypto._extract(_tarball(tmp_path / "b.tar.gz", members, {}), tmp_path / "tree2")


def test_the_security_counter_comes_from_the_description(tmp_path: Path) -> None:
    text = resources.builtin_board().read_text()
    assert "    hart: 1\n" in text
    path = tmp_path / "board.yaml"
    path.write_text(text.replace("    hart: 1\n", "    hart: 1\n    security_counter: 9\n", 1))
    board, soc = load_board(path), load_soc(resources.builtin_soc())
    windows = flash_layout.layout(board, soc, load_catalog(resources.sensor_catalog()), True)["windows"]
    assert isinstance(windows, dict)
    assert (windows["bmc"]["security_counter"], windows["secure"]["security_counter"]) == (9, 0)
    path.write_text(text.replace("    hart: 1\n", "    hart: 1\n    security_counter: 2048\n", 1))
    with pytest.raises(BspError) as e:
        load_board(path)
    assert "domains.bmc.security_counter" in str(e.value) and "2047" in str(e.value), str(e.value)


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs the host's gcc")
def test_the_boot_stages_counter_advance_matches_the_tool(tmp_path: Path) -> None:
    """otp.c, compiled for the host with the default board's generated constants, reads the
    counters the tool writes, advances one by clearing bits only (each word programmed once), to
    the very bytes mcuimage.advance_otp writes, and never lowers it."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    (tmp_path / "cmu610_boot_config.h").write_text(
        bootstage.config_header(board, soc, load_catalog(resources.sensor_catalog())))
    exe = tmp_path / "otp_host"
    r = proc.run(["gcc", "-O2", "-Wall", "-Werror", f"-I{tmp_path}", f"-I{bootstage.SOURCES}",
                  str(Path(__file__).parent / "firmware" / "otp_host.c"), "-o", str(exe)], timeout=120)
    assert r.returncode == 0, r.stderr
    keys = tmp_path / "keys.bin"
    start = mcuimage.keys_partition([b"\1" * 32], 64 * 1024, {"secure": 3, "bmc": 5})
    keys.write_bytes(start)
    hart = {"secure": board.domains.secure.hart, "bmc": board.domains.bmc.hart}
    r = proc.run([str(exe), str(keys), str(hart["bmc"]), "37"], timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["5", "37", "2"], (r.stdout, r.stderr)   # words 0 and 1
    assert keys.read_bytes() == mcuimage.advance_otp(start, "bmc", 37)
    assert mcuimage.otp_value(keys.read_bytes(), "secure") == 3
    r = proc.run([str(exe), str(keys), str(hart["bmc"]), "20"], timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["37", "37", "0"], (r.stdout, r.stderr)
    r = proc.run([str(exe), str(keys), str(hart["secure"]), "2048"], timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["3", "2048", "64"], (r.stdout, r.stderr)
    assert mcuimage.otp_value(keys.read_bytes(), "bmc") == 37


def test_the_layers_packer_signs_with_its_own_copies_where_cmu610bsp_is_importable_too() -> None:
    """The packer runs in BitBake with the tool's Python (CMU610_ZEPHYR_PYTHON), where cmu610bsp is
    importable: its modules must still be the layer's copies (their checksums are the task's
    signature), not the installed tool's, which an upgrade changes without a rebuild."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    files = REPO / "meta-cmu610" / "recipes-bsp" / "cmu610-flash" / "files"
    script = ("import cmu610bsp, cmu610_flash, cmu610_mcuimage\n"
              "assert cmu610_flash.mcuimage is cmu610_mcuimage, cmu610_flash.mcuimage.__name__\n"
              "print(cmu610_flash.mcuimage.__file__)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=files, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(files)})
    assert r.returncode == 0 and r.stdout.strip() == str(files / "cmu610_mcuimage.py"), r.stdout + r.stderr
