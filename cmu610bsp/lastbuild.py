"""A line's last build in this workspace as what the QEMU twin boots, and a smoke verdict on it.

`cmu610bsp qemu smoke` with no image arguments boots the flash image the last build of the line
deployed for the board's twin (as `petalinux-boot --qemu` finds the last build); `build LINE
--smoke` runs the same check right after the build and records the verdict in summary.json. The
deploy directory BitBake wrote is the record of what was built: no second one is kept.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cmu610bsp import qemu
from cmu610bsp.errors import BspError
from cmu610bsp.kasbuild.compose import Lines, Paths
from cmu610bsp.kasbuild.report import Smoke, Summary, write
from cmu610bsp.names import twin_machine, zephyr_board
from cmu610bsp.project import Project

FLASH = "flash.bin"


def twin(board: str) -> str:
    return twin_machine(board)


def deploy_dir(root: Path, line: str, board: str) -> Path:
    """Where BitBake deploys the images of `line` for `board`'s QEMU twin."""
    return Paths(root, line).build / "tmp" / "deploy" / "images" / twin(board)


def flash_image(root: Path, line: str, board: str) -> qemu.Images:
    """The flash image of the last build of `line` for `board`'s twin; a clear error when there
    is none (never built, or built only for the chip, whose image does not boot on QEMU virt)."""
    path = deploy_dir(root, line, board) / FLASH
    if not path.is_file():
        raise BspError(f"no flash image of {line} for {twin(board)} in this workspace ({path} not found)",
                       hint=f"cmu610bsp build {line} --board {twin(board)} (or `build {line} --smoke`); "
                            "or give --image cpuN=ELF / --deploy DIR")
    return qemu.Images(flash=path)


def latest_line(root: Path, board: str, lines: tuple[str, ...]) -> str:
    """The line whose twin flash image of `board` was deployed last (the line of the last build)."""
    built = [(p.stat().st_mtime, line) for line in lines if (p := deploy_dir(root, line, board) / FLASH).is_file()]
    if not built:
        raise BspError(f"no flash image of {twin(board)} in this workspace",
                       hint=f"cmu610bsp build {lines[0] if lines else 'LINE'} --smoke (it builds the twin), "
                            "or give --image cpuN=ELF / --deploy DIR")
    return max(built)[1]


def smoke_board(lines: Lines, line: str, board: str | None) -> str:
    """The machine `build --smoke` builds: the twin of --board (or of the line's first board); a
    board that is the chip itself is refused before anything runs."""
    name, machine = lines.machine(line, board)
    if machine == twin(name):
        return machine
    if board is not None:
        raise BspError(f"--smoke boots the QEMU twin of {name}: give --board {twin(name)}",
                       hint="the chip's flash image does not boot on QEMU virt (other addresses)")
    return twin(name)


def smoke(root: Path, project: Project, summary: Summary, junit: Path | None = None,
          timeout: float | None = None) -> Summary:
    """Boot what the build deployed, check the line's smoke spec, write JUnit, and record the
    verdict in summary.json; the returned summary carries it too."""
    out = Paths(root, summary.line).build / "smoke"
    (summary,) = smoke_each(root, project, [(summary, out, junit or out / "junit.xml")], timeout)
    write(summary, Paths(root, summary.line).summary)
    return summary


def smoke_each(root: Path, project: Project, builds: list[tuple[Summary, Path, Path]],
               timeout: float | None = None) -> list[Summary]:
    """The same for several boards' builds (summary, transcript directory, JUnit file): one QEMU
    at a time; each returned summary carries its verdict (the caller writes it)."""
    from cmu610bsp import smoke as sm

    jobs = []
    for summary, out, _ in builds:
        board, line = summary.board, summary.line
        values = {"board": board, "line": line, "zephyr_board": zephyr_board(board, True)}
        spec = qemu.spec_path(root, board, line, None)
        jobs.append(qemu.Job(f"{board}/{line}", flash_image(root, line, board), sm.load_spec(spec, values), out, values))
    qemu.find_binary()
    runs = qemu.smoke_all(project.soc, jobs, timeout)
    done = []
    for (summary, _, report), run in zip(builds, runs, strict=True):
        sm.junit([run], report)
        spec = qemu.spec_path(root, summary.board, summary.line, None)
        verdict = Smoke(passed=run.passed, seconds=round(run.seconds, 3), spec=str(spec), junit=str(report),
                        transcript=str(run.transcript), failed=tuple(c.name for c in run.cases if not c.passed)
                        + ((f"run: {run.error}",) if run.error else ()))
        done.append(dataclasses.replace(summary, smoke=verdict))
    return done
