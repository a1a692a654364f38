"""Toolchain archives for the tests: a relocated copy of Debian's RISC-V GCC 12 (only the
rv32imac/ilp32 multilib), packed as a tarball the way a vendor ships one, so `toolchain install`
gets a real compiler that runs from wherever it is extracted."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

GCC_DIR = Path("/usr/lib/gcc/riscv64-unknown-elf/12.2.0")
PREFIX = "riscv64-unknown-elf-"
MISSING = ("" if GCC_DIR.is_dir() and shutil.which(f"{PREFIX}gcc")
           else "Debian's gcc-riscv64-unknown-elf is not installed")

# what `toolchain check` and a Zephyr build (cross-compile variant, no C++) take from bin/
TOOLS = ("gcc", "as", "ld", "ld.bfd", "objcopy", "objdump", "readelf", "ar", "ranlib", "nm", "strip")
LIBEXEC = ("cc1", "collect2", "crtbegin.o", "crtend.o", "crti.o", "crtn.o", "libgcc.a", "liblto_plugin.so", "lto-wrapper")


def debian_gcc_archive(into: Path, name: str = "xuantie-like-gcc", extra: dict[str, str] | None = None) -> tuple[Path, str]:
    """into/<name>.tar.gz holding riscv-gcc/ (the relocated compiler, and `extra`: relative path ->
    text, files that make another archive of the same compiler), and its sha256."""
    top = into / f"{name}.d"
    root = top / "riscv-gcc"
    (root / "bin").mkdir(parents=True)
    for tool in TOOLS:
        shutil.copy2(f"/usr/bin/{PREFIX}{tool}", root / "bin")
    lib = root / "lib/gcc/riscv64-unknown-elf/12.2.0"
    lib.mkdir(parents=True)
    for f in LIBEXEC:
        shutil.copy2(GCC_DIR / f, lib)
    for d in ("include", "include-fixed", "rv32imac/ilp32"):
        shutil.copytree(GCC_DIR / d, lib / d)
    shutil.copytree("/usr/lib/riscv64-unknown-elf/bin", root / "lib/riscv64-unknown-elf/bin", symlinks=True)
    for rel, text in (extra or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    archive = into / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(root, arcname="riscv-gcc")
    shutil.rmtree(top)
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()
