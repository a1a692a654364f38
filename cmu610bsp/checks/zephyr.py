"""Real-consumer checks of the Zephyr side: the devicetrees through dtc, board.yml, soc.yml and the
twister files against Zephyr's schemas, the Kconfig files through kconfiglib."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from cmu610bsp import layout, proc, resources
from cmu610bsp.checks.result import CheckResult, generated, read_generated, result
from cmu610bsp.errors import BspError, Finding, shown
from cmu610bsp.workspace import Workspace
from cmu610bsp.yamlio import read_text

# Stand-in for the Zephyr 4.0 Kconfig symbols the generated files select, set or give defaults to.
# kconfiglib checks our files against these declarations (types and prompts as in Zephyr), so it
# can run without a Zephyr tree; the Zephyr integration test runs Zephyr's own Kconfig.
ZEPHYR_SYMBOLS: dict[str, str] = {
    "RISCV": "bool", "RISCV_PRIVILEGED": "bool", "RISCV_HAS_PLIC": "bool",
    "ATOMIC_OPERATIONS_BUILTIN": "bool", "INCLUDE_RESET_VECTOR": "bool",
    "RISCV_ISA_RV32I": "bool", "RISCV_ISA_RV32E": "bool", "RISCV_ISA_EXT_M": "bool",
    "RISCV_ISA_EXT_A": "bool", "RISCV_ISA_EXT_C": "bool", "RISCV_ISA_EXT_F": "bool",
    "RISCV_ISA_EXT_D": "bool", "RISCV_ISA_EXT_ZICSR": "bool", "RISCV_ISA_EXT_ZIFENCEI": "bool",
    "RISCV_ISA_EXT_ZBA": "bool", "RISCV_ISA_EXT_ZBB": "bool", "RISCV_ISA_EXT_ZBC": "bool",
    "RISCV_ISA_EXT_ZBS": "bool", "CPU_HAS_FPU": "bool", "CPU_HAS_FPU_DOUBLE_PRECISION": "bool",
    "SOC": "string", "SYS_CLOCK_HW_CYCLES_PER_SEC": "int", "RISCV_SOC_INTERRUPT_INIT": "bool",
    "RISCV_GP": "bool", "2ND_LVL_ISR_TBL_OFFSET": "int", "2ND_LVL_INTR_00_OFFSET": "int",
    "2ND_LEVEL_INTERRUPT_BITS": "int", "MAX_IRQ_PER_AGGREGATOR": "int", "NUM_IRQS": "int",
    "PMP_SLOTS": "int", "BUILD_OUTPUT_BIN": "bool", "CONSOLE": "bool", "SERIAL": "bool",
    "UART_CONSOLE": "bool", "XIP": "bool", "RV_BOOT_HART": "int",
    "SHELL_BACKEND_SERIAL_INTERRUPT_DRIVEN": "bool", "BOOT_DELAY": "int", "BOOT_BANNER": "bool",
}


# ---------------------------------------------------------------- dtc
def check_dtc(ws: Workspace) -> CheckResult:
    """Every board DTS through the C preprocessor and dtc, with all of dtc's default checks."""
    dtc, cpp = shutil.which("dtc"), shutil.which("cpp")
    if not dtc or not cpp:
        return CheckResult("dtc", "skipped", detail="dtc or cpp not on PATH (apt-get install device-tree-compiler cpp)")
    z = ws.root / layout.ZEPHYR_MODULE
    includes = [z / "dts" / "riscv", z / "dts" / "common", z / "dts", z / "include"]
    files = generated(ws, ".dts")
    with tempfile.TemporaryDirectory() as tmp:

        def one(i: int, dts: Path) -> list[Finding]:
            rel = str(dts.relative_to(ws.root))
            pre = Path(tmp) / f"{i}-{dts.name}.pre"
            argv = [cpp, "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P"]
            argv += [f"-I{d}" for d in includes] + [str(dts), "-o", str(pre)]
            r = proc.run(argv)
            if r.returncode:
                return [Finding(rel, "cpp", r.stderr.strip() or f"exit {r.returncode}")]
            r = proc.run([dtc, "-I", "dts", "-O", "dtb", "-o", os.devnull, str(pre)])
            out = [Finding(rel, "dtc", line.replace(str(pre), dts.name)) for line in r.stderr.strip().splitlines()]
            return out or ([Finding(rel, "dtc", f"exit {r.returncode}")] if r.returncode else [])

        # two short child processes per tree: a rack of boards has hundreds; one per core at a time
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            findings = [f for found in pool.map(one, range(len(files)), files) for f in found]
    return result("dtc", findings, f"{len(files)} devicetrees, no dtc check disabled")


# ---------------------------------------------------------------- Zephyr schemas
def zephyr_schema_dir() -> Path:
    """Zephyr's own schemas: $CMU610BSP_ZEPHYR_SCHEMAS, else $ZEPHYR_BASE/scripts/schemas when that
    tree has them, else the copies shipped in the package (so the check always runs)."""
    env = os.environ.get("CMU610BSP_ZEPHYR_SCHEMAS")
    if env:
        return Path(env)
    base = os.environ.get("ZEPHYR_BASE")
    if base and (Path(base) / "scripts" / "schemas" / "board-schema.yml").is_file():
        return Path(base) / "scripts" / "schemas"
    return resources.zephyr_schemas()


def _schema(d: Path, *names: str) -> Path | None:
    for n in names:
        if (d / n).is_file():
            return d / n
    return None


def check_zephyr_schemas(ws: Workspace) -> CheckResult:
    """board.yml, soc.yml and twister files against Zephyr's pykwalify schemas."""
    d = zephyr_schema_dir()
    import logging

    from pykwalify.core import Core
    from pykwalify.errors import PyKwalifyException

    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    targets: list[tuple[Path, Path | None]] = []
    targets += [(p, _schema(d, "board-schema.yml")) for p in generated(ws, name="board.yml")]
    targets += [(p, _schema(d, "soc-schema.yml")) for p in generated(ws, name="soc.yml")]
    twister = _schema(d, "twister-platform-schema.yaml", "twister/platform-schema.yaml")
    targets += [(p, twister) for p in generated(ws, ".yaml") if "/boards/" in str(p)]
    findings: list[Finding] = []
    loaded: dict[Path, object] = {}  # each schema read once: a rack has hundreds of files per schema
    for path, schema in targets:
        rel = str(path.relative_to(ws.root))
        if schema is None:
            findings.append(Finding(rel, "schema", f"no matching schema in {d}"))
            continue
        try:
            if schema not in loaded:
                loaded[schema] = read_generated(schema)
            Core(source_data=read_generated(path, ws.root), schema_data=loaded[schema]).validate(raise_exception=True)
        except BspError as e:
            findings += e.findings
        except PyKwalifyException as e:
            findings.append(Finding(rel, "schema", str(e.msg).strip()))
    return result("zephyr-schemas", findings, f"{len(targets)} files against {d}")


# ---------------------------------------------------------------- Kconfig
def check_kconfig(ws: Workspace) -> CheckResult:
    """Parse the SoC and board Kconfig files with kconfiglib and load each cluster's defconfig."""
    import kconfiglib

    z = ws.root / layout.ZEPHYR_MODULE
    soc_dirs = sorted(p.parent for p in z.glob("soc/*/*/Kconfig.soc"))
    board_dirs = sorted(p.parent for p in z.glob("boards/*/*/board.yml"))
    findings: list[Finding] = []
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for bdir in board_dirs:
            try:
                board = _board_name(read_generated(bdir / "board.yml", ws.root), bdir / "board.yml", ws.root)
            except BspError as e:
                findings += e.findings
                continue
            top = Path(tmp) / f"Kconfig.{board}"
            top.write_text(_kconfig_top(board, bdir, soc_dirs))
            for defconfig in sorted(bdir.glob("*_defconfig")):
                checked += 1
                findings += _load_defconfig(kconfiglib, top, board, defconfig, ws.root, Path(tmp))
    return result("kconfig", findings, f"{checked} configurations of {len(board_dirs)} boards, kconfiglib")


def _board_name(data: Any, path: Path, root: Path) -> str:
    """board.yml's board.name: the name its Kconfig files and defconfigs are named after."""
    board = data.get("board") if isinstance(data, dict) else None
    name = board.get("name") if isinstance(board, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise BspError("no board name", [Finding(str(path.relative_to(root)), "board.name",
                                                 f"{shown(name)}: expected the Zephyr board's name (a-z, 0-9, _)")])
    return name


def _kconfig_top(board: str, bdir: Path, soc_dirs: list[Path]) -> str:
    lines = ['mainmenu "cmu610bsp Kconfig check"', ""]
    for sym, typ in sorted(ZEPHYR_SYMBOLS.items()):
        lines += [f"config {sym}", f'\t{typ} "{sym} (Zephyr stand-in)"', ""]
    # Zephyr declares the board and board-target symbols itself (Kconfig.boards in the build).
    quals = [board.upper()] + [d.name.removesuffix("_defconfig").upper() for d in sorted(bdir.glob("*_defconfig"))]
    for qual in quals:
        lines += [f"config BOARD_{qual}", f'\tbool "{qual}"', ""]
    lines += [f'source "{bdir}/Kconfig.{board}"', f'source "{bdir}/Kconfig.defconfig"']
    for d in soc_dirs:
        lines += [f'source "{d}/Kconfig.soc"', f'source "{d}/Kconfig.defconfig"', f'source "{d}/Kconfig"']
    return "\n".join(lines) + "\n"


def _load_defconfig(kconfiglib: ModuleType, top: Path, board: str, defconfig: Path, root: Path, tmp: Path) -> list[Finding]:
    rel = str(defconfig.relative_to(root))
    qual = defconfig.name.removesuffix("_defconfig").upper()
    cfg = tmp / f"{qual}.config"
    try:
        text = read_text(defconfig)
    except BspError as e:
        return [Finding(rel, f.field, f.reason) for f in e.findings] or [Finding(rel, "(file)", e.message)]
    cfg.write_text(f"CONFIG_BOARD_{board.upper()}=y\nCONFIG_BOARD_{qual}=y\n" + text)
    try:
        kconf = kconfiglib.Kconfig(str(top), warn_to_stderr=False)
        kconf.load_config(str(cfg))
    except kconfiglib.KconfigError as e:
        return [Finding(rel, "kconfig", str(e).strip())]
    out = [Finding(rel, "kconfig", w.replace(str(cfg), defconfig.name)) for w in kconf.warnings]
    cluster = qual.rsplit("_", 1)[-1]
    soc_name = qual.removeprefix(board.upper() + "_").rsplit("_", 1)[0]
    want = f"SOC_{soc_name}_{cluster}"
    if want in kconf.syms and kconf.syms[want].str_value != "y":
        out.append(Finding(rel, "kconfig", f"{want} is not selected for this target"))
    return out


CHECKS: dict[str, Callable[[Workspace], CheckResult]] = {
    "dtc": check_dtc,
    "zephyr-schemas": check_zephyr_schemas,
    "kconfig": check_kconfig,
}
