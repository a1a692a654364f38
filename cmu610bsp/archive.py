"""Extract a tar archive so that nothing in it lands outside the directory it is extracted into.

Judging each member by its name alone is not enough: a chain of relative links, each harmless
on its own (`a -> .`, then `a/b -> ..`), climbs out; a link can be pointed elsewhere by a later
one; a member named like an earlier link is written through it; a hard link through such a chain
reaches an outside file, whose mode and time tarfile then sets. So every member's real place is
resolved in order through the links the members before it made, exactly as the kernel will walk
it, and the whole archive is checked before anything is written. The members are then written
by those resolved paths (no link left in them), files created with O_EXCL | O_NOFOLLOW, not by
tarfile's extraction: the same on Python versions with extraction filters and without them
(Debian 12's 3.11.2).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cmu610bsp.errors import BspError, Finding

Parts = tuple[str, ...]
_MAX_LINKS = 40  # links followed in one path, as Linux allows: more is a loop


class _Refused(Exception):
    """A member that must not be extracted, and why."""


@dataclass
class _Tree:
    """What the members extracted so far made, by real place (a path with no link in it): "dir",
    "file" or "link", and each link's target. A place not in it does not exist yet."""

    kinds: dict[Parts, str] = field(default_factory=dict)
    links: dict[Parts, str] = field(default_factory=dict)

    def resolve(self, parts: Sequence[str], follow_last: bool) -> Parts:
        """The real place `parts` names, links followed (the last one only if `follow_last`);
        a place that does not exist yet counts as a directory, as it would be made."""
        done: list[str] = []
        todo = list(parts)
        followed = 0
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not done:
                    raise _Refused("outside")
                done.pop()
                continue
            kind = self.kinds.get((*done, part))
            if kind == "link" and (todo or follow_last):
                followed += 1
                if followed > _MAX_LINKS:
                    raise _Refused("too many levels of symbolic links (a loop)")
                todo[:0] = PurePosixPath(self.links[(*done, part)]).parts
                continue
            if kind == "file" and todo:
                raise _Refused(f"{'/'.join((*done, part))} is a file, used as a directory")
            done.append(part)
        return tuple(done)

    def add(self, place: Parts, kind: str) -> None:
        for i in range(1, len(place)):
            self.kinds.setdefault(place[:i], "dir")
        self.kinds[place] = kind


@dataclass(frozen=True)
class _Step:
    member: tarfile.TarInfo
    place: Parts            # where it is written
    source: Parts = ()      # a hard link's file
    again: bool = False     # a file of that name was extracted before: this one replaces it


def member_problem(m: tarfile.TarInfo) -> str | None:
    """Why a member must not be extracted whatever came before it, or None."""
    name = PurePosixPath(m.name)
    if name.is_absolute():
        return "absolute path"
    if ".." in name.parts:
        return "path leaves the archive ('..')"
    if m.isdev() or m.isfifo():
        return "device or FIFO file"
    if m.issym() and PurePosixPath(m.linkname).is_absolute():
        return f"symbolic link to an absolute path ({m.linkname})"
    if m.islnk() and (PurePosixPath(m.linkname).is_absolute() or ".." in PurePosixPath(m.linkname).parts):
        return f"hard link points outside the archive ({m.linkname})"
    if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
        return "unsupported member type"
    return None


def _step(tree: _Tree, m: tarfile.TarInfo) -> _Step | None:
    """Where `m` goes, given what the members before it made; recorded in `tree`."""
    why = member_problem(m)
    if why:
        raise _Refused(why)
    parts = PurePosixPath(m.name).parts
    if not parts:
        if m.isdir():
            return None  # the archive's top directory itself ("./")
        raise _Refused("no name")
    try:
        place = (*tree.resolve(parts[:-1], follow_last=True), parts[-1])
    except _Refused as e:
        raise _Refused("its path leads outside the archive through the links before it"
                       if str(e) == "outside" else str(e)) from None
    was = tree.kinds.get(place)
    if was == "link":
        raise _Refused(f"would be written through the symbolic link {'/'.join(place)} extracted before it")
    if was is not None and (m.issym() or m.islnk() or was != ("dir" if m.isdir() else "file")):
        raise _Refused(f"{'/'.join(place)} was extracted before it as a {was}")
    if m.issym():
        tree.add(place, "link")
        tree.links[place] = m.linkname
        _points_inside(tree, place)
        return _Step(m, place)
    if m.islnk():
        try:
            source = tree.resolve(PurePosixPath(m.linkname).parts, follow_last=False)
        except _Refused:
            raise _Refused(f"hard link points outside the archive ({m.linkname})") from None
        if tree.kinds.get(source) != "file":
            raise _Refused(f"hard link to {m.linkname}, which is not a file extracted before it")
        tree.add(place, "file")
        return _Step(m, place, source)
    tree.add(place, "dir" if m.isdir() else "file")
    return _Step(m, place, again=was == "file")


def _points_inside(tree: _Tree, link: Parts) -> None:
    try:
        tree.resolve(link, follow_last=True)
    except _Refused as e:
        target = tree.links[link]
        raise _Refused(f"symbolic link points outside the archive ({target})"
                       if str(e) == "outside" else f"symbolic link to {target}: {e}") from None


def plan(archive: Path, members: list[tarfile.TarInfo]) -> list[_Step]:
    """Every member's place, checked in order, and then every link again with all of them made
    (a link that was inside when made can be pointed out by a later one); nothing is written."""
    tree, steps = _Tree(), []
    current = ""
    try:
        for m in members:
            current = m.name
            step = _step(tree, m)
            if step:
                steps.append(step)
        for link in tree.links:
            current = "/".join(link)
            _points_inside(tree, link)
    except _Refused as e:
        raise BspError(f"{archive}: refused, nothing was extracted", [Finding(str(archive), current, str(e))]) from None
    return steps


def _mode(m: tarfile.TarInfo) -> int:
    """The member's mode as tarfile's "data" filter leaves it: no setuid/setgid/sticky bits, no
    group/other write, readable and writable (and directories searchable) by their owner."""
    return (m.mode & 0o755) | (0o700 if m.isdir() else 0o600)


def _write(tar: tarfile.TarFile, into: Path, step: _Step, dirs: list[tuple[Path, float]]) -> None:
    m, path = step.member, into.joinpath(*step.place)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if os.path.realpath(path.parent) != str(path.parent):  # the plan left no link in it: never written through one
        raise RuntimeError(f"{path.parent} changed during extraction")
    if m.isdir():
        if not path.is_dir():
            path.mkdir(mode=0o700)
        dirs.append((path, m.mtime))
        os.chmod(path, _mode(m), follow_symlinks=False)
        return
    if m.issym():
        os.symlink(m.linkname, path)
        return
    if m.islnk():
        os.link(into.joinpath(*step.source), path, follow_symlinks=False)
        return
    if step.again:
        path.unlink()  # the later member wins, as with tar
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        data = tar.extractfile(m)
        if data is not None:
            shutil.copyfileobj(data, out, 1 << 20)
        os.fchmod(fd, _mode(m))
        os.utime(fd, (m.mtime, m.mtime))


def extract(archive: Path, into: Path) -> None:
    """Extract `archive` into the empty directory `into`, or refuse it (BspError naming the
    member) before writing anything; a corrupt archive is refused too."""
    into = into.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()  # reads the whole index: a truncated archive fails here
            steps = plan(archive, members)
            dirs: list[tuple[Path, float]] = []
            for step in steps:
                _write(tar, into, step, dirs)
            for d, mtime in reversed(dirs):  # last, as their files change them
                os.utime(d, (mtime, mtime), follow_symlinks=False)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BspError(f"{archive}: truncated or corrupt archive ({e}); nothing was extracted") from None
