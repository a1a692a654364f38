"""A legacy I2C device on an I3C bus needs its LVR, and the refusal says which values are valid
(issue 22: it read "a lm75a ... give its legacy virtual register (lvr)" and named no value).
The rules called as the description's check calls them; the message as a user reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmu610bsp import i3c, resources, validate
from cmu610bsp.model import Sensor, load_board, load_catalog, load_soc

# MIPI I3C's Legacy Virtual Register: I2C index 0-2 in bits 7:5 (3-7 reserved), the Fm bit 4,
# bits 3:0 reserved: Linux's I3C_LVR_I2C_INDEX(0..2) | optionally I3C_LVR_I2C_FM_MODE
VALID = {index << 5 | fm for index in range(3) for fm in (0, 0x10)}


def test_the_valid_values_are_those_the_i3c_specification_defines() -> None:
    for value in range(0x100):
        why = i3c.lvr_problem(value)
        assert (why is None) == (value in VALID), hex(value)
        if why:
            assert "one of 0x00, 0x10, 0x20, 0x30, 0x40, 0x50" in why and "I2C index" in why, why


@pytest.mark.parametrize(("lvr", "expected"), [
    (None, "a sensor of kind lm75a on the I3C bus i3c0 is a legacy I2C device: give its legacy virtual register "
           "(lvr) here or in its sensor kind, the MIPI I3C LVR, one byte: bits 7:5 the I2C index"),
    (0x18, "0x18 is not a legacy virtual register value: the MIPI I3C LVR, one byte: bits 7:5 the I2C index"),
])
def test_an_lm75a_on_i3c_without_a_valid_lvr_is_told_what_to_write(lvr: int | None, expected: str) -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    temp = Sensor(name="gpu_temp", label="GPU Temp", kind="lm75a", bus="i3c0", address=0x4a, lvr=lvr)
    board = board.model_copy(update={"sensors": [*board.sensors, temp]})
    findings = validate.check_board(board, soc, load_catalog(resources.sensor_catalog()), Path("board.yaml"))
    (f,) = [f for f in findings if f.field.endswith(".lvr")]
    assert f.reason.startswith(expected), f.reason
    assert "(1: Fm, 400 kHz; 0: Fm+, 1 MHz)" in f.reason and "0x10: index 0, Fm" in f.reason
    assert " a lm75a" not in str(f)
