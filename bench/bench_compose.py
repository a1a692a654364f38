#!/usr/bin/env python3
"""The firmware engineer's loop on the real trees (issue 24), side by side in one run, each wall
time against what BitBake itself spent on the tasks that run had to run:

1. a clean `cmu610bsp build littlebmc --smoke` in a fresh workspace, against the critical path of
   its tasks (target: wall <= 1.5 x);
2. `cmu610bsp build bigbmc --smoke` after it, against its own critical path (target <= 1.5 x);
3. the no-op `cmu610bsp build littlebmc` (the machine the smoke built) against `kas build` of the
   composition the tool runs, with the environment it gives kas, interleaved (targets: <= 5 s and
   <= 1.02 x kas), each timed until no BitBake process is left in the build directory;
4. `cmu610bsp devtool modify cmu610-bmc-fw`, a one-line edit in the BMC application,
   `cmu610bsp build littlebmc --smoke`, against the critical path of the tasks that run ran (the
   firmware's recompile, the flash image) plus the smoke's own seconds (target <= 1.5 x);
   `devtool reset` after.

The critical path is read from BitBake itself: each task's start and end from buildstats
(tmp/buildstats/<run>/<recipe>/<task>, USER_CLASSES of configs/kas/base.yml) of the run measured,
the dependencies between tasks from the task graph (`bitbake -g` of the same target in the same
build directory, run after the measurement, untimed); a task that did not run weighs nothing
(its setscene task, if that ran, weighs what it took). It is the time the build would take if
BitBake ran every task the moment its dependencies ended, with unlimited cores.

Run it as the ordinary user BitBake runs as, with the interpreter cmu610bsp is installed in,
on a directory that does not exist yet (it is `init`ed):

    python3 bench/bench_compose.py WORKSPACE [--runs N] -- <build arguments>
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import compile_tool

_EDGE = re.compile(r'^"([^"]+)\.(do_[\w-]+)" -> "([^"]+)\.(do_[\w-]+)"', re.M)
EDIT = 'printk("bench: edited by the firmware engineer\\n");'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    args = argv[cut + 1:]  # after --: what every build is given (--offline, --source NAME=PATH)
    ws = a.workspace.resolve()
    if ws.exists():
        sys.exit(f"{ws} exists: the benchmark starts from a fresh workspace it creates")
    compile_tool()
    tool = [sys.executable, "-m", "cmu610bsp"]
    subprocess.run([*tool, "init", str(ws)], check=True, capture_output=True)
    rows: list[tuple[str, float, float, str]] = []

    clean = _build(ws, tool, "littlebmc", args)
    rows.append(("1. clean build littlebmc --smoke", clean["wall"], clean["path"], f"smoke {clean['smoke']:.1f} s"))
    big = _build(ws, tool, "bigbmc", args)
    rows.append(("2. build bigbmc --smoke after it", big["wall"], big["path"], f"smoke {big['smoke']:.1f} s"))
    _noop(ws, tool, args, clean["machine"], a.runs)

    subprocess.run([*tool, "devtool", "modify", "cmu610-bmc-fw", "--line", "littlebmc"], cwd=ws, check=True,
                   capture_output=True)
    main_c = ws / "build/littlebmc/workspace/sources/cmu610-bmc-fw/zephyr/apps/bmc/src/main.c"
    text = main_c.read_text()
    main_c.write_text(text.replace("\tcmu610_devices();\n", f"\tcmu610_devices();\n\t{EDIT}\n", 1))
    edited = _build(ws, tool, "littlebmc", args)
    subprocess.run([*tool, "devtool", "reset", "cmu610-bmc-fw", "--line", "littlebmc"], cwd=ws, check=True,
                   capture_output=True)
    seen = "edited by the firmware engineer" in Path(edited["transcript"]).read_text()
    rows.append(("4. devtool edit -> build --smoke", edited["wall"], edited["path"] + edited["smoke"],
                 f"recompile {edited['path']:.1f} s + smoke {edited['smoke']:.1f} s; edit seen: {seen}"))

    print(f"\n{'':36} {'wall s':>8} {'against s':>10} {'ratio':>6}  (target <= 1.5)")
    for name, wall, against, note in rows:
        print(f"{name:36} {wall:8.1f} {against:10.1f} {wall / against:6.2f}  {note}")
    for name, run in (("clean littlebmc", clean), ("bigbmc", big), ("devtool edit", edited)):
        print(f"critical path of {name}: " + " -> ".join(f"{t} {s:.1f}" for t, s in run["chain"]))  # type: ignore[attr-defined]


def _build(ws: Path, tool: list[str], line: str, args: list[str]) -> dict[str, object]:
    """One timed `build LINE --smoke`, its summary, and the critical path of the tasks it ran."""
    stats = ws / "build" / line / "tmp" / "buildstats"
    before = set(stats.iterdir()) if stats.is_dir() else set()
    start = time.perf_counter()
    r = subprocess.run([*tool, "build", line, *args, "--smoke", "--json"], cwd=ws, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode:
        sys.exit(f"build {line} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}")
    summary = json.loads(r.stdout)
    runs = sorted(set(stats.iterdir()) - before)
    graph = _graph(ws, tool, line, "cmu610-flash-image")
    length, chain = critical_path(graph, _task_times(runs))
    return {"wall": wall, "path": length, "chain": chain, "smoke": summary["smoke"]["seconds"],
            "transcript": summary["smoke"]["transcript"], "machine": summary["machine"]}


def _graph(ws: Path, tool: list[str], line: str, target: str) -> dict[str, set[str]]:
    """task -> the tasks it depends on, from `bitbake -g TARGET` in the build's own directory,
    with the configuration the build left there (kas shell -k: kept as it is)."""
    from cmu610bsp.kasbuild import compose, lines_of

    req = compose.Request(line)
    env = compose.environment(ws, req, lines_of(ws).toolchain)
    build = req.paths(ws).build
    argv = compose.kas("shell", "-k", compose.composition_of(ws, req), "-c", shlex.join(["bitbake", "-g", target]))
    subprocess.run(argv, cwd=ws, env=env, check=True, capture_output=True)
    dot = (build / "task-depends.dot").read_text()
    for f in ("task-depends.dot", "pn-buildlist"):
        (build / f).unlink(missing_ok=True)
    graph: dict[str, set[str]] = {}
    for pn, task, dep_pn, dep_task in _EDGE.findall(dot):
        graph.setdefault(f"{pn}:{task}", set()).add(f"{dep_pn}:{dep_task}")
        graph.setdefault(f"{dep_pn}:{dep_task}", set())
    return graph


def _task_times(runs: list[Path]) -> dict[tuple[str, str], float]:
    """(buildstats directory of a recipe: <pn>-<pv>-<pr>, task) -> seconds it ran, over `runs`
    (a setscene task counted as the task it stands for)."""
    out: dict[tuple[str, str], float] = {}
    for run in runs:
        for recipe in (p for p in run.iterdir() if p.is_dir()):
            for task in recipe.iterdir():
                text = task.read_text()
                s, e = re.search(r"^Started: ([\d.]+)", text, re.M), re.search(r"^Ended: ([\d.]+)", text, re.M)
                if s and e:
                    out[(recipe.name, task.name.removesuffix("_setscene"))] = float(e[1]) - float(s[1])
    return out


def critical_path(graph: dict[str, set[str]], times: dict[tuple[str, str], float]) -> tuple[float, list[tuple[str, float]]]:
    """The longest chain of dependent tasks, each weighing the seconds it ran (0 if it did not):
    (its length, its tasks with their seconds)."""
    def weight(node: str) -> float:
        pn, task = node.split(":", 1)
        # buildstats names a recipe <pn>-<pv>-<pr>
        return sum(t for (d, k), t in times.items() if k == task and d.startswith(pn + "-") and d[len(pn) + 1:].count("-") == 1)

    w = {n: weight(n) for n in graph}
    finish: dict[str, tuple[float, str | None]] = {}

    def visit(node: str) -> float:
        if node not in finish:
            best: tuple[float, str | None] = (0.0, None)
            for dep in graph[node]:
                best = max(best, (visit(dep), dep), key=lambda x: x[0])
            finish[node] = (best[0] + w[node], best[1])
        return finish[node][0]

    sys.setrecursionlimit(max(10000, 4 * len(graph)))
    end = max(graph, key=visit) if graph else None
    chain: list[tuple[str, float]] = []
    node = end
    while node is not None:
        if w[node]:
            chain.append((node, w[node]))
        node = finish[node][1]
    return (finish[end][0] if end else 0.0), chain[::-1]


def _noop(ws: Path, tool: list[str], args: list[str], machine: str, runs: int) -> None:
    """3: the no-op rebuild of the machine the smoke built, against kas build of its composition."""
    from cmu610bsp.kasbuild import bitbake, compose, lines_of

    ours_argv = [*tool, "build", "littlebmc", "--board", machine, *args]
    subprocess.run(ours_argv, cwd=ws, check=True, capture_output=True)  # the overlay of these arguments
    req = compose.Request("littlebmc")
    kas, env = compose.build_command(ws, req), compose.environment(ws, req, lines_of(ws).toolchain)
    build = req.paths(ws).build
    kas_t, ours = [], []
    for _ in range(runs):  # interleaved, so load drifts hit both alike
        for argv, e, out in ((kas, env, kas_t), (ours_argv, None, ours)):
            start = time.perf_counter()
            subprocess.run(argv, cwd=ws, env=e, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while bitbake.servers(build):  # kas returns before BitBake's server has shut down
                time.sleep(0.05)
            out.append(time.perf_counter() - start)
    k, o = statistics.median(kas_t), statistics.median(ours)
    print(f"3. no-op build littlebmc, {runs} interleaved runs: cmu610bsp {o:.2f} s (target <= 5), kas build "
          f"{k:.2f} s, ratio {o / k:.3f} (target <= 1.02); all: ours {' '.join(f'{x:.2f}' for x in ours)}, "
          f"kas {' '.join(f'{x:.2f}' for x in kas_t)}", flush=True)


if __name__ == "__main__":
    main()
