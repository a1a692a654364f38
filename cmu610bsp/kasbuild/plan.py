"""What a build would do, from BitBake's task graph and shared-state lookup (`build --plan`).

BitBake's dry run (`bitbake -n`) walks its run queue and forks a worker that parses the recipe
again for every task it would run or restore: minutes for an OpenBMC image on every call. The
plan asks the server for the task graph instead (the layer's cmu610_plan.bbclass adds each
task's hashes, stamps and where shared state has it; bbplan.py runs it) and applies the run
queue's rule here:

from the targets down, a task with a setscene variant that is noexec or whose stamp is current
is done; one shared state has is restored, and nothing below it is needed through it; any other
task runs (or is skipped if its stamp is current) and its dependencies are needed. A task no
path from the targets reaches without crossing a restored or done task is not needed at all.

BitBake's "Attempted N tasks of which M didn't need to be rerun" is `total` and
`total - run`: every task of the graph is attempted, and all but those that run are covered.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cmu610bsp.errors import BspError

RUN, RESTORED, CURRENT, NOT_NEEDED = "run", "restored", "current", "not-needed"


@dataclass(frozen=True)
class RecipePlan:
    pn: str
    tasks: int
    run: int
    restored: int
    current: int


@dataclass(frozen=True)
class BuildPlan:
    """What one build would do; `as_dict` is what plan.json and `--json` carry under `planned`."""

    total: int                  # tasks in the graph (BitBake's "Attempted")
    run: int                    # tasks that would execute (noexec ones included, as BitBake counts them)
    noexec: int                 # of `run`, tasks with nothing to execute (do_build, ...)
    restored_local: int         # setscene tasks shared state has in SSTATE_DIR
    restored_mirror: int        # ... only on an SSTATE_MIRRORS mirror
    restored_equivalent: int    # of the restored, found under an equivalent hash (hash server)
    current: int                # done already in this build directory (current stamps)
    not_needed: int             # covered by a restored or current task above them
    recipes: tuple[RecipePlan, ...]
    would_run: tuple[str, ...]  # "pn:do_task", sorted

    @property
    def restored(self) -> int:
        return self.restored_local + self.restored_mirror

    @property
    def not_rerun(self) -> int:
        return self.total - self.run

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["restored"] = self.restored
        return data


def fates(tasks: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each task's fate in a build of the graph's top tasks (module docstring)."""
    below = {dep for info in tasks.values() for dep in info["deps"]}
    todo = sorted((t for t in tasks if t not in below), reverse=True)
    out: dict[str, str] = {}
    while todo:
        tid = todo.pop()
        if tid in out:
            continue
        info = tasks[tid]
        if info["setscene"] and (info["noexec"] or info["current"]):
            out[tid] = CURRENT
            continue
        if info["setscene"] and info["sstate"]:
            out[tid] = RESTORED
            continue
        out[tid] = CURRENT if info["current"] else RUN
        todo.extend(sorted((d for d in info["deps"] if d not in out), reverse=True))
    for tid in tasks:
        out.setdefault(tid, NOT_NEEDED)
    return out


def compute(facts: dict[str, Any]) -> BuildPlan:
    tasks: dict[str, dict[str, Any]] = facts["tasks"]
    fate = fates(tasks)
    count = Counter(fate.values())
    per: dict[str, Counter[str]] = {}
    for tid, what in fate.items():
        per.setdefault(tasks[tid]["pn"], Counter())[what] += 1
    restored = [tasks[t] for t, f in fate.items() if f == RESTORED]
    return BuildPlan(
        total=len(tasks), run=count[RUN],
        noexec=sum(1 for t, f in fate.items() if f == RUN and tasks[t]["noexec"]),
        restored_local=sum(1 for i in restored if i["sstate"] == "local"),
        restored_mirror=sum(1 for i in restored if i["sstate"] == "mirror"),
        restored_equivalent=sum(1 for i in restored if i["unihash"] != i["hash"]),
        current=count[CURRENT], not_needed=count[NOT_NEEDED],
        recipes=tuple(RecipePlan(pn, sum(c.values()), c[RUN], c[RESTORED], c[CURRENT])
                      for pn, c in sorted(per.items())),
        would_run=tuple(sorted(f"{tasks[t]['pn']}:{tasks[t]['task']}" for t, f in fate.items() if f == RUN)),
    )


def load(path: Path) -> BuildPlan:
    """The plan of the facts bbplan.py wrote."""
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
        return compute(facts)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BspError(f"{path}: not the task facts of a plan ({e})",
                       hint="run `cmu610bsp build LINE --plan` again") from None


def script() -> Path:
    """bbplan.py, which `kas shell` runs with BitBake's library."""
    return Path(__file__).with_name("bbplan.py")
