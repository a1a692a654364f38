"""`cmu610bsp sync`: re-render and merge into the workspace three ways, keeping hand edits.

For every generated file: base = what was generated last time (rebuilt from the manifest),
ours = the file on disk, theirs = the new render. Untouched files are replaced, edited files
are merged with `git merge-file`, overlaps become conflicts with markers that the next sync
refuses to pass over until they are resolved.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmu610bsp import __version__, layout, proc, render, txn, workspace
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.yamlio import read_text

CONFLICTS = f"{layout.STATE_ROOT}/conflicts.json"
MARKERS = ("<<<<<<< ", ">>>>>>> ")


@dataclass
class FileAction:
    path: str
    action: str  # create | update | merge | conflict | delete | keep-edited | keep-glob
    old: bytes | None
    new: bytes | None

    def diff(self) -> str:
        a = (self.old or b"").decode(errors="replace").splitlines(keepends=True)
        b = (self.new or b"").decode(errors="replace").splitlines(keepends=True)
        return "".join(difflib.unified_diff(a, b, f"a/{self.path}", f"b/{self.path}"))


@dataclass
class SyncPlan:
    actions: list[FileAction] = field(default_factory=list)
    manifest: bytes = b""

    @property
    def changes(self) -> list[FileAction]:
        return [a for a in self.actions if a.old != a.new]

    @property
    def conflicts(self) -> list[str]:
        return [a.path for a in self.actions if a.action == "conflict"]


def _base(ws: workspace.Workspace, path: str, manifest: dict[str, Any], rebuilt: dict[str, str] | None) -> bytes | None:
    """Last generated content of `path`: re-rendered from the recorded inputs when that
    reproduces the recorded hash, else the recorded blob from the workspace's git objects."""
    digest = manifest.get("files", {}).get(path)
    if digest is None:
        return None
    if rebuilt is not None and path in rebuilt:
        data = rebuilt[path].encode()
        if layout.sha256(data) == digest:
            return data
    blob = manifest.get("blobs", {}).get(path)
    if blob:
        r = proc.run(["git", "cat-file", "blob", blob], cwd=ws.root)
        if r.returncode == 0:
            data = r.stdout.encode()
            if layout.sha256(data) == digest:
                return data
    return None


def _rebuild(ws: workspace.Workspace, manifest: dict[str, Any]) -> dict[str, str] | None:
    """Render the recorded inputs again (only meaningful with the recorded generator version)."""
    if manifest.get("version") != __version__ or not manifest.get("inputs"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, entry in manifest["inputs"].items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(entry["text"], encoding="utf-8")
        if layout.CONFIG_FILE not in manifest["inputs"]:
            (root / layout.CONFIG_FILE).write_text(read_text(ws.root / layout.CONFIG_FILE))
        try:
            old = workspace.open_workspace(root)
            return render.render(workspace.load_project(old))
        except (BspError, OSError):
            return None


def _merge(base: bytes, ours: bytes, theirs: bytes, path: str) -> tuple[bytes, bool]:
    """git merge-file: (merged bytes, had conflicts)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            p = Path(tmp) / name
            p.write_bytes(data)
            files.append(str(p))
        argv = ["git", "merge-file", "-p", "-L", f"{path} (yours)", "-L", f"{path} (last generated)",
                "-L", f"{path} (new render)", *files]
        r = proc.run_binary(argv)
        if r.returncode < 0 or r.returncode > 127:
            raise RuntimeError(f"git merge-file failed on {path}: {r.stderr.decode(errors='replace')}")
        return r.stdout, r.returncode > 0


def unresolved(ws: workspace.Workspace) -> list[str]:
    """Files a previous sync left in conflict that still carry conflict markers."""
    path = ws.root / CONFLICTS
    if not path.exists():
        return []
    out = []
    for rel in json.loads(path.read_text()):
        p = ws.root / rel
        if p.is_file() and any(m.encode() in p.read_bytes() for m in MARKERS):
            out.append(rel)
    return out


def compute(ws: workspace.Workspace) -> SyncPlan:
    """What sync would write, file by file; reads only."""
    files = render.render(workspace.load_project(ws))
    manifest: dict[str, Any] = workspace.read_manifest(ws) or {}
    rebuilt = _rebuild(ws, manifest)
    plan = SyncPlan()
    for e in workspace.classify(ws, files):
        if e.state in ("edited", "untracked") and e.current is not None and e.new is not None:
            # with no base to be found, the whole file is one overlapping change
            base = _base(ws, e.path, manifest, rebuilt) or b""
            merged, conflict = _merge(base, e.current, e.new, e.path)
            plan.actions.append(FileAction(e.path, "conflict" if conflict else "merge", e.current, merged))
        else:
            plan.actions.append(FileAction(e.path, e.state, e.current, e.new))
    plan.manifest = workspace.manifest_bytes(ws, files)
    return plan


def apply(ws: workspace.Workspace, plan: SyncPlan) -> None:
    """Write the plan atomically (with the manifest and the conflict record)."""
    changes: dict[str, bytes | None] = {a.path: a.new for a in plan.changes}
    changes[layout.MANIFEST] = plan.manifest
    conflicts = json.dumps(sorted(plan.conflicts), indent=1).encode() + b"\n" if plan.conflicts else None
    if conflicts is not None or (ws.root / CONFLICTS).exists():
        changes[CONFLICTS] = conflicts
    current = (ws.root / layout.MANIFEST).read_bytes() if (ws.root / layout.MANIFEST).exists() else None
    if current == plan.manifest and len(changes) == 1:
        return
    txn.commit(ws.root, ws.roots, changes)


def refuse_if_unresolved(ws: workspace.Workspace) -> None:
    left = unresolved(ws)
    if left:
        raise BspError(
            "a previous sync left conflicts that are not resolved; nothing was written",
            [Finding(p, "content", "still has conflict markers") for p in left],
            hint="edit the files, remove the <<<<<<< ======= >>>>>>> blocks, then run sync again",
        )


def refuse_if_dirty(ws: workspace.Workspace) -> None:
    import git

    try:
        repo = git.Repo(ws.root, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        return
    if repo.is_dirty(untracked_files=True):
        # a deleted file's diff has no a_path side to name it by: its b_path names it then
        changed = sorted({d.a_path or d.b_path or "?" for d in repo.index.diff(None)} | set(repo.untracked_files))[:10]
        raise BspError("the git tree has uncommitted changes; nothing was written",
                       [Finding(p, "git", "uncommitted") for p in changed],
                       hint="commit or stash them, or pass --allow-dirty")


def commit(ws: workspace.Workspace) -> str:
    """Commit the generated roots and state with a message naming the generator version."""
    from cmu610bsp import vcs

    repo = vcs.repository(ws.root)
    if repo is None:
        raise BspError(f"{ws.root} is not in a git repository: nothing to commit to",
                       hint="`git init` it, or run sync without --commit")
    paths = [str(ws.root / r) for r in ws.roots if (ws.root / r).exists()]
    return vcs.commit(repo, f"cmu610bsp sync: regenerate with cmu610bsp {__version__}", paths)
