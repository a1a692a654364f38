"""Issue 25's A/B update on what BitBake built (Must show 3): real kas, real BitBake, offline, the
workspace's signing key. `build littlebmc --smoke` signs and the twin verifies and boots; its flash
image, copied, is the "device" (a field unit's factory flash) every later step updates with the
`cmu610bsp update` command and boots on QEMU with a writable pflash: a devtool build of the BMC
firmware is started on trial and confirms itself, a deliberately unhealthy one is reverted to it.
Skipped and reported, never passed, without OPENBMC_DIR, ZEPHYR_BASE, LIBPLDM_DIR and LIBMCTP_DIR
(test_openbmc_build.py's `tool` fixture: a fresh workspace, `keys generate`, BitBake as obmc).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pexpect
import pytest

from cmu610bsp import proc, qemu, resources, update
from cmu610bsp.layout import FLASH_IMAGE, FLASH_MANIFEST, UPDATE_PACKAGE
from cmu610bsp.model import load_soc
from conftest import firmware_sources
from test_openbmc_build import _bitbake_left, _run, tool  # noqa: F401  (the fixture, shared)

pytestmark = [pytest.mark.openbmc, pytest.mark.zephyr]

LINE = "littlebmc"
# the console lines of the boot stage (data/bootstage/boot.c, slots.c) and the BMC firmware (its
# main.c, cmu610_confirm.c's caller); the peer's endpoint is the board's (9 on the built-in one)
TRIAL = "boot: {}: ok, on trial"
STARTED = "boot: {}: ok, version"
CONFIRMED = "update: {} confirmed after a healthy boot"
REVERTED = "boot: {}: its trial was not confirmed: reverted, trying the next slot"
PEER_OK = "peer endpoint 9 answers"
PEER_BAD = "peer endpoint 9 does not answer"
UPDATE = "update: "  # the firmware's confirmation, or its failure to write it
MARKER = "devtool: update 2, the healthy build"
MARKER_BAD = "devtool: update 3, the unhealthy build"


@pytest.fixture(scope="module")
def fw_sources() -> tuple[str, ...]:
    """The firmware's --source options (skips without the trees), before `tool` sets anything up."""
    sources = firmware_sources()
    if not shutil.which(qemu.BINARY):
        pytest.skip(f"{qemu.BINARY} not installed")
    return sources


def _boot(device: Path, until: str, timings: dict[str, float], name: str, absent: str | None = None) -> str:
    """Boot the device's flash on the twin (QEMU's writable pflash, as `qemu run` does) until
    `until` is printed, give `absent` 3 s more to show (the caller checks it did not), then cut
    the power (SIGKILL); the console."""
    argv = qemu.command(load_soc(resources.builtin_soc()), qemu.Images(flash=device), device.parent / "qmp.sock",
                        qemu.find_binary())
    start = time.monotonic()
    child = proc.console(argv)
    try:
        child.expect_exact(until, timeout=180)
        out = str(child.before) + until
        if absent is not None:
            seen = child.expect_exact([absent, pexpect.TIMEOUT], timeout=3)
            out += str(child.before) + (absent if seen == 0 else "")
    finally:
        child.kill(9)
        child.close(force=True)
    timings[name] = time.monotonic() - start
    # (the BMC's shell prompt may come first on a line: "uart:~$ mctp: ...")
    print(f"\n{name}: " + " | ".join(line.strip() for line in out.splitlines()
                                     if any(k in line for k in ("boot: bmc", "update: ", "devtool: ", "mctp: "))))
    return out


def _slots(device: Path) -> dict[str, tuple[bool, bool, bool, int]]:
    """Each BMC slot's trailer in the device's flash as update.py reads it (what the boot stage and
    the firmware wrote into QEMU's pflash): (complete, started on trial, confirmed, generation)."""
    table, _ = update.read_manifest(device.parent / FLASH_MANIFEST)
    return {s.partition.name: (s.complete, s.tried, s.confirmed, s.generation)
            for s in update.slots(table, device.read_bytes())}


def test_update_to_a_devtool_build_confirms_and_an_unhealthy_one_reverts(
        fw_sources: tuple[str, ...], tool: dict[str, object]) -> None:  # noqa: F811
    ws = Path(str(tool["ws"]))
    build_dir = ws / "build" / LINE
    src = ("--offline", "--source", f"openbmc={tool['tree']}", *fw_sources)
    timings: dict[str, float] = {}

    def build(name: str, *extra: str) -> dict[str, object]:
        """A build for the twin (--smoke implies it; without, the board's twin is named)."""
        start = time.monotonic()
        r = _run(tool, "build", LINE, *src, *(extra or ("--board", "cmu610-evb-qemu")), "--json", timeout=7200)
        timings[name] = time.monotonic() - start
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        data: dict[str, object] = json.loads(r.stdout)
        assert data["result"] == "success" and data["machine"] == "cmu610-evb-qemu", data
        return data

    def artifact(data: dict[str, object], name: str) -> Path:
        """The artifact the build's summary names, checked against the sha256 it gives."""
        (a,) = [a for a in data["artifacts"] if a["path"].rsplit("/", 1)[-1] == name]  # type: ignore[attr-defined]
        path = build_dir / a["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == a["sha256"], (name, a)
        return path

    def update(package: Path) -> str:
        r = _run(tool, "update", str(device), str(package))
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    # 1. the factory flash: signed, verified and booted by the twin's boot stage (the smoke)
    factory = build("clean build --smoke", "--smoke")
    assert factory["smoke"]["passed"], factory["smoke"]  # type: ignore[index]
    transcript = Path(factory["smoke"]["transcript"]).read_text()  # type: ignore[index]
    assert STARTED.format("secure-fw") in transcript and STARTED.format("bmc-fw-a") in transcript, transcript
    unit = ws.parent / "device"
    unit.mkdir()
    device = unit / FLASH_IMAGE
    shutil.copyfile(artifact(factory, FLASH_IMAGE), device)
    shutil.copyfile(artifact(factory, FLASH_MANIFEST), unit / FLASH_MANIFEST)
    if tool["user"]:
        for p in (unit, device, unit / FLASH_MANIFEST):
            shutil.chown(p, str(tool["user"]))

    # 2. a firmware engineer's edit of the BMC application, built, updated, started on trial, confirmed
    start = time.monotonic()
    r = _run(tool, "devtool", "modify", "cmu610-bmc-fw", "--line", LINE, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    timings["devtool modify"] = time.monotonic() - start
    main_c = build_dir / "workspace" / "sources" / "cmu610-bmc-fw" / "zephyr" / "apps" / "bmc" / "src" / "main.c"
    text = main_c.read_text()
    edited = text.replace("\tcmu610_devices();\n", f'\tcmu610_devices();\n\tprintk("{MARKER}\\n");\n', 1)
    assert edited != text
    main_c.write_text(edited)
    second = build("devtool build")
    said = update(artifact(second, UPDATE_PACKAGE))
    assert "bmc-fw-b:" in said, said
    out = _boot(device, CONFIRMED.format("bmc-fw-b"), timings, "boot: trial")
    assert TRIAL.format("bmc-fw-b") in out and MARKER in out, out
    out = _boot(device, PEER_OK, timings, "boot: confirmed", absent=UPDATE)
    assert STARTED.format("bmc-fw-b") in out and MARKER in out and UPDATE not in out, out
    assert _slots(device) == {"bmc-fw-a": (True, False, True, 0), "bmc-fw-b": (True, True, True, 1)}

    # 3. a regression: the health check compares the peer's answer with the BMC's own endpoint id
    # (a typo a review can miss), so MCTP works but the boot never counts as healthy: no confirm
    text = main_c.read_text()
    unhealthy = text.replace(f'printk("{MARKER}\\n");', f'printk("{MARKER_BAD}\\n");', 1).replace(
        "\tif (rc == CMU610_MCTP_PEER) {\n", "\tif (rc == CMU610_MCTP_EID) {\n", 1)
    assert unhealthy.count(MARKER_BAD) == 1 and "rc == CMU610_MCTP_EID" in unhealthy
    main_c.write_text(unhealthy)
    third = build("unhealthy devtool build")
    said = update(artifact(third, UPDATE_PACKAGE))
    assert "bmc-fw-a:" in said, said
    out = _boot(device, PEER_BAD, timings, "boot: unhealthy trial", absent=UPDATE)
    assert TRIAL.format("bmc-fw-a") in out and MARKER_BAD in out and UPDATE not in out, out
    out = _boot(device, PEER_OK, timings, "boot: reverted", absent=UPDATE)
    assert REVERTED.format("bmc-fw-a") in out and STARTED.format("bmc-fw-b") in out, out
    assert MARKER in out and MARKER_BAD not in out and UPDATE not in out, out
    # bmc-fw-a's magic zeroed for good (never chosen again), bmc-fw-b confirmed
    assert _slots(device) == {"bmc-fw-a": (False, True, False, 2), "bmc-fw-b": (True, True, True, 1)}

    start = time.monotonic()
    r = _run(tool, "devtool", "reset", "cmu610-bmc-fw", "--line", LINE, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    timings["devtool reset"] = time.monotonic() - start
    assert _bitbake_left(ws) == []
    print("\n" + "; ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; smoke {factory['smoke']['seconds']:.1f} s")  # type: ignore[index]
