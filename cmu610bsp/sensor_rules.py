"""Cross-field rules of a board's sensors: the bus each sits on, its address, channel, provisioned
ID or LVR, and what must be unique per bus. Part of `validate.check_board`.

A sensor kind's `bus` says what the part is (catalog: configs/catalog/sensor-kinds.yaml):
- `i2c`: an I2C part, on an I2C controller or as a legacy I2C device on an I3C controller (then it
  needs its Legacy Virtual Register, `lvr`, from the sensor or its kind);
- `i3c`: an I3C target, only on an I3C controller, with a static address, a provisioned ID (`pid`,
  48 bits) or both, and optionally the dynamic address to assign (`assigned_address`);
- `adc`: a channel of an ADC block.
On one bus, every 7-bit address (I2C, static, assigned) and every PID is used once.
"""

from __future__ import annotations

from cmu610bsp import i3c
from cmu610bsp.errors import Finding, shown
from cmu610bsp.model import Board, Catalog, Sensor, SensorKind, Soc

# the controller kinds each part's bus may sit on
ACCEPTED = {"i2c": ("i2c", "i3c"), "i3c": ("i3c",), "adc": ("adc",)}


def bus_finding(soc: Soc, owner: dict[str, str], bus: str, kinds: tuple[str, ...], where: str, f: str,
                what: str) -> Finding | None:
    """A device must sit on an existing block of an accepted kind that the BMC domain owns."""
    p = soc.peripherals.get(bus)
    if p is None:
        return Finding(f, where, f"unknown {' or '.join(kinds)} {bus!r} (not in the SoC description)")
    if p.kind not in kinds:
        return Finding(f, where, f"{bus} is of kind {p.kind}; a {what} needs a block of kind {' or '.join(kinds)}")
    if bus not in owner:
        return Finding(f, where, f"{bus} is disabled on this board (no domain owns it)")
    if owner[bus] != "bmc":
        return Finding(f, where, f"{bus} is owned by the {owner[bus]} domain, not the BMC domain")
    return None


_Taken = dict[tuple[str, str, int], str]   # (bus, "address" or "PID", value) -> sensor name


def _claim(taken: _Taken, s: Sensor, what: str, value: int, where: str, f: str) -> list[Finding]:
    """Give `value` (a 7-bit address or a PID) on the sensor's bus to it, unless already given."""
    key = (s.bus, what, value)
    if key in taken:
        shown = i3c.pid_text(value) if what == "PID" else f"{value:#x}"
        return [Finding(f, where, f"{s.bus} {what} {shown} is already used by {taken[key]}")]
    taken[key] = s.name
    return []


def check_sensors(board: Board, soc: Soc, catalog: Catalog, owner: dict[str, str], f: str) -> list[Finding]:
    out: list[Finding] = []
    names: set[str] = set()
    labels: dict[str, tuple[str, str]] = {}
    use: _Taken = {}
    for i, s in enumerate(board.sensors):
        where = f"sensors[{i}]"
        if s.name in names:
            out.append(Finding(f, f"{where}.name", f"sensor name {s.name!r} is used twice"))
        names.add(s.name)
        # the label is entity-manager's Name, whose D-Bus path has '_' for ' ': one per board
        dbus = s.label.replace(" ", "_")
        if dbus in labels:
            other, name = labels[dbus]
            out.append(Finding(f, f"{where}.label", f"{s.name}'s label {shown(s.label)} is also the label of "
                               f"{other} ({name}): two entity-manager sensors with one Name"))
        else:
            labels[dbus] = (f"{where}.label", s.name)
        kind = catalog.sensor_kinds.get(s.kind)
        if kind is None:
            known = ", ".join(sorted(catalog.sensor_kinds))
            out.append(Finding(f, f"{where}.kind", f"unknown sensor kind {s.kind!r} (known: {known})"))
            continue
        bad = bus_finding(soc, owner, s.bus, ACCEPTED[kind.bus], f"{where}.bus", f, f"sensor of kind {s.kind}")
        if bad:
            out.append(bad)
            continue
        on_i3c = soc.peripherals[s.bus].kind == "i3c"
        out += _stray_fields(s, kind.bus == "i3c", kind.bus == "i2c" and on_i3c, where, f)
        if kind.bus == "i3c":
            out += _i3c_target(s, kind, where, f, use)
        elif kind.bus == "i2c":
            out += _i2c_device(s, kind, on_i3c, where, f, use)
        else:
            out += _adc_channel(s, soc, where, f, use)
        t = s.thresholds
        order = [v for v in (t.critical_low, t.warning_low, t.warning_high, t.critical_high) if v is not None]
        if order != sorted(order):
            out.append(Finding(f, f"{where}.thresholds",
                               "thresholds must rise: critical_low <= warning_low <= warning_high <= critical_high"))
    return out


def _stray_fields(s: Sensor, target: bool, legacy: bool, where: str, f: str) -> list[Finding]:
    """Fields that say something only of an I3C target, or of an I2C part on an I3C bus."""
    out = []
    if s.pid is not None and not target:
        out.append(Finding(f, f"{where}.pid", "only an I3C target has a provisioned ID"))
    if s.assigned_address is not None and not target:
        out.append(Finding(f, f"{where}.assigned_address", "only an I3C target is assigned a dynamic address"))
    if s.lvr is not None and not legacy:
        out.append(Finding(f, f"{where}.lvr", "only an I2C device on an I3C bus has a legacy virtual register"))
    return out


def _in_range(s: Sensor, kind: SensorKind, address: int, where: str, f: str) -> list[Finding]:
    lo, hi = [*kind.addresses, 0x08, 0x77][:2] if kind.addresses else (0x08, 0x77)
    if not lo <= address <= hi:
        return [Finding(f, where, f"{address:#x} is outside {lo:#x}..{hi:#x}, where a sensor of kind {s.kind} answers")]
    return []


def _on_i3c(address: int, where: str, f: str) -> list[Finding]:
    why = i3c.address_problem(address)
    return [Finding(f, where, why)] if why else []


def _i3c_target(s: Sensor, kind: SensorKind, where: str, f: str, use: _Taken) -> list[Finding]:
    out: list[Finding] = []
    if s.address is None and s.pid is None:
        out.append(Finding(f, where, "an I3C target needs a static address (address), a provisioned ID (pid) or both"))
    if s.address is not None:
        out += _in_range(s, kind, s.address, f"{where}.address", f) or _on_i3c(s.address, f"{where}.address", f)
        out += _claim(use, s, "address", s.address, f"{where}.address", f)
    if s.assigned_address is not None:
        out += _on_i3c(s.assigned_address, f"{where}.assigned_address", f)
        if s.assigned_address != s.address:
            out += _claim(use, s, "address", s.assigned_address, f"{where}.assigned_address", f)
    if s.pid is not None:
        if s.pid >> i3c.PID_BITS:
            out.append(Finding(f, f"{where}.pid", f"{s.pid:#x} is not a {i3c.PID_BITS}-bit provisioned ID"))
        else:
            out += _claim(use, s, "PID", s.pid, f"{where}.pid", f)
    return out


def _i2c_device(s: Sensor, kind: SensorKind, on_i3c: bool, where: str, f: str, use: _Taken) -> list[Finding]:
    if s.address is None:
        return [Finding(f, f"{where}.address", f"a sensor of kind {s.kind} needs its I2C address")]
    out = _in_range(s, kind, s.address, f"{where}.address", f)
    if on_i3c:
        out = out or _on_i3c(s.address, f"{where}.address", f)
        lvr = s.lvr if s.lvr is not None else kind.lvr
        if lvr is None:
            out.append(Finding(f, f"{where}.lvr", f"a sensor of kind {s.kind} on the I3C bus {s.bus} is a legacy "
                               "I2C device: give its legacy virtual register (lvr) here or in its sensor kind, "
                               f"{i3c.LVR_MEANING}"))
        else:
            why = i3c.lvr_problem(lvr)
            if why:
                out.append(Finding(f, f"{where}.lvr", why + ("" if s.lvr is not None else f" (sensor kind {s.kind})")))
    return out + _claim(use, s, "address", s.address, f"{where}.address", f)


def _adc_channel(s: Sensor, soc: Soc, where: str, f: str, use: _Taken) -> list[Finding]:
    if s.address is None:
        return [Finding(f, f"{where}.address", f"a sensor of kind {s.kind} needs its channel (address)")]
    channels = soc.peripherals[s.bus].channels or 0
    if s.address >= channels:
        return [Finding(f, f"{where}.address", f"channel {s.address} does not exist ({s.bus} has {channels})")]
    return _claim(use, s, "address", s.address, f"{where}.address", f)
