"""What the description reader and its rules refuse (issue 21): numbers no consumer has (NaN,
infinity), YAML 1.1-only scalars that YAML 1.2 reads differently, and names that would render to
a name something else renders to. Each refusal names the file and the field; nothing is written.

The rules run in-process through the loader every command uses (`load_project`); a few cases run
the real CLI for the exit code.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cmu610bsp import render, smoke
from cmu610bsp.errors import BspError
from cmu610bsp.project import load_project
from conftest import BOARD

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
    with pytest.raises(ValueError, match="not JSON compliant"):
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
