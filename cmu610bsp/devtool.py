"""devtool, lock and BitBake's hash server, run the way `build` runs kas: in the line's build
directory, through kas (its shell for devtool), as child processes that cannot outlive the call."""

from __future__ import annotations

import configparser
import contextlib
import io
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from cmu610bsp import components, composition, keys, proc, wslock
from cmu610bsp.errors import BspError, ChildFailed
from cmu610bsp.fileio import write_whole
from cmu610bsp.kasbuild import bitbake, compose, lines_of
from cmu610bsp.layout import BUILD_DIR, KAS_DIR, BuildPaths, openbmc_checkout
from cmu610bsp.names import component_variant


def run(root: Path, args: list[str], line: str, sources: dict[str, Path], offline: bool,
        on_line: Callable[[str], None], recipe: str | None = None) -> None:
    """`devtool ARGS` in the line's kas shell: the firmware composition's (build/<line>) for a
    recipe it parses (the firmware's, and the OpenBMC recipes the firmware takes) and for `status`,
    the whole OpenBMC composition's (build/<line>-openbmc) for any other `recipe`; both share the
    line's devtool workspace. Without --source and --offline the last build's overlay (its sources,
    caches, network setting) is kept; BitBake's server is stopped after."""
    lines = lines_of(root)
    full = recipe is not None and not composition.parses(recipe, lines.composed)
    req = compose.Request(line, sources=sources, offline=offline, full=full)
    compose.check_paths(root, req)
    paths = req.paths(root)
    other = BuildPaths(root, line, not req.openbmc).overlay
    if sources or offline or not (paths.overlay.is_file() or other.is_file()):
        _, machine = lines.machine(line, None)
        compose.write_overlay(root, req, machine)
    elif not paths.overlay.is_file():
        # the line's last run was in its other build directory: the same sources, caches and
        # network setting
        write_whole(paths.overlay, other.read_text())
    if full:
        _share_workspace(paths)
    component = args[1] if args[:1] == ["finish"] and len(args) > 2 and args[1] in components.COMPONENTS else None
    # finish's own clean parses OpenBMC's recipe before the bbappend is scoped (below): skipped
    command = shlex.join(["devtool", *recipe_args([*args[:1], "--no-clean", *args[1:]] if component else args)])
    # -k: keep bblayers.conf as devtool left it (kas would drop the workspace layer); the first
    # run in a fresh build directory has none to keep
    keep = ["-k"] if (paths.build / "conf" / "bblayers.conf").is_file() else []
    argv = compose.kas("shell", *keep, compose.composition_of(root, req), "-c", command)
    # `finish` writes the recipe's changes into meta-cmu610: a writer of the workspace
    writes = wslock.held(root, "devtool finish") if args[:1] == ["finish"] else contextlib.nullcontext()
    with writes, bitbake.claim(paths.build), keys.pin_handover(compose.environment(root, req, lines.toolchain)) as env:
        bitbake.devtool_layer_as_devtool_writes_it(paths.build, paths.devtool_workspace)
        bitbake.drop_stale_parser_tables(paths.build)
        rc = proc.stream(argv, on_line, cwd=root, env=env)
    if rc:
        raise ChildFailed(["devtool", *args], rc, hint=f"the output above; kas ran it as: {shlex.join(argv)}")
    if component:
        with wslock.held(root, "devtool finish"):
            scope_component_append(Path(args[-1]), component)


def scope_component_append(layer: Path, name: str) -> None:
    """`devtool finish` of a component's variant writes a bbappend of OpenBMC's recipe file with
    its patches under <variant>/ and `FILESEXTRAPATHS:prepend := "${THISDIR}/${PN}:"`, which is
    expanded when the bbappend is read, before the variant is made: ${PN} is the recipe's own name
    there, so the variant does not find its patches, and OpenBMC's Linux recipe, which reads the
    same bbappend, fails to parse (both seen with the real devtool). The patches are the firmware's
    (devtool worked on the variant the firmware is built from): the variant is given their
    directory, the Linux recipe is told to leave them out."""
    variant = component_variant(name)
    for append in sorted(layer.glob(f"recipes-*/{name}/{name}_*.bbappend")):
        patches = sorted(f"file://{p.name}" for p in (append.parent / variant).glob("*") if p.is_file())
        lines = (f"# the patches above are the firmware's ({variant}); OpenBMC's {name} stays as it is\n"
                 f'FILESEXTRAPATHS:prepend := "${{THISDIR}}/{variant}:"\n'
                 f'SRC_URI:remove:pn-{name} = "{" ".join(patches)}"\n')
        text = append.read_text()
        if patches and lines not in text:
            write_whole(append, text + lines)


def recipe_args(args: list[str]) -> list[str]:
    """devtool's arguments with each OpenBMC component the firmware takes (libpldm) named as the
    layer's variant of its recipe that the firmware is built from (cmu610-zephyr-lib-libpldm):
    `devtool modify libpldm` edits what the BMC hart runs. OpenBMC's Linux recipe is untouched;
    `finish` writes the patch as a bbappend of the recipe file, for the variant (scope_component_append)."""
    return [component_variant(a) if a in components.COMPONENTS else a for a in args]


def _share_workspace(paths: BuildPaths) -> None:
    """devtool in the whole OpenBMC composition's build directory uses the line's workspace layer
    (conf/devtool.conf, workspace_path: devtool's own setting), kept beside the firmware build."""
    conf = paths.build / "conf" / "devtool.conf"
    config = configparser.ConfigParser()
    if conf.is_file():
        config.read(conf)
    if not config.has_section("General"):
        config.add_section("General")
    if config.get("General", "workspace_path", fallback=None) == str(paths.devtool_workspace):
        return
    config.set("General", "workspace_path", str(paths.devtool_workspace))
    out = io.StringIO()
    config.write(out)
    write_whole(conf, out.getvalue())


def lock(root: Path, line: str, sources: dict[str, Path], timeout: float = 3600) -> list[str]:
    """Pin every repository of the line's composition in kas lock files; returns them."""
    req = compose.Request(line, sources=sources)
    compose.check_paths(root, req)
    lines = lines_of(root)
    _, machine = lines.machine(line, None)
    compose.write_overlay(root, req, machine)
    argv = compose.kas("lock", compose.composition_of(root, req))
    with wslock.held(root, "lock"):  # kas writes its lock files into configs/kas, a generated directory
        r = proc.run(argv, cwd=root, env=compose.environment(root, req, lines.toolchain), timeout=timeout)
    if r.returncode:
        raise ChildFailed(list(argv), r.returncode, hint=(r.stderr or r.stdout).strip()[-800:])
    return sorted(str(p.relative_to(root)) for p in (root / KAS_DIR).glob("*.lock.yml"))


def serve_hashes(root: Path, bind: str, database: Path | None, bitbake_dir: Path | None,
                 on_line: Callable[[str], None]) -> None:
    """BitBake's hash-equivalence server (from the checked-out BitBake) until Ctrl-C/SIGTERM."""
    tree = bitbake_dir or openbmc_checkout(root) / "bitbake"
    exe = tree / "bin" / "bitbake-hashserv"
    if not exe.is_file():
        raise BspError(f"{exe} not found", hint="run a build first (kas checks BitBake out), or pass --bitbake DIR")
    db = database or root / BUILD_DIR / "hashserv.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(exe), "--bind", bind, "--database", str(db)]
    rc = proc.stream(argv, on_line, cwd=root)
    if rc:
        raise ChildFailed(argv, rc)
