"""`cmu610bsp build`: its command line and its run.

CI calls this on every pipeline, and a no-op build is to stay within 5 % of a bare `kas build`
(bench/bench_build.py). So this path parses with argparse (typer builds a pydantic adapter per
option: 0.13 s a call), imports rich only on a terminal (for the progress bar), reads generated
files instead of the description model, and runs kas in a fork of this process instead of a
second interpreter. `cmu610bsp.main` sends `build` here before the typer app is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from cmu610bsp import build as b
from cmu610bsp import proc
from cmu610bsp.errors import BspError
from cmu610bsp.layout import workspace_root

HELP = "Compose base + line + toolchain + cache + this run's overlay and run `kas build`."


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cmu610bsp build", description=HELP)
    ap.add_argument("line", metavar="LINE", help="product line: bigbmc or littlebmc")
    ap.add_argument("--board", "-b", help="board (machine) to build for (default: the line's first board)")
    ap.add_argument("--target", "-t", help="BitBake target (default: the line's image)")
    ap.add_argument("--plan", action="store_true", help="BitBake's dry run: count the tasks, build nothing")
    ap.add_argument("--source", action="append", metavar="NAME=PATH", help="use a local checkout for repo NAME (repeatable)")
    ap.add_argument("--cache", type=Path, metavar="DIR", help="directory for downloads and shared state")
    ap.add_argument("--sstate-mirror", metavar="URL", help="shared-state mirror URL")
    ap.add_argument("--hashserv", metavar="HOST:PORT", help="hash-equivalence server (see `cmu610bsp cache serve`)")
    ap.add_argument("--timeout", type=float, metavar="S", help="stop the build after S seconds (exit 124)")
    ap.add_argument("--offline", action="store_true", help="BB_NO_NETWORK: fetch only from local sources and premirrors")
    ap.add_argument("--json", dest="as_json", action="store_true", help="print summary.json on stdout")
    ap.add_argument("--dry-run", action="store_true", help="print the kas command, environment and composed config; run nothing")
    ap.add_argument("--workspace", "-w", type=Path, metavar="DIR", help="workspace directory (default: search upwards)")
    return ap


def sources(items: list[str] | None) -> dict[str, Path]:
    out = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise BspError(f"--source {item!r}: expected NAME=PATH")
        out[name] = Path(path).expanduser()
    return out


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _root(path: Path | None) -> Path:
    root, rolled_back = workspace_root(path)
    if rolled_back:
        _say("note: rolled back an interrupted write; the workspace is as it was before it")
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    root = _root(args.workspace)
    opts = b.Options(args.line, args.board, args.target, args.plan, sources(args.source), args.cache,
                     args.sstate_mirror, args.hashserv, args.timeout, args.offline)
    b.write_overlay(root, opts)
    kas_args = b.kas_args(root, opts)
    argv = b.kas(*kas_args)  # the equivalent command line: printed, logged, in summary.json
    env = b.environment(root, opts)
    stale = b.stale_inputs(root)
    if stale:
        _say(f"warning: changed since the layer was generated: {', '.join(stale)}; this build uses the "
             "generated files as they are (`cmu610bsp sync` renders the change)")
    if args.dry_run:
        _dry_run(root, opts, argv, env)
        return 0
    floating = b.unpinned(root, opts)
    if floating:
        _say(f"warning: not pinned to a commit: {', '.join(floating)}; "
             "`cmu610bsp lock` (or a commit in the kas file) makes CI builds reproducible")
    for recipe in b.devtool_recipes(root, opts.line):
        _say(f"warning: devtool workspace overrides {recipe}: layer changes to it are not used (cmu610bsp devtool reset {recipe})")
    p = b.paths(root, opts.line)
    p["build"].mkdir(parents=True, exist_ok=True)
    b.drop_stale_parser_tables(p["build"])
    prog = b.Progress()
    result, rc, start = "failed", 2, time.monotonic()
    with b.claim(p["build"]), p["log"].open("w", buffering=1) as log:
        # forked before the progress bar starts its thread: a fork copies only the calling thread
        child = proc.fork_call(partial(b.kas_main, kas_args), argv, cwd=root, env=env)
        try:
            with _progress() as show:
                def on_line(text: str) -> None:
                    log.write(text + "\n")
                    show(prog, text, prog.feed(text))

                code = proc.pump(child, child.fd, on_line, timeout=opts.timeout, name="kas")
            result, rc = ("success", 0) if code == 0 else ("failed", 2)
        except KeyboardInterrupt:
            result, rc = "interrupted", 130
        except proc.Timeout:
            result, rc = "timeout", 124
        finally:
            if child.returncode is None:
                proc.kill_group(child)
            os.close(child.fd)
            b.stop_bitbake_server(p["build"])
    data = b.summary(root, opts, result, time.monotonic() - start, prog, argv)
    path = b.write_summary(root, opts.line, data)
    if args.as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        _report(data, path)
    return rc


def _dry_run(root: Path, opts: b.Options, argv: list[str], env: dict[str, str]) -> None:
    import shlex

    print(f"cd {root} && " + " ".join(f"{k}={shlex.quote(env[k])}" for k in ("KAS_WORK_DIR", "KAS_BUILD_DIR"))
          + " " + shlex.join(argv))
    missing = b.unfetched(root, opts)
    if missing:
        # kas dump clones first: print the composition's files instead, and say why
        print(f"# kas dump skipped: it would clone {', '.join(missing)} first; with --source NAME=PATH "
              "or after a first build it shows the merged configuration")
        for f in b.kas_files(root, opts):
            print(f"# --- {f.relative_to(root)}\n{f.read_text()}", end="")
        return
    r = proc.run(b.kas("dump", b.composition(root, opts)), cwd=root, env=env)
    if r.returncode:
        raise BspError("kas dump failed on the composed configuration", hint=r.stderr.strip()[-500:])
    print(r.stdout, end="")


Show = Callable[[b.Progress, str, bool], None]


@contextmanager
def _progress() -> Iterator[Show]:
    """A rich bar on a terminal; on a pipe, the task lines and errors as plain text."""
    if not sys.stderr.isatty():
        def plain(prog: b.Progress, text: str, moved: bool) -> None:
            text = b.bitbake_line(text)
            if text.startswith(("NOTE: Running", "ERROR:", "NOTE: Tasks Summary", "Summary:")):
                _say(text)
        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cmu610bsp import ui

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=ui.err, transient=True)
    with bar:
        setscene = bar.add_task("shared state", total=None)
        tasks = bar.add_task("tasks", total=None)

        def rich_show(prog: b.Progress, text: str, moved: bool) -> None:
            if moved:
                bar.update(setscene, completed=prog.setscene_done, total=prog.setscene_total or None)
                running = ", ".join(prog.running[-3:])
                bar.update(tasks, completed=prog.task_done, total=prog.task_total or None,
                           description=f"tasks {running[:60]}" if running else "tasks")
        yield rich_show


def _report(data: dict, path: Path) -> None:  # type: ignore[type-arg]
    t = data["tasks"]
    print(f"{data['result']}: {data['line']} for {data['board']} in {data['duration_s']:.1f} s; "
          f"tasks run {t['run']}, restored from shared state {t['restored_from_sstate']}")
    if "failed_task" in data:
        f = data["failed_task"]
        print(f"first failing task: {f['task']}\nlog: {f['log']}")
        for line in f["log_tail"]:
            print(f"  | {line}")
    for a in data["artifacts"]:
        print(f"{a['path']}  {a['size']} bytes  sha256 {a['sha256']}")
    print(f"log: {data['log']}\nsummary: {path}")
