"""The Zephyr side's render-ready views of the model (the SoC and its devicetrees, each board's
Zephyr board and domains, bindings, the toolchain's settings): everything a template needs.

Templates only print what these views say; every decision (which node goes in which domain's
tree, what the QEMU twin maps where, which Kconfig symbols an ISA selects) is made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cmu610bsp import escape, mctp, names, sensor_twin
from cmu610bsp.config import ToolchainRecord
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.kinds import KINDS, Kind
from cmu610bsp.model import Board, Catalog, Peripheral, Soc, dt_label
from cmu610bsp.sensors import SensorView, sensor_views
from cmu610bsp.validate import board_owners

# Zephyr 4.0 Kconfig symbols selected by each part of a RISC-V ISA string.
ISA_SYMBOLS = {
    "i": ["RISCV_ISA_RV32I"], "e": ["RISCV_ISA_RV32E"], "m": ["RISCV_ISA_EXT_M"],
    "a": ["RISCV_ISA_EXT_A"], "c": ["RISCV_ISA_EXT_C"],
    "f": ["RISCV_ISA_EXT_F", "CPU_HAS_FPU"],
    "d": ["RISCV_ISA_EXT_D", "CPU_HAS_FPU_DOUBLE_PRECISION"],
    "zicsr": ["RISCV_ISA_EXT_ZICSR"], "zifencei": ["RISCV_ISA_EXT_ZIFENCEI"],
    "zba": ["RISCV_ISA_EXT_ZBA"], "zbb": ["RISCV_ISA_EXT_ZBB"],
    "zbc": ["RISCV_ISA_EXT_ZBC"], "zbs": ["RISCV_ISA_EXT_ZBS"],
}


def isa_parts(isa: str) -> list[str]:
    """'rv32imac_zicsr_zifencei' -> ['i', 'm', 'a', 'c', 'zicsr', 'zifencei']."""
    base, *exts = isa.removeprefix("rv32").split("_")
    return list(base) + exts


def isa_symbols(soc: Soc, soc_file: str) -> list[str]:
    parts = isa_parts(soc.harts[0].isa)
    unknown = [p for p in parts if p not in ISA_SYMBOLS]
    if unknown:
        raise BspError("ISA not supported by the Zephyr SoC generator", [
            Finding(soc_file, "harts[0].isa", f"no Zephyr Kconfig symbol for {', '.join(unknown)}")])
    return sorted({s for p in parts for s in ISA_SYMBOLS[p]})


@dataclass(frozen=True)
class PeriphView:
    label: str
    node: str
    p: Peripheral

    @property
    def kind(self) -> Kind:
        return KINDS[self.p.kind]


def peripheral_views(soc: Soc, secure_only: bool) -> list[PeriphView]:
    out = [
        PeriphView(name, f"{KINDS[p.kind].node}@{p.base:x}", p)
        for name, p in soc.peripherals.items() if p.secure_only == secure_only
    ]
    return sorted(out, key=lambda v: (v.p.base, v.label))


def bindings(soc: Soc, catalog: Catalog) -> list[dict[str, str]]:
    """One binding per compatible this SoC introduces (its own vendor prefix, and the cores)."""
    seen: dict[str, dict[str, str]] = {}
    for p in soc.peripherals.values():
        if p.compatible.startswith(f"{soc.vendor},"):
            seen[p.compatible] = {"compatible": p.compatible, "kind": p.kind, "dir": KINDS[p.kind].binding_dir}
    for k in catalog.sensor_kinds.values():
        if k.compatible.startswith(f"{soc.vendor},"):
            seen[k.compatible] = {"compatible": k.compatible, "kind": f"{k.bus}-sensor", "dir": "sensor"}
    seen[f"{soc.vendor},{soc.name}-fan"] = {"compatible": f"{soc.vendor},{soc.name}-fan", "kind": "fan", "dir": "sensor"}
    for h in soc.harts:
        seen[h.compatible[0]] = {"compatible": h.compatible[0], "kind": "cpu", "dir": "cpu"}
    return [seen[c] for c in sorted(seen)]


@dataclass
class Slice:
    label: str
    base: int
    size: int


@dataclass
class DomainView:
    """One domain's devicetree and Zephyr target, for the real board or its QEMU twin."""

    name: str
    hart: int
    cluster: str
    description: str
    console: str
    sram: Slice
    psram: Slice | None
    enabled: list[PeriphView] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    partitions: list[dict[str, object]] = field(default_factory=list)
    bus_devices: dict[str, list[SensorView]] = field(default_factory=dict)  # by controller: I2C and I3C
    adc_sensors: list[SensorView] = field(default_factory=list)
    line_names: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[dict[str, object]] = field(default_factory=list)
    leds: list[dict[str, object]] = field(default_factory=list)
    fans: list[dict[str, object]] = field(default_factory=list)
    network: dict[str, object] | None = None
    # the QEMU twin's emulated buses and their devices (BMC domain): (controller, i2c|adc, sensors)
    twin_buses: list[tuple[str, str, list[sensor_twin.TwinSensor]]] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """Twister's names for what this domain can test."""
        features = {KINDS[v.p.kind].feature for v in self.enabled}
        return sorted({"serial"} | {f for f in features if f is not None})


@dataclass
class BoardView:
    board: Board
    zname: str          # its Zephyr board (the twin's for a twin)
    twin: bool
    full_name: str
    domains: list[DomainView]
    soc_dtsi: str       # the SoC's devicetree include: the chip's, or its QEMU twin's

    @property
    def twin_zname(self) -> str:
        return names.zephyr_board(self.board.name, True)


def board_view(board: Board, soc: Soc, catalog: Catalog, twin: bool) -> BoardView:
    owner = board_owners(board)
    domains = []
    for dname in ("secure", "bmc"):
        dom = getattr(board.domains, dname)
        bases = {"sram": soc.qemu.sram_base if twin else soc.memory["sram"].base,
                 "psram": soc.qemu.psram_base if twin else soc.memory["psram"].base}
        # less what the MCTP window took from its end (mctp.py: a default window)
        slices = {m.region: Slice(f"{m.region}_{dname}", bases[m.region] + m.offset,
                                  m.size - mctp.carved(board, dname, m.region)) for m in dom.memory}
        view = DomainView(
            name=dname, hart=dom.hart, cluster=f"cpu{dom.hart}", description=dom.firmware,
            console="virt_uart" if twin else dom.console, sram=slices["sram"], psram=slices.get("psram"),
            partitions=[
                {"label": f"part_{dt_label(p.name)}", "name": p.name, "offset": p.offset, "size": p.size,
                 "read_only": p.read_only, "slot": p.slot}
                for p in sorted(board.flash.partitions, key=lambda p: p.offset) if p.owner == dname
            ],
        )
        if not twin:
            _fill_hardware(view, board, soc, catalog, owner, dname)
        elif dname == "bmc":
            view.twin_buses = sensor_twin.emulated_buses(sensor_twin.twin_sensors(sensor_views(board, soc, catalog)), soc)
        domains.append(view)
    return BoardView(board, names.zephyr_board(board.name, twin), twin, names.title(board.full_name, twin), domains,
                     names.machine_name(soc.name, twin))


def _fill_hardware(view: DomainView, board: Board, soc: Soc, catalog: Catalog,
                   owner: dict[str, str], dname: str) -> None:
    """Peripherals, buses, sensors and lines that exist only on the real chip."""
    views = {v.label: v for v in peripheral_views(soc, False) + peripheral_views(soc, True)}
    view.enabled = sorted((views[n] for n, o in owner.items() if o == dname), key=lambda v: (v.p.base, v.label))
    if dname == "bmc":
        view.deleted = sorted(n for n, o in owner.items() if o != dname and not soc.peripherals[n].secure_only)
    else:
        # the secure domain sees every block; blocks given to the BMC domain are left disabled
        view.deleted = []
    if dname != "bmc":
        return
    for sv in sorted(sensor_views(board, soc, catalog),
                     key=lambda sv: (sv.controller, sv.sensor.address or 0, sv.sensor.pid or 0)):
        if sv.bus == "adc":
            view.adc_sensors.append(sv)
        else:
            view.bus_devices.setdefault(sv.controller, []).append(sv)
    for ctrl in sorted({g.controller for g in board.gpio_lines}):
        names = [""] * (soc.peripherals[ctrl].ngpios or 0)
        for g in board.gpio_lines:
            if g.controller == ctrl:
                names[g.line] = g.name
        view.line_names[ctrl] = names
    for g in board.gpio_lines:
        entry = {"label": dt_label(g.name), "node": g.name.lower().replace("_", "-"), "name": g.name,
                 "controller": g.controller, "line": g.line, "flags": 1 if g.active_low else 0}
        if g.role in ("power-button", "reset-button"):
            view.buttons.append(entry)
        elif g.role == "led":
            view.leds.append(entry)
    view.fans = [{"name": f.name, "pwm": f.pwm, "pwm_channel": f.pwm_channel,
                  "tach": f.tach, "tach_channel": f.tach_channel} for f in board.fans]
    if board.network:
        view.network = {"interface": board.network.interface, "mode": board.network.mode}


@dataclass(frozen=True)
class ToolchainView:
    """How the generated files name the toolchain without naming a machine's path: kas gets
    CMU610_TOOLCHAIN_PATH from `cmu610bsp build` (the location resolved on the building machine;
    `default` for a plain `kas build`), Zephyr's toolchain.env a shell expression that resolves it
    where it is sourced (CMU610BSP_TOOLCHAIN, else the cache, else the recorded directory)."""

    record: ToolchainRecord
    default: str        # kas env default ("" for an archive in a cache: only the building machine knows)
    shell_root: str     # a POSIX shell expression of the toolchain root, for an unquoted assignment


def toolchain_view(record: ToolchainRecord) -> ToolchainView:
    """The recorded names enter the shell expression single-quoted: it is evaluated unquoted, in
    an assignment (no field splitting), and the quotes keep them from expanding."""
    if record.cache:
        cache = "${CMU610BSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmu610bsp}"
        return ToolchainView(record, "", f"${{CMU610BSP_TOOLCHAIN:-{cache}/toolchains/{escape.sh(record.cache)}}}")
    root = record.path or "/usr"
    return ToolchainView(record, root, f"${{CMU610BSP_TOOLCHAIN:-{escape.sh(root)}}}")
