"""The smoke spec generated for a product line on a board's QEMU twin (meta-cmu610/zephyr/smoke/
<board>/<line>.yaml): what both domains' firmware must print, built from the same description the
firmware reads from its devicetree, so a spec and the firmware's output are two renderings of one
description and a sensor more or less, or a missing answer, fails.

Besides the banners, devices and `inventory` (every line), a line whose BMC firmware takes the
OpenBMC components (components.py) is checked for what they do: both MCTP endpoints up (libmctp),
the PLDM repository with one numeric sensor PDR per sensor and its thresholds (pdr.py, libpldm),
every reading within its plausible range and normal at the twin's start value, each sensor with a
critical_high reading back `critical` once the twin's emulator is set above it, and the secure
hart's TID, PLDM types and firmware parameters as the BMC sees them over MCTP: one component per
firmware partition, its version the one the flash image's header gives (the placeholder
`{image_version@OFFSET}`, filled by smoke_jobs.py from the image booted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cmu610bsp import components, mctp
from cmu610bsp.firmware import APPS, FirmwareNode, InventoryItem, firmware_images, firmware_node, inventory
from cmu610bsp.model import Board, Catalog, Product, Soc
from cmu610bsp.sensors import SensorView, sensor_views

SHELL_PROMPT = "uart:~$ "
# What the generated spec never accepts: Zephyr's fatal error and assertion reports, and the
# applications' own report of an image started on the wrong hart.
NEVER = (">>> ZEPHYR FATAL ERROR", "ASSERTION FAIL", "Halting system", "runs on hart")
# The placeholder of a firmware partition's image version: `{image_version@0x40000}`
IMAGE_VERSION = "image_version@"
# PLDM types the secure hart's terminus answers (DSP0245: 0 base, 5 firmware update) and the
# base specification version it reports (DSP0240 1.1.0)
SECURE_PLDM_TYPES = (0, 5)
PLDM_BASE_VERSION = "1.1.0"

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
class Bound:
    """A number of a command's reply (its pattern's first group) and the range it must lie in."""

    name: str
    pattern: str
    low: float
    high: float


@dataclass(frozen=True)
class Command:
    send: str
    name: str                          # what the reply shows
    expect: str
    values: tuple[Bound, ...] = ()


@dataclass(frozen=True)
class SmokeSpec:
    name: str
    board: str
    deadline: int
    prompt: str
    markers: dict[str, list[Marker]]   # cpu0, cpu1: in boot order
    commands: list[Command]
    never: list[str]
    marker_within: int = MARKER_WITHIN
    command_within: int = COMMAND_WITHIN


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


def decimal(milli: int) -> str:
    """Thousandths of a unit as the firmware prints them: "12.345", "-0.500"."""
    return f"{'-' if milli < 0 else ''}{abs(milli) // 1000}.{abs(milli) % 1000:03d}"


def _rx(text: str, spaces: bool = False) -> str:
    """`text` as a spec pattern: a regular expression matching it literally (with `spaces`, a space
    matches any run of spaces), braces doubled since the smoke runner fills {placeholders}."""
    rx = re.sub(r"([.^$*+?(){}\[\]|\\])", r"\\\1", text)
    if spaces:
        rx = rx.replace(" ", " +")
    return rx.replace("{", "{{").replace("}", "}}")


def _lines(lines: list[str]) -> str:
    """Reply lines, each right after the one before (the first after a line break)."""
    return r"\n" + r"\r*\n".join(lines)


def pdr_lines(views: list[SensorView]) -> list[str]:
    """The `pdr` command's reply: each record's handle, sensor ID, sensor, unit and the thresholds
    it supports (low to high), then the count."""
    out = []
    for i, v in enumerate(views, start=1):
        limits = [f" {n} {decimal(round(x * 1000))}" for n in ("critical_low", "warning_low", "warning_high", "critical_high")
                  if (x := getattr(v.thresholds, n)) is not None]
        out.append(f"pdr {i} sensor {i} {v.name} {v.quantity.symbol}{''.join(limits)}")
    return [*out, f"pdr: {len(views)} numeric sensor PDRs"]


NUMBER = r"(-?[0-9]+\.[0-9]+)"


def _reading(v: SensorView, state: str) -> str:
    """A reading line of `sensors`, `sensor` and `twin set`: name, value, unit, threshold state."""
    return f"{_rx(v.name)} +{NUMBER} {_rx(v.quantity.symbol)} {state}"


def sensor_commands(views: list[SensorView]) -> list[Command]:
    """`pdr`, `sensors` (every reading normal and within its plausible range), and for each sensor
    with a critical_high a `twin set` above it that reads back critical."""
    out = [Command("pdr", f"one numeric sensor PDR for each of the {len(views)} sensors",
                   _lines([_rx(x, spaces=True) for x in pdr_lines(views)]))]
    bounds = tuple(Bound(f"{v.name} reading", rf"\n{_rx(v.name)} +{NUMBER} ", v.plausible[0] / 1000, v.plausible[1] / 1000)
                   for v in views)
    out.append(Command("sensors", f"all {len(views)} sensors read, each normal and in range",
                       _lines([_reading(v, "normal") for v in views] + [_rx(f"sensors: {len(views)} read, 0 unavailable")]),
                       bounds))
    for v in views:
        if v.crossing is None:
            continue
        high = v.thresholds.critical_high
        assert high is not None
        out.append(Command(f"twin set {v.name} {v.crossing}", f"{v.name} above critical_high reads back critical",
                           r"\n" + _reading(v, "critical"),
                           (Bound(f"{v.name} reading", rf"\n{_rx(v.name)} +{NUMBER} ", high, v.crossing / 1000 * 1.01),)))
    return out


def pldm_command(board: Board) -> Command:
    """`pldm` on the BMC: the secure hart's TID, PLDM types, base version and firmware
    parameters, one component per firmware partition with its image's version."""
    ep = mctp.endpoints(board)
    peer = f"pldm: terminus {ep.secure_eid}: "
    images = firmware_images(board)
    lines = [_rx(peer + f"TID {mctp.TIDS['secure']}"),
             _rx(peer + "types " + " ".join(map(str, SECURE_PLDM_TYPES))),
             _rx(peer + f"base version {PLDM_BASE_VERSION}"),
             _rx(peer + "firmware set ") + r"[^\r\n,]+" + _rx(f", {len(images)} components")]
    lines += [_rx(f"pldm: component {i} {name} active ") + f"{{{IMAGE_VERSION}{offset:#x}}}"
              for i, (name, offset, _, _) in enumerate(images, start=1)]
    return Command("pldm", f"the secure hart's TID and the versions of its {len(images)} firmware images", _lines(lines))


def smoke_spec(board: Board, soc: Soc, catalog: Catalog, product: Product, version: str,
               secure_domain: str | None = None) -> SmokeSpec:
    """The line's smoke spec on the board's QEMU twin: both banners and the devices each domain
    owns, the BMC line's features, its MCTP and PLDM markers, the shell prompt, and the commands:
    `inventory` (every entry of the description, in order, then the count), and with the OpenBMC
    components the PDRs, readings, threshold crossings and the secure hart's answers."""
    taken = components.for_line(product)
    ep = mctp.endpoints(board)
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
        if domain == "secure":
            found.append(Marker("secure MCTP endpoint and PLDM terminus ready",
                                _rx(f"mctp: endpoint {ep.secure_eid} ready, pldm terminus {mctp.TIDS['secure']}")))
        if domain == "bmc" and "libpldm" in taken:
            found.append(Marker("PLDM repository of the board's sensors",
                                _rx(f"sensors: {len(board.sensors)} numeric sensor PDRs in the repository")))
        if domain == "bmc" and "libmctp" in taken:
            found.append(Marker("BMC MCTP endpoint up, the secure endpoint answers",
                                _rx(f"mctp: endpoint {ep.bmc_eid} up, peer endpoint {ep.secure_eid} answers")))
        markers[f"cpu{node.hart}"] = found
    items = inventory(board, soc, catalog)
    fans = sum(i.fan for i in items)
    commands = [Command("inventory", f"replies with {len(items) - fans} sensors and {fans} fans",
                        _lines([_rx(x, spaces=True) for x in inventory_lines(items)]))]
    if "libpldm" in taken:
        commands += sensor_commands(sensor_views(board, soc, catalog))
    if {"libpldm", "libmctp"} <= set(taken):
        commands.append(pldm_command(board))
    return SmokeSpec(product.name, board.name, DEADLINE, _rx(SHELL_PROMPT), dict(sorted(markers.items())),
                     commands, [_rx(p) for p in NEVER])
