#!/usr/bin/env python3
"""An 8-board rack's firmware in one build on the real trees: compiles actually run against boards.

Makes a workspace (`cmu610bsp init`) whose littlebmc line has the evaluation board and seven
sleds (copies of configs/boards/cmu610-sled.yaml that differ in their BMC domain, name, hostname
and sensor address, and share one secure domain; the evaluation board has a secure domain of its
own), then runs, through the real CLI,

    cmu610bsp build littlebmc --all-boards <build arguments>

twice (a clean build, then the same again) and prints, for each run, the boards, the distinct
firmwares (one BMC firmware a board, one secure firmware a distinct secure domain), the
`do_compile` tasks of firmware that ran (target: one per distinct firmware, nothing twice; the
second run: none), what the boards shared, and the wall time. Run it as an ordinary user (BitBake
refuses root) with the interpreter cmu610bsp is installed in:

    python3 bench/bench_rack.py DIR [--sleds N] -- --offline --source openbmc=TREE --source zephyr=TREE \\
        --source libpldm=TREE --source libmctp=TREE
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from benchlib import compile_tool
from cmu610bsp import resources

SLED = "cmu610-sled"


def sleds(ws: Path, count: int) -> list[str]:
    """Describe `count` sleds beside the evaluation board in workspace `ws`: the built-in sled with
    its own name, hostname and temperature sensor address, its secure domain untouched (so one
    secure firmware serves them all). Returns the board names; the caller syncs."""
    sled = yaml.safe_load(resources.builtin_board(SLED).read_text())
    names = ["cmu610-evb"]
    for n in range(count):
        board = dict(sled, name=SLED if n == 0 else f"{SLED}{n}", full_name=f"CMU610 sled controller {n}")
        board["network"] = dict(sled["network"], hostname=board["name"])
        board["sensors"] = [dict(sled["sensors"][0], address=0x48 + n % 8), *sled["sensors"][1:]]
        (ws / "configs" / "boards" / f"{board['name']}.yaml").write_text(yaml.safe_dump(board, sort_keys=False))
        names.append(board["name"])
    config = ws / "cmu610bsp.yml"
    data = yaml.safe_load(config.read_text())
    data["boards"] = [f"configs/boards/{name}.yaml" for name in names]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return names


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cmu610bsp", *args], cwd=ws, capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="where to make the workspace (DIR/ws; must not exist yet)")
    ap.add_argument("--sleds", type=int, default=7, help="sleds beside the evaluation board (default 7: 8 boards)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    build_args = argv[cut + 1:]
    compile_tool()
    ws = a.dir.resolve() / "ws"
    subprocess.run([sys.executable, "-m", "cmu610bsp", "init", str(ws)], check=True, capture_output=True)
    boards = sleds(ws, a.sleds)
    subprocess.run([sys.executable, "-m", "cmu610bsp", "sync"], cwd=ws, check=True, capture_output=True)
    from cmu610bsp import render
    from cmu610bsp import workspace as wsp

    domains = render.secure_domains(wsp.load_project(wsp.open_workspace(ws)))
    machines = set(boards)
    secure = [d for d in domains if machines & set(d.machines)]
    distinct = len(boards) + len(secure)
    print(f"{len(boards)} boards of littlebmc; {len(secure)} distinct secure domains "
          f"({', '.join(f'{d.name}: {len(d.machines)} boards' for d in secure)}); distinct firmwares {distinct}")
    for run in ("clean build", "same again"):
        start = time.perf_counter()
        r = cli(ws, "build", "littlebmc", "--all-boards", *build_args, "--json")
        seconds = time.perf_counter() - start
        if r.returncode:
            print(f"{run}: exit {r.returncode}\n{r.stderr[-3000:]}")
            sys.exit(1)
        s = json.loads(r.stdout)
        fw = [c for c in s["compiled"] if c.startswith(("cmu610-secure-fw-", "cmu610-bmc-fw-"))]
        twice = [c for c, n in Counter(fw).items() if n > 1]
        print(f"\n{run}: {s['result']} in {seconds:.0f} s; BitBake tasks {s['tasks']}")
        print(f"  firmware compiles run: {len(fw)} for {len(boards)} boards ({distinct} distinct firmwares); "
              f"compiled twice: {', '.join(twice) or 'none'}; flash images packed: "
              f"{sum(c.startswith('cmu610-flash-image-') for c in s['compiled'])}")
        for sh in s["shared"]:
            print(f"  {sh['recipe']:44} boards {len(sh['boards'])}  compiled {sh['compiled']}  "
                  f"restored {sh['restored']}  reused {sh['reused']}")


if __name__ == "__main__":
    main()
