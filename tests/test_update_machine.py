"""`cmu610bsp update` takes a package only for the machine the flash image was packed for: the
twin's (`<board>-qemu`) and the chip's flash have the same A/B slots, so the layout check alone
let the chip's build (what `build` makes without --smoke or --board <board>-qemu) into the twin's
flash, and the other way round (found by test_openbmc_update.py's first run)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from cmu610bsp import flash, flash_layout, fwpackage, resources
from cmu610bsp.model import load_board, load_soc
from conftest import Cli
from flashimg import signing_key

BOARD, SOC = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
PARTS = flash_layout.partitions(BOARD)
TWIN = "cmu610-evb-qemu"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return signing_key(tmp_path_factory.mktemp("key") / "key.pem")


def _bmc(tag: bytes) -> flash.Image:
    return flash.Image(tag * 1500, 0x800C0000, 0x800C0000, 1, (1, 2, 3))


def _device(tmp_path: Path, key: str) -> Path:
    """A factory flash of the twin and its manifest, as the layer's packer writes them (machine named)."""
    image = tmp_path / "flash.bin"
    image.write_bytes(flash.pack(PARTS, {"secure": flash.Image(b"s" * 500, 0x80000000, 0x80000000, 0), "bmc": _bmc(b"v1")},
                                 SOC.memory["flash"].size, boot=b"\x13\x00\x00\x00" * 16, key=key))
    manifest = {"board": BOARD.name, "machine": TWIN, "partitions": flash.manifest(PARTS, image.read_bytes())}
    (tmp_path / "flash-manifest.json").write_text(json.dumps(manifest))
    return image


def _package(path: Path, key: str, machine: str) -> Path:
    meta = fwpackage.metadata(BOARD.name, machine, "1.2.3", [asdict(p) for p in PARTS])
    path.write_bytes(fwpackage.write(fwpackage.Package(flash.signed(_bmc(b"v2"), key), meta, "1.2.3"), machine))
    return path


def test_a_package_for_another_machine_is_refused_and_the_flash_unchanged(key: str, cli: Cli, tmp_path: Path) -> None:
    image = _device(tmp_path, key)
    before = image.read_bytes()
    chip = _package(tmp_path / "chip.pldm", key, BOARD.name)
    r = cli("update", str(image), str(chip))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the update package is for another machine" in r.stderr
    assert f"{chip}: machine: built for 'cmu610-evb', this flash image is 'cmu610-evb-qemu''s" in r.stderr
    assert image.read_bytes() == before
    r = cli("update", str(image), str(_package(tmp_path / "twin.pldm", key, TWIN)))
    assert r.returncode == 0, r.stderr
    assert "bmc-fw-b: 1.2.3 written" in r.stdout and image.read_bytes() != before
