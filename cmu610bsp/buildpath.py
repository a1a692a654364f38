"""Which directories BitBake and OpenEmbedded can build in: the workspace (TOPDIR, TMPDIR and the
checked-out layers are below it) and the directories a build is given (--cache, --source).

A path outside these rules passes `init` and every file operation, then fails every BitBake parse
or every build, so `init`, `doctor` and `build` refuse it up front. The rules, from the tools:
- BitBake (bb/parse/ast.py, MethodNode) names the anonymous Python functions of a layer's files
  after the file's path, replacing only `/.+-@%&~`: any other character that is not a letter, a
  digit or `_` (a space, `$`, `:`, a quote, `(`, ...) makes the layer's classes fail to parse.
- OE-core's sanity check (meta/classes-global/sanity.bbclass) refuses `..`, `+`, `@`, `%` and a
  space in TMPDIR and COREBASE, a non-ASCII TOPDIR, and a TMPDIR longer than 400 characters.
- `&` passes both, but OE's shell tasks put paths in commands unquoted (`cd ${B}`): it would end
  the command there.
What is left: ASCII letters, digits and `_ . - / ~`, no `..`, and a short enough path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from cmu610bsp.errors import BspError, Finding
from cmu610bsp.model import ProductLine

ALLOWED = "ASCII letters, digits and _ . - / ~"
_ALLOWED = re.compile(r"[A-Za-z0-9_./~-]")
MAX_TMPDIR = 400  # sanity.bbclass: check_path_length(tmpdir, "TMPDIR", 400)
# TMPDIR of the longest product line's build: <workspace>/build/<line>/tmp (kasbuild/compose.py)
LONGEST_TMPDIR_TAIL = max(len(f"/build/{line}/tmp") for line in get_args(ProductLine))

_SANITY = "OE-core's sanity check refuses it in TMPDIR and COREBASE (sanity.bbclass)"
_ANON = ("BitBake names the anonymous Python functions of a layer's files after their path and replaces "
         "only /.+-@%&~ in it: the layer's classes would not parse")
_WHY = {
    " ": f"{_SANITY}, and BitBake splits BBLAYERS and BBFILES at spaces",
    "+": _SANITY, "@": _SANITY, "%": _SANITY,
    "&": "OE's shell tasks put paths in commands unquoted (cd ${B}): '&' would end the command there",
}


def problems(path: Path, workspace: bool = True) -> list[str]:
    """Why BitBake or OE cannot build with `path` (absolute); [] when they can. A workspace's
    TMPDIR is below it, hence its length rule."""
    text = str(path)
    out: list[str] = []
    bad = sorted({c for c in text if not _ALLOWED.fullmatch(c)}, key=text.index)
    for c in bad:
        if not c.isascii():
            out.append(f"{c!r} is not ASCII: OE-core's sanity check refuses a non-ASCII TOPDIR (perl and shadow "
                       "fail to build there)")
        else:
            out.append(f"{c!r}: {_WHY.get(c, _ANON)}")
    if ".." in text:
        out.append(f"'..' in a name: {_SANITY}")
    if workspace and len(text) + LONGEST_TMPDIR_TAIL > MAX_TMPDIR:
        out.append(f"{len(text)} characters long: TMPDIR (<workspace>/build/<line>/tmp) would be longer than the "
                   f"{MAX_TMPDIR} OE-core's sanity check allows; at most {MAX_TMPDIR - LONGEST_TMPDIR_TAIL} characters")
    return out


def fix(what: str) -> str:
    return f"move {what} to a directory whose path has only {ALLOWED} (e.g. /home/jane/bmc-ws)"


def refuse(path: Path, what: str = "the workspace", workspace: bool = True) -> None:
    """BspError (exit 2) naming the path and every reason, when BitBake or OE cannot build with it."""
    found = problems(path, workspace)
    if found:
        raise BspError(f"{what} cannot be built in by BitBake: {path}",
                       [Finding(str(path), "(path)", why) for why in found], hint=fix(what))
