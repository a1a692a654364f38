"""A firmware's configuration in a real Zephyr tree, for `cmu610bsp config`: the domain's
application configured by Zephyr's own build (cmake, as the firmware recipes run it) for the
board's target, from the module rendered from the description as it is now (so what the
configuration shows is what the description says, synced or not), in a scratch directory under
build/config/. Zephyr's menuconfig runs there on the terminal; the settings to write back are
computed there by cmu610bsp/data/kconfig/cmu610_kconfig.py, a Kconfig frontend Zephyr's build runs
with its Kconfig environment (the EXTRA_KCONFIG_TARGETS hook) and its own kconfiglib.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from cmu610bsp import components, firmware, layout, proc, render, resources, toolchain
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import write_whole
from cmu610bsp.model import Board
from cmu610bsp.names import zephyr_target
from cmu610bsp.project import Project

FRONTEND_TARGET = "cmu610_kconfig"
REQUEST_ENV = "CMU610_KCONFIG_REQUEST"
# where a build unpacks Zephyr and the OpenBMC components' sources (the layer's layer.conf)
ZEPHYR_SOURCES = "tmp/work-shared/cmu610-zephyr/sources/zephyr"
COMPONENT_SOURCES = "tmp/work-shared/cmu610-zephyr-libs"


def zephyr_tree(root: Path, given: Path | None) -> Path | None:
    """The Zephyr tree to configure with: --source zephyr=DIR, else $ZEPHYR_BASE, else the one the
    newest build of a line unpacked; None when there is none."""
    if given is not None:
        if not (given / "VERSION").is_file() or not (given / "Kconfig.zephyr").is_file():
            raise BspError(f"--source zephyr={given}: not a Zephyr tree (no VERSION and Kconfig.zephyr)")
        return given.resolve()
    env = os.environ.get("ZEPHYR_BASE")
    if env and (Path(env) / "Kconfig.zephyr").is_file():
        return Path(env).resolve()
    return _built(root, ZEPHYR_SOURCES, lambda t: (t / "Kconfig.zephyr").is_file())


def _is_source(name: str, path: Path) -> bool:
    return components.source_finding(name, path) is None


def _built(root: Path, where: str, usable: Callable[[Path], bool]) -> Path | None:
    """The newest build's copy of a source (`where` in a line's build directory), if usable."""
    found = [t for t in (root / layout.BUILD_DIR).glob(f"*/{where}") if usable(t)]
    return max(found, key=lambda t: t.stat().st_mtime) if found else None


@dataclass(frozen=True)
class Scratch:
    """One configured application: its build directory and the fragments of its baseline."""

    build: Path
    fragments: list[Path]   # the baseline: the description's own settings left out
    current: list[Path]     # what the build merged: the description as it is
    env: dict[str, str]


def component_sources(root: Path, project: Project, domain: str, line: str, given: Mapping[str, Path]) -> dict[str, Path]:
    """The checkouts of the OpenBMC components the domain's application takes (components.py):
    their Kconfig options are part of its configuration, so Zephyr's build needs them as a build
    does: `--source libpldm=PATH` (as `build` takes them), else the source the newest build
    unpacked."""
    product = next(p for p in project.products if p.name == line)
    names = components.SECURE if domain == "secure" else components.for_line(product)
    out, findings = {}, []
    for name in names:
        path = given.get(name) or _built(root, f"{COMPONENT_SOURCES}/{name}/sources/{name}", partial(_is_source, name))
        why = "not given" if path is None else components.source_finding(name, path.resolve())
        if why:
            findings.append(Finding("--source", name, why))
        else:
            out[name] = path.resolve()  # type: ignore[union-attr]
    if findings:
        raise BspError(f"the {domain} firmware is built with {', '.join(names)}: Zephyr's build needs their sources",
                       findings, hint="give --source NAME=CHECKOUT for each (git checkouts of OpenBMC's libpldm and libmctp)")
    return out


def configure(root: Path, project: Project, board: Board, domain: str, line: str, zephyr: Path,
              sources: Mapping[str, Path]) -> Scratch:
    """The domain's application configured for `board` (its own target, not the twin's) from the
    description as it is now, with the components' `sources`; the baseline is the same fragments
    with the description's own settings left out (the line's firmware.kconfig, or
    secure_firmware.kconfig)."""
    hart = getattr(board.domains, domain).hart
    where = root / layout.BUILD_DIR / "config" / (f"{board.name}-{domain}" + (f"-{line}" if domain == "bmc" else ""))
    module = where / "module"
    files = render.render(project)
    prefix = layout.ZEPHYR_MODULE + "/"
    for rel, text in files.items():
        if rel.startswith(prefix):
            _write_if_changed(module / rel.removeprefix(prefix), text)
    app = module / "apps" / domain
    own = app / (f"{line}.conf" if domain == "bmc" else "prj.conf")
    base = where / "baseline.conf"
    write_whole(base, _baseline(project, files, domain, line))
    build = where / "build"
    for stale in (build / "zephyr/.config", build / "zephyr/.cmake.dotconfig.checksum"):
        stale.unlink(missing_ok=True)  # .config is made again from the fragments, not kept from the last run
    env = _env(project, zephyr)
    target = zephyr_target(board.name, project.soc.name, hart, False)
    argv: list[str | Path] = ["cmake", "-GNinja", "-S", app, "-B", build, f"-DBOARD={target}",
            f"-DZEPHYR_MODULES={module}", f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DEXTRA_KCONFIG_TARGETS={FRONTEND_TARGET}",
            f"-DEXTRA_KCONFIG_TARGET_COMMAND_FOR_{FRONTEND_TARGET}={resources.kconfig_frontend()}",
            *([f"-DCMU610_LINE={line}"] if domain == "bmc" else []),
            *(f"-D{components.COMPONENTS[n].cmake_var}={path}" for n, path in sorted(sources.items()))]
    _ok(proc.run(argv, env=env, timeout=900), "configuring the firmware with Zephyr's build")
    current = [Path(f) for f in _kconfig_files(build)]
    if own not in current:
        raise BspError(f"Zephyr's build did not read {own}", hint=f"see {build}/build_info.yml")
    return Scratch(build, [base if f == own else f for f in current], current, env)


def _baseline(project: Project, files: Mapping[str, str], domain: str, line: str) -> str:
    """The fragment of the domain's own settings without the description's: the line's name and
    features (bmc), the application's prj.conf without secure_firmware.kconfig (secure)."""
    if domain == "bmc":
        product = next(p for p in project.products if p.name == line)
        bare = product.model_copy(update={"firmware": product.firmware.model_copy(update={"kconfig": {}})})
        return "\n".join(firmware.line_config(bare)) + "\n"
    ours = set(firmware.kconfig_lines(project.secure_firmware.kconfig))
    prj = files[f"{layout.ZEPHYR_MODULE}/apps/secure/prj.conf"]
    return "".join(f"{x}\n" for x in prj.splitlines() if x not in ours)


def _env(project: Project, zephyr: Path) -> dict[str, str]:
    record = project.toolchain
    missing = toolchain.missing(record)
    if missing:
        raise BspError(missing[0], hint=missing[1])
    return {**os.environ, "ZEPHYR_BASE": str(zephyr), "ZEPHYR_TOOLCHAIN_VARIANT": "cross-compile",
            "CROSS_COMPILE": str(toolchain.location(record) / "bin" / record.prefix), "PYTHONDONTWRITEBYTECODE": "1"}


def _kconfig_files(build: Path) -> list[str]:
    """The fragments Zephyr's build merged into .config, in order (its build_info.yml)."""
    info = yaml.safe_load((build / "build_info.yml").read_text())
    files = info.get("cmake", {}).get("kconfig", {}).get("files", [])
    return [str(f) for f in files]


def _write_if_changed(path: Path, text: str) -> None:
    """Unchanged files keep their times: cmake configures again only for what changed."""
    if not path.is_file() or path.read_text() != text:
        write_whole(path, text)


def _ok(result: proc.Result, what: str) -> None:
    if result.returncode:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BspError(f"{what} failed (exit {result.returncode}):\n{tail}")


def menuconfig(scratch: Scratch) -> None:
    """Zephyr's menuconfig on this terminal (its `menuconfig` target); it saves .config. Ctrl-C is
    menuconfig's own: quitting without saving, or an interrupted one, leaves .config as it was."""
    rc = proc.foreground(["cmake", "--build", scratch.build, "--target", "menuconfig"], env=scratch.env)
    if rc:
        raise BspError(f"menuconfig ended with exit code {rc}; nothing was written")


def settings(scratch: Scratch, sets: Mapping[str, str] | None) -> tuple[dict[str, bool | int | str], list[str]]:
    """The fewest assignments that turn the baseline into the configuration wanted: menuconfig's
    .config (`sets` None), or the description's with `sets` (symbol -> value as a fragment writes
    it) made. A refused assignment is the user's error, each named. Also the symbols the
    assignments cannot reach (kept by other fragments)."""
    request, result = scratch.build / "cmu610-request.json", scratch.build / "cmu610-result.json"
    result.unlink(missing_ok=True)
    write_whole(request, json.dumps({"fragments": [str(f) for f in scratch.fragments],
                                     "current": [str(f) for f in scratch.current],
                                     "set": None if sets is None else dict(sets), "result": str(result)}))
    _ok(proc.run(["cmake", "--build", scratch.build, "--target", FRONTEND_TARGET],
                 env={**scratch.env, REQUEST_ENV: str(request)}, timeout=900), "reading the configuration with kconfiglib")
    out = json.loads(result.read_text())
    if out["errors"]:
        raise BspError("refused: nothing was written",
                       [Finding("--set", name, reason) for name, reason in out["errors"]])
    return dict(out["settings"]), list(out["unmet"])
