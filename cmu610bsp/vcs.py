"""The workspace's git repository: finding it and committing to it, for `init` and `sync`.

A commit never fails for want of an identity (a fresh CI container, a new machine): the user's
configured identity is used when there is one, else a default naming the tool."""

from __future__ import annotations

import os
from pathlib import Path

import git

from cmu610bsp.errors import BspError, Finding

DEFAULT_IDENTITY = {"GIT_AUTHOR_NAME": "cmu610bsp", "GIT_AUTHOR_EMAIL": "cmu610bsp@localhost",
                    "GIT_COMMITTER_NAME": "cmu610bsp", "GIT_COMMITTER_EMAIL": "cmu610bsp@localhost"}


def repository(root: Path) -> git.Repo | None:
    """The repository holding root (it may be a parent's), or None."""
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def refuse_if_locked(repo: git.Repo) -> None:
    """A commit needs git's index lock: checked before anything is written, so a stale one (a git
    that crashed or was killed) stops the command at once, named, and not after a write."""
    lock = Path(repo.git_dir) / "index.lock"
    if lock.exists():
        raise BspError(f"git's index is locked ({lock}); nothing was written",
                       [Finding(str(lock), "index.lock", "exists: another git command is running, or one that crashed "
                                "left it")],
                       hint=f"if no git command is running in this repository, remove {lock} and run the command again")


def _has_identity(repo: git.Repo) -> bool:
    get = repo.git.config
    return bool(get("--get", "user.email", with_exceptions=False)) and bool(get("--get", "user.name", with_exceptions=False))


def commit(repo: git.Repo, message: str, paths: list[str]) -> str:
    """Commit exactly these paths (staged first); the new commit's id, or "" if nothing changed."""
    repo.git.add("--all", "--", *paths)
    staged: list[str | os.PathLike[str]] = list(paths)
    if repo.head.is_valid() and not repo.index.diff("HEAD", paths=staged):
        return ""
    with repo.git.custom_environment(**({} if _has_identity(repo) else DEFAULT_IDENTITY)):
        repo.git.commit("-q", "-m", message, "--", *paths)
    return str(repo.head.commit.hexsha)


def uncommitted(repo: git.Repo, paths: list[Path]) -> list[Path]:
    """Those of `paths` whose content git has not committed: modified, staged or untracked."""
    if not paths:
        return []
    out = repo.git.status("--porcelain", "-z", "--no-renames", "--untracked-files=all", "--", *map(str, paths))
    top = Path(str(repo.working_tree_dir)).resolve()
    return sorted(top / entry[3:] for entry in out.split("\0") if entry)
