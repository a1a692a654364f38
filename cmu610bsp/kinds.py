"""What each peripheral kind is, in one table: its devicetree node, its Zephyr binding, what its
node needs from the SoC file, and what a board may use it for.

Validation (`validate.py`), the render views (`views.py`) and the templates (through the views)
read this table; a new kind is one entry here (and its name in `model.PeripheralKind`).
Whether a block is secure-only is a property of the instance (the SoC file's `secure_only`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cmu610bsp.model import PeripheralKind


@dataclass(frozen=True)
class Kind:
    """One peripheral kind, for every consumer."""

    node: str                      # devicetree generic node name (devicetree spec 0.4, 2.2.2)
    binding_dir: str               # dts/bindings/<dir> of the binding for a vendor compatible
    feature: str | None = None     # twister's name for what a domain owning it can test
    needs: str | None = None       # the Peripheral field its node (or its users) must have
    console: bool = False          # a domain's console can be one
    ncsi: bool = False             # may talk to the host's NIC over NC-SI


KINDS: dict[PeripheralKind, Kind] = {
    "uart": Kind("serial", "serial", "serial", "clock_frequency", console=True),
    "i2c": Kind("i2c", "i2c", "i2c", "clock_frequency"),
    "i3c": Kind("i3c", "i3c", "i3c"),
    "adc": Kind("adc", "adc", "adc", "channels"),
    "gpio": Kind("gpio", "gpio", "gpio", "ngpios"),
    "pwm": Kind("pwm", "pwm", "pwm", "channels"),
    "tach": Kind("tach", "sensor", None, "channels"),
    "watchdog": Kind("watchdog", "watchdog", "watchdog"),
    "ethernet": Kind("ethernet", "ethernet", "netif", ncsi=True),
    "flash-controller": Kind("flash-controller", "flash_controller", "flash"),
    "mailbox": Kind("mailbox", "mbox"),
    "rot": Kind("security", "crypto"),
    "crypto": Kind("crypto", "crypto"),
    "otp": Kind("efuse", "mtd"),
    "keystore": Kind("keystore", "crypto"),
    "iopmp": Kind("iopmp", "mm"),
}
