"""Cross-field rules of the SoC and board descriptions: what pydantic's shape checks cannot see.

Every rule reports a `Finding` (file, field path, reason); `check_soc` and `check_board` return
them all at once so one run shows every problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cmu610bsp import mctp
from cmu610bsp.errors import Finding
from cmu610bsp.flash import KEYS as KEYS_PARTITION
from cmu610bsp.kinds import KINDS
from cmu610bsp.layout import CONFIG_FILE
from cmu610bsp.model import Board, Catalog, Product, Soc, dt_label
from cmu610bsp.sensor_rules import bus_finding, check_sensors

FLASH_SECTOR = 4096
# the nodes the firmware applications read (firmware.py, templates/dts/board.dts.j2)
FIRMWARE_NODES = ("cmu610_firmware", "cmu610_inventory", "cmu610_sensors", "cmu610_mctp", "cmu610_images",
                  "cmu610_ab_slots")

def _overlaps(spans: Iterable[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """Pairs of (name, start, size) spans that intersect, in address order."""
    ordered = sorted(spans, key=lambda s: (s[1], s[0]))
    pairs = []
    for i, (name, start, size) in enumerate(ordered):
        for other, ostart, _osize in ordered[i + 1:]:
            if ostart >= start + size:
                break
            pairs.append((name, other))
    return pairs


def check_soc(soc: Soc, path: Path) -> list[Finding]:
    f = str(path)
    out: list[Finding] = []
    ids = [h.id for h in soc.harts]
    if len(set(ids)) != len(ids):
        out.append(Finding(f, "harts", f"hart ids must be unique, got {ids}"))
    windows: list[tuple[str, int, int]] = [
        (f"memory.{name}", r.base, r.size) for name, r in soc.memory.items()
    ]
    for name in ("sram", "flash", "psram"):
        if name not in soc.memory:
            out.append(Finding(f, f"memory.{name}", "missing region"))
    ic = soc.interrupts
    windows += [("interrupts.plic", ic.plic_base, ic.plic_size),
                ("interrupts.clint", ic.clint_base, ic.clint_size)]
    irqs: dict[int, str] = {}
    for name, p in soc.peripherals.items():
        where = f"peripherals.{name}"
        windows.append((where, p.base, p.size))
        if p.base % 4096:
            out.append(Finding(f, f"{where}.base", f"{p.base:#x} is not 4 KiB aligned"))
        need = KINDS[p.kind].needs
        if need and getattr(p, need) is None:
            out.append(Finding(f, f"{where}.{need}", f"a block of kind {p.kind} needs {need}"))
        if p.irq is not None:
            if p.irq > ic.plic_ndev:
                out.append(Finding(f, f"{where}.irq", f"{p.irq} is above plic_ndev ({ic.plic_ndev})"))
            if p.irq in irqs:
                out.append(Finding(f, f"{where}.irq", f"{p.irq} is already used by {irqs[p.irq]}"))
            irqs[p.irq] = name
        if p.ncsi and not KINDS[p.kind].ncsi:
            out.append(Finding(f, f"{where}.ncsi", "only an ethernet block can do NC-SI"))
    for a, b in _overlaps(windows):
        out.append(Finding(f, b, f"address window overlaps {a}"))
    for end in windows:
        if end[1] + end[2] > 1 << 32:
            out.append(Finding(f, end[0], "address window ends past 4 GiB (RV32)"))
    q = soc.qemu
    if "sram" in soc.memory and q.sram_base + soc.memory["sram"].size > q.psram_base:
        out.append(Finding(f, "qemu.sram_base", "twin SRAM runs into twin PSRAM"))
    if "psram" in soc.memory and q.psram_base + soc.memory["psram"].size > 0x80000000 + q.ram_mib * 2**20:
        out.append(Finding(f, "qemu.ram_mib", "twin PSRAM does not fit in the QEMU RAM"))
    return out


def check_board(board: Board, soc: Soc, catalog: Catalog, path: Path) -> list[Finding]:
    """Every cross-field rule of a board against its SoC and the sensor catalogue."""
    f = str(path)
    out: list[Finding] = []
    if board.soc != soc.name:
        out.append(Finding(f, "soc", f"board is for {board.soc!r}, the SoC description is {soc.name!r}"))
    out += _check_domains(board, soc, f)
    out += _check_memory(board, soc, f)
    out += _check_partitions(board, soc, f)
    owner = board_owners(board)
    out += check_sensors(board, soc, catalog, owner, f)
    out += _check_fans_gpio_net(board, soc, owner, f)
    out += _check_labels(board, soc, f)
    out += mctp.check(board, soc, f)
    return out


def check_workspace(board_files: list[str], boards: list[Board], board_paths: list[Path],
                    products: list[Product], config_file: str) -> list[Finding]:
    """Rules across the files the workspace config names: one description per board name and
    per product line, and a description for every product line a board serves."""
    out: list[Finding] = []
    seen: list[str] = []
    for i, product in enumerate(products):
        if product.name in seen:
            out.append(Finding(config_file, f"products[{i}]", f"product line {product.name!r} is described twice"))
        seen.append(product.name)
    names: dict[str, str] = {}
    for i, (rel, board, path) in enumerate(zip(board_files, boards, board_paths, strict=True)):
        if board.name in names:
            out.append(Finding(config_file, f"boards[{i}]", f"board name {board.name!r} is also used by {names[board.name]}"))
        names[board.name] = rel
        for j, line in enumerate(board.product_lines):
            if line not in seen:
                out.append(Finding(str(path), f"product_lines[{j}]",
                                   f"no description of product line {line!r} in the workspace (products: in {CONFIG_FILE})"))
    return out


def soc_labels(soc: Soc) -> dict[str, str]:
    """Devicetree label -> what defines it, for the labels the SoC's own trees define
    (templates/dts: the SoC blocks, cpus, interrupt controllers, memory slices, QEMU twin UART,
    the nodes the firmware applications read).
    A test compares this with the labels of the rendered trees, so the two cannot drift."""
    out = {name: f"the SoC block {name}" for name in soc.peripherals}
    for h in soc.harts:
        out[f"cpu{h.id}"] = f"hart {h.id}"
        out[f"hlic{h.id}"] = f"hart {h.id}'s interrupt controller"
    for name in ("soc", "plic", "clint", "flash0", "virt_uart"):
        out.setdefault(name, f"the SoC node {name}")
    for name in FIRMWARE_NODES:
        out.setdefault(name, f"the firmware applications' node {name}")
    for name, p in soc.peripherals.items():
        if p.kind in ("i2c", "i3c", "adc"):
            out.setdefault(f"twin_{name}", f"the QEMU twin's emulated {name}")
    for region in ("sram", "psram"):
        for dname in ("secure", "bmc"):
            out.setdefault(f"{region}_{dname}", f"the {dname} domain's {region} slice")
    return out


def board_labels(board: Board) -> list[tuple[str, str, str]]:
    """(devicetree label, field path, name) for every label the board's own names become."""
    out = [(f"part_{dt_label(p.name)}", f"flash.partitions[{i}].name", p.name)
           for i, p in enumerate(board.flash.partitions)]
    out += [(dt_label(s.name), f"sensors[{i}].name", s.name) for i, s in enumerate(board.sensors)]
    out += [(dt_label(fan.name), f"fans[{i}].name", fan.name) for i, fan in enumerate(board.fans)]
    out += [(dt_label(g.name), f"gpio_lines[{i}].name", g.name) for i, g in enumerate(board.gpio_lines)
            if g.role in ("power-button", "reset-button", "led")]
    return out


def _check_labels(board: Board, soc: Soc, f: str) -> list[Finding]:
    """dtc rejects a label defined twice: a board name must not become a label the SoC uses
    or that another board name becomes (the same name twice is reported by its own list)."""
    out: list[Finding] = []
    reserved = soc_labels(soc)
    users: dict[str, list[tuple[str, str]]] = {}
    for lab, where, name in board_labels(board):
        if lab in reserved:
            out.append(Finding(f, where, f"{name!r} becomes the devicetree label {lab}, which is {reserved[lab]}"))
            continue
        users.setdefault(lab, []).append((where, name))
    for lab, group in users.items():
        for where, name in group:
            others = [f"{w} ({n!r})" for w, n in group
                      if w != where and not (n == name and w.split("[")[0] == where.split("[")[0])]
            if others:
                out.append(Finding(f, where, f"{name!r} becomes the devicetree label {lab}, as does {', '.join(others)}"))
    return out


def board_owners(board: Board) -> dict[str, str]:
    """peripheral name -> owning domain ('secure' or 'bmc'); unowned blocks are disabled."""
    owner: dict[str, str] = {}
    for dname in ("secure", "bmc"):
        for p in getattr(board.domains, dname).peripherals:
            owner.setdefault(p, dname)
    return owner


def _check_domains(board: Board, soc: Soc, f: str) -> list[Finding]:
    out: list[Finding] = []
    harts = {h.id for h in soc.harts}
    seen: dict[str, str] = {}
    if board.domains.secure.hart == board.domains.bmc.hart:
        out.append(Finding(f, "domains.bmc.hart", "both domains run on the same hart"))
    for dname in ("secure", "bmc"):
        dom = getattr(board.domains, dname)
        base = f"domains.{dname}"
        if dom.hart not in harts:
            out.append(Finding(f, f"{base}.hart", f"the SoC has no hart {dom.hart}"))
        for i, pname in enumerate(dom.peripherals):
            where = f"{base}.peripherals[{i}]"
            p = soc.peripherals.get(pname)
            if p is None:
                out.append(Finding(f, where, f"unknown peripheral {pname!r} (not in the SoC description)"))
                continue
            if p.secure_only and dname == "bmc":
                out.append(Finding(f, where, f"{pname} is a secure-only block ({p.kind}) and cannot be given to the BMC domain"))
                continue
            if pname in seen:
                other = seen[pname]
                why = "listed twice" if other == dname else f"already owned by the {other} domain"
                out.append(Finding(f, where, f"{pname}: {why}"))
                continue
            seen[pname] = dname
        console = soc.peripherals.get(dom.console)
        if dom.console not in dom.peripherals:
            out.append(Finding(f, f"{base}.console", f"{dom.console} is not one of this domain's peripherals"))
        elif console is not None and not KINDS[console.kind].console:
            out.append(Finding(f, f"{base}.console", f"{dom.console} is of kind {console.kind}, not a uart"))
    return out


def _check_memory(board: Board, soc: Soc, f: str) -> list[Finding]:
    out: list[Finding] = []
    for region in ("sram", "psram"):
        total = soc.memory[region].size if region in soc.memory else 0
        spans = []
        used = 0
        for dname in ("secure", "bmc"):
            dom = getattr(board.domains, dname)
            regions = [m.region for m in dom.memory]
            if region == "sram" and "sram" not in regions:
                out.append(Finding(f, f"domains.{dname}.memory", "a domain needs an SRAM slice to run from"))
            if regions.count(region) > 1:
                out.append(Finding(f, f"domains.{dname}.memory", f"more than one {region} slice"))
            for i, m in enumerate(dom.memory):
                if m.region != region:
                    continue
                where = f"domains.{dname}.memory[{i}]"
                used += m.size
                spans.append((where, m.offset, m.size))
                if m.offset + m.size > total:
                    out.append(Finding(f, where, f"{region} slice ends at {m.offset + m.size:#x}, "
                                       f"past the {total:#x}-byte {region}"))
                if m.offset % 4096 or m.size % 4096:
                    out.append(Finding(f, where, "offset and size must be 4 KiB aligned"))
        if used > total:
            out.append(Finding(f, "domains.bmc.memory",
                               f"{region} over-committed across domains: {used:#x} bytes given, {total:#x} exist"))
        for a, b in _overlaps(spans):
            out.append(Finding(f, b, f"{region} slice overlaps {a}"))
    return out


def _check_partitions(board: Board, soc: Soc, f: str) -> list[Finding]:
    out: list[Finding] = []
    flash = soc.memory["flash"].size if "flash" in soc.memory else 0
    names: set[str] = set()
    spans = []
    for i, p in enumerate(board.flash.partitions):
        where = f"flash.partitions[{i}]"
        if p.name in names:
            out.append(Finding(f, f"{where}.name", f"partition name {p.name!r} is used twice"))
        names.add(p.name)
        if p.offset + p.size > flash:
            out.append(Finding(f, where, f"{p.name} ends at {p.offset + p.size:#x}, past the end of the {flash:#x}-byte flash"))
        if p.offset % FLASH_SECTOR or p.size % FLASH_SECTOR:
            out.append(Finding(f, where, f"{p.name}: offset and size must be multiples of the {FLASH_SECTOR}-byte sector"))
        if p.secure and p.owner == "bmc":
            out.append(Finding(f, f"{where}.owner", f"{p.name} is a secure partition and cannot be given to the BMC domain"))
        spans.append((where, p.offset, p.size))
    for a, b in _overlaps(spans):
        out.append(Finding(f, b, f"partition overlaps {a}"))
    return out + _check_partition_roles(board, f)


def _check_partition_roles(board: Board, f: str) -> list[Finding]:
    """What the boot stage relies on (cmu610bsp/flash.py): one boot partition at offset 0, where
    both harts start fetching, owned by the secure domain; per domain one firmware partition or an
    A/B pair of equal size."""
    out: list[Finding] = []
    parts = list(enumerate(board.flash.partitions))
    boots = [(i, p) for i, p in parts if p.role == "boot"]
    if not boots:
        out.append(Finding(f, "flash.partitions", "no boot partition (role: boot): the harts would have nothing to start"))
    for n, (i, p) in enumerate(boots):
        where = f"flash.partitions[{i}]"
        if n:
            out.append(Finding(f, f"{where}.role", f"{p.name}: a second boot partition (the first is {boots[0][1].name})"))
        if p.owner != "secure":
            out.append(Finding(f, f"{where}.owner", f"{p.name}: the boot partition must be owned by the secure domain"))
        if p.offset != 0:
            out.append(Finding(f, f"{where}.offset", f"{p.name}: the boot partition must start at 0x0, where the harts start"))
    for i, p in parts:
        if p.slot and p.role != "firmware":
            out.append(Finding(f, f"flash.partitions[{i}].slot", f"{p.name}: only a firmware partition has a slot"))
    # the boot stage's trust anchor (key hashes) and anti-rollback counters: the root of trust's alone
    keys = [(i, p) for i, p in parts if p.name == KEYS_PARTITION]
    if not keys:
        out.append(Finding(f, "flash.partitions", f"no partition named {KEYS_PARTITION}: it holds the image signing keys' "
                           "hashes and the anti-rollback counters the boot stage verifies by"))
    for i, p in keys:
        if (p.owner != "secure" or not p.secure) and not (p.secure and p.owner == "bmc"):  # that one is said above
            out.append(Finding(f, f"flash.partitions[{i}].owner", f"{p.name}: must be owned by the secure domain and "
                               "secure: true (it holds what the boot stage trusts)"))
    for dname in ("secure", "bmc"):
        fw = [(i, p) for i, p in parts if p.role == "firmware" and p.owner == dname]
        slots = sorted(p.slot or "-" for _, p in fw)
        if not fw:
            out.append(Finding(f, "flash.partitions", f"no firmware partition (role: firmware) for the {dname} domain"))
        elif slots == ["a", "b"]:
            (_, a), (ib, b) = sorted(fw, key=lambda ip: ip[1].slot or "")
            if a.size != b.size:
                out.append(Finding(f, f"flash.partitions[{ib}].size", f"{b.name} is {b.size:#x} bytes, its slot a "
                                   f"{a.name} {a.size:#x}: A/B slots must be the same size"))
        elif slots != ["-"]:
            names = ", ".join(f"{p.name} (slot {p.slot or 'none'})" for _, p in fw)
            out.append(Finding(f, f"flash.partitions[{fw[-1][0]}].slot", f"the {dname} domain's firmware partitions "
                               f"are {names}: give one without a slot, or slots a and b"))
    return out


def _check_fans_gpio_net(board: Board, soc: Soc, owner: dict[str, str], f: str) -> list[Finding]:
    out: list[Finding] = []
    used: dict[tuple[str, int], str] = {}
    fan_names: set[str] = set()
    for i, fan in enumerate(board.fans):
        if fan.name in fan_names:
            out.append(Finding(f, f"fans[{i}].name", f"fan name {fan.name!r} is used twice"))
        fan_names.add(fan.name)
        for field, kind, chan in (("pwm", "pwm", fan.pwm_channel), ("tach", "tach", fan.tach_channel)):
            block = getattr(fan, field)
            where = f"fans[{i}].{field}"
            bad = bus_finding(soc, owner, block, (kind,), where, f, "fan")
            if bad:
                out.append(bad)
                continue
            if chan >= (soc.peripherals[block].channels or 0):
                out.append(Finding(f, f"{where}_channel", f"{block} has no channel {chan}"))
            if (block, chan) in used:
                out.append(Finding(f, f"{where}_channel", f"{block} channel {chan} is already used by {used[(block, chan)]}"))
            used[(block, chan)] = fan.name
    names: set[str] = set()
    lines: dict[tuple[str, int], str] = {}
    for i, g in enumerate(board.gpio_lines):
        where = f"gpio_lines[{i}]"
        if g.name in names:
            out.append(Finding(f, f"{where}.name", f"line name {g.name!r} is used twice"))
        names.add(g.name)
        bad = bus_finding(soc, owner, g.controller, ("gpio",), f"{where}.controller", f, "GPIO line")
        if bad:
            out.append(bad)
            continue
        if g.line >= (soc.peripherals[g.controller].ngpios or 0):
            out.append(Finding(f, f"{where}.line", f"{g.controller} has no line {g.line}"))
        if (g.controller, g.line) in lines:
            out.append(Finding(f, f"{where}.line",
                               f"{g.controller} line {g.line} is already named {lines[(g.controller, g.line)]}"))
        lines[(g.controller, g.line)] = g.name
    if board.network:
        bad = bus_finding(soc, owner, board.network.interface, ("ethernet",), "network.interface", f, "network interface")
        if bad:
            out.append(bad)
        elif board.network.mode == "ncsi" and not soc.peripherals[board.network.interface].ncsi:
            out.append(Finding(f, "network.mode", f"{board.network.interface} cannot do NC-SI"))
    return out
