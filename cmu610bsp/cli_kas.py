"""`cmu610bsp lock`, `cache serve` and `devtool`: kas and BitBake, wrapped (`build` is in cli_build)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cmu610bsp import proc, ui
from cmu610bsp.cli_build import sources as _sources
from cmu610bsp.errors import BspError

cache_app = typer.Typer(help="Shared state for a fleet of builders.", no_args_is_help=True)
devtool_app = typer.Typer(help="devtool on unmodified OpenBMC recipes, in the workspace's kas shell.", no_args_is_help=True)
WsOpt = Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory.")]


def _workspace(path: Path | None):  # type: ignore[no-untyped-def]
    from cmu610bsp.cli import _ws

    return _ws(path)


def lock(
    line: Annotated[str, typer.Argument(help="Product line whose composition to pin.")] = "bigbmc",
    source: Annotated[Optional[list[str]], typer.Option("--source", help="NAME=PATH local checkout.")] = None,
    ws_dir: WsOpt = None,
) -> None:
    """Pin every repository revision in a kas lock file (configs/kas/base.lock.yml)."""
    from cmu610bsp import build as b

    ws = _workspace(ws_dir)
    opts = b.Options(line, sources=_sources(source))
    b.write_overlay(ws.root, opts)
    argv = b.kas("lock", b.composition(ws.root, opts))
    r = proc.run(argv, cwd=ws.root, env=b.environment(ws.root, opts), timeout=3600)
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
    p = b.paths(ws.root, line)
    if source or offline or not p["overlay"].is_file():
        b.write_overlay(ws.root, opts)  # else: keep the last build's (its --source, --offline and caches)
    cmd = shlex.join(["devtool", *args])
    # -k: keep bblayers.conf as devtool left it (kas would drop the workspace layer); the first
    # run in a fresh build directory has none to keep
    keep = ["-k"] if (p["build"] / "conf" / "bblayers.conf").is_file() else []
    argv = b.kas("shell", *keep, b.composition(ws.root, opts), "-c", cmd)
    with b.claim(p["build"]):
        b.devtool_layer_as_devtool_writes_it(p["build"])
        b.drop_stale_parser_tables(p["build"])
        try:
            rc = proc.stream(argv, lambda l: print(l, flush=True), cwd=ws.root, env=b.environment(ws.root, opts))
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
