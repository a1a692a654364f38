"""`cmu610bsp build`, `lock`, `cache serve` and `devtool`: kas and BitBake, wrapped."""

from __future__ import annotations

import json
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cmu610bsp import proc, ui
from cmu610bsp.errors import BspError

cache_app = typer.Typer(help="Shared state for a fleet of builders.", no_args_is_help=True)
devtool_app = typer.Typer(help="devtool on unmodified OpenBMC recipes, in the workspace's kas shell.", no_args_is_help=True)
WsOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory.")]


def _workspace(path: Path | None):  # type: ignore[no-untyped-def]
    from cmu610bsp.cli import _ws

    return _ws(path)


def _sources(items: list[str] | None) -> dict[str, Path]:
    out = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise BspError(f"--source {item!r}: expected NAME=PATH")
        out[name] = Path(path).expanduser()
    return out


def build(
    line: Annotated[str, typer.Argument(help="Product line: bigbmc or littlebmc.")],
    board: Annotated[Optional[str], typer.Option("--board", "-b", help="Board (machine) to build for.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="BitBake target (default: the line's image).")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="BitBake's dry run: count the tasks, build nothing.")] = False,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="NAME=PATH: use a local checkout for repo NAME.")] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="Directory for downloads and shared state.")] = None,
    sstate_mirror: Annotated[Optional[str], typer.Option("--sstate-mirror", help="Shared-state mirror URL.")] = None,
    hashserv: Annotated[Optional[str], typer.Option("--hashserv", help="Hash-equivalence server HOST:PORT.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Stop the build after S seconds (exit 124).")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="BB_NO_NETWORK: fetch only from local sources and premirrors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json on stdout.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the kas command, environment and composed config; run nothing.")] = False,
    ws_dir: WsOpt = None,
) -> None:
    """Compose base + line + toolchain + cache + this run's overlay and run `kas build`."""
    from cmu610bsp import build as b

    ws = _workspace(ws_dir)
    opts = b.Options(line, board, target, plan, _sources(source), cache, sstate_mirror, hashserv, timeout, offline)
    b.write_overlay(ws, opts)
    argv = b.command(ws, opts)
    env = b.environment(ws, opts)
    p = b.paths(ws, line)
    if dry_run:
        ui.out.print(f"cd {ws.root} && " + " ".join(f"{k}={shlex.quote(env[k])}" for k in ("KAS_WORK_DIR", "KAS_BUILD_DIR"))
                     + " " + shlex.join(argv), markup=False)
        missing = b.unfetched(ws, opts)
        if missing:
            # kas dump clones first: print the composition's files instead, and say why
            ui.out.print(f"# kas dump skipped: it would clone {', '.join(missing)} first; with --source NAME=PATH "
                         "or after a first build it shows the merged configuration", markup=False)
            for f in b.kas_files(ws, opts):
                ui.out.print(f"# --- {f.relative_to(ws.root)}\n{f.read_text()}", markup=False, end="")
            return
        r = proc.run(b.kas("dump", b.composition(ws, opts)), cwd=ws.root, env=env)
        if r.returncode:
            raise BspError("kas dump failed on the composed configuration", hint=r.stderr.strip()[-500:])
        ui.out.print(r.stdout, markup=False, end="")
        return
    floating = b.unpinned(ws, opts)
    if floating:
        ui.err.print(f"warning: not pinned to a commit: {', '.join(floating)}; "
                     "`cmu610bsp lock` (or a commit in the kas file) makes CI builds reproducible", markup=False)
    for recipe in b.devtool_recipes(ws, line):
        ui.err.print(f"warning: devtool workspace overrides {recipe}: layer changes to it are not used (cmu610bsp devtool reset {recipe})")
    p["build"].mkdir(parents=True, exist_ok=True)
    b.drop_stale_parser_tables(p["build"])
    prog = b.Progress()
    result, rc, start = "failed", 2, time.monotonic()
    with b.claim(p["build"]), p["log"].open("w", buffering=1) as log, _progress() as show:
        def on_line(text: str) -> None:
            log.write(text + "\n")
            moved = prog.feed(text)
            show(prog, text, moved)

        try:
            code = proc.stream(argv, on_line, cwd=ws.root, env=env, timeout=timeout)
            result, rc = ("success", 0) if code == 0 else ("failed", 2)
        except KeyboardInterrupt:
            result, rc = "interrupted", 130
        except proc.Timeout:
            result, rc = "timeout", 124
        finally:
            b.stop_bitbake_server(p["build"])
    data = b.summary(ws, opts, result, time.monotonic() - start, prog, argv)
    path = b.write_summary(ws, line, data)
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        _report(data, path)
    if rc:
        raise typer.Exit(rc)


@contextmanager
def _progress() -> Iterator:  # type: ignore[type-arg]
    """A rich bar on a terminal; on a pipe, the task lines and errors as plain text."""
    if not ui.err.is_terminal:
        from cmu610bsp.build import bitbake_line

        def plain(prog, text: str, moved: bool) -> None:  # type: ignore[no-untyped-def]
            text = bitbake_line(text)
            if text.startswith(("NOTE: Running", "ERROR:", "NOTE: Tasks Summary", "Summary:")):
                print(text, file=sys.stderr, flush=True)
        yield plain
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=ui.err, transient=True)
    with bar:
        setscene = bar.add_task("shared state", total=None)
        tasks = bar.add_task("tasks", total=None)

        def rich_show(prog, text: str, moved: bool) -> None:  # type: ignore[no-untyped-def]
            if moved:
                bar.update(setscene, completed=prog.setscene_done, total=prog.setscene_total or None)
                running = ", ".join(prog.running[-3:])
                bar.update(tasks, completed=prog.task_done, total=prog.task_total or None,
                           description=f"tasks {running[:60]}" if running else "tasks")
        yield rich_show


def _report(data: dict, path: Path) -> None:  # type: ignore[type-arg]
    t = data["tasks"]
    ui.out.print(f"{data['result']}: {data['line']} for {data['board']} in {data['duration_s']:.1f} s; "
                 f"tasks run {t['run']}, restored from shared state {t['restored_from_sstate']}", markup=False)
    if "failed_task" in data:
        f = data["failed_task"]
        ui.out.print(f"first failing task: {f['task']}\nlog: {f['log']}", markup=False)
        for line in f["log_tail"]:
            ui.out.print(f"  | {line}", markup=False)
    for a in data["artifacts"]:
        ui.out.print(f"{a['path']}  {a['size']} bytes  sha256 {a['sha256']}", markup=False)
    ui.out.print(f"log: {data['log']}\nsummary: {path}", markup=False)


def lock(
    line: Annotated[str, typer.Argument(help="Product line whose composition to pin.")] = "bigbmc",
    source: Annotated[Optional[list[str]], typer.Option("--source", help="NAME=PATH local checkout.")] = None,
    ws_dir: WsOpt = None,
) -> None:
    """Pin every repository revision in a kas lock file (configs/kas/base.lock.yml)."""
    from cmu610bsp import build as b

    ws = _workspace(ws_dir)
    opts = b.Options(line, sources=_sources(source))
    b.write_overlay(ws, opts)
    argv = b.kas("lock", b.composition(ws, opts))
    r = proc.run(argv, cwd=ws.root, env=b.environment(ws, opts), timeout=3600)
    if r.returncode:
        raise BspError("kas lock failed", hint=(r.stderr or r.stdout).strip()[-800:])
    locks = sorted(str(p.relative_to(ws.root)) for p in (ws.root / "configs/kas").glob("*.lock.yml"))
    ui.out.print("pinned: " + (", ".join(locks) or "(kas wrote no lock file: nothing to pin)"), markup=False)


@cache_app.command("serve")
def serve(
    bind: Annotated[str, typer.Option("--bind", help="HOST:PORT to listen on.")] = "0.0.0.0:8686",
    database: Annotated[Optional[Path], typer.Option("--database", help="SQLite database (default build/hashserv.db).")] = None,
    bitbake: Annotated[Optional[Path], typer.Option("--bitbake", help="BitBake checkout (default: the workspace's openbmc/bitbake).")] = None,
    ws_dir: WsOpt = None,
) -> None:
    """Run BitBake's hash-equivalence server (from the checked-out BitBake) until Ctrl-C."""
    ws = _workspace(ws_dir)
    root = bitbake or ws.root / "build" / "openbmc" / "bitbake"
    exe = root / "bin" / "bitbake-hashserv"
    if not exe.is_file():
        raise BspError(f"{exe} not found", hint="run a build first (kas checks BitBake out), or pass --bitbake DIR")
    db = database or ws.root / "build" / "hashserv.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(exe), "--bind", bind, "--database", str(db)]
    ui.err.print(f"hash-equivalence server on {bind} (database {db}); builds use: cmu610bsp build LINE --hashserv HOST:PORT")
    try:
        rc = proc.stream(argv, lambda l: print(l, flush=True), cwd=ws.root)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if rc:
        raise typer.Exit(2)


def _devtool(args: list[str], line: str, ws_dir: Path | None, source: list[str] | None = None,
             offline: bool = False) -> None:
    """Run `devtool ARGS` in the line's kas shell, and stop BitBake's server however it ends."""
    from cmu610bsp import build as b

    ws = _workspace(ws_dir)
    opts = b.Options(line, sources=_sources(source), offline=offline)
    p = b.paths(ws, line)
    if source or offline or not p["overlay"].is_file():
        b.write_overlay(ws, opts)  # else: keep the last build's (its --source, --offline and caches)
    cmd = shlex.join(["devtool", *args])
    # -k: keep bblayers.conf as devtool left it (kas would drop the workspace layer); the first
    # run in a fresh build directory has none to keep
    keep = ["-k"] if (p["build"] / "conf" / "bblayers.conf").is_file() else []
    argv = b.kas("shell", *keep, b.composition(ws, opts), "-c", cmd)
    with b.claim(p["build"]):
        b.devtool_layer_as_devtool_writes_it(p["build"])
        b.drop_stale_parser_tables(p["build"])
        try:
            rc = proc.stream(argv, lambda l: print(l, flush=True), cwd=ws.root, env=b.environment(ws, opts))
        finally:
            b.stop_bitbake_server(p["build"])
    if rc:
        raise BspError(f"{cmd} failed (exit {rc})")


LineOpt = Annotated[str, typer.Option("--line", "-l", help="Product line whose build directory to use.")]
SourceOpt = Annotated[Optional[list[str]], typer.Option("--source", help="NAME=PATH local checkout (default: the last build's).")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="BB_NO_NETWORK. Without --source and --offline, the last build's settings are kept.")]


@devtool_app.command("modify")
def modify(
    recipe: str,
    srctree: Annotated[Optional[Path], typer.Argument(help="Source tree (default: workspace/sources/RECIPE).")] = None,
    no_extract: Annotated[bool, typer.Option("--no-extract", "-n", help="Use SRCTREE as it is: fetch and unpack nothing.")] = False,
    line: LineOpt = "bigbmc",
    source: SourceOpt = None,
    offline: OfflineOpt = False,
    ws_dir: WsOpt = None,
) -> None:
    """Check out RECIPE's sources into the devtool workspace for editing (or use SRCTREE)."""
    if no_extract and srctree is None:
        raise BspError("--no-extract needs SRCTREE: the source tree to build RECIPE from")
    _devtool(["modify", *(["--no-extract"] if no_extract else []), recipe,
              *([str(srctree.resolve())] if srctree else [])], line, ws_dir, source, offline)


@devtool_app.command("build")
def dbuild(recipe: str, line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
           ws_dir: WsOpt = None) -> None:
    """Build RECIPE from the devtool workspace."""
    _devtool(["build", recipe], line, ws_dir, source, offline)


@devtool_app.command("status")
def status(line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False, ws_dir: WsOpt = None) -> None:
    """Recipes in the devtool workspace."""
    _devtool(["status"], line, ws_dir, source, offline)


@devtool_app.command("reset")
def reset(recipe: str, line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
          ws_dir: WsOpt = None) -> None:
    """Drop RECIPE from the devtool workspace."""
    _devtool(["reset", recipe], line, ws_dir, source, offline)


@devtool_app.command("finish")
def finish(recipe: str, layer: Annotated[Optional[Path], typer.Option("--layer", help="Where to write (default meta-cmu610).")] = None,
           line: LineOpt = "bigbmc", source: SourceOpt = None, offline: OfflineOpt = False,
           ws_dir: WsOpt = None) -> None:
    """Turn RECIPE's workspace changes into patches/bbappend in a layer (meta-cmu610 by default)."""
    ws = _workspace(ws_dir)
    dest = (layer or ws.root / "meta-cmu610").resolve()
    _devtool(["finish", recipe, str(dest)], line, ws_dir, source, offline)
    ui.out.print(f"devtool finish wrote {recipe}'s changes into {dest}", markup=False)
