#!/usr/bin/env python3
"""Whole-process start-up of `cmu610bsp --help`, `cmu610bsp build --help` and `cmu610bsp board show`
against `kas --help` on the same machine: medians of interleaved runs (load drifts hit all alike),
each command's ratio to kas's. Target: no command slower to start than kas's own `--help`.

Both as pip installs them, bytecode compiled (see bench_build.py for why this matters here).

    python3 bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import compile_tool, timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    runs = ap.parse_args().runs
    compile_tool()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([py, "-m", "cmu610bsp", "init", str(ws)], check=True, capture_output=True)
        commands = {
            "kas --help": [py, "-m", "kas", "--help"],
            "cmu610bsp --help": [py, "-m", "cmu610bsp", "--help"],
            "cmu610bsp build --help": [py, "-m", "cmu610bsp", "build", "--help"],
            "cmu610bsp board show": [py, "-m", "cmu610bsp", "board", "show"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():
            timed(argv, ws)  # warm the page cache
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(timed(argv, ws))
    base = statistics.median(times["kas --help"])
    print(f"{'whole process, ' + str(runs) + ' interleaved runs':34} {'median s':>9} {'quartiles s':>15} {'/ kas':>7}")
    for name, t in times.items():
        q = statistics.quantiles(t, n=4)
        m = statistics.median(t)
        print(f"{name:34} {m:9.3f} {q[0]:7.3f}-{q[2]:.3f} {m / base:7.2f}")
    worst = max(statistics.median(t) for name, t in times.items() if name != "kas --help")
    print(f"slowest cmu610bsp start-up / kas --help: {worst / base:.2f} (target <= 1.00)")


if __name__ == "__main__":
    main()
