#!/usr/bin/env python3
"""On a workspace that has built a line for real (kas + BitBake, e.g. `cmu610bsp build littlebmc
--smoke --offline --source openbmc=... --source zephyr=... --source libpldm=... --source libmctp=...`),
two whole-process comparisons:

1. `cmu610bsp build LINE <the same arguments>` as a no-op rebuild against `kas build` of the
   composition the tool hands kas, with the environment the tool gives it (its API computes both),
   interleaved; medians and the ratio (target: at most 1.02: the tool adds nothing noticeable to
   a real build). kas is timed until BitBake's server has let go of the build directory: kas
   returns seconds before that, and the tool, which leaves no BitBake process behind, waits for it;
2. `cmu610bsp qemu smoke --line LINE` of the flash image that build deployed against a bare
   qemu-system-riscv32 booting the same image to the BMC shell's prompt.

Run it as the user who built (BitBake refuses root), with the interpreter cmu610bsp is installed in:

    python3 bench/bench_firmware.py WORKSPACE [--line L] [--runs N] -- <build arguments>
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import compile_tool, timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--line", default="littlebmc")
    ap.add_argument("--runs", type=int, default=5)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    a.build_args = argv[cut + 1:]  # after --: what the build was given (--offline, --source NAME=PATH)
    ws = a.workspace.resolve()
    compile_tool()
    from cmu610bsp.kasbuild import bitbake, compose, lines_of

    summary = json.loads((ws / "build" / a.line / "summary.json").read_text())
    if "machine" not in summary:  # the line's last build was a rack (`build --all-boards`)
        sys.exit(f"{ws}: the last build of {a.line} was of several boards; build one board first "
                 f"(cmu610bsp build {a.line} --board BOARD-qemu ...)")
    tool = [sys.executable, "-m", "cmu610bsp", "build", a.line, "--board", summary["machine"], *a.build_args]
    subprocess.run(tool, cwd=ws, check=True, capture_output=True)  # the overlay of these arguments, current
    req = compose.Request(a.line)
    kas = compose.build_command(ws, req)
    env = compose.environment(ws, req, lines_of(ws).toolchain)
    kas_t, ours = [], []
    for _ in range(a.runs):  # interleaved, so load drifts hit both alike
        start = time.perf_counter()
        subprocess.run(kas, cwd=ws, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while bitbake.servers(ws / "build" / a.line):  # kas returns before BitBake's server has
            time.sleep(0.05)                            # shut down; the tool waits for it
        kas_t.append(time.perf_counter() - start)
        ours.append(timed(tool, ws))
    k, o = statistics.median(kas_t), statistics.median(ours)
    print(f"{'no-op rebuild, ' + str(a.runs) + ' interleaved runs':44} {'median s':>9}  all s")
    print(f"{'kas build (the composition the tool runs)':44} {k:9.2f}  {' '.join(f'{x:.1f}' for x in kas_t)}")
    print(f"{'cmu610bsp build ' + a.line:44} {o:9.2f}  {' '.join(f'{x:.1f}' for x in ours)}")
    print(f"overhead ratio: {o / k:.3f} (target <= 1.02)")

    flash = ws / "build" / a.line / "tmp" / "deploy" / "images" / summary["machine"] / "flash.bin"
    bare, smoke = [], []
    for _ in range(a.runs):
        bare.append(_bare_to_prompt(flash))
        smoke.append(timed([sys.executable, "-m", "cmu610bsp", "qemu", "smoke", "--line", a.line], ws))
    b, s = statistics.median(bare), statistics.median(smoke)
    print(f"{'flash image boot, ' + str(a.runs) + ' runs':44} {'median s':>9}")
    print(f"{'bare QEMU, pflash, to the BMC prompt':44} {b:9.2f}")
    print(f"{'cmu610bsp qemu smoke (spec checked)':44} {s:9.2f}")
    print(f"ratio: {s / b:.2f}")


def _bare_to_prompt(flash: Path) -> float:
    start = time.perf_counter()
    p = subprocess.Popen(["qemu-system-riscv32", "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none",
                          "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
                          "-drive", f"if=pflash,unit=0,format=raw,readonly=on,file={flash}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    seen = b""
    try:
        assert p.stdout is not None
        while b"uart:~$ " not in seen and time.perf_counter() - start < 60:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    finally:
        p.kill()
        p.wait()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
