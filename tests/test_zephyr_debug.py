"""`cmu610bsp debug --batch` on the real Zephyr firmware (ZEPHYR_BASE, LIBPLDM_DIR, LIBMCTP_DIR):
the generated applications built for the QEMU twin, both harts as gdb threads, a breakpoint in
`main` hit on each hart and a variable of each firmware read there, each the value the board's
description gives it. Skipped, never passed, without a tree (test_debug.py covers the rest with
test images)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cmu610bsp import firmware
from cmu610bsp.project import load_project
from conftest import Cli
from test_zephyr import _build, zephyr_env  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.zephyr

GDB = "gdb-multiarch"
LINE = "littlebmc"
TWIN = "cmu610_evb_qemu/cmu610"

# Whichever hart reaches main first stops first: each stop says which it is and reads a variable
# of its own firmware (the secure responder's first firmware image, the BMC's first inventory item).
SCRIPT = """\
break main
continue
{stop}
continue
{stop}
"""
STOP = """\
if $_thread == 1
  printf "stopped: thread %d hart 0 in main, image %s\\n", $_thread, images[0].partition
else
  printf "stopped: thread %d hart 1 in main, inventory %s\\n", $_thread, items[0].name
end"""


def test_debug_breaks_in_main_of_each_hart_and_reads_each_firmware(cli: Cli, zephyr_env: dict[str, object],  # noqa: F811
                                                                   tmp_path: Path) -> None:
    if not shutil.which(GDB):
        pytest.skip(f"needs {GDB}")
    ws = zephyr_env["ws"]
    assert isinstance(ws, Path)
    secure = _build(zephyr_env, f"{TWIN}/cpu0", app="secure")
    bmc = _build(zephyr_env, f"{TWIN}/cpu1", f"-DCMU610_LINE={LINE}", app="bmc")
    script = tmp_path / "both.gdb"
    script.write_text(SCRIPT.format(stop=STOP))
    r = cli("debug", "--line", LINE, "--image", f"cpu0={secure}", "--image", f"cpu1={bmc}", "--batch", str(script),
            "--timeout", "240", cwd=ws, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    project = load_project(ws)
    board = project.boards[0]
    image = firmware.firmware_images(board)[0][0]
    item = firmware.inventory(board, project.soc, project.catalog)[0].name
    stops = re.findall(r"^stopped: .*$", r.stdout, re.M)
    assert sorted(stops) == [f"stopped: thread 1 hart 0 in main, image {image}",
                             f"stopped: thread 2 hart 1 in main, inventory {item}"], r.stdout
    # each stop is in its own firmware's main, from its own sources
    assert re.search(r"Thread 1 hit Breakpoint 1\.\d+, main \(\) at \S+/apps/secure/src/main\.c", r.stdout), r.stdout
    assert re.search(r"Thread 2 hit Breakpoint 1\.\d+, main \(\) at \S+/apps/bmc/src/main\.c", r.stdout), r.stdout
    assert "thread 1 is hart 0, thread 2 is hart 1" in r.stderr, r.stderr
