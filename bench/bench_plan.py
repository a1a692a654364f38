#!/usr/bin/env python3
"""`cmu610bsp build LINE --plan` against BitBake's own dry run, on a workspace with a real
OpenBMC tree: the plan `--runs` times (the first may parse every recipe; the others answer from
the warm parse cache), then `bitbake -n` of the same target in the same build directory and
composition (kas shell, the environment the tool computes). Prints the times and both task
counts: BitBake's "Attempted N tasks of which M didn't need to be rerun" against the plan's
total and N - would-run (they must be equal). Issue 15's targets: a second plan within 60 s on
2 cores, the first no slower than `bitbake -n`.

Run it as the user who builds (BitBake refuses root), with the interpreter cmu610bsp is installed in:

    python3 bench/bench_plan.py WORKSPACE [--line L] [--target T] [--runs N] -- <build arguments>
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

_SUMMARY = re.compile(r"Tasks Summary: Attempted (\d+) tasks of which (\d+) didn't need to be rerun")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--line", default="littlebmc")
    ap.add_argument("--target", help="default: the line's OpenBMC image, cmu610-LINE-image")
    ap.add_argument("--runs", type=int, default=2)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    ws, target = a.workspace.resolve(), a.target or f"cmu610-{a.line}-image"
    tool = [sys.executable, "-m", "cmu610bsp", "build", a.line, "--plan", "--json", "--target", target, *argv[cut + 1:]]
    plans = []
    for _ in range(a.runs):
        start = time.perf_counter()
        r = subprocess.run(tool, cwd=ws, capture_output=True, text=True, check=True)
        plans.append((time.perf_counter() - start, json.loads(r.stdout)["planned"]))
    from cmu610bsp.kasbuild import compose, lines_of

    req = compose.Request(a.line, target=target)
    env = compose.environment(ws, req, lines_of(ws).toolchain)  # the plan's overlay is current
    start = time.perf_counter()
    r = subprocess.run(compose.kas("shell", compose.composition_of(ws, req), "-c", f"bitbake -n {target}"),
                       cwd=ws, env=env, capture_output=True, text=True, check=True)
    dry = time.perf_counter() - start
    m = _SUMMARY.search(r.stdout + r.stderr)
    if m is None:
        sys.exit("bitbake -n printed no task summary")
    attempted, not_rerun = int(m.group(1)), int(m.group(2))
    p = plans[-1][1]
    print(f"{a.line}, {target}")
    for i, (seconds, _) in enumerate(plans, 1):
        print(f"{f'cmu610bsp build --plan, run {i}':40} {seconds:8.1f} s")
    print(f"{'bitbake -n':40} {dry:8.1f} s")
    print(f"tasks: plan {p['total']}, {p['run']} would run; bitbake -n {attempted}, {attempted - not_rerun} would run"
          f" -> {'equal' if (p['total'], p['run']) == (attempted, attempted - not_rerun) else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
