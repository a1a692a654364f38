"""`cmu610bsp build LINE --all-boards` (or `--board` repeated): every board of a line in one BitBake run.

Each board is a variant of the firmware and flash image recipes (meta-cmu610/classes/
cmu610_variant.bbclass) in one configuration: one parse, one run, the targets
`cmu610-flash-image-<machine>` of every board, BitBake's `-k` so that a failed board does not
stop the others. The secure firmware is a variant per distinct secure domain (securedomain.py),
so boards that share one get it from one task. What ran is read from BitBake's task lines:

    summary.json (the line's build directory)     the run: result, its boards, what was shared
    boards/<machine>/summary.json                   each board, as `build` writes one board's
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cmu610bsp import kasbuild
from cmu610bsp.errors import BspError
from cmu610bsp.fileio import write_whole
from cmu610bsp.kasbuild import attest, report
from cmu610bsp.kasbuild.bitbake import Progress
from cmu610bsp.kasbuild.compose import Lines, Request
from cmu610bsp.kasbuild.report import FailedTask, Summary, Tasks
from cmu610bsp.layout import DEPLOY_IMAGES
from cmu610bsp.names import twin_machine
from cmu610bsp.securedomain import SecureDomain, of_machine

if TYPE_CHECKING:
    from cmu610bsp.kasbuild import Event

FLASH, BMC, SECURE, ZEPHYR = "cmu610-flash-image", "cmu610-bmc-fw", "cmu610-secure-fw", "cmu610-zephyr-source"


def select(lines: Lines, line: str, boards: list[str], all_boards: bool, smoke: bool) -> list[tuple[str, str]]:
    """(board, machine) of each board the run builds: every board serving `line` (--all-boards) or
    the named ones, each as itself or, with --smoke, as its QEMU twin; in the order given."""
    if all_boards and boards:
        raise BspError("--all-boards builds every board of the line: not with --board")
    if all_boards:
        boards = [twin_machine(b) if smoke else b for b, served in lines.boards.items() if line in served]
        if not boards:
            lines.machine(line, None)  # the error naming the line, or no board serving it
    out: list[tuple[str, str]] = []
    for b in boards:
        # with --smoke, a named board must be a twin (as for one board: the chip's image does not boot)
        pair = (lines.machine(line, b)[0], lines.smoke_machine(line, b)) if smoke else lines.machine(line, b)
        if pair in out:
            raise BspError(f"--board {b}: given twice")
        out.append(pair)
    return out


def chain(machine: str, secure: str) -> tuple[str, ...]:
    """The recipes (variants) a board's flash image is built from."""
    return (ZEPHYR, f"{SECURE}-{secure}", f"{BMC}-{machine}", f"{FLASH}-{machine}")


def recipe_of(tid: str) -> tuple[str, str]:
    """(recipe, task) of a BitBake task id: `[virtual:CLASS:VARIANT:]/path/name_ver.bb:do_task`
    (a cmu610_variant variant is `name-VARIANT`, as its PN is)."""
    fn, _, task = tid.rpartition(":")
    variant = ""
    if fn.startswith("mc:"):
        fn = fn.split(":", 2)[2]
    if fn.startswith("virtual:"):
        extension, _, path = fn.removeprefix("virtual:").partition(":/")   # CLASS[:VARIANT], the file
        cls, _, variant = extension.partition(":")
        fn, variant = "/" + path, (variant if cls == "cmu610_variant" else cls)
    name = Path(fn).name.split("_")[0].removesuffix(".bb")
    return (f"{name}-{variant}" if variant else name), task


@dataclass(frozen=True)
class TaskLog:
    """Which tasks of which recipes ran, were restored from shared state, or failed: the task ids
    BitBake's progress lines named (bitbake.Progress), by recipe and variant."""

    ran: tuple[tuple[str, str], ...] = ()
    restored: tuple[tuple[str, str], ...] = ()
    failed: dict[tuple[str, str], str | None] = field(default_factory=dict)   # -> its log

    @classmethod
    def of(cls, prog: Progress) -> TaskLog:
        return cls(tuple(map(recipe_of, prog.ran)), tuple(map(recipe_of, prog.restored)),
                   {recipe_of(t): lg for t, lg in prog.failures.items()})


@dataclass(frozen=True)
class Shared:
    """One recipe of several boards' chains: built (or restored) once, then reused by the rest."""

    recipe: str
    boards: tuple[str, ...]     # machines whose flash image takes it
    compiled: int               # do_compile tasks run (0 or 1: once, not once a board)
    restored: int               # tasks restored from shared state (hash equivalence included)
    reused: int                 # boards that took what another board's chain built or restored

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def sharing(boards: dict[str, tuple[str, ...]], log: TaskLog) -> list[Shared]:
    """For each recipe in the chains of more than one board (machine -> its chain): how often it
    compiled, how many of its tasks shared state restored, and how many boards reused it."""
    users: dict[str, list[str]] = {}
    for machine, recipes in boards.items():
        for r in recipes:
            users.setdefault(r, []).append(machine)
    out = []
    for recipe, machines in sorted(users.items()):
        if len(machines) < 2:
            continue
        compiled = sum(1 for r, t in log.ran if r == recipe and t == "do_compile")
        restored = sum(1 for r, _ in log.restored if r == recipe)
        made = 1 if compiled or restored or any(r == recipe for r, _ in log.ran) else 0
        out.append(Shared(recipe, tuple(machines), compiled, restored, len(machines) - made))
    return out


def board_summary(run: Summary, board: str, machine: str, recipes: tuple[str, ...], log: TaskLog,
                  build_dir: Path) -> Summary:
    """One board's part of the run, as a one-board build's summary.json has it."""
    failed = next(((f"{r}:{t}", lg) for (r, t), lg in log.failed.items() if r in recipes), None)
    flash = report.flash_layout(build_dir, machine) if not run.plan else None
    if failed:
        result = "failed"
    elif run.result == "failed" and log.failed:
        result = "success"   # BitBake went on (-k) past other boards' failures: this board's chain built
    else:
        result = run.result  # the run's own: success, or a failure before any task (no board built)
    ran = [x for x in log.ran if x[0] in recipes]
    restored = [x for x in log.restored if x[0] in recipes]
    prefix = f"{DEPLOY_IMAGES}/{machine}/"
    return dataclasses.replace(
        run, result=result, board=board, machine=machine, target=f"{FLASH}-{machine}",
        tasks=Tasks(None, None, len(ran), len(restored)),
        artifacts=tuple(a for a in run.artifacts if a.path.startswith(prefix)) if result == "success" else (),
        flash=flash if result == "success" else None,
        failed_task=FailedTask(failed[0], failed[1], tuple(report.log_tail(failed[1]))) if failed else None,
        error=run.error if result == "failed" and not failed else ())


@dataclass(frozen=True)
class RackSummary:
    """The run: its result, each board's summary, what the boards shared."""

    run: Summary
    boards: tuple[Summary, ...]
    shared: tuple[Shared, ...]
    hash_equivalence: str          # BB_HASHSERVE of the run ("auto": BitBake's own server)
    compiled: tuple[str, ...] = ()  # the recipes of the boards' chains whose do_compile ran, as often as it ran

    @property
    def result(self) -> str:
        if self.run.result in ("interrupted", "timeout"):
            return self.run.result
        return "success" if all(b.result == "success" for b in self.boards) else "failed"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": "rack", "result": self.result, "line": self.run.line, "duration_s": self.run.duration_s,
            "log": self.run.log, "kas_command": self.run.kas_command, "target": self.run.target,
            "hash_equivalence": self.hash_equivalence, "tasks": dataclasses.asdict(self.run.tasks),
            "boards": {b.machine: {"result": b.result, "summary": str(board_path(Path(self.run.log).parent, b.machine)),
                                   **({"smoke": b.smoke.passed} if b.smoke else {})} for b in self.boards},
            "shared": [s.as_dict() for s in self.shared],
            "compiled": list(self.compiled),
            **({"error": list(self.run.error)} if self.run.error else {}),
        }


def board_path(build_dir: Path, machine: str) -> Path:
    return build_dir / "boards" / machine / "summary.json"


def write(rack: RackSummary, build_dir: Path) -> None:
    for b in rack.boards:
        report.write(b, board_path(build_dir, b.machine))
    write_whole(build_dir / "summary.json", json.dumps(rack.as_dict(), indent=2, sort_keys=True) + "\n")


def run(root: Path, req: Request, picked: list[tuple[str, str]], domains: list[SecureDomain],
        on_event: Callable[[Event], None] = lambda e: None, lines: Lines | None = None) -> RackSummary:
    """Build every picked board's flash image in one BitBake run (-k) and summarise each board
    and the run; summary files are written however the run ends."""
    chains = {m: chain(m, of_machine(domains, m).variant) for _, m in picked}
    req = dataclasses.replace(req, board=picked[0][1], targets=tuple(f"{FLASH}-{m}" for _, m in picked),
                              keep_going=True, target=None)
    prog = Progress()
    whole = kasbuild.run(root, req, on_event, lines, prog)
    log = TaskLog.of(prog)
    build_dir = req.paths(root).build
    lines = lines or kasbuild.lines_of(root)
    boards = tuple(attest.write(root, req, lines, board_summary(whole, b, m, chains[m], log, build_dir)) for b, m in picked)
    mine = {r for c in chains.values() for r in c}
    compiled = tuple(r for r, t in log.ran if t == "do_compile" and r in mine)
    rack = RackSummary(whole, boards, tuple(sharing(chains, log)), req.hashserv or "auto", compiled)
    write(rack, build_dir)
    return rack
