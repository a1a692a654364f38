"""`cmu610bsp config` with a real Zephyr tree (ZEPHYR_BASE, LIBPLDM_DIR, LIBMCTP_DIR): `--set` checked
by Zephyr's Kconfig and written into the line's YAML, the next build's .config (Zephyr's cmake on
the synced module) holding the value; menuconfig driven through a pty writes the same YAML. Skipped,
never passed, without them (test_fwconfig.py covers the rest without a tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, cli_in_process, snapshot

pytestmark = pytest.mark.zephyr

ZEPHYR_BASE = os.environ.get("ZEPHYR_BASE", "")
DIRS = {"libpldm": os.environ.get("LIBPLDM_DIR", ""), "libmctp": os.environ.get("LIBMCTP_DIR", "")}
LINE = "littlebmc"
LITTLE = "configs/products/littlebmc.yaml"
GCC = "riscv64-unknown-elf-gcc"


@pytest.fixture(scope="module")
def sources() -> list[str]:
    if not ZEPHYR_BASE or not (Path(ZEPHYR_BASE) / "Kconfig.zephyr").is_file():
        pytest.skip("set ZEPHYR_BASE to a Zephyr 4.x tree")
    if not all(DIRS.values()):
        pytest.skip("set LIBPLDM_DIR and LIBMCTP_DIR to checkouts of OpenBMC's libpldm and libmctp")
    missing = [t for t in ("cmake", "ninja", GCC) if not shutil.which(t)]
    if missing:
        pytest.skip(f"missing host tools: {', '.join(missing)}")
    return ["--source", f"zephyr={ZEPHYR_BASE}", *(x for n, d in DIRS.items() for x in ("--source", f"{n}={d}"))]


def _fresh(tmp: Path) -> Path:
    ws = tmp / "ws"
    assert cli_in_process("init", str(ws)).returncode == 0
    return ws


def _dot_config(ws: Path, out: Path) -> str:
    """The .config of the next build of the line's BMC firmware: Zephyr's cmake on the synced
    module, as the firmware recipe runs it."""
    env = {**os.environ, "ZEPHYR_BASE": ZEPHYR_BASE, "ZEPHYR_TOOLCHAIN_VARIANT": "cross-compile",
           "CROSS_COMPILE": shutil.which(GCC)[: -len("gcc")]}  # type: ignore[index]
    r = subprocess.run(["cmake", "-GNinja", "-S", f"{ws}/meta-cmu610/zephyr/apps/bmc", "-B", str(out),
                        "-DBOARD=cmu610_evb_qemu/cmu610/cpu1", f"-DZEPHYR_MODULES={ws}/meta-cmu610/zephyr",
                        f"-DPython3_EXECUTABLE={sys.executable}", f"-DCMU610_LINE={LINE}",
                        *(f"-D{n.upper()}_SOURCE={d}" for n, d in DIRS.items())],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return (out / "zephyr" / ".config").read_text()


def test_set_is_checked_by_kconfig_and_the_next_build_has_it(cli: Cli, sources: list[str], tmp_path: Path) -> None:
    ws = _fresh(tmp_path)

    def description() -> dict[str, str]:  # build/config/ is the scratch configuration's
        return {k: v for k, v in snapshot(ws).items() if not k.startswith("build/")}

    before = description()
    # refused by Kconfig, each named, nothing written: no such symbol; a value that does not take
    r = cli("config", LINE, "--set", "CONFIG_NO_SUCH_OPTION=y", *sources, cwd=ws, timeout=600)
    assert r.returncode == 2 and "CONFIG_NO_SUCH_OPTION: not a Kconfig symbol of this configuration" in r.stderr, r.stderr
    r = cli("config", LINE, "--set", "CONFIG_SHELL_HISTORY_BUFFER=64", *sources, cwd=ws, timeout=600)
    assert r.returncode == 2 and "CONFIG_SHELL_HISTORY_BUFFER: does not take 64: it depends on" in r.stderr, r.stderr
    assert description() == before
    # a default-valued setting is not written; a changed one is, only that one
    r = cli("config", LINE, "--set", "CONFIG_MAIN_STACK_SIZE=2048", "--set", "CONFIG_SHELL_HISTORY=n", *sources,
            cwd=ws, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{LITTLE}: firmware.kconfig: CONFIG_MAIN_STACK_SIZE: 2048 (new)" in r.stdout, r.stdout
    assert "no Zephyr tree" not in r.stderr
    text = (ws / LITTLE).read_text()
    assert text.endswith("  kconfig:\n    CONFIG_MAIN_STACK_SIZE: 2048\n    CONFIG_SHELL_HISTORY: false\n"), text
    dot = _dot_config(ws, tmp_path / "build").splitlines()
    assert "CONFIG_MAIN_STACK_SIZE=2048" in dot and "# CONFIG_SHELL_HISTORY is not set" in dot
    # back to the default: the setting leaves the YAML
    r = cli("config", LINE, "--set", "CONFIG_MAIN_STACK_SIZE=1024", *sources, cwd=ws, timeout=600)
    assert r.returncode == 0 and "CONFIG_MAIN_STACK_SIZE: removed" in r.stdout, r.stdout + r.stderr
    assert "CONFIG_MAIN_STACK_SIZE" not in (ws / LITTLE).read_text()


def test_menuconfig_through_a_pty_writes_what_set_writes(cli: Cli, sources: list[str], tmp_path: Path) -> None:
    """A process on a pseudo-terminal (menuconfig is a curses program): jump to the option, give it
    a value, quit saving; the YAML is the one `--set` writes."""
    import pexpect

    by_set = _fresh(tmp_path / "set")
    r = cli("config", LINE, "--set", "CONFIG_MAIN_STACK_SIZE=2048", *sources, cwd=by_set, timeout=600)
    assert r.returncode == 0, r.stderr
    ws = _fresh(tmp_path / "menu")
    env = {**os.environ, "TERM": "xterm", "CMU610BSP_LOCK_WAIT": "5"}
    child = pexpect.spawn(sys.executable, ["-m", "cmu610bsp", "config", LINE, *sources], cwd=str(ws), env=env,
                          dimensions=(40, 120), encoding="utf-8", codec_errors="replace", timeout=600)
    try:
        child.expect(r"\[/\] Jump to symbol")  # the main menu's help line
        child.send("/")
        child.expect("Jump to symbol/choice")
        child.send("^MAIN_STACK_SIZE$ initialization")  # the option's node with its prompt
        child.expect("MAIN_STACK_SIZE", timeout=60)
        child.send("\r")  # jump to it
        child.expect("Size of stack for initialization and main thread", timeout=60)
        child.send("\r")  # edit its value
        child.expect(r"\(1024\)|1024", timeout=60)
        child.send("\x15" + "2048\r")  # Ctrl-U clears the field
        child.send("Q")
        child.expect("Save configuration", timeout=60)
        child.send("y")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert (ws / LITTLE).read_text() == (by_set / LITTLE).read_text()
    assert (ws / "meta-cmu610/zephyr/apps/bmc/littlebmc.conf").read_text() == \
        (by_set / "meta-cmu610/zephyr/apps/bmc/littlebmc.conf").read_text()


def test_the_trees_default_to_the_last_build_s_and_a_missing_one_is_named(cli: Cli, sources: list[str],
                                                                           tmp_path: Path) -> None:
    """Without --source: Zephyr and the components' sources where the newest build unpacked them
    (the layer's work-shared directories; links to the trees stand in for a build here)."""
    ws = _fresh(tmp_path)
    r = cli("config", LINE, "--set", "CONFIG_MAIN_STACK_SIZE=2048", "--source", f"zephyr={ZEPHYR_BASE}",
            "--source", f"libpldm={DIRS['libpldm']}", cwd=ws, timeout=600)
    assert r.returncode == 2 and "--source: libmctp: not given" in r.stderr, r.stderr
    shared = ws / "build" / LINE / "tmp/work-shared"
    (shared / "cmu610-zephyr/sources").mkdir(parents=True)
    (shared / "cmu610-zephyr/sources/zephyr").symlink_to(ZEPHYR_BASE)
    for name, path in DIRS.items():
        (shared / f"cmu610-zephyr-libs/{name}/sources").mkdir(parents=True)
        (shared / f"cmu610-zephyr-libs/{name}/sources/{name}").symlink_to(path)
    r = cli("config", LINE, "--set", "CONFIG_MAIN_STACK_SIZE=2048", cwd=ws, timeout=600, unset=("ZEPHYR_BASE",))
    assert r.returncode == 0 and "no Zephyr tree" not in r.stderr, r.stderr
    assert "CONFIG_MAIN_STACK_SIZE: 2048" in (ws / LITTLE).read_text()
