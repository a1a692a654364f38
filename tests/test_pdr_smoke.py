"""The BMC's PLDM PDR repository and the line's smoke spec, generated from descriptions, checked
in-process without any tree (issue 23's "CI without trees"): each PDR decoded with struct as
DSP0248 lays a Numeric Sensor PDR out (Table 78) and compared with the description (kinds,
units, thresholds, I2C, I3C and ADC sensors, count); the PDR bytes the BMC domain's devicetree
carries (through cpp and dtc) are those; the spec's replies against what the firmware prints:
the description's own passes, one sensor less, a missing answer or a reading out of range fails.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from pathlib import Path

import pytest

from cmu610bsp import __version__, flash, mctp, names, pdr, qemu, render, smoke, smoke_jobs
from cmu610bsp import smoke_spec as spec_module
from cmu610bsp.model import Board, load_board
from cmu610bsp.project import Project, load_project
from cmu610bsp.sensors import SensorView, sensor_views
from flashimg import signing_key
from test_firmware import Z, _dts, _node, needs_dtc

REPO = Path(__file__).resolve().parent.parent
RACK40 = REPO / "tests/fixtures/boards/cmu610-rack40.yaml"
BOARDS = {"evb": REPO / "configs/boards/cmu610-evb.yaml", "gpu-tray": REPO / "configs/boards/cmu610-gpu-tray.yaml",
          "rack40": RACK40}
# DSP0248 Table 74 baseUnit of each quantity the catalogue's kinds measure
BASE_UNIT = {"temperature": 2, "voltage": 5, "current": 6, "power": 7}
THRESHOLD_BITS = {"warning_high": 0, "critical_high": 1, "warning_low": 3, "critical_low": 4}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


def _board(project: Project, key: str) -> Project:
    return dataclasses.replace(project, boards=(load_board(BOARDS[key]),))


def decode(record: bytes) -> dict[str, object]:
    """A Numeric Sensor PDR whose sensorDataSize and rangeFieldFormat are sint32, field by field."""
    out: dict[str, object] = {}
    at = 0

    def take(fmt: str, *names: str) -> None:
        nonlocal at
        values = struct.unpack_from("<" + fmt, record, at)
        at += struct.calcsize("<" + fmt)
        out.update(zip(names, values, strict=True))

    take("IBBHH", "record_handle", "header_version", "pdr_type", "change_number", "data_length")
    take("HHHHH", "terminus_handle", "sensor_id", "entity_type", "entity_instance", "container_id")
    take("BB", "sensor_init", "aux_names")
    take("BbB", "base_unit", "unit_modifier", "rate_unit")
    take("BBbBBB", "base_oem_unit_handle", "aux_unit", "aux_unit_modifier", "aux_rate_unit", "rel", "aux_oem_unit_handle")
    take("BB", "is_linear", "sensor_data_size")
    take("ffHBB", "resolution", "offset", "accuracy", "plus_tolerance", "minus_tolerance")
    assert out["sensor_data_size"] == 5  # sint32: hysteresis, maxReadable, minReadable are 4 bytes
    take("i", "hysteresis")
    take("BBff", "supported_thresholds", "volatility", "state_transition_interval", "update_interval")
    take("ii", "max_readable", "min_readable")
    take("BB", "range_field_format", "range_field_support")
    assert out["range_field_format"] == 5
    take("9i", "nominal", "normal_max", "normal_min", "warning_high", "warning_low", "critical_high", "critical_low",
         "fatal_high", "fatal_low")
    assert at == len(record), f"{len(record) - at} bytes left over"
    return out


@pytest.mark.parametrize("key", list(BOARDS))
def test_one_numeric_sensor_pdr_per_sensor_as_the_description_says(project: Project, key: str) -> None:
    p = _board(project, key)
    board = p.boards[0]
    records = pdr.repository(sensor_views(board, p.soc, p.catalog))
    assert [r.name for r in records] == [s.name for s in board.sensors]
    for i, (record, sensor) in enumerate(zip(records, board.sensors, strict=True), start=1):
        d = decode(record.data)
        kind = p.catalog.sensor_kinds[sensor.kind]
        assert (d["record_handle"], d["sensor_id"], d["pdr_type"], d["header_version"]) == (i, i, 2, 1)
        assert d["data_length"] == len(record.data) - 10
        assert (d["base_unit"], d["unit_modifier"], d["resolution"], d["offset"]) == (BASE_UNIT[kind.unit], -3, 1.0, 0.0)
        given = {n: v for n, v in sensor.thresholds.model_dump().items() if v is not None}
        assert d["supported_thresholds"] == sum(1 << THRESHOLD_BITS[n] for n in given), sensor.name
        for name, value in given.items():
            assert d[name] == round(value * 1000), (sensor.name, name)
        low, high = d["min_readable"], d["max_readable"]
        assert isinstance(low, int) and isinstance(high, int) and isinstance(d["nominal"], int)
        assert low <= d["nominal"] <= high
        assert all(low <= round(v * 1000) <= high for v in given.values())
        # the twin starts it normal: between its warning (else critical) thresholds
        assert all(d["nominal"] < round(v * 1000) for n, v in given.items() if n.endswith("_high"))
        assert all(d["nominal"] > round(v * 1000) for n, v in given.items() if n.endswith("_low"))


def test_the_forty_sensor_board_has_every_kind_on_every_kind_of_bus(project: Project) -> None:
    """What the fixture is for: every kind of the catalogue, I2C, I3C (targets and legacy devices)
    and ADC sensors, each threshold combination, and a sensor without thresholds."""
    p = _board(project, "rack40")
    views = sensor_views(p.boards[0], p.soc, p.catalog)
    assert len(views) == 40
    assert {v.sensor.kind for v in views} == set(p.catalog.sensor_kinds)
    assert {v.bus for v in views} == {"i2c", "i3c", "i2c-on-i3c", "adc"}
    assert any(not v.sensor.thresholds.model_dump(exclude_none=True) for v in views)
    assert any(len(v.sensor.thresholds.model_dump(exclude_none=True)) == 4 for v in views)


@needs_dtc
@pytest.mark.parametrize("key", ["evb", "rack40"])
def test_the_bmc_devicetree_carries_each_pdr_under_its_sensors_name(project: Project, tmp_path: Path, key: str) -> None:
    p = _board(project, key)
    board = p.boards[0]
    files = render.render(p)
    for twin in (True, False):
        dts = _dts(files, tmp_path, f"{Z}/{names.board_dts(board.vendor, board.name, p.soc.name, 1, twin)}")
        node = _node(dts, "sensors")
        found = re.findall(r'sensor-name = "([^"]+)";\n\t+pdr = \[([0-9a-f ]+)\];', node)
        want = [(r.name, r.data.hex(" ")) for r in pdr.repository(sensor_views(board, p.soc, p.catalog))]
        assert found == want
        # on the twin each sensor reads an emulated device; the chip's tree names the real parts
        assert node.count("device = <") == (len(board.sensors) if twin else 0)


# --- the smoke spec against what the firmware prints ------------------------------------------

def _printed(command: str, lines: list[str]) -> str:
    """A shell command's reply as the console log shows it (\r\r\n line ends, the prompt after)."""
    return "\r\r\n".join([f"uart:~$ {command}", *lines]) + "\r\r\nuart:~$ "


def _reading(v: SensorView, milli: int, state: str) -> str:
    """A reading line of bmc/src/sensors.c (`%-20s %10s %s %s`)."""
    return f"{v.name:<20} {spec_module.decimal(milli):>10} {v.quantity.symbol} {state}"


def replies(board: Board, project: Project, versions: dict[str, str]) -> dict[str, str]:
    """What the BMC firmware prints for each command of its spec, from the description (the
    formats of bmc/src/sensors.c and pldm_requester.c); each reading at the twin's start value."""
    views = sensor_views(board, project.soc, project.catalog)
    out = {"pdr": _printed("pdr", spec_module.pdr_lines(views)),
           "sensors": _printed("sensors", [_reading(v, v.nominal, "normal") for v in views]
                               + [f"sensors: {len(views)} read, 0 unavailable"])}
    for v in views:
        if v.crossing is not None:
            out[f"twin set {v.name} {v.crossing}"] = _printed(f"twin set {v.name} {v.crossing}",
                                                              [_reading(v, v.crossing, "critical")])
    eid = mctp.endpoints(board).secure_eid
    images = [(name, offset) for name, offset, _, _ in spec_module.firmware_images(board)]
    out["pldm"] = _printed("pldm", [f"pldm: terminus {eid}: TID 1", f"pldm: terminus {eid}: types 0 5",
                                    f"pldm: terminus {eid}: base version 1.1.0",
                                    f"pldm: terminus {eid}: firmware set 0.1.0, {len(images)} components"]
                           + [f"pldm: component {i} {name} active {versions.get(name, '(none)')}"
                              for i, (name, _) in enumerate(images, start=1)])
    return out


def _spec(project: Project, board: Board) -> spec_module.SmokeSpec:
    product = next(x for x in project.products if x.name == board.product_lines[0])
    return spec_module.smoke_spec(board, project.soc, project.catalog, product, __version__)


def _loaded(spec: spec_module.SmokeSpec, tmp_path: Path, images: qemu.Images) -> tuple[smoke.Spec, dict[str, str]]:
    """The spec as `qemu smoke` reads it (rendered, then loaded with its placeholders filled)."""
    path = tmp_path / "spec.yaml"
    path.write_text(render.environment().get_template("zephyr/smoke.yaml.j2").render(spec=spec, generator="test"))
    values = {"board": spec.board, "line": spec.name, "zephyr_board": "x"}
    values |= smoke_jobs.image_versions(images, smoke.placeholders(smoke.read_spec(path)))
    return smoke.load_spec(path, values), values


def failures(spec: smoke.Spec, values: dict[str, str], printed: dict[str, str]) -> list[str]:
    """The commands whose reply does not match (or breaks a bound), as the runner judges them."""
    out = []
    for cmd in spec.commands:
        if cmd.send == "inventory":
            continue   # tests/test_firmware.py checks it
        hit = re.search(cmd.expect.format(**values), printed.get(cmd.send, ""))
        if hit is None or smoke.out_of_bounds(cmd, hit.group(0), values):
            out.append(cmd.send)
    return out


@pytest.mark.parametrize("key", list(BOARDS))
def test_the_spec_passes_what_the_firmware_prints_for_its_description(project: Project, tmp_path: Path, key: str) -> None:
    board = load_board(BOARDS[key])
    spec, values = _loaded(_spec(project, board), tmp_path, qemu.Images())
    assert failures(spec, values, replies(board, project, {})) == []
    sends = [c.send for c in spec.commands]
    assert sends[:3] == ["inventory", "pdr", "sensors"] and sends[-1] == "pldm"
    crossings = [s for s in sends if s.startswith("twin set ")]
    assert len(crossings) == sum(s.thresholds.critical_high is not None for s in board.sensors)


def test_one_sensor_less_fails_the_pdr_and_reading_checks(project: Project, tmp_path: Path) -> None:
    board = load_board(RACK40)
    fewer = board.model_copy(update={"sensors": board.sensors[:-1]})
    spec, values = _loaded(_spec(project, fewer), tmp_path, qemu.Images())
    assert failures(spec, values, replies(board, project, {}))[:2] == ["pdr", "sensors"]
    # and the description's own firmware with the smaller board's output
    spec, values = _loaded(_spec(project, board), tmp_path, qemu.Images())
    assert failures(spec, values, replies(fewer, project, {}))[:2] == ["pdr", "sensors"]


@pytest.mark.parametrize("drop", ["TID 1", "types 0 5", "components", "component 2 "])
def test_a_missing_answer_fails(project: Project, tmp_path: Path, drop: str) -> None:
    board = load_board(BOARDS["evb"])
    spec, values = _loaded(_spec(project, board), tmp_path, qemu.Images())
    printed = replies(board, project, {})
    printed["pldm"] = "\r\r\n".join(x for x in printed["pldm"].split("\r\r\n") if drop not in x)
    assert failures(spec, values, printed) == ["pldm"]


def test_a_reading_out_of_range_or_not_critical_fails(project: Project, tmp_path: Path) -> None:
    board = load_board(BOARDS["evb"])
    views = {v.name: v for v in sensor_views(board, project.soc, project.catalog)}
    spec, values = _loaded(_spec(project, board), tmp_path, qemu.Images())
    printed = replies(board, project, {})
    p12v = views["p12v"]
    # 9 V: below critical_low, though the firmware (wrongly) calls it normal: the bound catches it
    printed["sensors"] = printed["sensors"].replace(_reading(p12v, p12v.nominal, "normal"), _reading(p12v, 9000, "normal"))
    crossing = f"twin set p12v {p12v.crossing}"
    printed[crossing] = printed[crossing].replace(" critical", " warning")
    assert failures(spec, values, printed) == ["sensors", crossing]
    cmd = next(c for c in spec.commands if c.send == "sensors")
    hit = re.search(cmd.expect, printed["sensors"])
    assert hit and smoke.out_of_bounds(cmd, hit.group(0), values) == "p12v reading: 9 outside 10.8 to 13.2"


def test_the_versions_expected_are_the_flash_images(project: Project, tmp_path: Path) -> None:
    """Booting a flash image, each component's version is its partition's header's; booting ELF
    files (a blank flash), none. The firmware reporting another version fails."""
    board = load_board(BOARDS["evb"])
    blob = bytearray(b"\xff" * 0x1000000)
    image = flash.Image(b"x" * 100, 0x80000000, 0x80000000, 0, (1, 2, 3))
    key = signing_key(tmp_path / "key.pem")
    blob[0x40000:0x40000 + flash.OVERHEAD + 100] = flash.signed(image, key)
    (tmp_path / "flash.bin").write_bytes(bytes(blob))
    assert flash.image_version(bytes(blob[0x40000:])) == "1.2.3"
    assert flash.image_version(flash.signed(dataclasses.replace(image, version=None), key)) is None
    spec, values = _loaded(_spec(project, board), tmp_path, qemu.Images(flash=tmp_path / "flash.bin"))
    assert values["image_version@0x40000"] == re.escape("1.2.3") and values["image_version@0x400000"] == re.escape("(none)")
    assert failures(spec, values, replies(board, project, {"secure-fw": "1.2.3"})) == []
    assert failures(spec, values, replies(board, project, {"secure-fw": "1.2.4"})) == ["pldm"]
    assert failures(spec, values, replies(board, project, {})) == ["pldm"]


@pytest.mark.parametrize("version", [(0, 0, 0), (256, 0, 0), (1, 0, 65536)])
def test_an_image_version_the_header_cannot_hold_is_refused(version: tuple[int, int, int], tmp_path: Path) -> None:
    with pytest.raises(flash.FlashError, match="the header holds major and minor 0-255"):
        flash.signed(flash.Image(b"x", 0, 0, 0, version), signing_key(tmp_path / "key.pem"))
