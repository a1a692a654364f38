"""`cmu610bsp ci`: which CI systems the workspace has a generated pipeline for.

The list is `ci:` in cmu610bsp.yml, an input like any other: this sets it (through config.py, the
rest of the file as written) and syncs, so a pipeline is an ordinary generated file, recorded in the manifest and
kept by later syncs with the user's edits. What the pipelines hold is `pipelines.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from cmu610bsp import config, sync, workspace, wslock
from cmu610bsp.config import CiSystem
from cmu610bsp.errors import BspError

SYSTEMS: tuple[str, ...] = get_args(CiSystem)


@dataclass(frozen=True)
class CiResult:
    before: tuple[str, ...]
    after: tuple[str, ...]
    sync: sync.SyncResult


def systems(names: Sequence[str]) -> list[str]:
    """The systems named on the command line, checked (a user error names the known ones)."""
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise BspError(f"unknown CI system {', '.join(map(repr, unknown))}", hint="CI systems: " + ", ".join(SYSTEMS))
    return list(dict.fromkeys(names))


def change(ws: workspace.Workspace, add: Sequence[str] = (), remove: Sequence[str] = (),
           allow_dirty: bool = False) -> CiResult:
    """Set `ci:` in cmu610bsp.yml (the systems it lists, plus `add`, less `remove`) and sync. If
    the sync refuses or fails, cmu610bsp.yml is put back as it was: nothing is written."""
    with wslock.held(ws.root, "ci"):
        return _change(workspace.open_workspace(ws.root), add, remove, allow_dirty)


def _change(ws: workspace.Workspace, add: Sequence[str], remove: Sequence[str], allow_dirty: bool) -> CiResult:
    before = tuple(ws.config.ci)
    after = [s for s in SYSTEMS if (s in before or s in add) and s not in remove]
    changed = list(before) != after
    old = config.set_key(ws.root, "ci", after, "CI pipelines cmu610bsp generates and keeps in sync (`cmu610bsp ci`)",
                         "ci") if changed else ""
    try:
        result = sync.run(workspace.open_workspace(ws.root), "sync", allow_dirty=allow_dirty)
    except BaseException:
        if changed:
            config.restore(ws.root, old, "ci")
        raise
    return CiResult(before, tuple(after), result)

