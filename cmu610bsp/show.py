"""`cmu610bsp board show`: the validated model as tables."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from cmu610bsp import i3c
from cmu610bsp.model import Board, Sensor
from cmu610bsp.names import zephyr_target
from cmu610bsp.project import Project
from cmu610bsp.ui import table
from cmu610bsp.validate import board_owners


def _size(n: int) -> str:
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def _address(s: Sensor) -> str:
    """Where a sensor answers: its address or channel, and an I3C target's PID and dynamic address."""
    parts = [] if s.address is None else [f"{s.address:#04x}"]
    if s.pid is not None:
        parts.append(f"PID {i3c.pid_text(s.pid)}")
    if s.assigned_address is not None:
        parts.append(f"-> {s.assigned_address:#04x}")
    if s.lvr is not None:
        parts.append(f"LVR {s.lvr:#04x}")
    return " ".join(parts)


def print_board(console: Console, project: Project, board: Board) -> None:
    """Every value is printed as written (cells are Text, never markup)."""
    soc = project.soc
    console.print(Text.assemble((board.full_name, "bold"), f" ({board.name}) on {soc.full_name}; "
                                f"product lines: {', '.join(board.product_lines)}"))

    rows: list[list[str]] = []
    for dname in ("secure", "bmc"):
        d = getattr(board.domains, dname)
        rows.append([dname, str(d.hart), zephyr_target(board.name, soc.name, d.hart, False), d.console,
                     d.firmware, ", ".join(d.peripherals)])
    console.print(table("Domains", ("domain", "hart", "Zephyr target", "console", "firmware", "peripherals"), rows))

    rows = []
    for rname, region in sorted(soc.memory.items(), key=lambda kv: kv[1].base):
        rows.append([rname, f"{region.base:#010x}", _size(region.size), "", ""])
        for dname in ("secure", "bmc"):
            for m in getattr(board.domains, dname).memory:
                if m.region == rname:
                    rows.append(["", f"{region.base + m.offset:#010x}", _size(m.size), dname, f"+{m.offset:#x}"])
    owner = board_owners(board)
    for name, p in sorted(soc.peripherals.items(), key=lambda kv: kv[1].base):
        rows.append([name, f"{p.base:#010x}", _size(p.size),
                     owner.get(name, "disabled") + (" (secure-only)" if p.secure_only else ""), p.kind])
    console.print(table("Memory map (SoC address space)", ("region", "base", "size", "owner", "slice"), rows))

    rows = []
    for part in sorted(board.flash.partitions, key=lambda part: part.offset):
        flags = ", ".join(f for f, on in (("secure", part.secure), ("read-only", part.read_only)) if on)
        role = part.role + (f" (slot {part.slot})" if part.slot else "")
        rows.append([part.name, f"{part.offset:#010x}", _size(part.size), part.owner, role, flags])
    console.print(table("Flash partitions", ("name", "offset", "size", "owner", "role", "flags"), rows))

    if board.sensors:
        rows = []
        for s in board.sensors:
            th = ", ".join(f"{k}={v:g}" for k, v in s.thresholds.model_dump().items() if v is not None)
            rows.append([s.name, s.label, s.kind, s.bus, _address(s), th])
        console.print(table("Sensors", ("name", "label", "kind", "bus", "address", "thresholds"), rows))
    if board.fans:
        console.print(table("Fans", ("name", "pwm", "tach"), [
            [f.name, f"{f.pwm}:{f.pwm_channel}", f"{f.tach}:{f.tach_channel}"] for f in board.fans]))
    if board.gpio_lines:
        console.print(table("GPIO lines", ("name", "line", "role", "active"), [
            [g.name, f"{g.controller}:{g.line}", g.role, "low" if g.active_low else "high"] for g in board.gpio_lines]))
    if board.network:
        n = board.network
        console.print(f"Network: {n.interface} ({n.mode}), hostname {n.hostname}")
