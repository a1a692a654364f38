"""The board's own firmware: what the generated devicetrees tell the two Zephyr applications of the
layer's module (meta-cmu610/zephyr/apps/secure and apps/bmc), each product line's Kconfig fragment
of the BMC application, and the smoke spec that checks both on the board's QEMU twin.

The applications hold no board data: they read the `cmu610_firmware` node (board, domain, hart,
the devices the domain owns) and, in the BMC domain, the `cmu610_inventory` node (one child per
sensor and fan of the description). Like `zephyr.py`, this decides and the templates print; the
smoke spec's patterns are built here from the same data, so the spec and the firmware's output
are two renderings of one description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cmu610bsp import escape
from cmu610bsp.model import Board, Catalog, Product, Soc
from cmu610bsp.sensors import sensor_views

# The applications, in hart order of their domains; the BMC one takes the line's fragment.
APPS = ("secure", "bmc")
APP_SOURCES = {"secure": ("src/main.c",), "bmc": ("src/main.c", "src/inventory.c")}
COMMON_SOURCES = ("common/banner.c", "common/cmu610_firmware.h")
SHELL_PROMPT = "uart:~$ "
# What the generated spec never accepts: Zephyr's fatal error and assertion reports, and the
# applications' own report of an image started on the wrong hart.
NEVER = (">>> ZEPHYR FATAL ERROR", "ASSERTION FAIL", "Halting system", "runs on hart")


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


def version_parts(version: str) -> tuple[int, int, int]:
    """The tool's version as Zephyr's app VERSION file gives it (major, minor, patch level)."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"version {version!r} is not major.minor.patch")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _kconfig_value(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, int):
        return str(value)
    return escape.kconfig(value)


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
    out += [f"{k}={_kconfig_value(v)}" for k, v in sorted(fw.kconfig.items())]
    return out


def banner(node: FirmwareNode, version: str, line: str | None) -> str:
    """The first line an application prints (common/banner.c prints the same from the tree)."""
    text = f"{node.soc} {node.domain} firmware {version}: board {node.board}, domain {node.domain}, hart {node.hart}"
    return text + (f", line {line}" if line else "")


def inventory_lines(items: list[InventoryItem]) -> list[str]:
    """The `inventory` command's reply: one line an entry (fields as printed, any run of spaces
    between them), then the count."""
    fans = sum(i.fan for i in items)
    return [*(f"{i.name} {i.bus} {i.address} {i.kind}" for i in items),
            f"inventory: {len(items)} entries ({len(items) - fans} sensors, {fans} fans)"]


def _rx(text: str, spaces: bool = False) -> str:
    """`text` as a spec pattern: a regular expression matching it literally (with `spaces`, a space
    matches any run of spaces), braces doubled since the smoke runner fills {placeholders}."""
    rx = re.sub(r"([.^$*+?(){}\[\]|\\])", r"\\\1", text)
    if spaces:
        rx = rx.replace(" ", " +")
    return rx.replace("{", "{{").replace("}", "}}")


# Windows: a passing case returns as soon as its text is seen; these only bound a failing one
# (a loaded 2-core machine has taken 90 s to reach a prompt).
MARKER_WITHIN = 120
COMMAND_WITHIN = 60
DEADLINE = 240


@dataclass(frozen=True)
class Marker:
    """A boot marker of the spec: what it checks (the case's name in a test report), its pattern."""

    name: str
    pattern: str


@dataclass(frozen=True)
class SmokeSpec:
    name: str
    board: str
    deadline: int
    prompt: str
    markers: dict[str, list[Marker]]   # cpu0, cpu1: in boot order
    command: str
    command_name: str                  # what the reply shows
    expect: str
    never: list[str]
    marker_within: int = MARKER_WITHIN
    command_within: int = COMMAND_WITHIN


def smoke_spec(board: Board, soc: Soc, catalog: Catalog, product: Product, version: str,
               secure_domain: str | None = None) -> SmokeSpec:
    """The line's smoke spec on the board's QEMU twin: both banners and the devices each domain
    owns, the BMC line's features, the shell prompt, and the `inventory` reply: every entry of the
    description, in order, each line right after the previous one, then the count line (an entry
    more or less fails)."""
    markers = {}
    for domain in APPS:
        node = firmware_node(board, soc, domain)
        line = product.name if domain == "bmc" else None
        first = _rx(banner(node, version, line))
        if domain == "secure" and secure_domain:
            # BitBake builds the secure firmware once per distinct secure domain (securedomain.py):
            # it names the domain, a build for the board's own Zephyr target names the board
            first = first.replace(f"board {_rx(node.board)},", f"board ({_rx(node.board)}|{_rx(secure_domain)}),")
        found = [Marker(f"{domain} firmware banner" + (f" of {line}" if line else ""), first)]
        if domain == "bmc":
            found.append(Marker(f"features of {product.name}",
                                _rx(f"features: {' '.join(product.firmware.features) or '(none)'}")))
        found.append(Marker(f"devices of the {domain} domain", _rx("devices: " + " ".join(node.devices))))
        markers[f"cpu{node.hart}"] = found
    items = inventory(board, soc, catalog)
    reply = r"\r*\n".join(_rx(line, spaces=True) for line in inventory_lines(items))
    fans = sum(i.fan for i in items)
    return SmokeSpec(product.name, board.name, DEADLINE, _rx(SHELL_PROMPT), dict(sorted(markers.items())),
                     "inventory", f"replies with {len(items) - fans} sensors and {fans} fans", r"\n" + reply,
                     [_rx(p) for p in NEVER])
