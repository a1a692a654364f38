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
