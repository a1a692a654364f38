"""One writer of cmu610bsp.yml (config.py): `toolchain install` and `ci` both change their key
through it, and every other line of the user's file stays as written, comments included."""

from __future__ import annotations

from pathlib import Path

from cmu610bsp import config
from cmu610bsp.yamlio import with_key
from conftest import Cli, edit


def _toolchain(where: Path) -> Path:
    """A directory toolchain as `toolchain install` records it: bin/<prefix>gcc (a stand-in that
    refuses -mcpu=e906, as Debian's GCC does)."""
    gcc = where / "bin" / "riscv64-unknown-elf-gcc"
    gcc.parent.mkdir(parents=True)
    gcc.write_text("#!/bin/sh\nexit 1\n")
    gcc.chmod(0o755)
    return where


def test_toolchain_install_and_ci_keep_every_other_line_of_cmu610bsp_yml(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    path = workspace / "cmu610bsp.yml"
    edit(path, "keep: []", "# what sync must never touch\nkeep: []  # nothing yet")
    mine = path.read_text()
    first, second = _toolchain(tmp_path / "tc-a"), _toolchain(tmp_path / "tc-b")
    r = cli("toolchain", "install", str(first), cwd=workspace)
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert text.startswith(mine) and "# the RISC-V toolchain" in text, text
    rec = config.load_config(workspace).toolchain
    assert rec is not None and (rec.path, rec.name) == (str(first), "tc-a")
    # a second install replaces the record where it is
    r = cli("toolchain", "install", str(second), "--name", "second: one", cwd=workspace)
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert text.startswith(mine) and text.count("toolchain:") == 1, text
    rec = config.load_config(workspace).toolchain
    assert rec is not None and (rec.path, rec.name) == (str(second), "second: one")
    # and ci's key joins them, the record and the comments kept
    r = cli("ci", "gitlab", cwd=workspace)
    assert r.returncode == 0, r.stderr
    final = path.read_text()
    assert final.startswith(text) and final.endswith("ci: [gitlab]\n"), final
    assert config.load_config(workspace).toolchain == rec


def test_with_key_sets_a_block_mapping_in_place_or_at_the_end() -> None:
    text = "# head\nversion: 1\ntoolchain:\n  name: old  # was\n# between\nkeep: []\n"
    assert with_key(text, "toolchain", "\n  name: new\n  path: /x") == (
        "# head\nversion: 1\ntoolchain:\n  name: new\n  path: /x  # was\n# between\nkeep: []\n")
    assert with_key("version: 1\n", "toolchain", "\n  name: new", "why") == "version: 1\n# why\ntoolchain:\n  name: new\n"
