"""`cmu610bsp board show`: the validated model as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cmu610bsp import i3c
from cmu610bsp.model import Board, Sensor
from cmu610bsp.project import Project
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
    soc = project.soc
    console.print(f"[bold]{board.full_name}[/bold] ({board.name}) on {soc.full_name}; "
                  f"product lines: {', '.join(board.product_lines)}")

    t = Table(title="Domains")
    for col in ("domain", "hart", "Zephyr target", "console", "firmware", "peripherals"):
        t.add_column(col)
    for dname in ("secure", "bmc"):
        d = getattr(board.domains, dname)
        t.add_row(dname, str(d.hart), f"{board.zephyr_name}/{soc.name}/cpu{d.hart}", d.console,
                  d.firmware, ", ".join(d.peripherals))
    console.print(t)

    t = Table(title="Memory map (SoC address space)")
    for col in ("region", "base", "size", "owner", "slice"):
        t.add_column(col)
    for rname, region in sorted(soc.memory.items(), key=lambda kv: kv[1].base):
        t.add_row(rname, f"{region.base:#010x}", _size(region.size), "", "")
        for dname in ("secure", "bmc"):
            for m in getattr(board.domains, dname).memory:
                if m.region == rname:
                    t.add_row("", f"{region.base + m.offset:#010x}", _size(m.size), dname,
                              f"+{m.offset:#x}")
    owner = board_owners(board)
    for name, p in sorted(soc.peripherals.items(), key=lambda kv: kv[1].base):
        t.add_row(name, f"{p.base:#010x}", _size(p.size),
                  owner.get(name, "disabled") + (" (secure-only)" if p.secure_only else ""), p.kind)
    console.print(t)

    t = Table(title="Flash partitions")
    for col in ("name", "offset", "size", "owner", "role", "flags"):
        t.add_column(col)
    for part in sorted(board.flash.partitions, key=lambda part: part.offset):
        flags = ", ".join(f for f, on in (("secure", part.secure), ("read-only", part.read_only)) if on)
        role = part.role + (f" (slot {part.slot})" if part.slot else "")
        t.add_row(part.name, f"{part.offset:#010x}", _size(part.size), part.owner, role, flags)
    console.print(t)

    if board.sensors:
        t = Table(title="Sensors")
        for col in ("name", "label", "kind", "bus", "address", "thresholds"):
            t.add_column(col)
        for s in board.sensors:
            th = ", ".join(f"{k}={v:g}" for k, v in s.thresholds.model_dump().items() if v is not None)
            t.add_row(s.name, s.label, s.kind, s.bus, _address(s), th)
        console.print(t)
    if board.fans:
        t = Table(title="Fans")
        for col in ("name", "pwm", "tach"):
            t.add_column(col)
        for f in board.fans:
            t.add_row(f.name, f"{f.pwm}:{f.pwm_channel}", f"{f.tach}:{f.tach_channel}")
        console.print(t)
    if board.gpio_lines:
        t = Table(title="GPIO lines")
        for col in ("name", "line", "role", "active"):
            t.add_column(col)
        for g in board.gpio_lines:
            t.add_row(g.name, f"{g.controller}:{g.line}", g.role, "low" if g.active_low else "high")
        console.print(t)
    if board.network:
        n = board.network
        console.print(f"Network: {n.interface} ({n.mode}), hostname {n.hostname}")
