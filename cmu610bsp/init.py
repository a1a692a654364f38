"""`cmu610bsp init`: a new workspace, validated and rendered before anything touches the disk."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from cmu610bsp import buildpath, layout, resources, workspace
from cmu610bsp.errors import BspError
from cmu610bsp.project import DEFAULT_PRODUCTS, WorkspaceConfig, load_project
from cmu610bsp.yamlio import read_text

GITIGNORE = """\
# cmu610bsp: transaction scratch space, files `generate --force` replaced, build output
/.cmu610bsp/txn/
/.cmu610bsp/backup/
/build/
"""


@dataclass(frozen=True)
class InitResult:
    root: Path
    board: str
    files: int
    committed: str | None


def _board_source(board: str | None) -> Path:
    if board is None:
        return resources.builtin_board()
    path = Path(board)
    if path.is_file():
        return path
    builtin = resources.builtin_board(board)
    if builtin.is_file():
        return builtin
    known = sorted(p.stem for p in (resources.builtin_configs_dir() / "boards").glob("*.yaml"))
    raise BspError(f"--board: {board!r} is neither a file nor a built-in board", hint="built-in boards: " + ", ".join(known))


def init(directory: Path, board: str | None, force: bool = False) -> InitResult:
    """Build the whole workspace in a scratch directory beside the target, then move it in.
    A directory with anything in it (a `.git` aside) is refused unless `force`: what is there is
    never overwritten, and only what init writes is committed."""
    target = directory.resolve()
    buildpath.refuse(target, "the workspace")  # BitBake could not parse its layer there
    if (target / layout.CONFIG_FILE).exists():
        raise BspError(f"{target} is already a cmu610bsp workspace", hint="use `cmu610bsp generate` or `sync` there")
    if target.exists() and not target.is_dir():
        raise BspError(f"{target} exists and is not a directory")
    src = _board_source(board)
    # Validate against the user's own file first, so findings name it (not the scratch copy):
    # the same loader as every command, given the built-in files and the user's board in place.
    given = WorkspaceConfig(soc=str(resources.builtin_soc()), boards=[str(src)],
                            products=[str(resources.builtin_product(Path(rel).stem)) for rel in DEFAULT_PRODUCTS])
    model = load_project(Path("."), given, headline="the board description has errors; nothing was written").boards[0]
    board_rel = f"configs/boards/{model.name}.yaml"
    soc_rel = "configs/soc/cmu610.yaml"
    there = sorted(e.name for e in target.iterdir() if e.name != ".git") if target.is_dir() else []
    if there and not force:
        shown = ", ".join(there[:5]) + (f" and {len(there) - 5} more" if len(there) > 5 else "")
        raise BspError(f"{target} is not empty ({shown}) and not a workspace; nothing was written",
                       hint="init into an empty or new directory (`cmu610bsp init DIR`), or pass --force to add the "
                            "workspace beside what is there (only what init writes is committed)")
    clashes = [p for p in (layout.CONFIG_FILE, "configs", layout.LAYER, ".cmu610bsp") if (target / p).exists()]
    if clashes:
        raise BspError(f"{target} already has {', '.join(clashes)}", hint="init into an empty or new directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cmu610bsp-init-", dir=target.parent))
    try:
        (scratch / "configs/soc").mkdir(parents=True)
        (scratch / "configs/boards").mkdir(parents=True)
        shutil.copyfile(resources.builtin_soc(), scratch / soc_rel)
        shutil.copyfile(src, scratch / board_rel)
        (scratch / "configs/products").mkdir(parents=True)
        for rel in DEFAULT_PRODUCTS:
            shutil.copyfile(resources.builtin_product(Path(rel).stem), scratch / rel)
        config = {"version": 1, "soc": soc_rel, "boards": [board_rel],
                  "products": DEFAULT_PRODUCTS, "keep": []}
        (scratch / layout.CONFIG_FILE).write_text(
            "# cmu610bsp workspace: the descriptions to render, and files the generator must never touch.\n"
            + yaml.safe_dump(config, sort_keys=False)
        )
        ignore = target / ".gitignore"
        mine = read_text(ignore) if ignore.is_file() else ""  # the user's lines stay, ours are added
        (scratch / ".gitignore").write_text(mine + "".join(
            ln + "\n" for ln in GITIGNORE.splitlines() if ln not in mine.splitlines()))
        ws = workspace.open_workspace(scratch)
        plan = workspace.generate(ws)
        files = sum(1 for p, v in plan.changes.items() if v is not None and p != layout.MANIFEST)
        target.mkdir(exist_ok=True)
        written = sorted(entry.name for entry in scratch.iterdir())
        for name in written:
            (scratch / name).rename(target / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return InitResult(target, model.name, files, _git_first_commit(target, written))


def _git_first_commit(root: Path, written: list[str]) -> str | None:
    """A repository with a first commit of what init wrote, unless the workspace already lives
    inside one."""
    import git

    from cmu610bsp import vcs

    if vcs.repository(root) is not None:
        return None
    repo = git.Repo.init(root)
    return vcs.commit(repo, "cmu610bsp init: workspace for the board description", written)
