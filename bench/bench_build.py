#!/usr/bin/env python3
"""Whole-process overhead of `cmu610bsp build` over the same `kas build`, on the fixture build
system (tests/fixtures/buildsys), for a no-op rebuild. Prints both medians, quartiles and the
ratio of the medians.

Both run as pip installs them, with their bytecode compiled: kas from site-packages has its .pyc
files; cmu610bsp, installed in editable mode from this checkout, gets them here first
(`compileall`, into the git-ignored __pycache__), else a PYTHONDONTWRITEBYTECODE environment
would make it compile its sources on every run (about 10 ms) where an installed wheel never does.

    python3 bench/bench_build.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import compile_tool, timed

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "buildsys"



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    runs = ap.parse_args().runs
    compile_tool()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([sys.executable, "-m", "cmu610bsp", "init", str(ws)], check=True, capture_output=True)
        tool = [sys.executable, "-m", "cmu610bsp", "build", "littlebmc", "--source", f"openbmc={FIXTURE}"]
        subprocess.run(tool, cwd=ws, check=True, capture_output=True)  # first build: fills shared state
        files = ":".join(["configs/kas/base.yml", "configs/kas/littlebmc.yml", "configs/kas/toolchain.yml",
                          "configs/kas/cache.yml", "build/.kas/littlebmc.yml"])
        env = {**os.environ, "KAS_WORK_DIR": str(ws / "build"), "KAS_BUILD_DIR": str(ws / "build" / "littlebmc")}
        kas, ours = [], []
        for _ in range(runs):  # interleaved, so load drifts hit both alike
            # the kas the tool runs (`python -m kas`, its own interpreter's), so only the tool differs
            kas.append(timed([sys.executable, "-m", "kas", "build", files], ws, env))
            ours.append(timed(tool, ws, dict(os.environ)))
    k, o = statistics.median(kas), statistics.median(ours)
    kq, oq = statistics.quantiles(kas, n=4), statistics.quantiles(ours, n=4)
    print(f"{'no-op rebuild on the fixture, ' + str(runs) + ' runs':40} {'median s':>9} {'quartiles s':>15}")
    print(f"{'kas build (same composition)':40} {k:9.3f} {kq[0]:7.3f}-{kq[2]:.3f}")
    print(f"{'cmu610bsp build littlebmc':40} {o:9.3f} {oq[0]:7.3f}-{oq[2]:.3f}")
    print(f"overhead ratio: {o / k:.3f}")


if __name__ == "__main__":
    main()
