#!/usr/bin/env python3
"""Times `cmu610bsp init` for the default board, and `generate` and `generate` + `check` for a
synthetic rack of 98 boards (one bigbmc, 97 littlebmc), through the real CLI in subprocesses.
Prints the figures.

    python3 bench/bench_generate.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cmu610bsp", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def rack(root: Path) -> int:
    """A workspace with the evb (bigbmc) and 97 sled boards (littlebmc) with unique names."""
    (root / "configs/boards").mkdir(parents=True)
    for d in ("soc", "products"):
        shutil.copytree(REPO / "configs" / d, root / "configs" / d)
    boards = ["configs/boards/cmu610-evb.yaml"]
    shutil.copy(REPO / boards[0], root / boards[0])
    sled = yaml.safe_load((REPO / "configs/boards/cmu610-sled.yaml").read_text())
    for i in range(1, 98):
        sled["name"] = f"cmu610-sled-{i:02d}"
        sled["network"]["hostname"] = sled["name"]
        sled["sensors"][0]["address"] = 0x48 + i % 8
        rel = f"configs/boards/{sled['name']}.yaml"
        (root / rel).write_text(yaml.safe_dump(sled, sort_keys=False))
        boards.append(rel)
    cfg = {"version": 1, "soc": "configs/soc/cmu610.yaml", "boards": boards,
           "products": ["configs/products/bigbmc.yaml", "configs/products/littlebmc.yaml"], "keep": []}
    (root / "cmu610bsp.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return len(boards)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        baseline = [cli("--version") for _ in range(runs)]
        inits = [cli("init", str(t / f"init{i}")) for i in range(runs)]
        cold, noop, checked, files = [], [], [], 0
        for i in range(max(3, runs // 2)):
            ws = t / f"rack{i}"
            n = rack(ws)
            cold.append(cli("generate", cwd=ws))
            noop.append(cli("generate", cwd=ws))
            files = sum(1 for p in (ws / "meta-cmu610").rglob("*") if p.is_file())
            # every generated file against its consumer (dtc, schemas, kconfiglib, BitBake's parser,
            # oelint-adv, kas's schema, entity-manager's schema): `generate` + `check`, whole commands
            start = time.perf_counter()
            cli("generate", "--force", cwd=ws)
            subprocess.run([sys.executable, "-m", "cmu610bsp", "check"], cwd=ws,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # its verdict is not the point here
            checked.append(time.perf_counter() - start)
    med = statistics.median
    print(f"{'what':44} {'median s':>9} {'min s':>7}")
    print(f"{'cmu610bsp --version (interpreter + imports)':44} {med(baseline):9.3f} {min(baseline):7.3f}")
    print(f"{'init, default board (render, checks, git)':44} {med(inits):9.3f} {min(inits):7.3f}")
    print(f"{f'generate, rack of {n} boards, cold':44} {med(cold):9.3f} {min(cold):7.3f}")
    print(f"{f'generate, rack of {n} boards, no-op':44} {med(noop):9.3f} {min(noop):7.3f}")
    print(f"{f'generate --force + check, rack of {n} boards':44} {med(checked):9.3f} {min(checked):7.3f}")
    print(f"rack output: {files} files under meta-cmu610/; targets: generate well under 3 s, "
          "generate + check at most 10 s")


if __name__ == "__main__":
    main()
