"""What the benchmarks share: timing a whole process, and cmu610bsp with its bytecode compiled
(an editable install under PYTHONDONTWRITEBYTECODE would recompile its sources every run, which
an installed wheel never does)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def compile_tool() -> None:
    import os

    import cmu610bsp

    package = Path(cmu610bsp.__file__).parent
    if os.access(package, os.W_OK):  # else an installed wheel, compiled by pip
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
