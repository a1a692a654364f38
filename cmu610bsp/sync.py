"""`cmu610bsp sync`: re-render and merge into the workspace three ways, keeping hand edits.

For every generated file: base = what was generated last time (rebuilt from the manifest),
ours = the file on disk, theirs = the new render. Untouched files are replaced, edited files
are merged with `git merge-file`, overlaps become conflicts with markers that the next sync
refuses to pass over until they are resolved (and `--check` fails on).

The loop is: edit the description (or a generated file), run sync. A description edit is the
input, never a reason to refuse; what sync protects is a hand edit in a file it would rewrite that
git does not have yet (`refuse_if_dirty`). `run` does one sync in one of three modes (check,
dry-run, sync) and returns one `SyncResult`, whose `as_json` is the one shape of `sync --json`.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cmu610bsp import __version__, layout, manifest, proc, render, txn, workspace, wslock
from cmu610bsp.errors import BspError, CheckFailed, Finding
from cmu610bsp.yamlio import read_text

if TYPE_CHECKING:
    import git

CONFLICTS = f"{layout.STATE_ROOT}/conflicts.json"
MARKERS = (b"<<<<<<< ", b">>>>>>> ")
Mode = Literal["check", "dry-run", "sync"]


@dataclass
class FileAction:
    path: str
    action: str  # create | update | merge | conflict | delete | keep-edited | keep-glob | unchanged
    old: bytes | None
    new: bytes | None
    edited: bool = False  # the file on disk carries a hand edit (or is not ours): sync keeps it

    @property
    def outcome(self) -> str:
        """What sync does with a hand-edited file: merged (the new render merged in, the edit
        kept), kept (nothing new for it), conflict, or no-longer-generated (left in place)."""
        if self.action in ("conflict", "keep-edited"):
            return "conflict" if self.action == "conflict" else "no-longer-generated"
        return "merged" if self.old != self.new else "kept"

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

    @property
    def edited(self) -> list[FileAction]:
        return [a for a in self.actions if a.edited]


def _base(ws: workspace.Workspace, path: str, last: manifest.Manifest, rebuilt: dict[str, str] | None) -> bytes | None:
    """Last generated content of `path`: re-rendered from the recorded inputs when that
    reproduces the recorded hash, else the recorded blob from the workspace's git objects."""
    digest = last.files.get(path)
    if digest is None:
        return None
    if rebuilt is not None and path in rebuilt:
        data = rebuilt[path].encode()
        if manifest.sha256(data) == digest:
            return data
    blob = last.blobs.get(path)
    if blob:
        r = proc.run(["git", "cat-file", "blob", blob], cwd=ws.root)
        if r.returncode == 0:
            data = r.stdout.encode()
            if manifest.sha256(data) == digest:
                return data
    return None


def _rebuild(ws: workspace.Workspace, last: manifest.Manifest) -> dict[str, str] | None:
    """Render the recorded inputs again (only meaningful with the recorded generator version)."""
    if last.version != __version__ or not last.inputs:
        return None
    if not all(layout.plain(rel) for rel in last.inputs):
        return None  # an input outside the workspace (or a manifest edited to climb out): not rebuilt in a scratch
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, entry in last.inputs.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(entry.text, encoding="utf-8")
        if layout.CONFIG_FILE not in last.inputs:
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


def _has_markers(data: bytes) -> bool:
    return any(line.startswith(MARKERS) for line in data.splitlines())


def unresolved(ws: workspace.Workspace) -> list[str]:
    """Generated files (and files a previous sync left in conflict) that carry conflict markers:
    whatever put them there, dtc and BitBake would fail on them."""
    record = ws.root / CONFLICTS
    paths: set[str] = set(json.loads(record.read_text())) if record.is_file() else set()
    last = manifest.read(ws.root)
    paths |= set(last.files if last else ())
    return sorted(p for p in paths if (ws.root / p).is_file() and _has_markers((ws.root / p).read_bytes()))


def compute(ws: workspace.Workspace) -> SyncPlan:
    """What sync would write, file by file; reads only."""
    files = render.render(workspace.load_project(ws))
    last = manifest.read(ws.root) or manifest.Manifest()
    rebuilt = _rebuild(ws, last)
    plan = SyncPlan()
    for e in workspace.classify(ws, files):
        if e.state in ("edited", "untracked") and e.current is not None and e.new is not None:
            # with no base to be found, the whole file is one overlapping change
            base = _base(ws, e.path, last, rebuilt) or b""
            merged, conflict = _merge(base, e.current, e.new, e.path)
            plan.actions.append(FileAction(e.path, "conflict" if conflict else "merge", e.current, merged, True))
        else:
            plan.actions.append(FileAction(e.path, e.state, e.current, e.new, e.state == "keep-edited"))
    plan.manifest = workspace.manifest_of(ws, files).to_bytes()
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
    txn.commit(ws.root, ws.roots, changes, ws.files)


def refuse_if_unresolved(left: list[str]) -> None:
    if left:
        raise BspError(
            "generated files still carry conflict markers; nothing was written",
            [Finding(p, "content", "still has conflict markers") for p in left],
            hint="edit the files, remove the <<<<<<< ======= >>>>>>> blocks, then run sync again",
        )


def refuse_if_dirty(ws: workspace.Workspace, plan: SyncPlan) -> None:
    """Refuse to rewrite a hand-edited file whose edit git does not have: the merge could not be
    undone. Description edits, and files sync leaves alone, never count."""
    from cmu610bsp import vcs  # GitPython: ~0.1 s of start-up that sync --check and --dry-run do without

    repo = vcs.repository(ws.root)
    at_risk = [ws.root / a.path for a in plan.changes if a.edited]
    if repo is None or not at_risk:
        return
    changed = [str(p.relative_to(ws.root)) for p in vcs.uncommitted(repo, at_risk)]
    if changed:
        raise BspError("sync would merge into hand edits that are not committed; nothing was written",
                       [Finding(p, "git", "hand edit not committed") for p in changed],
                       hint="commit them (so the merge can be undone with git), or pass --allow-dirty")


@dataclass
class SyncResult:
    """One sync's outcome, in any mode; `as_json` is `sync --json`'s one shape."""

    mode: Mode
    plan: SyncPlan
    manifest_changed: bool
    unresolved: list[str]
    applied: bool = False
    committed: str | None = None

    @property
    def clean(self) -> bool:
        """Nothing would change and no file carries conflict markers."""
        return not self.plan.changes and not self.manifest_changed and not self.unresolved

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "clean": self.clean, "applied": self.applied,
            "manifest_changed": self.manifest_changed,
            "files": [{"path": a.path, "action": a.action, "hand_edited": a.edited,
                       "diff": a.diff() if self.mode == "check" else None} for a in self.plan.changes],
            "hand_edited": [{"path": a.path, "outcome": a.outcome} for a in self.plan.edited],
            "conflicts": self.plan.conflicts, "unresolved": self.unresolved, "committed": self.committed,
        }


def run(ws: workspace.Workspace, mode: Mode = "sync", allow_dirty: bool = False, commit: bool = False) -> SyncResult:
    """Compute the sync; in mode "sync" refuse (unresolved markers, uncommitted hand edits it
    would rewrite) or apply it, and commit it if asked and free of conflicts. A real sync holds
    the workspace lock from its first read of the workspace to its commit."""
    if mode != "sync":
        return _run(ws, mode, allow_dirty, commit)
    with wslock.held(ws.root, "sync"):
        return _run(workspace.open_workspace(ws.root), mode, allow_dirty, commit)


def _run(ws: workspace.Workspace, mode: Mode, allow_dirty: bool, commit: bool) -> SyncResult:
    plan = compute(ws)
    recorded = ws.root / layout.MANIFEST
    changed = not recorded.exists() or recorded.read_bytes() != plan.manifest
    result = SyncResult(mode, plan, changed, unresolved(ws))
    if mode != "sync":
        return result
    refuse_if_unresolved(result.unresolved)
    if not allow_dirty:
        refuse_if_dirty(ws, plan)
    if commit:
        _repository_to_commit_to(ws)  # no repository, or its index locked: said before anything is written
    apply(ws, plan)
    result.applied = True
    if commit and not plan.conflicts:
        result.committed = _commit(ws)
    return result


def verdict(result: SyncResult) -> None:
    """The exit status a result stands for: `--check` fails on any drift or conflict marker, a
    sync that left conflicts fails; anything else succeeds."""
    if result.mode == "check" and not result.clean:
        raise CheckFailed("the workspace is not in sync with its description; `cmu610bsp sync` brings it",
                          [Finding(p, "content", "still has conflict markers") for p in result.unresolved])
    if result.mode == "sync" and result.plan.conflicts:
        raise BspError("sync merged your edits but some overlap the new render",
                       [Finding(p, "content", "conflict: resolve the marked blocks") for p in result.plan.conflicts],
                       hint="edit the files to resolve them, then run `cmu610bsp sync` again")


def _repository_to_commit_to(ws: workspace.Workspace) -> git.Repo:
    from cmu610bsp import vcs  # GitPython: ~0.1 s of start-up that sync --check and --dry-run do without

    repo = vcs.repository(ws.root)
    if repo is None:
        raise BspError(f"{ws.root} is not in a git repository: nothing to commit to; nothing was written",
                       hint="`git init` it, or run sync without --commit")
    vcs.refuse_if_locked(repo)
    return repo


def _commit(ws: workspace.Workspace) -> str:
    """Commit what the sync wrote and what it was rendered from: the generated roots and state,
    and the descriptions (cmu610bsp.yml and the files it names, those in the repository), so the
    commit holds the edit that caused the render; a message naming the generator version."""
    from cmu610bsp import vcs  # GitPython: ~0.1 s of start-up that sync --check and --dry-run do without

    repo = _repository_to_commit_to(ws)
    paths = [str(ws.root / r) for r in ws.roots if (ws.root / r).exists()]
    # a pipeline file sync removed is committed as removed, if git had it
    tracked = set(repo.git.ls_files("--", *ws.files).splitlines()) if ws.files else set()
    paths += [str(ws.root / f) for f in ws.files if (ws.root / f).exists() or f in tracked]
    top = Path(str(repo.working_tree_dir)).resolve()
    paths += [str(p) for p in (ws.root / rel for rel in workspace.input_paths(ws)) if p.resolve().is_relative_to(top)]
    return vcs.commit(repo, f"cmu610bsp sync: regenerate with cmu610bsp {__version__}", paths)
