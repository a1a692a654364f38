"""The sensor view (sensors.py): one per sensor, its bus kind and every address text decided once,
and the devicetree, entity-manager and the firmware's inventory each print what it says."""

from __future__ import annotations

import json
from pathlib import Path

from cmu610bsp import firmware, render, resources
from cmu610bsp.config import DEFAULT_PRODUCTS, WorkspaceConfig
from cmu610bsp.project import Project, load_project
from cmu610bsp.sensors import sensor_views

Z = "meta-cmu610/zephyr"


def _tray() -> Project:
    """The GPU tray: I2C devices, I3C targets (static address, PID only, assigned address) and
    legacy I2C devices on I3C buses (the kind's LVR and the board's own)."""
    cfg = WorkspaceConfig(soc=str(resources.builtin_soc()), boards=[str(resources.builtin_board("cmu610-gpu-tray"))],
                          products=[str(resources.builtin_product(Path(p).stem)) for p in DEFAULT_PRODUCTS])
    return load_project(Path("."), cfg)


def test_one_view_per_sensor_says_its_bus_and_every_address() -> None:
    p = _tray()
    board = p.boards[0]
    views = {v.name: v for v in sensor_views(board, p.soc, p.catalog)}
    assert list(views) == [s.name for s in board.sensors]
    got = {n: (v.bus, v.reg, v.node, v.em_bus, v.address, v.inventory_address) for n, v in views.items()}
    assert got["inlet_temp"] == ("i2c", (0x48,), "temperature-sensor@48", 0, "0x48", "0x48")
    # an I3C target: static address and PID in reg; it answers at its assigned address; the I3C
    # buses are numbered after the I2C ones
    i2c = sum(c.kind == "i2c" for c in p.soc.peripherals.values())
    assert got["gpu0_temp"] == ("i3c", (0x48, 0x0236, 0x152A0090), "temperature-sensor@4800000236152a0090", i2c,
                                "0x09", "0x09")
    # known only by its PID: static address 0, the PID as its address text
    assert got["gpu1_temp"][:2] == ("i3c", (0, 0x0236, 0x152A0091)) and got["gpu1_temp"][4] == "0x0236152a0091"
    # legacy I2C devices on I3C: <address 0 lvr>, the kind's LVR unless the board gives one
    assert got["gpu0_power"][:2] == ("i2c-on-i3c", (0x40, 0, 0x10))
    assert got["nvswitch_current"][:2] == ("i2c-on-i3c", (0x44, 0, 0x50))
    assert {v.bus for v in views.values()} == {"i2c", "i3c", "i2c-on-i3c"}


def test_devicetree_entity_manager_and_inventory_print_the_view() -> None:
    p = _tray()
    board = p.boards[0]
    files = render.render(p)
    dts = files[f"{Z}/boards/cmu/cmu610_gpu_tray/cmu610_gpu_tray_cmu610_cpu1.dts"]
    em = json.loads(files[f"meta-cmu610/recipes-phosphor/configuration/files/{board.name}.json"])
    exposes = {e["Name"]: e for e in em["Exposes"]}
    inventory = {i.name: i for i in firmware.inventory(board, p.soc, p.catalog)}
    for v in sensor_views(board, p.soc, p.catalog):
        assert f"{v.name}: {v.node} {{" in dts
        assert f"reg = <{' '.join(f'{c:#x}' for c in v.reg)}>;" in dts.split(f"{v.name}: {v.node}")[1].split("};")[0]
        assert (exposes[v.label]["Bus"], exposes[v.label]["Address"]) == (v.em_bus, v.address)
        assert (inventory[v.name].bus, inventory[v.name].address) == (v.controller, v.inventory_address)
