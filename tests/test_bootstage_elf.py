"""The boot stage's ELF names its compiler in `.comment`, as the firmware ELFs of the same build do
(issue 22: its link script threw the section away), and the raw image flash.pack places is still
the code and constants alone. Built with Debian's RISC-V GCC through `bootstage.build`, the link
script the flash-image recipe ships too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cmu610bsp import bootstage, proc, resources
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import GCC

pytestmark = pytest.mark.skipif(not shutil.which(GCC), reason=f"needs {GCC} (Debian's gcc-riscv64-unknown-elf)")


def test_the_boot_stage_elf_names_its_compiler(tmp_path: Path) -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    binary = bootstage.build(board, soc, load_catalog(resources.sensor_catalog()), tmp_path)
    elf = binary.with_suffix(".elf")
    version = proc.run([GCC, "--version"]).stdout.splitlines()[0]  # riscv64-unknown-elf-gcc (12.2.0-14+...) 12.2.0
    ident = "GCC: " + version.split(" ", 1)[1]
    dump = proc.run(["riscv64-unknown-elf-readelf", "-p", ".comment", str(elf)])
    assert dump.returncode == 0, dump.stderr
    comment = {line.split("]", 1)[1].strip() for line in dump.stdout.splitlines() if "]" in line}
    assert comment == {ident}, dump.stdout
    # not loaded: the section has no A flag, and the raw image does not carry the text
    sections = proc.run(["riscv64-unknown-elf-readelf", "-S", "-W", str(elf)]).stdout
    (row,) = [line for line in sections.splitlines() if " .comment " in line]
    flags = row.split()[-4]
    assert "A" not in flags, row
    assert b"GCC: (" not in binary.read_bytes()
