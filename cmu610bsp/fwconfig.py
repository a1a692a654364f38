"""`cmu610bsp config LINE [--domain bmc|secure]`: the firmware's Kconfig settings, configured with
Zephyr's menuconfig or `--set CONFIG_X=VALUE`, written back into the description, which stays the
one source, then synced as any edit of it is.

Where the settings live: the BMC firmware's (hart 1) are the line's, `firmware.kconfig` of
configs/products/<line>.yaml; the secure firmware's (hart 0) are the workspace's,
`secure_firmware.kconfig` of cmu610bsp.yml, since one secure image serves every line and every
board (LINE then only chooses the configuration menuconfig starts from). Only the difference
from the defaults is written: the fewest assignments that, on top of the board's defconfig, the
application's prj.conf and (BMC) the line's name and features, give the configuration wanted.

With a Zephyr tree (--source zephyr=DIR, $ZEPHYR_BASE, or the one the last build unpacked) and the
sources of the OpenBMC components the firmware takes (--source libpldm=DIR ..., as `build` takes
them, else the last build's: their Kconfig options are the firmware's too), every value is checked by Zephyr's own
Kconfig (kconfig_tree.py); without a tree, `--set` writes the values as
given, checked by the description's rules only (the build checks them against Kconfig), and
menuconfig is refused. The description's rules refuse CONFIG_CMU610_* here as everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import components, config, sync, workspace, wslock
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import write_whole
from cmu610bsp.layout import CONFIG_FILE
from cmu610bsp.model import GENERATED_KCONFIG, GENERATED_WHY, Board, Product, parse_model
from cmu610bsp.project import Project
from cmu610bsp.yamlio import parse_yaml, read_text, with_key, yaml_value

DOMAINS = ("bmc", "secure")
Value = bool | int | str
_INT = re.compile(r"-?[0-9]+")
SECURE_KEY = "secure_firmware"
SECURE_COMMENT = "the secure firmware's Kconfig settings, the same for every line (`cmu610bsp config LINE --domain secure`)"


@dataclass(frozen=True)
class ConfigResult:
    path: str                        # the description file that holds the settings (workspace-relative)
    before: dict[str, Value]
    after: dict[str, Value]
    checked: bool                    # against Zephyr's Kconfig
    unmet: list[str]                 # symbols the settings cannot reach (other fragments keep them)
    sync: sync.SyncResult | None     # None: nothing changed


def parse_sets(items: list[str]) -> dict[str, str]:
    """--set CONFIG_X=VALUE items as symbol -> value text (as a Kconfig fragment writes it)."""
    out: dict[str, str] = {}
    bad = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not re.fullmatch(r"CONFIG_[A-Z0-9_]+", name):
            bad.append(Finding("--set", item, "expected CONFIG_NAME=VALUE (y, n, a number, 0x..., or a quoted string)"))
        elif name.startswith(GENERATED_KCONFIG):  # the description's own rule, said before anything else
            bad.append(Finding("--set", name, GENERATED_WHY))
        else:
            out[name] = text
    if bad:
        raise BspError("refused: nothing was written", bad)
    return out


def typed(name: str, text: str) -> Value:
    """A fragment's value as the description writes it: y/n a boolean, a decimal a number, hex
    and a quoted string text (what Kconfig's own .conf syntax allows)."""
    if text in ("y", "n"):
        return text == "y"
    if _INT.fullmatch(text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return text
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", text[1:-1])
    raise BspError("refused: nothing was written", [Finding("--set", f"{name}={text}",
                   "not a Kconfig value: y, n, a number, 0x..., or a string in double quotes")])


def settings_file(root: Path, project: Project, line: str, domain: str) -> Path:
    if domain == "secure":
        return root / CONFIG_FILE
    cfg = config.load_config(root)
    names: list[str] = [p.name for p in project.products]
    return root / cfg.products[names.index(line)]


def current(project: Project, line: str, domain: str) -> dict[str, Value]:
    if domain == "secure":
        return dict(project.secure_firmware.kconfig)
    return dict(_product(project, line).firmware.kconfig)


def _product(project: Project, line: str) -> Product:
    for p in project.products:
        if p.name == line:
            return p
    raise BspError(f"{line!r}: not a product line of this workspace",
                   hint="lines: " + ", ".join(p.name for p in project.products))


def board_for(project: Project, line: str, name: str | None) -> Board:
    """--board, else the first board that serves the line."""
    for b in project.boards:
        if (name is None and line in b.product_lines) or b.name == name:
            if line not in b.product_lines:
                raise BspError(f"--board {name}: it serves {', '.join(b.product_lines)}, not {line}")
            return b
    raise BspError(f"--board {name!r}: not a board of this workspace" if name else f"no board serves {line}")


def edited(text: str, path: Path, domain: str, values: Mapping[str, Value]) -> str:
    """The description file's text with the settings replaced, every other line as written;
    refused (nothing written) when the description's rules refuse it (CONFIG_CMU610_*)."""
    secure = domain == "secure"
    parent = SECURE_KEY if secure else "firmware"
    try:
        new = with_key(text, "kconfig", yaml_value(dict(sorted(values.items()))), SECURE_COMMENT if secure else "", parent)
    except BspError as e:       # the file's shape: named here, where the file is known
        raise BspError("the settings cannot be written", [Finding(str(path), f"{parent}.kconfig", e.message)],
                       hint=e.hint) from None
    parse_model(config.WorkspaceConfig if secure else Product, parse_yaml(new, path), path)
    return new


def write(ws: workspace.Workspace, path: Path, read: str, new: str, domain: str, values: Mapping[str, Value],
          allow_dirty: bool) -> sync.SyncResult:
    """Write the settings (if nobody changed the file since it was `read`) and sync, under the
    workspace lock; a refused or failed sync puts the file back as it was. cmu610bsp.yml is
    written by its one writer (config.set_key), a product file the same way (yamlio.with_key)."""
    with wslock.held(ws.root, "config"):
        if read_text(path) != read:
            raise BspError(f"{path} changed while the configuration was edited; nothing was written",
                           hint="run `cmu610bsp config` again")
        if domain == "secure":
            config.set_key(ws.root, "kconfig", dict(sorted(values.items())), SECURE_COMMENT, "config", SECURE_KEY)
        else:
            write_whole(path, new, "it was left as it was")
        try:
            return sync.run(workspace.open_workspace(ws.root), "sync", allow_dirty=allow_dirty)
        except BaseException:
            if domain == "secure":
                config.restore(ws.root, read, "config")
            else:
                write_whole(path, read, "it holds the new settings: put them back by hand")
            raise


def run(ws: workspace.Workspace, line: str, domain: str, board: str | None, set_items: list[str],
        sources: Mapping[str, Path], allow_dirty: bool) -> ConfigResult:
    """menuconfig (no --set) or the --set assignments on the domain's configuration, then only
    the difference from the defaults written into the description and synced."""
    from cmu610bsp import kconfig_tree  # renders the module and runs Zephyr's build: only this command needs it

    if domain not in DOMAINS:
        raise BspError(f"--domain {domain!r}: one of {', '.join(DOMAINS)}")
    project = workspace.load_project(ws)
    _product(project, line)
    target = board_for(project, line, board)
    path = settings_file(ws.root, project, line, domain)
    read = read_text(path)
    before = current(project, line, domain)
    sets = parse_sets(set_items)
    given = {name: typed(name, text) for name, text in sets.items()}
    edited(read, path, domain, {**before, **given})  # the description's rules, before anything runs
    unknown = sorted(set(sources) - {"zephyr", *components.COMPONENTS})
    if unknown:
        raise BspError(f"--source {unknown[0]}=...: not a source `config` takes",
                       hint="zephyr=DIR, " + ", ".join(f"{n}=DIR" for n in components.COMPONENTS))
    tree = kconfig_tree.zephyr_tree(ws.root, sources.get("zephyr"))
    if tree is None and not sets:
        raise BspError("menuconfig needs a Zephyr tree", hint="give --source zephyr=DIR or set ZEPHYR_BASE (or build "
                       "the line once: its Zephyr tree is used); `--set CONFIG_X=VALUE` works without one")
    unmet: list[str] = []
    if tree is None:
        after = {**before, **given}
    else:
        libs = kconfig_tree.component_sources(ws.root, project, domain, line, sources)
        scratch = kconfig_tree.configure(ws.root, project, target, domain, line, tree, libs)
        if not sets:
            kconfig_tree.menuconfig(scratch)
        after, unmet = kconfig_tree.settings(scratch, sets or None)
        generated = [Finding("menuconfig", name, GENERATED_WHY) for name in after if name.startswith(GENERATED_KCONFIG)]
        if generated:
            raise BspError("refused: nothing was written", generated,
                           hint="a line's features are firmware.features of its product file")
    rel = str(path.relative_to(ws.root))
    if after == before:
        return ConfigResult(rel, before, after, tree is not None, unmet, None)
    result = write(ws, path, read, edited(read, path, domain, after), domain, after, allow_dirty)
    return ConfigResult(rel, before, after, tree is not None, unmet, result)
