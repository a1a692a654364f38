"""The board's own firmware: what the generated devicetrees tell the two Zephyr applications of the
layer's module (meta-cmu610/zephyr/apps/secure and apps/bmc), each product line's Kconfig fragment
of the BMC application, and the smoke spec that checks both on the board's QEMU twin.

The applications hold no board data: they read the `cmu610_firmware` node (board, domain, hart,
the devices the domain owns), the `cmu610_mctp` node (their MCTP endpoint: EIDs, the shared window,
the peer), in the secure domain the `cmu610_images` node (the firmware partitions whose image
versions GetFirmwareParameters reports) and in the BMC domain the `cmu610_inventory` node (one
child per sensor and fan of the description) and the `cmu610_sensors` node (one child per sensor:
its PLDM PDR, pdr.py, and on the QEMU twin its emulated device). Like `zephyr.py`, this decides
and the templates print; the smoke spec (smoke_spec.py) is built from the same data, so the spec
and the firmware's output are two renderings of one description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cmu610bsp import components, escape, mctp, pdr, sensor_twin
from cmu610bsp.model import Board, Catalog, Product, Soc
from cmu610bsp.sensors import sensor_views

# The applications, in hart order of their domains; the BMC one takes the line's fragment.
APPS = ("secure", "bmc")
APP_SOURCES = {"secure": ("src/main.c", "src/pldm_responder.c", "src/pldm_responder.h"),
               "bmc": ("src/main.c", "src/inventory.c", "src/sensors.c", "src/sensors.h", "src/twin.c",
                       "src/pldm_requester.c", "src/pldm_requester.h")}
COMMON_SOURCES = ("common/banner.c", "common/cmu610_firmware.h", "common/cmu610_mctp.c", "common/cmu610_mctp.h",
                  "common/mctp_shm.c", "common/mctp_shm.h", "common/cmu610_image.c", "common/cmu610_image.h",
                  "common/cmu610_confirm.c", "common/cmu610_confirm.h",
                  "common/compat/memmem.c", "common/compat/include/endian.h", "common/compat/include/stdint.h",
                  "common/compat/include/string.h", "common/compat/include/uchar.h")
# The layer's Zephyr module wrapping an OpenBMC component that has none (components.py: libmctp)
MODULE_SOURCES = ("modules/libmctp/zephyr/module.yml", "modules/libmctp/zephyr/CMakeLists.txt",
                  "modules/libmctp/zephyr/Kconfig")


@dataclass(frozen=True)
class InventoryItem:
    """One inventory entry: a child of the BMC domain's `cmu610_inventory` node."""

    node: str       # devicetree node name
    name: str       # the description's sensor or fan name
    bus: str        # controller it sits on (i2c0, i3c1, adc0, pwm0)
    address: str    # bus address (0x48), I3C PID, or channel (ch0) of an ADC sensor or a fan's PWM
    kind: str       # the catalogue's sensor kind, or "fan"
    fan: bool


@dataclass(frozen=True)
class FirmwareNode:
    """The `cmu610_firmware` node of one domain's tree."""

    soc: str
    board: str
    domain: str
    hart: int
    lines: list[str]
    devices: list[str]


def firmware_node(board: Board, soc: Soc, domain: str) -> FirmwareNode:
    dom = getattr(board.domains, domain)
    return FirmwareNode(soc.name, board.name, domain, dom.hart, list(board.product_lines), list(dom.peripherals))


def inventory(board: Board, soc: Soc, catalog: Catalog) -> list[InventoryItem]:
    """The description's sensors (their sensor views), then its fans, in the description's order."""
    out = []
    for s in sensor_views(board, soc, catalog):
        out.append(InventoryItem(f"sensor-{s.name.replace('_', '-')}", s.name, s.controller, s.inventory_address,
                        s.sensor.kind, False))
    for f in board.fans:
        out.append(InventoryItem(f"fan-{f.name.replace('_', '-')}", f.name, f.pwm, f"ch{f.pwm_channel}", "fan", True))
    return out


@dataclass(frozen=True)
class SensorNode:
    """A child of the BMC domain's `cmu610_sensors` node: what the firmware reads a sensor with."""

    node: str
    name: str
    pdr: bytes
    device: str | None       # the label of the device to read (the twin's emulated one); None on the
                             # chip, whose bus controllers (cmu,cmu610-*) have no Zephyr driver yet
    backdoor: str | None     # how the twin moves its reading (sensor_twin.BACKDOORS)
    emulator: bool           # the device is a Zephyr emulator (the firmware takes EMUL_DT_GET of it)


def sensor_nodes(board: Board, soc: Soc, catalog: Catalog, twin: bool) -> list[SensorNode]:
    """One per sensor, in the description's order (sensor ID and PDR record handle 1, 2, ...)."""
    views = sensor_views(board, soc, catalog)
    twins = {t.view.name: t for t in sensor_twin.twin_sensors(views)} if twin else {}
    out = []
    for record in pdr.repository(views):
        t = twins.get(record.name)
        out.append(SensorNode(f"sensor-{record.name.replace('_', '-')}", record.name, record.data,
                              t.label if t else None, t.emulator.backdoor if t else None,
                              bool(t and t.emulator.emul)))
    return out


@dataclass(frozen=True)
class MctpNode:
    """The `cmu610_mctp` node of one domain's tree: its endpoint and the window to its peer."""

    address: int
    size: int
    eid: int
    peer_eid: int
    peer_hart: int
    tid: int
    owner: bool                        # this side clears and marks the window (the secure domain)
    peer_components: tuple[str, ...]   # what the peer's GetFirmwareParameters components are (BMC side)


def firmware_images(board: Board) -> list[tuple[str, int, int, str]]:
    """(partition, offset, size, domain) of every firmware partition, in flash order: the components
    of the secure hart's GetFirmwareParameters, identifiers 1, 2, ..."""
    return [(p.name, p.offset, p.size, p.owner)
            for p in sorted(board.flash.partitions, key=lambda p: p.offset) if p.role == "firmware"]


def mctp_node(board: Board, soc: Soc, domain: str, twin: bool) -> MctpNode:
    ep = mctp.endpoints(board)
    peer = ep.peer(domain)
    images = tuple(name for name, *_ in firmware_images(board)) if domain == "bmc" else ()
    return MctpNode(ep.window.address(soc, twin), ep.window.size, ep.eid(domain), ep.eid(peer),
                    getattr(board.domains, peer).hart, mctp.TIDS[domain], domain == "secure", images)


def app_kconfig(product: Product | None) -> list[str]:
    """What the OpenBMC components an application takes need in its configuration: the secure
    application's (product None), or the line's BMC application's."""
    return components.kconfig(components.SECURE if product is None else components.for_line(product))


def version_parts(version: str) -> tuple[int, int, int]:
    """The tool's version as Zephyr's app VERSION file gives it (major, minor, patch level)."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"version {version!r} is not major.minor.patch")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


# A hex option's value as a description writes it: text, "0x1000" (a YAML number is written in
# decimal, which Kconfig would read as hex digits: 4096 as 0x4096)
HEX_VALUE = re.compile(r"0x[0-9a-fA-F]+")


def _kconfig_value(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, int):
        return str(value)
    if HEX_VALUE.fullmatch(value):
        return value
    return escape.kconfig(value)


def kconfig_lines(settings: Mapping[str, bool | int | str]) -> list[str]:
    """A description's Kconfig settings as fragment lines, sorted by symbol."""
    return [f"{k}={_kconfig_value(v)}" for k, v in sorted(settings.items())]


def feature_symbol(feature: str) -> str:
    return "CMU610_FEATURE_" + re.sub(r"[^A-Z0-9]", "_", feature.upper())


def features(products: tuple[Product, ...]) -> list[tuple[str, str]]:
    """Every feature any line names, as (symbol, feature): the BMC application's Kconfig options."""
    names = sorted({f for p in products for f in p.firmware.features})
    return [(feature_symbol(f), f) for f in names]


def line_config(product: Product) -> list[str]:
    """The line's Kconfig fragment of the BMC application (apps/bmc/<line>.conf), one assignment
    a line: its name, its features, then the settings its product file gives."""
    fw = product.firmware
    out = [f'CONFIG_CMU610_PRODUCT_LINE="{product.name}"',
           f'CONFIG_CMU610_FEATURES="{" ".join(fw.features)}"']
    out += [f"CONFIG_{feature_symbol(f)}=y" for f in fw.features]
    out += app_kconfig(product)
    return out + kconfig_lines(fw.kconfig)
