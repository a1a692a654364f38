"""Smoke runs on a board's QEMU twin: what each run boots (the images given, or the flash image the
line's last build deployed for the twin, as `petalinux-boot --qemu` finds the last build), which
spec it checks, and running them. `qemu smoke` and `build --smoke` (kasbuild/smoke.py) make their
jobs here, the same way; `smoke.py` runs one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import flash, qemu, smoke
from cmu610bsp.errors import BspError
from cmu610bsp.fileio import writing
from cmu610bsp.layout import FLASH_IMAGE, BuildPaths, smoke_spec
from cmu610bsp.model import Soc
from cmu610bsp.names import twin_machine, zephyr_board
from cmu610bsp.smoke_spec import IMAGE_VERSION


@dataclass(frozen=True)
class Job:
    """One smoke run: a target's images, its spec, where its transcript goes."""

    target: str
    images: qemu.Images
    spec: smoke.Spec
    spec_path: Path
    results: Path
    values: dict[str, str]


def job(root: Path, board: str, line: str, images: Callable[[], qemu.Images], results: Path,
        spec: Path | None = None) -> Job:
    """The run of `line` on `board`'s twin: its spec (`spec_path`) read with the placeholders a
    spec may use ({board}, {line}, {zephyr_board}) filled, then its images found (`images`: a
    missing spec is said before missing images)."""
    values = {"board": board, "line": line, "zephyr_board": zephyr_board(board, True)}
    path = spec_path(root, board, line, spec)
    read = smoke.read_spec(path)
    booted = images()
    values |= image_versions(booted, smoke.placeholders(read))
    return Job(f"{board}/{line}", booted, smoke.checked(read, path, values), path, results, values)


def image_versions(images: qemu.Images, names: set[str]) -> dict[str, str]:
    """The `{image_version@OFFSET}` placeholders among `names`, each filled (as a pattern) with the
    version the header of the flash image's partition at OFFSET gives: what the secure firmware
    must report through PLDM. "(none)" when there is no header there or the twin boots ELF files
    (its flash is blank)."""
    out = {}
    for name in sorted(n for n in names if n.startswith(IMAGE_VERSION)):
        try:
            offset = int(name.removeprefix(IMAGE_VERSION), 0)
        except ValueError:
            continue   # not one of ours: checking the spec names it
        raw = b""
        if images.flash:
            with images.flash.open("rb") as f:
                f.seek(offset)
                raw = f.read(flash.HEADER_SIZE)
        out[name] = re.escape(flash.image_version(raw) or "(none)")
    return out


def spec_path(ws_root: Path, board: str, line: str, spec: Path | None) -> Path:
    """--spec, else the workspace's own spec for the board and line (configs/smoke/), else the one
    generated from the description (meta-cmu610/zephyr/smoke/<board>/<line>.yaml)."""
    for cand in ([spec] if spec else []) + [ws_root / "configs/smoke" / board / f"{line}.yaml",
                                             ws_root / "configs/smoke" / f"{line}.yaml",
                                             ws_root / smoke_spec(board, line)]:
        if cand.is_file():
            return cand
    raise BspError(f"no smoke spec for {board}/{line}",
                   hint=f"run `cmu610bsp sync` (it generates {smoke_spec(board, line)}), "
                        f"write configs/smoke/{line}.yaml or pass --spec")


def last_flash(root: Path, line: str, board: str) -> qemu.Images:
    """The flash image of the last build of `line` for `board`'s twin; a clear error when there
    is none (never built, or built only for the chip, whose image does not boot on QEMU virt).
    The deploy directory BitBake wrote is the record of what was built: no second one is kept."""
    twin = twin_machine(board)
    path = BuildPaths(root, line).deploy(twin) / FLASH_IMAGE
    if not path.is_file():
        raise BspError(f"no flash image of {line} for {twin} in this workspace ({path} not found)",
                       hint=f"cmu610bsp build {line} --board {twin} (or `build {line} --smoke`); "
                            "or give --image cpuN=ELF / --deploy DIR")
    return qemu.Images(flash=path)


def latest_line(root: Path, board: str, lines: tuple[str, ...]) -> str:
    """The line whose twin flash image of `board` was deployed last (the line of the last build)."""
    twin = twin_machine(board)
    built = [(p.stat().st_mtime, line) for line in lines
             if (p := BuildPaths(root, line).deploy(twin) / FLASH_IMAGE).is_file()]
    if not built:
        raise BspError(f"no flash image of {twin} in this workspace",
                       hint=f"cmu610bsp build {lines[0] if lines else 'LINE'} --smoke (it builds the twin), "
                            "or give --image cpuN=ELF / --deploy DIR")
    return max(built)[1]


def run_all(soc: Soc, jobs: list[Job], timeout: float | None, parallel: int = 1) -> list[smoke.RunResult]:
    """Run every job (`parallel` at a time); each run's result.json beside its transcript.
    Ctrl-C/SIGTERM stop every QEMU still running before they propagate."""
    for j in jobs:
        with writing(j.results, "nothing was booted"):
            j.results.mkdir(parents=True, exist_ok=True)

    def one(j: Job) -> smoke.RunResult:
        return smoke.run(soc, j.images, j.spec, j.target, j.results, j.values, timeout)

    try:
        if parallel == 1 or len(jobs) == 1:
            runs = [one(j) for j in jobs]
        else:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                runs = list(pool.map(one, jobs))
    except KeyboardInterrupt:
        qemu.stop_all()
        raise
    for r in runs:
        if r.transcript:
            with writing(r.transcript.parent):
                (r.transcript.parent / "result.json").write_text(smoke.to_json([r]) + "\n")
    return runs
