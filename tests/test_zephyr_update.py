"""The A/B update with the real firmware (ZEPHYR_BASE, LIBPLDM_DIR, LIBMCTP_DIR): the module's
secure and BMC applications behind the boot stage in the default board's flash, an update to a
BMC build that confirms its trial after a healthy boot (cmu610_confirm.c: MCTP's peer answers),
then one built with CONFIG_CMU610_CONFIRM=n that never does and is reverted at the next reset.
The Zephyr builds are test_zephyr.py's; without the trees it is skipped, never passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmu610bsp import bootstage, flash, flash_layout, proc, resources, update
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import QEMU, signing_key
from test_zephyr import _build, zephyr_env  # noqa: F401  (the fixture, shared)

pytestmark = pytest.mark.zephyr
TWIN = "cmu610_evb_qemu/cmu610"


def _image(elf: Path, hart: int) -> flash.Image:
    """The firmware as the layer's packer takes it: objcopy's raw bytes, linked base, ELF entry."""
    entry, segments = flash.elf_load(elf.read_bytes(), str(elf))
    base = min(s.address for s in segments if s.filesz)
    binary = elf.with_suffix(".raw")
    r = proc.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)], timeout=60)
    assert r.returncode == 0, r.stderr
    return flash.Image(binary.read_bytes(), base, entry, hart, (1, 0, 0))


def _boot(path: Path, until: str) -> str:
    """Boot the flash image until `until` is printed, then cut the power (SIGKILL); the console."""
    child = proc.console([QEMU, "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none", "-display", "none",
                          "-monitor", "none", "-serial", "stdio", "-net", "none", "-no-reboot",
                          "-drive", f"if=pflash,unit=0,format=raw,file={path}"])
    try:
        child.expect_exact(until, timeout=60)
        return str(child.before) + until
    finally:
        child.kill(9)
        child.close(force=True)


def test_the_bmc_firmware_confirms_a_healthy_update_and_an_unconfirmed_one_reverts(
        zephyr_env: dict[str, object], tmp_path: Path) -> None:  # noqa: F811
    secure = _image(_build(zephyr_env, f"{TWIN}/cpu0", app="secure"), 0)
    healthy = _image(_build(zephyr_env, f"{TWIN}/cpu1", "-DCMU610_LINE=littlebmc", app="bmc"), 1)
    unhealthy = _image(_build(zephyr_env, f"{TWIN}/cpu1", "-DCMU610_LINE=littlebmc", "-DCONFIG_CMU610_CONFIRM=n",
                              app="bmc"), 1)
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    boot = bootstage.build(board, soc, load_catalog(resources.sensor_catalog()), tmp_path / "boot").read_bytes()
    parts = flash_layout.partitions(board)
    path = tmp_path / "flash.bin"
    key = signing_key(tmp_path / "signing-key.pem")
    path.write_bytes(flash_layout.pack(board, soc, {"secure": secure, "bmc": healthy}, boot, key))
    peer = "peer endpoint 9 answers"

    update.update_file(path, parts, flash.signed(healthy, key))
    out = _boot(path, "update: bmc-fw-b confirmed after a healthy boot")
    assert "boot: bmc-fw-b: ok, on trial" in out, out
    out = _boot(path, peer)
    assert "boot: bmc-fw-b: ok, version" in out and "confirmed" not in out, out

    update.update_file(path, parts, flash.signed(unhealthy, key))
    out = _boot(path, peer)
    assert "boot: bmc-fw-a: ok, on trial" in out, out
    out = _boot(path, peer)
    assert "boot: bmc-fw-a: its trial was not confirmed: reverted, trying the next slot" in out, out
    assert "boot: bmc-fw-b: ok, version" in out, out
