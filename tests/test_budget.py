"""Each firmware's ROM and RAM against what the description gives its domain (flash.budget, in
the flash manifest and so in summary.json), and a firmware that does not fit named by domain,
region and bytes (report.overflow) from what the real tools say: the ELF and the linker error come
from Debian's RISC-V GCC, the packing error from cmu610bsp.flash itself."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cmu610bsp import __version__, flash, flash_layout, proc, resources
from cmu610bsp.kasbuild import report
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import GCC, _image, run_layer_packer, signing_key

pytestmark = pytest.mark.skipif(not shutil.which(GCC), reason=f"needs {GCC} (Debian's gcc-riscv64-unknown-elf)")


def _readelf_loads(elf: Path) -> list[tuple[int, int, int]]:
    """(physical address, file size, memory size) of each LOAD segment, as binutils' readelf says."""
    out = proc.run(["riscv64-unknown-elf-readelf", "-lW", str(elf)], timeout=60).stdout
    return [(int(m[1], 16), int(m[2], 16), int(m[3], 16))
            for m in re.finditer(r"^\s*LOAD\s+\S+\s+\S+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", out, re.M)]


def test_budget_of_a_real_image_is_what_readelf_says(tmp_path: Path) -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    windows = flash_layout.windows(board, soc, load_catalog(resources.sensor_catalog()))
    w = windows["bmc"]
    image = _image(tmp_path, "bmc", w)
    elf = tmp_path / "bmc.elf"
    entry, segments = flash.elf_load(elf.read_bytes(), str(elf))
    loads = _readelf_loads(elf)
    assert [(s.address, s.filesz, s.memsz) for s in segments] == [x for x in loads if x[2]]
    b = flash.budget("bmc", segments, w.base, w.size, image, flash_layout.partitions(board))
    assert b["ram"] == {"base": w.base, "used": max(a + m for a, _, m in loads) - w.base, "size": w.size,
                        "outside_window": 0}
    assert b["rom"] == {"used": flash.OVERHEAD + len(image.data), "size": 10 * 1024 * 1024,
                        "partitions": ["bmc-fw-a", "bmc-fw-b"]}
    assert b["ram"]["used"] >= len(image.data) and entry == image.entry  # type: ignore[index]


def test_the_linker_overflow_is_named_by_domain_region_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "big.c").write_text("static char big[4096];\nvoid _start(void) { big[0] = 1; for (;;) ; }\n")
    (tmp_path / "tiny.ld").write_text("MEMORY { RAM (rwx) : ORIGIN = 0x80000000, LENGTH = 1024 }\nENTRY(_start)\n"
                                      "SECTIONS { .text : { *(.text*) } > RAM\n .bss : { *(.bss*) *(COMMON) } > RAM }\n")
    r = proc.run([GCC, "-march=rv32imac", "-mabi=ilp32", "-nostdlib", "-ffreestanding", "-T", str(tmp_path / "tiny.ld"),
                  str(tmp_path / "big.c"), "-o", str(tmp_path / "big.elf")], timeout=120)
    assert r.returncode != 0
    log = tmp_path / "log.do_compile"
    log.write_text("NOTE: ninja\n" + r.stdout + r.stderr + "ninja: build stopped: subcommand failed.\n")
    over = re.search(r"overflowed by (\d+) bytes", r.stderr)
    assert over is not None, r.stderr
    o = report.overflow("mc::virtual:cmu610_variant:cmu610-evb-qemu:/ws/meta-cmu610/recipes-bsp/cmu610-firmware/"
                        "cmu610-bmc-fw_1.0.bb:do_compile", str(log))
    assert o == report.Overflow("bmc", "its linker region RAM", int(over[1]))
    assert "the bmc domain's firmware does not fit: its linker region RAM overflowed by" in o.text()
    # the same message in another task's log is not a firmware's overflow
    assert report.overflow("mc::/x/entity-manager_git.bb:do_compile", str(log)) is None


def test_the_packer_overflow_is_named_by_domain_and_partition(tmp_path: Path) -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    parts = flash_layout.partitions(board)
    slot = next(p for p in parts if p.name == "bmc-fw-a")
    images = {"secure": flash.Image(b"s" * 64, 0x80000000, 0x80000000, 0),
              "bmc": flash.Image(b"b" * (slot.size + 100), 0x800C0000, 0x800C0000, 1)}
    with pytest.raises(flash.FlashError) as e:
        flash.pack(parts, images, soc.memory["flash"].size, boot=b"\0" * 64, key=signing_key(tmp_path / "key.pem"))
    log = tmp_path / "log.do_compile"
    log.write_text(f"ERROR: cmu610_flash.FlashError: {e.value}\n")
    o = report.overflow("mc::virtual:cmu610_variant:cmu610-evb-qemu:/ws/cmu610-flash-image_1.0.bb:do_compile", str(log))
    assert o == report.Overflow("bmc", "flash partition bmc-fw-a", 100 + flash.OVERHEAD + flash.TRAILER_SIZE), e.value


def test_the_layers_packer_writes_budgets_and_versions_into_the_manifest(workspace: Path, tmp_path: Path) -> None:
    """The flash recipe's packer as BitBake runs it (run_layer_packer), on two real test images: the
    manifest it deploys (summary.json's `flash`) has both budgets."""
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    windows = flash_layout.windows(board, soc, load_catalog(resources.sensor_catalog()))
    fw, out, manifest = tmp_path / "deploy", tmp_path / "flash.bin", tmp_path / "flash-manifest.json"
    r = run_layer_packer(workspace, tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(manifest.read_text())
    budgets = data["budgets"]
    assert sorted(budgets) == ["bmc", "secure"]
    # each image's header carries the applications' version (what GetFirmwareParameters reports)
    images = [p["image"] for p in data["partitions"] if p["role"] == "firmware"]
    assert len(images) == 3 and {i["version"] for i in images} == {__version__}, images
    raw = out.read_bytes()
    slot = next(p for p in data["partitions"] if p["partition"] == "bmc-fw-a")
    assert flash.image_version(raw[slot["offset"]:slot["offset"] + slot["size"]]) == __version__
    for domain, w in windows.items():
        b = budgets[domain]
        assert b["hart"] == w.hart and b["ram"]["base"] == w.base and b["ram"]["size"] == w.size
        binary = fw / f"zephyr-cpu{w.hart}.bin"
        assert 0 < b["ram"]["used"] < w.size and b["rom"]["used"] == flash.OVERHEAD + binary.stat().st_size


def test_the_layers_packer_refuses_a_key_other_than_the_one_the_build_names(workspace: Path, tmp_path: Path) -> None:
    """The task's signature holds the key's identity (CMU610_SIGNING_KEY_SHA256), not its place:
    shared state would hand an image signed by another key to every build naming this one, so the
    packer signs with the named key or not at all (exit 2, nothing written)."""
    r = run_layer_packer(workspace, tmp_path, key_sha256="ab" * 32)
    assert r.returncode == 2 and f"the build names {'ab' * 32}" in r.stderr, r.stderr
    assert not (tmp_path / "flash.bin").exists() and not (tmp_path / "flash-manifest.json").exists()
