"""Integration with a real Zephyr 4.x tree (ZEPHYR_BASE): the generated module builds
hello_world for both clusters and both harts boot in one QEMU. Skipped, never passed, without it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Cli, cli_in_process

pytestmark = pytest.mark.zephyr

ZEPHYR_BASE = os.environ.get("ZEPHYR_BASE", "")
# checkouts of the OpenBMC components' sources the applications are built with (components.py)
SOURCES = {"LIBPLDM_SOURCE": os.environ.get("LIBPLDM_DIR", ""), "LIBMCTP_SOURCE": os.environ.get("LIBMCTP_DIR", "")}
GCC = "riscv64-unknown-elf-gcc"
TOOLS = ("cmake", "ninja", GCC, "qemu-system-riscv32", "dtc")


@pytest.fixture(scope="module")
def zephyr_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not ZEPHYR_BASE or not (Path(ZEPHYR_BASE) / "VERSION").is_file():
        pytest.skip("set ZEPHYR_BASE to a Zephyr 4.x tree to run the Zephyr integration tests")
    version = (Path(ZEPHYR_BASE) / "VERSION").read_text()
    if "VERSION_MAJOR = 4" not in version:
        pytest.skip("ZEPHYR_BASE is not a Zephyr 4.x tree")
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"missing host tools: {', '.join(missing)}")
    ws = tmp_path_factory.mktemp("zephyr") / "ws"
    assert cli_in_process("init", str(ws)).returncode == 0
    libgcc = subprocess.run([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"],
                            capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "ZEPHYR_TOOLCHAIN_VARIANT": "cross-compile",
           "CROSS_COMPILE": shutil.which(GCC)[: -len("gcc")]}  # type: ignore[index]
    return {"ws": ws, "env": env, "libgcc_dir": str(Path(libgcc).parent), "builds": {}}


def _build(z: dict[str, object], target: str, *extra: str, ws: Path | None = None, app: str | None = None) -> Path:
    """hello_world, or `app` of the workspace's module (apps/secure, apps/bmc), for `target`."""
    builds: dict[str, Path] = z["builds"]  # type: ignore[assignment]
    key = f"{app}:{target}" + "".join(extra)
    if key in builds:
        return builds[key]
    ws = ws or z["ws"]  # type: ignore[assignment]
    assert ws is not None
    name = target.replace("/", "_") + ("_shell" if extra and not app else "")
    if app:
        name = f"{app}_{name}" + "".join(e.rpartition("=")[2] for e in extra)
        missing = [f"{var.split('_')[0]}_DIR" for var, path in SOURCES.items() if not path]
        if missing:
            pytest.skip(f"set {' and '.join(missing)} to checkouts of OpenBMC's libpldm and libmctp to build the applications")
        extra = (*extra, *(f"-D{var}={path}" for var, path in SOURCES.items()))
    out = ws / "build" / name
    source = f"{ws}/meta-cmu610/zephyr/apps/{app}" if app else f"{ZEPHYR_BASE}/samples/hello_world"
    cmd = ["cmake", "-GNinja", "-S", source, "-B", str(out),
           f"-DBOARD={target}", f"-DZEPHYR_MODULES={ws}/meta-cmu610/zephyr",
           # Zephyr's scripts run in this interpreter's environment (pykwalify, pyelftools), not PATH's python3
           f"-DPython3_EXECUTABLE={sys.executable}",
           # Debian's GCC 12 picks its rv64 multilib for rv32imac_zicsr_zifencei: give it rv32's libgcc
           f"-DEXTRA_LDFLAGS=-L{z['libgcc_dir']}", *extra]
    r = subprocess.run(cmd, env=z["env"], capture_output=True, text=True, timeout=600)  # type: ignore[arg-type]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run(["ninja", "-C", str(out)], env=z["env"], capture_output=True, text=True, timeout=900)  # type: ignore[arg-type]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    elf = out / "zephyr" / "zephyr.elf"
    assert elf.is_file()
    builds[key] = elf
    return elf


@pytest.mark.parametrize("cpu", ["cpu0", "cpu1"])
def test_real_board_targets_build(zephyr_env: dict[str, object], cpu: str) -> None:
    """The real board's devicetree (every block, bindings, sensors) passes Zephyr's edtlib."""
    elf = _build(zephyr_env, f"cmu610_evb/cmu610/{cpu}")
    assert elf.read_bytes()[:5] == b"\x7fELF\x01"  # 32-bit ELF


@pytest.mark.parametrize("cpu", ["cpu0", "cpu1"])
def test_board_with_sensors_on_i3c_builds(cli: Cli, zephyr_env: dict[str, object], tmp_path_factory: pytest.TempPathFactory,
                                          cpu: str) -> None:
    """The GPU tray (I3C targets by static address and PID, by PID only, by static address only, and
    legacy I2C devices with their LVR, on I3C buses) builds for both clusters; in the BMC domain's
    tree Zephyr binds the targets to its i3c-device bindings and the legacy devices to i2c ones."""
    ws = zephyr_env.get("tray_ws")
    if ws is None:
        ws = tmp_path_factory.mktemp("tray") / "ws"
        assert cli("init", str(ws), "--board", "cmu610-gpu-tray").returncode == 0
        zephyr_env["tray_ws"] = ws
    elf = _build(zephyr_env, f"cmu610_gpu_tray/cmu610/{cpu}", ws=ws)  # type: ignore[arg-type]
    assert elf.read_bytes()[:5] == b"\x7fELF\x01"
    header = (elf.parent / "include/generated/zephyr/devicetree_generated.h").read_text()
    if cpu == "cpu0":  # the secure domain: the I3C blocks are there (disabled), no sensors
        assert "temperature_sensor_4800000236152a0090" not in header
        return
    for node, binding in (("i3c_40020000_S_temperature_sensor_4800000236152a0090", "nxp,p3t1755-i3c.yaml"),
                          ("i3c_40021000_S_temperature_sensor_236152a0091", "nxp,p3t1755-i3c.yaml"),
                          ("i3c_40022000_S_temperature_sensor_4a0000000000000000", "nxp,p3t1755-i3c.yaml"),
                          ("i3c_40020000_S_power_sensor_400000000000000010", "ti,ina230.yaml"),
                          ("i3c_40022000_S_current_sensor_440000000000000050", "ti,ina219.yaml")):
        m = re.search(rf"Devicetree node: /soc/{node.replace('_S_', '/').replace('_', '[-@_]')}\n.*?\n \*/", header, re.S)
        assert m and binding in m.group(0), (node, binding, m and m.group(0))


def test_both_harts_boot_in_one_qemu(zephyr_env: dict[str, object]) -> None:
    cpu0 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu0")
    cpu1 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu1")
    argv = ["qemu-system-riscv32", "-nographic", "-machine", "virt", "-bios", "none", "-m", "256",
            "-smp", "2", "-net", "none", "-kernel", str(cpu0), "-device", f"loader,file={cpu1},cpu-num=1"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    # both harts write the twin's one ns16550 and nothing orders their writes, so their output
    # can interleave down to single characters ("*** Booting Zephcmu610_evb_qemu/cmu610/cpu1yr OS";
    # the twin's 300 ms boot delay on cpu1 makes that rare, not impossible): each hart's banner
    # and greeting must appear in order, other characters allowed in between
    # (cpu1 prints no boot banner on the twin: its first line comes after its delay)
    want = ["*** Booting Zephyr OS build Hello World! cmu610_evb_qemu/cmu610/cpu0", "Hello World! cmu610_evb_qemu/cmu610/cpu1"]
    seen = b""
    try:
        os.set_blocking(p.stdout.fileno(), False)  # type: ignore[union-attr]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(_printed(seen.decode(errors="replace"), w) for w in want):
            chunk = p.stdout.read(4096)  # type: ignore[union-attr]
            if chunk:
                seen += chunk
            else:
                time.sleep(0.05)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    text = seen.decode(errors="replace")
    for w in want:
        assert _printed(text, w), (w, text)


def _printed(text: str, line: str) -> bool:
    """`line`'s characters occur in `text` in order (one hart's output, interleaved with the other's)."""
    rest = iter(text)
    return all(ch in rest for ch in line)


SMOKE_SPEC = """
name: zephyr-twin
deadline: 30
prompt: 'uart:~\\$ '
cores:
  cpu0: {markers: [{pattern: '{zephyr_board}/cmu610/cpu0', within: 10}]}
  cpu1: {markers: [{pattern: '{zephyr_board}/cmu610/cpu1', within: 10}]}
commands:
  - {send: 'kernel version', expect: 'Zephyr version 4\\.', within: 10}
never: ['>>> ZEPHYR FATAL ERROR', 'ASSERTION FAIL']
"""


def test_qemu_smoke_boots_both_clusters_with_a_shell(cli: Cli, zephyr_env: dict[str, object], tmp_path: Path) -> None:
    """hello_world with Zephyr's shell on cpu0 (the minimal libc suffices; the shell sample
    needs a full libc this machine lacks) and hello_world on cpu1, under `cmu610bsp qemu smoke`."""
    # the twin's board defaults poll the shell's UART (the two harts share it; an interrupt-driven
    # shell went deaf in 2 boots of 12) and hold cpu1's banner back (a marker split by the other
    # hart's characters in 1 boot of about 13): nothing is added to the build here
    cpu0 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu0", "-DCONFIG_SHELL=y")
    cpu1 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu1")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SMOKE_SPEC)
    r = cli("qemu", "smoke", "--image", f"cpu0={cpu0}", "--image", f"cpu1={cpu1}", "--spec", str(spec), "--json",
            cwd=zephyr_env["ws"], timeout=120)  # type: ignore[arg-type]
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    run = json.loads(r.stdout)["runs"][0]
    assert [c["kind"] for c in run["cases"]] == ["marker", "marker", "command", "never", "never"]
    console = Path(run["transcript"]).read_text()
    assert "Zephyr version 4." in console
    # cpu1's twin defaults: a silent delay, no boot banner; cpu0 prints its banner
    assert "delaying boot" not in console and console.count("*** Booting Zephyr OS build") == 1
    assert console.index("cmu610_evb_qemu/cmu610/cpu0") < console.index("cmu610_evb_qemu/cmu610/cpu1")


@pytest.mark.parametrize("line", ["littlebmc", "bigbmc"])
def test_the_boards_firmware_passes_its_generated_smoke_spec(cli: Cli, zephyr_env: dict[str, object], tmp_path: Path,
                                                              line: str) -> None:
    """The module's two applications, the secure one on cpu0 (one image for both lines) and the
    BMC one built for the line on cpu1, pass the spec `sync` generated from the description:
    banners, devices, features, and `inventory` listing the board's sensors and fans."""
    cpu0 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu0", app="secure")
    cpu1 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu1", f"-DCMU610_LINE={line}", app="bmc")
    ws: Path = zephyr_env["ws"]  # type: ignore[assignment]
    r = cli("qemu", "smoke", "--line", line, "--image", f"cpu0={cpu0}", "--image", f"cpu1={cpu1}", "--json",
            "--results", str(tmp_path / "ok"), cwd=ws, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    run = json.loads(r.stdout)["runs"][0]
    # banners, devices, features, MCTP and PLDM markers; inventory, pdr, sensors, six crossings, pldm
    assert [c["kind"] for c in run["cases"]] == ["marker"] * 8 + ["command"] * 10 + ["never"] * 4
    console = Path(run["transcript"]).read_text()
    assert f"hart 1, line {line}" in console and "inventory: 8 entries (6 sensors, 2 fans)" in console
    assert "pldm: terminus 9: TID 1" in console and "pdr: 6 numeric sensor PDRs" in console

    # the same images against the spec of the board with one sensor less: the repository's count
    # at boot no longer matches (and nothing after it is tried), the other markers still do
    import dataclasses

    from cmu610bsp import __version__, render, smoke_spec
    from cmu610bsp.project import load_project

    project = load_project(ws)
    board = project.boards[0]
    fewer = board.model_copy(update={"sensors": board.sensors[1:]})
    product = next(p for p in project.products if p.name == line)
    spec = dataclasses.replace(smoke_spec.smoke_spec(fewer, project.soc, project.catalog, product, __version__),
                               marker_within=15)  # the window this test wants to see run out
    bad = tmp_path / "fewer.yaml"
    bad.write_text(render.environment().get_template("zephyr/smoke.yaml.j2").render(spec=spec))
    r = cli("qemu", "smoke", "--line", line, "--image", f"cpu0={cpu0}", "--image", f"cpu1={cpu1}", "--json",
            "--spec", str(bad), "--results", str(tmp_path / "bad"), cwd=ws, timeout=600)
    assert r.returncode == 2, r.stdout + r.stderr
    cases = json.loads(r.stdout)["runs"][0]["cases"]
    assert [c["name"] for c in cases if not c["passed"]] == ["cpu1 boot: PLDM repository of the board's sensors"], cases
    assert not [c for c in cases if c["kind"] == "command"]
