"""The QEMU twin's sensors: each sensor of the description is an emulated device on an emulated bus
at its address, read through Zephyr's sensor API by the same firmware as on the chip, its reading
settable from the BMC's shell (`twin set`) through the emulator's backdoor.

QEMU virt has no I2C, I3C or ADC controller: every bus the description puts a sensor on becomes a
Zephyr emulated bus (`zephyr,i2c-emul-controller` for an I2C or I3C controller; Zephyr 4.0 has no
I3C emulator, so an I3C bus's targets answer on an emulated I2C bus at the address they would get:
assigned, else static, else the lowest free one), every ADC a `zephyr,adc-emul` whose channels
feed Zephyr's `voltage-divider` sensor. Which emulator serves which sensor kind is data in the
catalogue (`twin:` of configs/catalog/sensor-kinds.yaml): the part's own driver with an emulator
(ti,ina230: the real driver, its emulator from Zephyr's test tree), or a stand-in of the same
quantity where Zephyr 4.0 has neither (fintek,f75303 for the temperature parts). EMULATORS is what
the firmware can drive; a kind with no emulator is refused when the catalogue is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp.errors import Finding
from cmu610bsp.model import Catalog, Soc
from cmu610bsp.sensors import SensorView

ADC_REF_MV = 3300      # the emulated ADC's internal reference
ADC_RESOLUTION = 12
ADC_HEADROOM = 0.9     # the highest reading a divider is chosen for lands at 90 % of the reference
DIVIDER_OUTPUT_OHMS = 1000
INA230_POWER_SCALE = 25          # the INA230's power LSB is 25 current LSBs
FIRST_DYNAMIC_ADDRESS = 0x08     # where an I3C target with neither static nor assigned address goes


@dataclass(frozen=True)
class Emulator:
    """A Zephyr 4.0 emulator the BMC firmware knows how to move (its `backdoor`)."""

    compatible: str
    backdoor: str                # sensor-backend | ina230-registers | adc-divider (the firmware's switch)
    units: tuple[str, ...]       # the quantities it can stand in for
    bus: str                     # i2c (an emulated I2C device) | adc (a divider on an emulated ADC)
    emul: bool                   # it is a Zephyr emulator (EMUL_DT_GET) rather than a plain device
    low: float | None = None     # the fixed range of what it can report, if it has one
    high: float | None = None


EMULATORS = {e.compatible: e for e in (
    Emulator("fintek,f75303", "sensor-backend", ("temperature",), "i2c", True, 0.0, 255.875),
    Emulator("ti,ina230", "ina230-registers", ("power", "current"), "i2c", True),
    Emulator("voltage-divider", "adc-divider", ("voltage",), "adc", False),
)}
BACKDOORS = ("sensor-backend", "ina230-registers", "adc-divider")   # the binding's enum, in this order


@dataclass(frozen=True)
class TwinSensor:
    """One sensor as the twin's BMC devicetree holds it."""

    view: SensorView
    emulator: Emulator
    controller: str                      # the description's bus it stands for (i2c0, i3c1, adc0)
    address: int | None                  # on the emulated I2C bus; None for an ADC channel
    properties: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        return self.view.name

    @property
    def stand_in(self) -> bool:
        return self.emulator.compatible != self.view.kind.compatible


def check_catalog(catalog: Catalog, path: Path) -> list[Finding]:
    """Every kind has an emulator the firmware can drive, of its quantity and its kind of bus."""
    out = []
    for name, kind in sorted(catalog.sensor_kinds.items()):
        where = f"sensor_kinds.{name}.twin"
        emulators = ", ".join(f"{e.compatible} ({'/'.join(e.units)})" for e in EMULATORS.values())
        e = EMULATORS.get(kind.twin or "")
        if kind.twin is None:
            out.append(Finding(str(path), where, f"{name} has no Zephyr driver with an emulator and no stand-in: the QEMU "
                               f"twin could not read it; name the emulator that serves it ({emulators})"))
        elif e is None:
            out.append(Finding(str(path), where, f"{kind.twin}: not an emulator the firmware can drive ({emulators})"))
        elif kind.unit not in e.units:
            out.append(Finding(str(path), where, f"{kind.twin} stands in for {'/'.join(e.units)}; {name} measures {kind.unit}"))
        elif (e.bus == "adc") != (kind.bus == "adc"):
            out.append(Finding(str(path), where, f"{kind.twin} is {'an ADC channel' if e.bus == 'adc' else 'a bus device'}; "
                               f"{name} is {'an ADC channel' if kind.bus == 'adc' else 'a bus device'}"))
    return out


def _free_address(taken: set[int]) -> int:
    return next(a for a in range(FIRST_DYNAMIC_ADDRESS, 0x78) if a not in taken)


def twin_sensors(views: list[SensorView]) -> list[TwinSensor]:
    """Every sensor of the description on the twin, in the description's order."""
    taken: dict[str, set[int]] = {}
    for v in views:
        at = _twin_address(v)
        if at is not None:
            taken.setdefault(v.controller, set()).add(at)
    out = []
    for v in views:
        e = EMULATORS[v.kind.twin or ""]
        at = _twin_address(v)
        if at is None and v.bus != "adc":
            at = _free_address(taken.setdefault(v.controller, set()))
            taken[v.controller].add(at)
        out.append(TwinSensor(v, e, v.controller, at, _properties(v, e)))
    return out


def _twin_address(v: SensorView) -> int | None:
    """The address it answers at on its emulated bus, when the description gives one."""
    s = v.sensor
    if v.bus == "adc":
        return None
    if v.bus == "i3c":
        return s.assigned_address if s.assigned_address is not None else s.address
    return s.address


def _properties(v: SensorView, e: Emulator) -> tuple[tuple[str, int], ...]:
    """The emulated device's devicetree properties, scaled so that every value the sensor must
    show (sensors.SensorView.needed) fits what the driver reads."""
    top = max(abs(x) for x in v.needed) / 1000
    if e.backdoor == "ina230-registers":
        # power = register (16 bits) x 25 x current LSB; current = register (15 bits and sign) x LSB
        full = 65535 * INA230_POWER_SCALE if v.kind.unit == "power" else 32767
        lsb = max(1, math.ceil(top * 1_000_000 / full))
        # the calibration register (0.00512 / (current LSB x shunt)) must fit its 15 bits
        shunt = max(1, math.ceil(5_120_000_000 / (lsb * 32767)))
        return (("current-lsb-microamps", lsb), ("rshunt-micro-ohms", shunt))
    if e.backdoor == "adc-divider":
        full = math.ceil(top * 1000 * DIVIDER_OUTPUT_OHMS / (ADC_REF_MV * ADC_HEADROOM))
        return (("output-ohms", DIVIDER_OUTPUT_OHMS), ("full-ohms", max(full, DIVIDER_OUTPUT_OHMS)))
    return ()


def emulated_buses(sensors: list[TwinSensor], soc: Soc) -> list[tuple[str, str, list[TwinSensor]]]:
    """(controller, emulated kind i2c|adc, its sensors by address or channel) for every bus the
    description puts a sensor on, in controller order."""
    buses: dict[str, list[TwinSensor]] = {}
    for t in sensors:
        buses.setdefault(t.controller, []).append(t)
    order = sorted(buses, key=lambda c: (soc.peripherals[c].base, c))
    return [(c, "adc" if soc.peripherals[c].kind == "adc" else "i2c",
             sorted(buses[c], key=lambda t: (t.address or 0, t.view.channel or 0))) for c in order]
