"""`build --smoke`: boot what a build deployed for a board's twin, check the line's smoke spec, and
record the verdict in the build's summary.json (a several-board run: in each board's)."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

from cmu610bsp import qemu, smoke_jobs
from cmu610bsp import smoke as sm
from cmu610bsp.kasbuild import rack, report
from cmu610bsp.kasbuild.report import Smoke, Summary
from cmu610bsp.layout import BuildPaths
from cmu610bsp.project import Project


def one(root: Path, project: Project, summary: Summary, junit: Path | None = None,
        timeout: float | None = None) -> Summary:
    """Boot what the build deployed, check the line's smoke spec, write JUnit, and record the
    verdict in summary.json; the returned summary carries it too."""
    paths = BuildPaths(root, summary.line)
    (summary,) = each(root, project, [(summary, paths.smoke, junit or paths.smoke / "junit.xml")], timeout)
    report.write(summary, paths.summary)
    return summary


def each(root: Path, project: Project, builds: list[tuple[Summary, Path, Path]],
         timeout: float | None = None) -> list[Summary]:
    """The same for several boards' builds (summary, transcript directory, JUnit file): one QEMU
    at a time; each returned summary carries its verdict (the caller writes it)."""
    jobs = [smoke_jobs.job(root, s.board, s.line, partial(smoke_jobs.last_flash, root, s.line, s.board), out)
            for s, out, _ in builds]
    qemu.find_binary()
    runs = smoke_jobs.run_all(project.soc, jobs, timeout)
    done = []
    for (summary, _, junit), job, run in zip(builds, jobs, runs, strict=True):
        sm.junit([run], junit)
        verdict = Smoke(passed=run.passed, seconds=round(run.seconds, 3), spec=str(job.spec_path), junit=str(junit),
                        transcript=str(run.transcript), failed=tuple(c.name for c in run.cases if not c.passed)
                        + ((f"run: {run.error}",) if run.error else ()))
        done.append(dataclasses.replace(summary, smoke=verdict))
    return done


def boards(root: Path, project: Project, run: rack.RackSummary, timeout: float | None = None) -> rack.RackSummary:
    """Boot each built board's flash image on its twin (one QEMU at a time), each verdict in the
    board's summary; boards that did not build are not booted."""
    build_dir = BuildPaths(root, run.run.line).build
    board_dirs = {b.machine: rack.board_path(build_dir, b.machine).parent for b in run.boards}
    todo = [(b, board_dirs[b.machine] / "smoke", board_dirs[b.machine] / "junit.xml")
            for b in run.boards if b.result == "success"]
    done = {s.machine: s for s in each(root, project, todo, timeout)} if todo else {}
    run = dataclasses.replace(run, boards=tuple(done.get(b.machine, b) for b in run.boards))
    rack.write(run, build_dir)
    return run
