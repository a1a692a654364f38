"""`cmu610bsp init`: a new workspace, validated and rendered before anything touches the disk.

The workspace is built in a scratch directory (`.cmu610bsp/init/` in the target) and moved in,
then committed. A record of the init in progress (`.cmu610bsp/init.json`) is written before the
first move and removed after the first commit: an init killed at any point (SIGKILL included)
leaves it, and the next `init` (with or without --force) takes out what the killed one wrote and
does it all again. An init that fails or is interrupted otherwise takes out what it wrote itself.
Both hold the workspace lock.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import git

from cmu610bsp import buildpath, config, generate, layout, resources, vcs, workspace, wslock
from cmu610bsp.config import DEFAULT_PRODUCTS, WorkspaceConfig
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import write_whole, writing
from cmu610bsp.project import load_project
from cmu610bsp.txn import pause
from cmu610bsp.yamlio import read_text

GITIGNORE = ("# cmu610bsp: transaction scratch space, files `generate --force` replaced, the workspace lock, build output\n"
             f"/{layout.TXN_DIR}/\n/{layout.BACKUP_ROOT}/\n/{layout.LOCK_FILE}\n/{layout.BUILD_DIR}/\n")
# What init writes and nothing else may hold (refused when there), the init in progress, its scratch
OWNS = (layout.CONFIG_FILE, "configs", layout.LAYER, layout.STATE_ROOT)
IN_PROGRESS = ".cmu610bsp/init.json"
SCRATCH = ".cmu610bsp/init"


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


def _refuse_workspace(target: Path, interrupted: bool) -> None:
    if not interrupted and (target / layout.CONFIG_FILE).exists():
        raise BspError(f"{target} is already a cmu610bsp workspace", hint="use `cmu610bsp generate` or `sync` there")
    if target.exists() and not target.is_dir():
        raise BspError(f"{target} exists and is not a directory")


def _refuse_content(target: Path, force: bool, interrupted: bool) -> None:
    """A directory with anything in it (a `.git` aside) is refused unless `force`; what init
    writes must not be there already, unless an interrupted init wrote it."""
    ours = {".git", *([".cmu610bsp", ".gitignore", *OWNS] if interrupted else [])}
    there = sorted(e.name for e in target.iterdir() if e.name not in ours) if target.is_dir() else []
    if there and not force:
        shown = ", ".join(there[:5]) + (f" and {len(there) - 5} more" if len(there) > 5 else "")
        raise BspError(f"{target} is not empty ({shown}) and not a workspace; nothing was written",
                       hint="init into an empty or new directory (`cmu610bsp init DIR`), or pass --force to add the "
                            "workspace beside what is there (only what init writes is committed)")
    clashes = [] if interrupted else [p for p in (*OWNS[:3], ".cmu610bsp") if (target / p).exists()]
    if clashes:
        raise BspError(f"{target} already has {', '.join(clashes)}", hint="init into an empty or new directory")


def init(directory: Path, board: str | None, force: bool = False) -> InitResult:
    """Validate, then build the whole workspace in a scratch directory and move it in; only what
    init writes is committed, and what is there is never overwritten (`_refuse_content`)."""
    target = directory.resolve()
    buildpath.refuse(target, "the workspace")  # BitBake could not parse its layer there
    interrupted = (target / IN_PROGRESS).is_file()
    _refuse_workspace(target, interrupted)
    src = _board_source(board)
    # Validate against the user's own file first, so findings name it (not the scratch copy):
    # the same loader as every command, given the built-in files and the user's board in place.
    given = WorkspaceConfig(soc=str(resources.builtin_soc()), boards=[str(src)],
                            products=[str(resources.builtin_product(Path(rel).stem)) for rel in DEFAULT_PRODUCTS])
    model = load_project(Path("."), given, headline="the board description has errors; nothing was written").boards[0]
    _refuse_content(target, force, interrupted)
    made = [d for d in (target, target / ".cmu610bsp") if not d.exists()]
    with writing(target, "nothing was written"):
        (target / ".cmu610bsp").mkdir(parents=True, exist_ok=True)
    try:
        with wslock.held(target, "init"):
            if (target / IN_PROGRESS).is_file() != interrupted or (
                    not interrupted and any((target / p).exists() for p in OWNS)):
                raise BspError(f"{target}: another cmu610bsp init got there first; nothing was written")
            return _init(target, src, model.name, interrupted)
    except BaseException:
        if made and not (target / IN_PROGRESS).exists():  # nothing of it is left but the lock: that too
            with suppress(OSError):
                (target / layout.LOCK_FILE).unlink(missing_ok=True)
                for d in reversed(made):
                    d.rmdir()
        raise


def _init(target: Path, src: Path, board: str, interrupted: bool) -> InitResult:
    """Under the lock: take out an interrupted init's writes (its record says what the directory
    held before), record this one, build, move in, commit, drop the record."""
    record = target / IN_PROGRESS
    if interrupted:
        before = _read_record(record)
        _take_out(target, before)
    else:
        ignore = target / ".gitignore"
        before = {"git": vcs.repository(target) is None, "gitignore": read_text(ignore) if ignore.is_file() else None}
        write_whole(record, json.dumps(before) + "\n")
    try:
        files, written = _build_and_move(target, src, board, str(before["gitignore"] or ""))
        committed = _git_first_commit(target, written) if before["git"] else None
    except BaseException:
        with suppress(OSError, BspError):
            _take_out(target, before)
            if before["git"]:
                _drop_new_repository(target)
            record.unlink()
        raise
    pause("init-committed")
    with suppress(OSError):
        record.unlink()
    return InitResult(target, board, files, committed)


def _read_record(record: Path) -> dict[str, str | bool | None]:
    """An interrupted init's record: whether it made the repository, the user's .gitignore."""
    try:
        data = json.loads(read_text(record))
    except ValueError:
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("git"), bool)
            and isinstance(data.get("gitignore"), (str, type(None)))):
        raise BspError(f"{record}: not a record of an interrupted init", [Finding(IN_PROGRESS, "(top level)",
                       "expected {\"git\": true|false, \"gitignore\": text or null}")],
                       hint="cmu610bsp did not write it: remove it to init here")
    return data


def _take_out(target: Path, before: dict[str, str | bool | None]) -> None:
    """Remove what an init wrote (it was refused unless none of it was there), its scratch, and
    put the user's .gitignore back as it was."""
    for rel in (*OWNS, SCRATCH):
        path = target / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    ignore = target / ".gitignore"
    if isinstance(before.get("gitignore"), str):
        write_whole(ignore, str(before["gitignore"]))
    else:
        ignore.unlink(missing_ok=True)


def _build_and_move(target: Path, src: Path, board: str, user_ignore: str) -> tuple[int, list[str]]:
    """The workspace built and generated in the scratch, then moved into the target; returns the
    number of generated files and the paths moved in."""
    scratch = target / SCRATCH
    shutil.rmtree(scratch, ignore_errors=True)
    board_rel = f"configs/boards/{board}.yaml"
    soc_rel = "configs/soc/cmu610.yaml"
    (scratch / "configs/soc").mkdir(parents=True)
    (scratch / "configs/boards").mkdir(parents=True)
    shutil.copyfile(resources.builtin_soc(), scratch / soc_rel)
    shutil.copyfile(src, scratch / board_rel)
    (scratch / "configs/products").mkdir(parents=True)
    for rel in DEFAULT_PRODUCTS:
        shutil.copyfile(resources.builtin_product(Path(rel).stem), scratch / rel)
    config.create(scratch, soc_rel, [board_rel])
    # the user's lines stay, ours are added
    (scratch / ".gitignore").write_text(user_ignore + "".join(
        ln + "\n" for ln in GITIGNORE.splitlines() if ln not in user_ignore.splitlines()))
    result = generate.generate(workspace.open_workspace(scratch))
    files = sum(1 for p, v in result.changes.items() if v is not None and p != layout.MANIFEST)
    written = [*sorted(e.name for e in scratch.iterdir() if e.name != ".cmu610bsp"), layout.STATE_ROOT]
    for rel in written:
        os.replace(scratch / rel, target / rel)
        pause("init-moving")
    shutil.rmtree(scratch)
    return files, written


def _drop_new_repository(root: Path) -> None:
    """The repository this init made in `root` itself, if nothing was committed to it yet."""
    with suppress(git.InvalidGitRepositoryError, git.NoSuchPathError):
        if not git.Repo(root).head.is_valid():
            shutil.rmtree(root / ".git")


def _git_first_commit(root: Path, written: list[str]) -> str:
    """The repository init made (or an interrupted init made), with a first commit of what init
    wrote; an interrupted init's commit of the same files is that first commit."""
    repo = git.Repo.init(root)
    pause("init-git")
    vcs.refuse_if_locked(repo)
    return vcs.commit(repo, "cmu610bsp init: workspace for the board description", written) or str(repo.head.commit.hexsha)
