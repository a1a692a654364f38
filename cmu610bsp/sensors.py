"""One view per sensor of a board, decided here once: which bus it is on (an ADC channel, an I2C
device, an I3C target, or a legacy I2C device on an I3C bus) and every way the generated files say
where it is: its devicetree reg cells, node name and unit address, entity-manager's Bus and Address
(or Index), the inventory's address, with what it measures (unit, thresholds, label).

The devicetree (zephyr.py), entity-manager's configuration (entity_manager.py), the firmware's
inventory and the smoke spec built from it (firmware.py) read these views; a new consumer of the
sensors (a PLDM PDR repository, one numeric sensor PDR per sensor) is one more reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cmu610bsp import i3c
from cmu610bsp.model import Board, Catalog, Sensor, SensorKind, Soc, Thresholds

# adc: a channel of an ADC block; i2c: an I2C device on an I2C bus; i3c: an I3C target;
# i2c-on-i3c: a legacy I2C device on an I3C bus (validated by sensor_rules.py)
BusKind = Literal["adc", "i2c", "i3c", "i2c-on-i3c"]


@dataclass(frozen=True)
class SensorView:
    sensor: Sensor
    kind: SensorKind
    bus: BusKind
    reg: tuple[int, ...]   # its devicetree reg cells on its bus: one on I2C, three on I3C, none for a channel
    em_bus: int | None     # entity-manager's Bus: its controller's number (none for an ADC channel)

    @property
    def name(self) -> str:
        return self.sensor.name

    @property
    def label(self) -> str:
        return self.sensor.label

    @property
    def controller(self) -> str:
        """The block it sits on: adc0, i2c1, i3c0."""
        return self.sensor.bus

    @property
    def unit(self) -> str:
        return self.kind.unit

    @property
    def thresholds(self) -> Thresholds:
        return self.sensor.thresholds

    @property
    def channel(self) -> int | None:
        """An ADC sensor's channel."""
        return self.sensor.address if self.bus == "adc" else None

    @property
    def dt_properties(self) -> list[tuple[str, int]]:
        return sorted(self.kind.dt_properties.items())

    @property
    def node(self) -> str:
        """Its devicetree node's name: `<unit>-<name>` for a channel, `<unit>-sensor@<unit address>`
        for a bus device."""
        if self.bus == "adc":
            return f"{self.unit}-{self.name.replace('_', '-')}"
        return f"{self.unit}-sensor@{i3c.unit_address(self.reg)}"

    @property
    def address(self) -> str | None:
        """A bus device's address as entity-manager's Address and the inventory give it: the 7-bit
        address it answers at (an I3C target: its assigned dynamic address, else its static one);
        an I3C target known only by its provisioned ID: the six-byte PID, as entity-manager's
        MCTPI3CTarget record gives an I3C device's Address. None for an ADC channel."""
        if self.bus == "adc":
            return None
        s = self.sensor
        at = s.assigned_address if s.assigned_address is not None else s.address
        return i3c.pid_text(s.pid or 0) if at is None else f"{at:#04x}"

    @property
    def inventory_address(self) -> str:
        """What the firmware's inventory lists: the bus address, or `ch<N>` for a channel."""
        return f"ch{self.channel}" if self.channel is not None else str(self.address)


def bus_number(name: str, soc: Soc) -> int:
    """The bus number entity-manager is given for a controller, from the index at the end of its
    name: i2cN is N; the I3C controllers follow the I2C ones (i3cN is the SoC's I2C count + N).
    This is the layer's own numbering, chosen so an I2C and an I3C bus never share a number: it
    matches Linux's adapter numbers only when those are pinned the same way (not generated yet)."""
    m = re.search(r"(\d+)$", name)
    index = int(m.group(1)) if m else 0
    if soc.peripherals[name].kind == "i3c":
        return sum(p.kind == "i2c" for p in soc.peripherals.values()) + index
    return index


def view(s: Sensor, soc: Soc, catalog: Catalog) -> SensorView:
    kind = catalog.sensor_kinds[s.kind]
    if kind.bus == "adc":
        return SensorView(s, kind, "adc", (), None)
    if kind.bus == "i3c":
        return SensorView(s, kind, "i3c", i3c.target_reg(s.address, s.pid), bus_number(s.bus, soc))
    address = s.address or 0
    if soc.peripherals[s.bus].kind == "i3c":
        lvr = s.lvr if s.lvr is not None else kind.lvr or 0
        return SensorView(s, kind, "i2c-on-i3c", i3c.legacy_reg(address, lvr), bus_number(s.bus, soc))
    return SensorView(s, kind, "i2c", (address,), bus_number(s.bus, soc))


def sensor_views(board: Board, soc: Soc, catalog: Catalog) -> list[SensorView]:
    """The board's sensors, in the description's order."""
    return [view(s, soc, catalog) for s in board.sensors]
