"""What a build leaves for people and CI: summary.json (result, task counts, the first failure
with its log's tail, every deployed artifact with its size and sha256, the flash image's layout,
each firmware's ROM and RAM against what the description gives it, and with `--smoke` the smoke
verdict)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from cmu610bsp.fileio import sha256_file, write_whole
from cmu610bsp.kasbuild.bitbake import Progress
from cmu610bsp.kasbuild.plan import BuildPlan
from cmu610bsp.layout import DEPLOY_IMAGES, FLASH_MANIFEST


@dataclass(frozen=True)
class Tasks:
    attempted: int | None       # BitBake's "Attempted N tasks"
    not_rerun: int | None       # "... of which M didn't need to be rerun" (current or covered)
    run: int                    # tasks that executed (with --plan: would execute)
    restored_from_sstate: int   # setscene tasks run (with --plan: would run)


def _ran(prog: Progress) -> int:
    """Tasks that executed: attempted minus those BitBake did not need to rerun; before the
    summary line (a failed or stopped build), the run queue's size."""
    if prog.attempted is None:
        return prog.task_total
    return prog.attempted - (prog.not_rerun or 0)


@dataclass(frozen=True)
class Artifact:
    path: str      # relative to the line's build directory
    size: int
    sha256: str


@dataclass(frozen=True)
class FailedTask:
    task: str
    log: str | None
    log_tail: tuple[str, ...]


@dataclass(frozen=True)
class Overflow:
    """A firmware that does not fit what the description gives its domain, as the failed task's
    log says it: Zephyr's linker (`region `RAM' overflowed by N bytes`) or the flash packer."""

    domain: str        # secure | bmc
    region: str        # the linker's memory region, or the flash partition / RAM window
    bytes: int         # how much too much

    def text(self) -> str:
        return (f"the {self.domain} domain's firmware does not fit: {self.region} overflowed by {self.bytes} bytes "
                f"(its memory and partitions are the board description's `domains.{self.domain}` and `flash`)")


_LD_OVERFLOW = re.compile(r"region `([^']+)' overflowed by (\d+) bytes")
_PACK_RAM = re.compile(r"the (secure|bmc) domain's RAM holds \d+ .*: (\d+) bytes too many")
_PACK_PARTITION = re.compile(r"(\S+): the (secure|bmc) image .* does not fit: .*, (\d+) bytes too many")
_FW_RECIPE = re.compile(r"cmu610-(secure|bmc)-fw")


def overflow(task: str, log: str | None) -> Overflow | None:
    """What did not fit, read from the failed task's log (a firmware's compile, the flash image)."""
    try:
        text = Path(log).read_text(errors="replace")[-200_000:] if log else ""
    except OSError:
        return None
    domain = _FW_RECIPE.search(task)
    if domain and (m := _LD_OVERFLOW.search(text)):
        return Overflow(domain.group(1), f"its linker region {m.group(1)}", int(m.group(2)))
    if m := _PACK_RAM.search(text):
        return Overflow(m.group(1), "its RAM window (the image, below the boot stage's stack)", int(m.group(2)))
    if m := _PACK_PARTITION.search(text):
        return Overflow(m.group(2), f"flash partition {m.group(1)}", int(m.group(3)))
    return None


@dataclass(frozen=True)
class Smoke:
    """The smoke verdict on what the build deployed (`build --smoke`)."""

    passed: bool
    seconds: float
    spec: str
    junit: str
    transcript: str
    failed: tuple[str, ...] = ()   # the checks that failed


@dataclass(frozen=True)
class Summary:
    """One build's outcome; `as_dict` is summary.json."""

    result: str            # success | failed | interrupted | timeout
    line: str
    board: str
    machine: str
    plan: bool
    duration_s: float
    tasks: Tasks
    log: str
    kas_command: str       # the command that ran, as run
    target: str = ""
    artifacts: tuple[Artifact, ...] = ()
    # the flash image's manifest as the flash recipe deployed it (partition, offset, size, sha256, hart)
    flash: dict[str, object] | None = None
    failed_task: FailedTask | None = None
    overflow: Overflow | None = None
    error: tuple[str, ...] = ()   # the last error lines when no task failed (kas, setup)
    smoke: Smoke | None = None
    # the board's SBOM (SPDX 3) and the build's provenance (in-toto/SLSA), relative to the build
    # directory (kasbuild/attest.py); both are among the artifacts too
    sbom: str | None = None
    provenance: str | None = None
    plan_detail: BuildPlan | None = None   # with --plan: what would run, be restored, per recipe

    @property
    def exit_code(self) -> int:
        if self.smoke is not None and not self.smoke.passed:
            return 2
        return {"success": 0, "interrupted": 130, "timeout": 124}.get(self.result, 2)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("failed_task", "flash", "smoke", "overflow", "sbom", "provenance"):
            if data[key] is None:
                del data[key]
        del data["plan_detail"]
        if self.plan_detail is not None:
            data["planned"] = self.plan_detail.as_dict()
        if not self.error:
            del data["error"]
        return data


def summarize(result: str, line: str, board: str, machine: str, plan: bool, seconds: float,
              prog: Progress, log: Path, build_dir: Path, command: str, target: str = "",
              planned: BuildPlan | None = None) -> Summary:
    failed = None
    if prog.failed_task:
        failed = FailedTask(prog.failed_task, prog.failed_log, tuple(log_tail(prog.failed_log)))
    return Summary(
        result=result, line=line, board=board, machine=machine, plan=plan, duration_s=round(seconds, 3),
        tasks=(Tasks(planned.total, planned.not_rerun, planned.run, planned.restored) if planned
               else Tasks(prog.attempted, prog.not_rerun, _ran(prog), prog.setscene_total)),
        log=str(log), kas_command=command, target=target,
        artifacts=artifacts(build_dir) if result == "success" and not plan else (),
        flash=flash_layout(build_dir, machine) if result == "success" and not plan else None,
        failed_task=failed,
        overflow=overflow(failed.task, failed.log) if failed else None,
        error=tuple(prog.errors) if result == "failed" and failed is None else (),
        plan_detail=planned,
    )


def artifacts(build_dir: Path) -> tuple[Artifact, ...]:
    deploy = build_dir / DEPLOY_IMAGES
    out = []
    for p in sorted(deploy.rglob("*")) if deploy.is_dir() else []:
        if p.is_file() and not p.is_symlink():
            out.append(Artifact(str(p.relative_to(build_dir)), p.stat().st_size, sha256_file(p)))
    return tuple(out)


def flash_layout(build_dir: Path, machine: str) -> dict[str, object] | None:
    """The flash manifest the flash image recipe deployed for `machine`, if this build made one."""
    path = build_dir / DEPLOY_IMAGES / machine / FLASH_MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def log_tail(path: str | None, lines: int = 20) -> list[str]:
    if not path or not Path(path).is_file():
        return []
    return Path(path).read_text(errors="replace").splitlines()[-lines:]


def write(summary: Summary, path: Path) -> None:
    write_whole(path, json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n")
