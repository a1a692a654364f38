"""I3C addressing as Zephyr 4.0's bindings model it (dts/bindings/i3c/i3c-device.yaml), in one place
for the rules (`sensor_rules.py`) and the sensor views (`sensors.py`).

A device on an I3C controller (`#address-cells = <3>`, `#size-cells = <0>`) has a three-cell reg:
- an I3C target: `<static-address pid-high pid-low>`: static address 0 when it has none (the
  controller gives it one by DAA), the provisioned ID's upper 16 and lower 32 bits (0 0 when the
  description gives none);
- a legacy I2C device: `<address 0 lvr>`, LVR being its Legacy Virtual Register.
Its unit address is the three cells as one hexadecimal number, as in Zephyr's examples
(`p3t1755@4800000236152a0090`), without leading zeros (dtc's unit_address_format check).
"""

from __future__ import annotations

PID_BITS = 48
# 7-bit addresses a device may answer at on an I3C bus: 0x00-0x07 and 0x78-0x7f are reserved, and
# so are the addresses one bit away from the broadcast address 0x7e (MIPI I3C, "I3C Address Restrictions").
FIRST_ADDRESS, LAST_ADDRESS = 0x08, 0x77
RESERVED = frozenset(0x7E ^ (1 << bit) for bit in range(7)) | {0x7E}


def address_problem(address: int) -> str | None:
    """Why a 7-bit address cannot be used on an I3C bus, or None."""
    if not FIRST_ADDRESS <= address <= LAST_ADDRESS:
        return f"{address:#04x} is outside {FIRST_ADDRESS:#04x}..{LAST_ADDRESS:#04x}, the addresses an I3C bus may use"
    if address in RESERVED:
        return f"{address:#04x} is reserved on an I3C bus (one bit away from the broadcast address 0x7e)"
    return None


# A legacy I2C device's Legacy Virtual Register (MIPI I3C; Linux's I3C_LVR_*): one byte, bits 7:5
# its I2C index (0: it has a 50 ns spike filter; 1: it has none but works with I3C's fast SCL;
# 2: it has none and does not), bit 4 its I2C mode (1: Fm, 400 kHz; 0: Fm+, 1 MHz), bits 3:0
# reserved (zero). Indexes 3-7 are reserved too: six values are valid.
LVR_VALUES = tuple(index << 5 | fm << 4 for index in range(3) for fm in (0, 1))
LVR_MEANING = ("the MIPI I3C LVR, one byte: bits 7:5 the I2C index (0: the device has a 50 ns spike filter; "
               "1: none, but it works with I3C's fast SCL; 2: none, and it does not), bit 4 the I2C mode "
               "(1: Fm, 400 kHz; 0: Fm+, 1 MHz), bits 3:0 zero; one of "
               + ", ".join(f"{v:#04x}" for v in LVR_VALUES) + " (0x10: index 0, Fm)")


def lvr_problem(lvr: int) -> str | None:
    """Why a value is not a Legacy Virtual Register, saying which values are, or None."""
    if lvr not in LVR_VALUES:
        return f"{lvr:#x} is not a legacy virtual register value: {LVR_MEANING}"
    return None


def pid_text(pid: int) -> str:
    """A provisioned ID as its six bytes in hex: 0x0236152a0090."""
    return f"{pid:#014x}"


def target_reg(static_address: int | None, pid: int | None) -> tuple[int, int, int]:
    """The reg cells of an I3C target."""
    p = pid or 0
    return (static_address or 0, p >> 32, p & 0xFFFFFFFF)


def legacy_reg(address: int, lvr: int) -> tuple[int, int, int]:
    """The reg cells of a legacy I2C device on an I3C bus."""
    return (address, 0, lvr)


def unit_address(reg: tuple[int, ...]) -> str:
    """A node's unit address: its 32-bit reg cells as one number, in hex (one cell on I2C)."""
    value = 0
    for cell in reg:
        value = value << 32 | cell
    return f"{value:x}"
