"""One view per sensor of a board, decided here once: which bus it is on (an ADC channel, an I2C
device, an I3C target, or a legacy I2C device on an I3C bus) and every way the generated files say
where it is: its devicetree reg cells, node name and unit address, entity-manager's Bus and Address
(or Index), the inventory's address, with what it measures (unit, thresholds, label).

The devicetree (zephyr.py), entity-manager's configuration (entity_manager.py), the firmware's
inventory and the smoke spec built from it (firmware.py), the PLDM PDR repository (pdr.py) and
the QEMU twin's emulated devices (sensor_twin.py) read these views. What a reading is (its unit,
the value the twin starts at, the range the smoke accepts, the value that crosses critical_high)
is decided here too, once, in the unit the firmware reports: thousandths of the quantity's unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from cmu610bsp import i3c
from cmu610bsp.model import Board, Catalog, Sensor, SensorKind, Soc, Thresholds

# adc: a channel of an ADC block; i2c: an I2C device on an I2C bus; i3c: an I3C target;
# i2c-on-i3c: a legacy I2C device on an I3C bus (validated by sensor_rules.py)
BusKind = Literal["adc", "i2c", "i3c", "i2c-on-i3c"]


@dataclass(frozen=True)
class Unit:
    """A quantity as DSP0248 names it (baseUnit) and the range a board sensor of it plausibly reads."""

    code: int        # DSP0248 Table 74 baseUnit: 2 degrees C, 5 volts, 6 amps, 7 watts
    symbol: str      # what the firmware prints after a value
    low: float       # plausible range when the description gives no threshold on that side
    high: float


UNITS = {"temperature": Unit(2, "C", 0.0, 125.0), "voltage": Unit(5, "V", 0.0, 60.0),
         "current": Unit(6, "A", 0.0, 100.0), "power": Unit(7, "W", 0.0, 2000.0)}


def milli(value: float) -> int:
    """A value in thousandths of its unit, as the PDRs and the firmware carry readings."""
    return round(value * 1000)


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
    def quantity(self) -> Unit:
        return UNITS[self.kind.unit]

    def _given(self, *names: str) -> list[float]:
        return [v for n in names if (v := getattr(self.thresholds, n)) is not None]

    @property
    def normal_band(self) -> tuple[float, float]:
        """Between the highest low threshold and the lowest high one (the unit's plausible range
        on a side without one)."""
        lows, highs = self._given("warning_low", "critical_low"), self._given("warning_high", "critical_high")
        return max(lows, default=self.quantity.low), min(highs, default=self.quantity.high)

    @property
    def nominal(self) -> int:
        """The reading the QEMU twin starts at: the middle of the normal band (milli-units)."""
        lo, hi = self.normal_band
        return milli((lo + hi) / 2)

    @property
    def plausible(self) -> tuple[int, int]:
        """What a smoke accepts as a reading: between the critical thresholds, else the unit's range."""
        t, q = self.thresholds, self.quantity
        low = t.critical_low if t.critical_low is not None else min([q.low, *self._given("warning_low")])
        high = t.critical_high if t.critical_high is not None else max([q.high, *self._given("warning_high")])
        return milli(low), milli(high)

    @property
    def crossing(self) -> int | None:
        """A value above critical_high that reads back critical (the next whole unit past 110 %
        of it), or None without a critical_high."""
        high = self.thresholds.critical_high
        if high is None:
            return None
        return milli(float(math.floor(high * 1.1 if high > 0 else high + 1) + 1))

    @property
    def needed(self) -> tuple[int, int]:
        """The readings this sensor must be able to show (milli-units): its thresholds, the value
        the twin starts at, the crossing value."""
        values = [milli(v) for v in self._given("critical_low", "warning_low", "warning_high", "critical_high")]
        values += [self.nominal] + ([c] if (c := self.crossing) is not None else [])
        return min(values), max(values)

    @property
    def readable(self) -> tuple[int, int]:
        """The PDR's minReadable and maxReadable: the unit's plausible range and what is needed."""
        lo, hi = self.needed
        return min(lo, milli(self.quantity.low)), max(hi, milli(self.quantity.high))

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
