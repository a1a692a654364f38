"""What each peripheral kind is, in one table: its devicetree node, its Zephyr binding, what its
node needs from the SoC file, and what a board may use it for.

Validation (`validate.py`), the render views (`zephyr.py`) and the templates (through the views)
read this table; a new kind is one entry here (and its name in `model.PeripheralKind`).
Whether a block is secure-only is a property of the instance (the SoC file's `secure_only`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cmu610bsp.model import PeripheralKind


@dataclass(frozen=True)
class Cells:
    """A provider's specifier cells: `#<name>-cells` in its node, their names in its binding."""

    name: str                      # "gpio": "#gpio-cells" and "gpio-cells:"
    names: tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    """One peripheral kind, for every consumer: the devicetree node and the Zephyr binding are
    rendered from these fields alone (templates/dts/_macros.j2, templates/zephyr/binding.yaml.j2)."""

    node: str                      # devicetree generic node name (devicetree spec 0.4, 2.2.2)
    binding_dir: str               # dts/bindings/<dir> of the binding for a vendor compatible
    feature: str | None = None     # twister's name for what a domain owning it can test
    needs: str | None = None       # the Peripheral field its node (or its users) must have
    console: bool = False          # a domain's console can be one
    ncsi: bool = False             # may talk to the host's NIC over NC-SI (binding: use-ncsi)
    include: tuple[str, ...] = ("base.yaml",)   # what its Zephyr binding includes
    bus_cells: tuple[int, int] | None = None    # #address-cells, #size-cells of a bus controller
    controller: str | None = None  # its boolean controller property ("gpio-controller")
    cells: Cells | None = None     # a provider's specifier cells
    counted: bool = False          # its node carries `needs` as a property (ngpios)
    clocked: bool = False          # its node carries clock-frequency
    reg_shift: int | None = None


KINDS: dict[PeripheralKind, Kind] = {
    "uart": Kind("serial", "serial", "serial", "clock_frequency", console=True, clocked=True, reg_shift=2),
    "i2c": Kind("i2c", "i2c", "i2c", "clock_frequency", include=("i2c-controller.yaml",), bus_cells=(1, 0),
                clocked=True),
    "i3c": Kind("i3c", "i3c", "i3c", include=("i3c-controller.yaml",), bus_cells=(3, 0)),
    "adc": Kind("adc", "adc", "adc", "channels", include=("adc-controller.yaml",), cells=Cells("io-channel", ("input",))),
    "gpio": Kind("gpio", "gpio", "gpio", "ngpios", include=("gpio-controller.yaml", "base.yaml"),
                 controller="gpio-controller", cells=Cells("gpio", ("pin", "flags")), counted=True),
    "pwm": Kind("pwm", "pwm", "pwm", "channels", include=("pwm-controller.yaml", "base.yaml"),
                cells=Cells("pwm", ("channel", "period", "flags"))),
    "tach": Kind("tach", "sensor", None, "channels"),
    "watchdog": Kind("watchdog", "watchdog", "watchdog"),
    "ethernet": Kind("ethernet", "ethernet", "netif", ncsi=True, include=("ethernet-controller.yaml",)),
    "flash-controller": Kind("flash-controller", "flash_controller", "flash"),
    "mailbox": Kind("mailbox", "mbox"),
    "rot": Kind("security", "crypto"),
    "crypto": Kind("crypto", "crypto"),
    "otp": Kind("efuse", "mtd"),
    "keystore": Kind("keystore", "crypto"),
    "iopmp": Kind("iopmp", "mm"),
}
