"""What the description reader and its rules refuse (issue 21): numbers no consumer has (NaN,
infinity), YAML 1.1-only scalars that YAML 1.2 reads differently, and names that would render to
a name something else renders to. Each refusal names the file and the field; nothing is written.

The rules run in-process through the loader every command uses (`load_project`); a few cases run
the real CLI for the exit code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from cmu610bsp import names, render, smoke
from cmu610bsp.errors import BspError
from cmu610bsp.project import load_project
from conftest import BOARD, Cli, snapshot

EVB = BOARD
BIGBMC = "configs/products/bigbmc.yaml"
LITTLEBMC = "configs/products/littlebmc.yaml"
THRESHOLDS = ("critical_low", "warning_low", "warning_high", "critical_high")


def edit(ws: Path, rel: str, old: str, new: str) -> Path:
    path = ws / rel
    text = path.read_text()
    assert text.count(old) == 1, (rel, old)
    path.write_text(text.replace(old, new))
    return path


def findings(ws: Path) -> list[str]:
    """'file: field: reason' of every finding the loader reports (it must report some)."""
    with pytest.raises(BspError) as info:
        load_project(ws)
    assert info.value.exit_code == 2
    return [str(f) for f in info.value.findings]


def add_board(ws: Path, name: str, hostname: str | None = None) -> Path:
    """A second board: the default board's description under another name (and host name)."""
    text = (ws / EVB).read_text().replace("name: cmu610-evb", f"name: {name}", 1)
    text = text.replace("hostname: cmu610-evb", f"hostname: {hostname or 'other-host'}")
    path = ws / "configs" / "boards" / f"{name}.yaml"
    path.write_text(text)
    cfg_path = ws / "cmu610bsp.yml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["boards"].append(f"configs/boards/{name}.yaml")
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# ---------------------------------------------------------------- NaN and infinity
@pytest.mark.parametrize("value", [".nan", ".inf", "-.Inf", "1.0e+999"])
@pytest.mark.parametrize("field", THRESHOLDS)
def test_a_threshold_that_is_not_a_finite_number_is_refused(workspace: Path, field: str, value: str) -> None:
    """They became NaN/Infinity in entity-manager's JSON, which is not JSON (and `check` passed)."""
    path = edit(workspace, EVB, "thresholds: {warning_high: 40, critical_high: 50}", f"thresholds: {{{field}: {value}}}")
    assert findings(workspace) == [f"{path}: sensors[0].thresholds.{field}: Input should be a finite number"]


@pytest.mark.parametrize(("old", "new", "field"), [
    ("deadline: 120", "deadline: .inf", "deadline"),
    ("within: 30", "within: .nan", "cores.cpu0.markers[0].within"),
    ("within: 10", "within: .inf", "commands[0].within"),
])
def test_a_smoke_spec_time_that_is_not_finite_is_refused(tmp_path: Path, old: str, new: str, field: str) -> None:
    spec = tmp_path / "spec.yaml"
    text = ("name: s\ndeadline: 120\ncores:\n  cpu0:\n    markers:\n      - {pattern: boot, within: 30}\n"
            "commands:\n  - {send: x, expect: y, within: 10}\n")
    spec.write_text(text.replace(old, new))
    with pytest.raises(BspError) as info:
        smoke.load_spec(spec, {})
    assert [str(f) for f in info.value.findings] == [f"{spec}: {field}: Input should be a finite number"]


def test_the_json_writer_refuses_nan_behind_the_model(workspace: Path) -> None:
    """The second line: a NaN that got past the model (model_copy does not validate) is an error
    of the render, never `NaN` in entity-manager's configuration."""
    project = load_project(workspace)
    board = project.boards[0]
    sensor = board.sensors[0].model_copy(update={"thresholds": board.sensors[0].thresholds.model_copy(
        update={"warning_high": math.nan})})
    bad = board.model_copy(update={"sensors": [sensor, *board.sensors[1:]]})
    # the PDR repository (pdr.py), rendered before entity-manager's JSON, meets the NaN first
    with pytest.raises(ValueError, match=r"not JSON compliant|cannot convert float NaN"):
        render.render(type(project)(**{**project.__dict__, "boards": (bad,)}))


# ---------------------------------------------------------------- YAML 1.1-only scalars
YAML11 = [
    # (id, old, new, field, reason): the default board's text edited
    ("octal", "kind: adc, bus: adc0, address: 0,", "kind: adc, bus: adc0, address: 010,", "sensors[4].address",
     "010 is 8 to YAML 1.1 (octal) but 10 to YAML 1.2: write 8 (or 0x8), or '010' in quotes if text is meant"),
    ("base-60", "thresholds: {critical_high: 400}}", "thresholds: {critical_high: 6:40}}",
     "sensors[3].thresholds.critical_high",
     "6:40 is 400 to YAML 1.1 (base 60) but text to YAML 1.2: write 400 (or 0x190), or '6:40' in quotes if text is meant"),
    ("yes-bool", "line: 0, role: power-button, active_low: true}", "line: 0, role: power-button, active_low: yes}",
     "gpio_lines[0].active_low", "yes is true to YAML 1.1 but text to YAML 1.2: write true, or 'yes' in quotes if text is meant"),
    ("off-bool", "line: 1, role: reset-button, active_low: true}", "line: 1, role: reset-button, active_low: Off}",
     "gpio_lines[1].active_low",
     "Off is false to YAML 1.1 but text to YAML 1.2: write false, or 'Off' in quotes if text is meant"),
    ("binary", "    hart: 1\n", "    hart: 0b1\n", "domains.bmc.hart",
     "0b1 is 1 to YAML 1.1 (binary) but text to YAML 1.2: write 1 (or 0x1), or '0b1' in quotes if text is meant"),
    ("underscore-int", "thresholds: {critical_high: 400}}", "thresholds: {critical_high: 4_00}}",
     "sensors[3].thresholds.critical_high", "4_00 is 400 to YAML 1.1 (decimal with '_' separators) but text to YAML 1.2: "
     "write 400 (or 0x190), or '4_00' in quotes if text is meant"),
    ("underscore-float", "critical_low: 10.8,", "critical_low: 1_0.8,", "sensors[4].thresholds.critical_low",
     "1_0.8 is 10.8 to YAML 1.1 (with '_' separators) but text to YAML 1.2: write 10.8, or '1_0.8' in quotes if text is meant"),
    ("date", "full_name: CMU610 evaluation board", "full_name: 2026-11-02", "full_name",
     "2026-11-02 is a date to YAML 1.1 but text to YAML 1.2: write '2026-11-02' in quotes"),
    ("number-to-1.2", "label: P3V3,", "label: 1e3,", "sensors[5].label",
     "1e3 is text to YAML 1.1 but a number to YAML 1.2: write it as YAML 1.1 reads numbers (8, 0x8, 1.5, 1.0e+3), "
     "or '1e3' in quotes if text is meant"),
]


@pytest.mark.parametrize(("old", "new", "field", "reason"), [c[1:] for c in YAML11], ids=[c[0] for c in YAML11])
def test_a_yaml11_only_scalar_is_refused_with_what_to_write(workspace: Path, old: str, new: str, field: str,
                                                              reason: str) -> None:
    """PyYAML read `010` as 8 and `6:40` as 400 without a word; YAML 1.2 reads them otherwise."""
    path = edit(workspace, EVB, old, new)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if new.strip() in text)
    assert findings(workspace) == [f"{path}: {field}: line {line}: {reason}"]


def test_quoted_and_yaml12_forms_are_read_as_written(workspace: Path) -> None:
    edit(workspace, EVB, "label: P3V3,", "label: '010',")
    edit(workspace, EVB, "kind: adc, bus: adc0, address: 0,", "kind: adc, bus: adc0, address: 0x0,")
    edit(workspace, EVB, "line: 0, role: power-button, active_low: true}", "line: 0, role: power-button, active_low: True}")
    board = load_project(workspace).boards[0]
    assert board.sensors[5].label == "010" and board.sensors[4].address == 0 and board.gpio_lines[0].active_low


def test_a_yaml11_key_is_refused(workspace: Path) -> None:
    path = edit(workspace, "cmu610bsp.yml", "keep: []", "keep: []\n'on': 1\nyes: 2")
    with pytest.raises(BspError) as info:
        load_project(workspace)
    assert [str(f) for f in info.value.findings] == [
        f"{path}: yes: line {path.read_text().splitlines().index('yes: 2') + 1}: key yes is true to YAML 1.1 but text "
        "to YAML 1.2: write true, or 'yes' in quotes if text is meant"]


def test_the_shipped_descriptions_have_no_yaml11_only_scalar(workspace: Path) -> None:
    load_project(workspace)  # raises on any


# ---------------------------------------------------------------- names that render to one name
def test_a_board_named_like_another_boards_twin_is_refused(workspace: Path) -> None:
    """cmu610-evb-qemu was both that board's machine and cmu610-evb's twin: the last render won."""
    path = add_board(workspace, "cmu610-evb-qemu")
    assert findings(workspace) == [
        f"{path}: name: 'cmu610-evb-qemu' ends in '-qemu': a board's QEMU twin is named <board>-qemu (machine) and "
        "<board>_qemu (Zephyr board); name it without '-qemu'"]


NAMED = [
    # (file, its text naming it, field, the name given, why it is refused): one name at a time
    (EVB, "\nname: cmu610-evb\n", "name", "cmu610-sd-b2f1ba9a",
     "starts with 'cmu610-sd-', the names of the secure-domain firmware boards"),
    (EVB, "\nname: cmu610-evb\n", "name", "cmu610", "is the SoC's name, which every cmu610 machine has in MACHINEOVERRIDES"),
    (EVB, "\nname: cmu610-evb\n", "name", "bootstage", "is the directory of the flash recipe's bootstage sources"),
    (EVB, "\nname: cmu610-evb\n", "name", "lone-qemu", "ends in '-qemu'"),
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "obmc-phosphor-image", "is not named cmu610-<name>-image"),  # OpenBMC's
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "core-image-minimal", "is not named cmu610-<name>-image"),  # OE-core's
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "cmu610-bigbmc", "is not named cmu610-<name>-image"),
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "cmu610-flash-image", "is the layer's own recipe cmu610-flash-image"),
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "cmu610-flash-image-cmu610-evb-image",
     "is named like a variant of the layer's recipe cmu610-flash-image"),
    (BIGBMC, "\nimage: cmu610-bigbmc-image\n", "image", "cmu610-bmc-fw-x-image",
     "is named like a variant of the layer's recipe cmu610-bmc-fw"),
]


@pytest.mark.parametrize(("rel", "old", "field", "name", "reason"), NAMED, ids=[c[3] for c in NAMED])
def test_a_name_like_a_generated_name_is_refused(workspace: Path, rel: str, old: str, field: str, name: str,
                                                 reason: str) -> None:
    path = edit(workspace, rel, old, f"\n{field}: {name}\n")
    found = findings(workspace)
    assert len(found) == 1 and found[0].startswith(f"{path}: {field}: {name!r} {reason}"), found


def test_two_product_lines_with_one_image_are_refused(workspace: Path) -> None:
    """Both lines rendered recipes-core/images/cmu610-bigbmc-image.bb: the last one won."""
    path = edit(workspace, LITTLEBMC, "image: cmu610-littlebmc-image", "image: cmu610-bigbmc-image")
    assert findings(workspace) == [
        f"{path}: image: 'cmu610-bigbmc-image' is also the image of the product line bigbmc ({workspace / BIGBMC}): "
        "each product line needs its own image recipe"]


@pytest.mark.parametrize(("partition", "variables"), [("peb", "FLASH_PEB_SIZE"), ("leb", "FLASH_LEB_SIZE"),
                                                      ("kernel", "FLASH_KERNEL_OFFSET"), ("ubi-rwfs", "FLASH_UBI_RWFS_SIZE")])
def test_a_partition_setting_an_openbmc_flash_variable_is_refused(workspace: Path, partition: str, variables: str) -> None:
    path = edit(workspace, EVB, "{name: bmc-log,", f"{{name: {partition},")
    assert findings(workspace) == [
        f"{path}: flash.partitions[6].name: {partition!r} would set {variables}, which OpenBMC's image classes "
        "(image_types_phosphor.bbclass) set for their own flash layout: name the partition otherwise"]


def test_the_layer_recipes_the_rules_know_are_the_ones_rendered(workspace: Path) -> None:
    """names.LAYER_RECIPES against the recipes the render writes (a new recipe must be added)."""
    project = load_project(workspace)
    recipes = {Path(p).stem.split("_")[0] for p in render.render(project) if p.endswith(".bb")}
    assert recipes - {p.image for p in project.products} == set(names.LAYER_RECIPES)


def test_openbmc_flash_variables_are_the_ones_the_machine_sets_the_same_way(workspace: Path) -> None:
    """The partition rule compares the FLASH_* names layer.flash_vars renders."""
    text = (workspace / "meta-cmu610/conf/machine/cmu610-evb.conf").read_text()
    rendered = set(re.findall(r"^(FLASH_\w+?)_(?:OFFSET|SIZE) =", text, re.M))
    project = load_project(workspace)
    assert rendered == {f"FLASH_{names.flash_var_name(p.name)}" for p in project.boards[0].flash.partitions}


# ---------------------------------------------------------------- the CLI: exit 2, the field, nothing written
@pytest.mark.parametrize(("rel", "old", "new", "shown"), [
    (EVB, "kind: adc, bus: adc0, address: 0,", "kind: adc, bus: adc0, address: 010,", "sensors[4].address: line"),
    (EVB, "thresholds: {critical_high: 400}}", "thresholds: {critical_high: .nan}}",
     "sensors[3].thresholds.critical_high: Input should be a finite number"),
    (LITTLEBMC, "image: cmu610-littlebmc-image", "image: cmu610-bigbmc-image", "image: 'cmu610-bigbmc-image' is also"),
], ids=["octal", "nan", "image-twice"])
def test_cli_generate_exits_2_naming_the_field(cli: Cli, workspace: Path, rel: str, old: str, new: str, shown: str) -> None:
    path = edit(workspace, rel, old, new)
    before = snapshot(workspace)
    r = cli("generate", "--force", cwd=workspace)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"  {path}: {shown}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert snapshot(workspace) == before
