"""Where a run takes the source of each OpenBMC recipe the firmware is built with (components.py):
the revision OpenBMC's own recipe pins (its SRCREV, read from the recipe file in the OpenBMC
tree), or a local checkout given with `--source libpldm=PATH`, the way the OpenBMC and Zephyr trees
are given. The layer's variant of the recipe (classes/cmu610_zephyr_lib.bbclass) fetches either;
this module writes the run's lines for a checkout and finds, before BitBake runs, a source an
offline build could not fetch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import components, proc
from cmu610bsp.errors import BspError
from cmu610bsp.names import component_variant

_SRCREV = re.compile(r'^SRCREV\s*=\s*"([0-9a-f]{40})"\s*$', re.M)
_GIT_URL = re.compile(r'^SRC_URI\s*[+?:]?=\s*"\s*(git://[^;"\s]+)', re.M)


@dataclass(frozen=True)
class Pin:
    """The recipe's git repository (without parameters) and the commit it pins."""

    url: str
    srcrev: str

    @property
    def mirror(self) -> str:
        """The name BitBake's git fetcher gives the repository's clone in DL_DIR/git2."""
        host_path = self.url.removeprefix("git://")
        host, _, path = host_path.partition("/")
        return host.replace(":", ".") + ("/" + path).replace("/", ".")


def pin(openbmc: Path, name: str) -> Pin | None:
    """The pin of the component's recipe in the OpenBMC tree; None where the tree is not checked
    out yet or the recipe spells its URL or revision indirectly (then BitBake alone knows)."""
    path = openbmc / components.COMPONENTS[name].recipe
    try:
        text = path.read_text()
    except OSError:
        return None
    rev, url = _SRCREV.search(text), _GIT_URL.search(text)
    return Pin(url.group(1), rev.group(1)) if rev and url else None


def has_commit(repo: Path, commit: str) -> bool:
    """Whether the git repository (a checkout or a bare clone) holds the commit."""
    if not repo.is_dir():
        return False
    r = proc.run(["git", "-c", f"safe.directory={repo}", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"],
                 timeout=60)
    return r.returncode == 0


def head(checkout: Path, name: str, hint: str = "") -> str:
    """The commit a `--source NAME=PATH` checkout is at (BitBake fetches a revision), or a user
    error saying it is not a git checkout. A shared checkout may belong to another user: git
    refuses it without safe.directory."""
    r = proc.run(["git", "-c", f"safe.directory={checkout}", "-C", str(checkout), "rev-parse", "HEAD"], timeout=60)
    rev = r.stdout.strip()
    if r.returncode or not re.fullmatch(r"[0-9a-f]{40}", rev):
        raise BspError(f"--source {name}={checkout}: not a git checkout with a commit ({r.stderr.strip() or rev})",
                       hint=hint or f"BitBake fetches {name} at a revision: give a git clone of it")
    return rev


def checkout_lines(name: str, checkout: Path, openbmc: Path) -> tuple[list[str], bool]:
    """The run's configuration lines for `--source NAME=PATH`, and whether the build stays pinned
    (the checkout holds the recipe's SRCREV; else its HEAD is built, and the run says so)."""
    path = checkout.resolve()
    why = components.source_finding(name, path)
    if why:
        raise BspError(f"--source {name}={checkout}: {why}")
    lines = [f'CMU610_ZEPHYR_LIB_TREE:pn-{component_variant(name)} = "{path}"']
    if pinned(name, path, openbmc):
        return lines, True
    return [*lines, f'SRCREV:pn-{component_variant(name)} = "{head(path, name)}"'], False


def pinned(name: str, checkout: Path, openbmc: Path) -> bool:
    """Whether a --source checkout holds the revision the component's recipe pins (the build
    then takes that revision, not the checkout's HEAD)."""
    recipe = pin(openbmc, name)
    return recipe is not None and has_commit(checkout.resolve(), recipe.srcrev)


def unfetchable(names: tuple[str, ...], sources: dict[str, Path], openbmc: Path, downloads: Path) -> list[str]:
    """The components an offline build could not fetch: no --source, and DL_DIR has neither a
    clone holding the recipe's pin nor a mirror tarball of the repository."""
    out = []
    for name in names:
        if name in sources:
            continue
        recipe = pin(openbmc, name)
        if recipe is None:
            continue
        clone = downloads / "git2" / recipe.mirror
        tarball = downloads / f"git2_{recipe.mirror}.tar.gz"
        if not tarball.is_file() and not has_commit(clone, recipe.srcrev):
            out.append(name)
    return out
