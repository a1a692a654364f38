"""`cmu610bsp debug` and `qemu run --gdb` on the real QEMU twin with the real gdb-multiarch: the
flash image the default path boots (the boot stage copies each test image to its domain's RAM),
both harts as gdb threads, each firmware's symbols where its image runs. The Zephyr firmware's
session is in test_zephyr_debug.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Cli, processes, spawn_cli
from flashimg import FW, GCC, MISSING, amp_flash_image

GDB = "gdb-multiarch"
pytestmark = pytest.mark.skipif(bool(MISSING) or not shutil.which(GDB), reason=MISSING or f"needs {GDB}")

LINE = "littlebmc"
TWIN = "cmu610-evb-qemu"

# Each hart's test image calls fw_main(hart) once the boot stage has started it: the breakpoint
# has one location in each image, and `hart` is each firmware's own variable.
BOTH_HARTS = """\
break fw_main
continue
printf "stopped: thread %d hart %d\\n", $_thread, hart
continue
printf "stopped: thread %d hart %d\\n", $_thread, hart
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a build of the twin deploys, made without BitBake: flash.bin, its manifest and the
    two firmware ELFs beside it (zephyr-cpu<hart>.elf), the test images standing in for Zephyr."""
    from cmu610bsp import flash, flash_layout

    out = tmp_path_factory.mktemp("deployed")
    amp = amp_flash_image(out)
    (out / "flash.bin").write_bytes(amp.flash)
    manifest = flash.manifest(flash_layout.partitions(amp.board), amp.flash)
    (out / "flash-manifest.json").write_text(json.dumps({"partitions": manifest}))
    shutil.copy(out / "secure.elf", out / "zephyr-cpu0.elf")
    shutil.copy(out / "bmc.elf", out / "zephyr-cpu1.elf")
    # and one image that boots on either hart and then runs for ever (hart 0 serves a console)
    libgcc = Path(subprocess.run([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"], capture_output=True,
                                 text=True, check=True).stdout.strip()).parent
    subprocess.run([GCC, "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany", "-ffreestanding", "-nostdlib",
                    "-nostartfiles", "-O2", "-g", "-T", str(FW / "link.ld"), "-Wl,--no-warn-rwx-segments", str(FW / "start.S"),
                    str(FW / "fw.c"), f"-L{libgcc}", "-lgcc", "-o", str(out / "console.elf")], check=True)
    return out


def _deploy(ws: Path, built: Path) -> Path:
    deploy = ws / "build" / LINE / "tmp/deploy/images" / TWIN
    deploy.mkdir(parents=True)
    for name in ("flash.bin", "flash-manifest.json", "zephyr-cpu0.elf", "zephyr-cpu1.elf"):
        shutil.copy(built / name, deploy / name)
    return deploy


def _ours(marker: Path) -> list[str]:
    """QEMU and gdb processes of this test (their command lines name its files)."""
    return [f"{pid} {cmd}" for pid, cmd, _ in processes()
            if ("qemu-system-riscv32" in cmd or GDB in cmd) and str(marker) in cmd]


def _gone(marker: Path) -> bool:
    end = time.monotonic() + 10
    while _ours(marker) and time.monotonic() < end:
        time.sleep(0.05)
    return not _ours(marker)


def test_a_batch_session_breaks_in_each_harts_firmware(cli: Cli, workspace: Path, built: Path, tmp_path: Path) -> None:
    """The default path: the flash image of the line's last build, booted halted; gdb stops in
    fw_main on each hart (thread 1 is hart 0, thread 2 hart 1) and reads each image's variable."""
    deploy = _deploy(workspace, built)
    script = tmp_path / "both.gdb"
    script.write_text(BOTH_HARTS)
    r = cli("debug", "--batch", str(script), "--timeout", "300", cwd=workspace, timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(2 locations)" in r.stdout, r.stdout  # fw_main in each image, each at its load address
    stops = sorted(line for line in r.stdout.splitlines() if line.startswith("stopped:"))
    assert stops == ["stopped: thread 1 hart 0", "stopped: thread 2 hart 1"], r.stdout
    assert f"the flash image of the last {LINE} build" in r.stderr and str(deploy / "zephyr-cpu1.elf") in r.stderr
    console = (workspace / "build/debug" / f"cmu610-evb-{LINE}" / "console.log").read_text()
    assert "cpu0: boot ok" in console and "cpu1: boot ok" in console
    assert _gone(deploy)


def test_symbols_go_where_the_header_loads_the_image(built: Path, tmp_path: Path) -> None:
    """An ELF whose image the flash header loads elsewhere than it was linked gets its symbols
    at the header's address (gdb's add-symbol-file -o), read back by gdb itself."""
    from cmu610bsp import debug, proc

    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name in ("zephyr-cpu0.elf", "zephyr-cpu1.elf"):
        shutil.copy(built / name, deploy / name)
    manifest = json.loads((built / "flash-manifest.json").read_text())
    for part in manifest["partitions"]:
        if part.get("image") and part["image"]["hart"] == 1:
            part["image"]["load_address"] += 0x1000
    (deploy / "flash-manifest.json").write_text(json.dumps(manifest))
    symbols = debug.deployed_symbols(deploy, 2)
    assert [(s.what, s.offset) for s in symbols] == [("hart 0", 0), ("hart 1", 0x1000)]
    cmds = debug.gdb_commands(symbols, tmp_path / "no.sock")[:-1]  # all but the connection
    r = proc.run([GDB, "-q", "-nx", "-batch", *(a for c in cmds for a in ("-ex", c)), "-ex", "info line fw_main"],
                 timeout=60)
    linked = 0x800c0000  # hart 1's RAM window on the default board's twin: where bmc.elf was linked
    starts = [int(w, 16) for w in r.stdout.split() if w.startswith("0x800")]
    assert any(linked + 0x1000 <= a < linked + 0x2000 for a in starts), r.stdout + r.stderr


def test_a_failing_script_fails_the_command_and_stops_qemu(cli: Cli, workspace: Path, built: Path, tmp_path: Path) -> None:
    deploy = _deploy(workspace, built)
    script = tmp_path / "bad.gdb"
    script.write_text("print no_such_symbol\n")
    r = cli("debug", "--batch", str(script), "--timeout", "120", cwd=workspace, timeout=200)
    assert r.returncode == 2 and "No symbol" in r.stdout and "failed" in r.stderr, r.stdout + r.stderr
    assert _gone(deploy)


def test_without_gdb_nothing_starts(cli: Cli, workspace: Path, built: Path, tmp_path: Path) -> None:
    deploy = _deploy(workspace, built)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "qemu-system-riscv32").symlink_to(shutil.which("qemu-system-riscv32") or "/bin/false")
    r = cli("debug", cwd=workspace, env={"PATH": str(bindir)})
    assert r.returncode == 2 and f"{GDB} not found" in r.stderr and "apt-get install gdb-multiarch" in r.stderr
    assert not _ours(deploy)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["INT", "KILL"])
def test_an_interrupted_session_leaves_nothing_running(workspace: Path, built: Path, tmp_path: Path, sig: int) -> None:
    """A process: the tool is signalled while gdb waits on a running twin; neither QEMU nor gdb
    outlives it (Ctrl-C of a batch session is the tool's: 130)."""
    elf = tmp_path / "console.elf"  # its path tells this test's QEMU and gdb from any other
    shutil.copy(built / "console.elf", elf)
    script = tmp_path / "wait.gdb"
    script.write_text("continue\n")  # the console firmware never stops by itself
    p = spawn_cli("debug", "--image", f"cpu0={elf}", "--image", f"cpu1={elf}", "--batch", str(script), cwd=workspace,
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and not any(GDB in c for c in _ours(elf)):
            time.sleep(0.05)
        assert any(GDB in c for c in _ours(elf)), "gdb did not start"
        time.sleep(0.5)
        os.kill(p.pid, sig)  # the tool only, not its group: it must stop what it started
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    if sig == signal.SIGINT:
        assert p.returncode == 130, p.stderr.read().decode() if p.stderr else ""
    assert _gone(elf), _ours(elf)


def test_qemu_run_gdb_starts_the_twin_halted_with_its_stub(workspace: Path, built: Path) -> None:
    """A process (QEMU on the terminal as `qemu run` runs it): `--gdb=PORT` halts both harts at
    reset behind a stub on 127.0.0.1:PORT; gdb sees both as threads; Ctrl-C stops QEMU."""
    from cmu610bsp import proc

    deploy = _deploy(workspace, built)
    with socket.socket() as s:  # a port free now: no fixed port, tests run side by side
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = spawn_cli("qemu", "run", f"--gdb={port}", cwd=workspace, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, start_new_session=True, text=True)
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and not _ours(deploy):
            time.sleep(0.05)
        r = None
        while time.monotonic() < end:
            r = proc.run([GDB, "-q", "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{port}", "-ex", "info threads",
                          "-ex", "disconnect"], timeout=60)
            # disconnect leaves the twin halted: gdb -batch's end would kill QEMU, and detach would
            # let the test image run to its power-off, either racing the Ctrl-C below
            if "CPU#1" in r.stdout:
                break
            time.sleep(0.2)
        assert r is not None and "CPU#0" in r.stdout and "CPU#1" in r.stdout, (r.stdout + r.stderr) if r else "no gdb"
        assert r.stdout.count("0x00001000") >= 2, r.stdout  # both harts still at virt's reset vector: halted
        assert p.poll() is None
        os.kill(p.pid, signal.SIGINT)
        _out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130 and f"127.0.0.1:{port}" in err, err
    assert _gone(deploy)


def test_a_busy_gdb_port_is_refused_before_qemu_starts(cli: Cli, workspace: Path, built: Path) -> None:
    deploy = _deploy(workspace, built)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cli("qemu", "run", "--gdb", str(port), cwd=workspace)
    assert r.returncode == 2 and f"--gdb={port}: port {port} on 127.0.0.1 is busy" in r.stderr, r.stderr
    assert not _ours(deploy)


def test_a_bare_gdb_option_takes_qemus_default_port() -> None:
    from cmu610bsp.cli.common import optional_values

    assert optional_values(["qemu", "run", "--gdb"]) == ["qemu", "run", "--gdb=1234"]
    assert optional_values(["qemu", "run", "--gdb", "--line", "x"]) == ["qemu", "run", "--gdb=1234", "--line", "x"]
    assert optional_values(["qemu", "run", "--gdb", "4000"]) == ["qemu", "run", "--gdb", "4000"]
    assert optional_values(["qemu", "run", "--", "--gdb"]) == ["qemu", "run", "--", "--gdb"]


@pytest.mark.parametrize("text", ["{not json", '{"partitions": [{"image": {"hart": 1}}]}', "[]"])
def test_a_malformed_flash_manifest_is_named_not_a_traceback(tmp_path: Path, text: str) -> None:
    from cmu610bsp import debug
    from cmu610bsp.errors import BspError

    (tmp_path / "flash-manifest.json").write_text(text)
    with pytest.raises(BspError, match="not a flash manifest") as e:
        debug.deployed_symbols(tmp_path, 2)
    assert str(tmp_path / "flash-manifest.json") in str(e.value)
