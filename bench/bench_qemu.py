#!/usr/bin/env python3
"""Boot-to-verdict time of a passing `cmu610bsp qemu smoke` run on the bare-metal test firmware,
divided by a bare `qemu-system-riscv32` start-and-quit; both measured in this one run.

    python3 bench/bench_qemu.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FW = REPO / "tests" / "firmware"
SPEC = """name: bench
deadline: 20
prompt: 'fw> '
cores:
  cpu0: {markers: [{pattern: 'cpu0: boot ok', within: 5}]}
  cpu1: {markers: [{pattern: 'cpu1: boot ok', within: 5}]}
commands:
  - {send: ping, expect: pong, within: 3}
never: ['FATAL ERROR']
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        libgcc = subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"],
                                capture_output=True, text=True, check=True).stdout.strip()
        elf = t / "fw.elf"
        subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany",
                        "-ffreestanding", "-nostdlib", "-nostartfiles", "-O2", "-T", str(FW / "link.ld"),
                        "-Wl,--no-warn-rwx-segments", str(FW / "start.S"), str(FW / "fw.c"),
                        f"-L{Path(libgcc).parent}", "-lgcc", "-o", str(elf)], check=True)
        (t / "spec.yaml").write_text(SPEC)
        subprocess.run([sys.executable, "-m", "cmu610bsp", "init", str(t / "ws")], check=True, capture_output=True)
        bare, tool, verdict = [], [], []
        for _ in range(runs):
            start = time.perf_counter()
            _bare(elf)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "cmu610bsp", "qemu", "smoke", "--image", f"cpu0={elf}",
                                "--image", f"cpu1={elf}", "--spec", str(t / "spec.yaml"), "--json"],
                               cwd=t / "ws", capture_output=True, text=True, check=True)
            tool.append(time.perf_counter() - start)
            verdict.append(json.loads(r.stdout)["runs"][0]["seconds"])
    med = statistics.median
    print(f"{'what':58} {'median s':>9}")
    print(f"{'bare qemu-system-riscv32 start and quit (QMP quit)':58} {med(bare):9.3f}")
    print(f"{'smoke run, boot to verdict (inside the tool)':58} {med(verdict):9.3f}")
    print(f"{'cmu610bsp qemu smoke, whole process':58} {med(tool):9.3f}")
    print(f"ratio boot-to-verdict / bare start-and-quit: {med(verdict) / med(bare):.2f}")
    print(f"ratio whole command / bare start-and-quit:   {med(tool) / med(bare):.2f}")


def _bare(elf: Path) -> None:
    """Start QEMU with the same machine and image, and quit it over QMP as soon as it answers."""
    import socket

    with tempfile.TemporaryDirectory() as tmp:
        sock_path = Path(tmp) / "qmp.sock"
        p = subprocess.Popen(["qemu-system-riscv32", "-machine", "virt", "-smp", "2", "-bios", "none", "-display", "none",
                              "-monitor", "none", "-serial", "null", "-no-reboot", "-kernel", str(elf),
                              "-qmp", f"unix:{sock_path},server=on,wait=off"])
        try:
            while not sock_path.exists():
                time.sleep(0.001)
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock_path))
            s.recv(4096)
            s.sendall(b'{"execute":"qmp_capabilities"}\n')
            s.recv(4096)
            s.sendall(b'{"execute":"quit"}\n')
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    main()
