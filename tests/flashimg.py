"""A flash image for the default board made without a Zephyr tree: the boot stage built with
Debian's RISC-V GCC and two test images (tests/firmware in its AMP_IMAGE mode, linked at each
domain's RAM address) packed by cmu610bsp.flash. Hart 0's image prints "cpu0: boot ok" and then
releases hart 1, whose image prints "cpu1: boot ok" and powers the twin off."""

from __future__ import annotations

import shutil
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cmu610bsp import bootstage, flash, flash_layout, mcuimage, proc, resources
from cmu610bsp.model import Board, Soc, load_board, load_catalog, load_soc

FW = Path(__file__).parent / "firmware"
GCC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
REFUSED = 3     # the boot stage's power-off code when a domain has no valid image (data/bootstage/boot.c)
MISSING = (f"needs {GCC} (Debian's gcc-riscv64-unknown-elf) and {QEMU} (qemu-system-misc)"
           if not (shutil.which(GCC) and shutil.which(QEMU)) else "")


def _ok(argv: list[str]) -> str:
    r = proc.run(argv, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _image(out: Path, name: str, window: flash_layout.Window, extra: Sequence[str] = ()) -> flash.Image:
    """The test firmware linked at `window.base`; entry read from the ELF header (e_entry); `extra`:
    more compiler arguments (defines, sources)."""
    # GCC 12 picks its rv64 multilib for rv32..._zicsr_zifencei: link with the rv32 libgcc
    libgcc = Path(_ok([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"]).strip()).parent
    elf, binary = out / f"{name}.elf", out / f"{name}.bin"
    _ok([GCC, "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany", "-ffreestanding", "-nostdlib",
         "-nostartfiles", "-O2", "-g", "-DAMP_IMAGE", f"-Wl,--defsym=LOAD_ADDRESS={window.base:#x}", "-T", str(FW / "link.ld"),
         "-Wl,--no-warn-rwx-segments", *extra, str(FW / "start.S"), str(FW / "fw.c"), f"-L{libgcc}", "-lgcc", "-o", str(elf)])
    _ok(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)])
    (entry,) = struct.unpack_from("<I", elf.read_bytes(), 24)
    return flash.Image(binary.read_bytes(), window.base, entry, window.hart)


def signing_key(path: Path) -> str:
    """A fresh Ed25519 private key in a PEM file (PKCS#8, as `imgtool keygen -t ed25519` writes
    it): the path flash.pack signs with."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


@dataclass(frozen=True)
class Amp:
    """The default board's flash image with the two test images, and what made it."""

    board: Board
    soc: Soc
    flash: bytes
    images: dict[str, flash.Image]
    key: str


def amp_flash_image(out: Path) -> Amp:
    """The default board, its SoC and its 32 MiB flash image with the two test images, signed
    with a key made for it."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    catalog = load_catalog(resources.sensor_catalog())
    stage = bootstage.build(board, soc, catalog, out / "boot").read_bytes()
    images = {d: _image(out, d, w) for d, w in flash_layout.windows(board, soc, catalog).items()}
    key = signing_key(out / "signing-key.pem")
    return Amp(board, soc, flash_layout.pack(board, soc, images, stage, key), images, key)


def boot(img: bytes, tmp: Path) -> tuple[int, str]:
    """Boot a flash image on the twin: QEMU's exit code and the console."""
    path = tmp / "flash.bin"
    path.write_bytes(img)
    lines: list[str] = []
    code = proc.stream([QEMU, "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none", "-display", "none",
                        "-monitor", "none", "-serial", "stdio", "-drive", f"if=pflash,unit=0,format=raw,file={path}",
                        "-no-reboot"], lines.append, timeout=120)
    return code, "\n".join(lines)


def run_layer_packer(workspace: Path, out: Path, *extra: str, env: Mapping[str, str] | None = None,
                     key_sha256: str | None = None) -> proc.Result:
    """The flash recipe's packer as BitBake runs it (the layer's files of `workspace`, a python3
    with imgtool: this one) on the two test images for the default board's twin, signed with a
    fresh key (out/key.pem) whose identity the build names (`key_sha256`, else the key's own):
    out/flash.bin and out/flash-manifest.json, and whatever `extra` asks of it."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    fw = out / "deploy"
    fw.mkdir()
    for domain, w in flash_layout.windows(board, soc, load_catalog(resources.sensor_catalog())).items():
        _image(out, domain, w)
        for suffix in (".elf", ".bin"):
            shutil.copy(out / f"{domain}{suffix}", fw / f"zephyr-cpu{w.hart}{suffix}")
    files = workspace / "meta-cmu610/recipes-bsp/cmu610-flash/files"
    (out / "boot.bin").write_bytes(b"\x13\x00\x00\x00" * 16)
    key = signing_key(out / "key.pem")
    identity = key_sha256 if key_sha256 is not None else mcuimage.key_hash(mcuimage.public_key(key)).hex()
    return proc.run([sys.executable, str(files / "cmu610-pack-flash.py"), "--key", key, "--key-sha256", identity,
                     "--layout", str(files / "cmu610-evb-qemu/flash-layout.json"),
                     "--boot", str(out / "boot.bin"), "--firmware", str(fw), "--out", str(out / "flash.bin"),
                     "--manifest", str(out / "flash-manifest.json"), *extra], env=env, timeout=120)
