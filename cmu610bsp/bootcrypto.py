"""The boot stage's cryptography: libsodium's C (SHA-256, SHA-512, Ed25519 verification), taken
from the PyNaCl source distribution on PyPI, which carries libsodium's whole tree: a maintained
library, from a registry every machine and CI reach, pinned by the archive's sha256, never
committed. Only the files verification needs are taken out (exact names, regular files) into
the cache; the boot stage builds them bare-metal with its own libc.c and libc/ headers.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp.errors import BspError
from cmu610bsp.fileio import writing
from cmu610bsp.toolchain import cache_dir

SDIST = "pynacl-1.6.2.tar.gz"
SDIST_SHA256 = "018494d6d696ae03c7e656e5e74cdfd8ea1326962cc401bcf018f1ed8436811c"
REQUIREMENT = "pynacl==1.6.2"
INDEX = "https://pypi.org/simple"
_LINK = re.compile(r'href="([^"]+)"')
_MAX_PAGE = 8 << 20          # an index page, read bounded
_MAX_ARCHIVE = 16 << 20       # the archive is 3.5 MB
LIBSODIUM_VERSION = "1.0.20"       # the tree inside that archive (its configure.ac)
ROOT = "pynacl-1.6.2/src/libsodium/src/libsodium/"
SOURCES = (
    "crypto_hash/sha256/cp/hash_sha256_cp.c",
    "crypto_hash/sha512/cp/hash_sha512_cp.c",
    "crypto_core/ed25519/ref10/ed25519_ref10.c",
    "crypto_sign/ed25519/ref10/open.c",
    "crypto_sign/ed25519/ref10/sign.c",       # for _crypto_sign_ed25519_ref10_hinit, used by open.c
    "crypto_verify/verify.c",
)
HEADER_DIRS = ("include/sodium/", "crypto_core/ed25519/ref10/fe_25_5/", "crypto_sign/ed25519/ref10/")
# what configure decides for this target: little-endian RV32, no OS, a C compiler with GCC's fences
COMPLETE = ".complete"                   # written last: a tree without it is an interrupted one
DEFINES = ("-DNATIVE_LITTLE_ENDIAN=1", "-DHAVE_GCC_MEMORY_FENCES=1", "-DCONFIGURED=1")


@dataclass(frozen=True)
class Tree:
    """Where the extracted sources are: the C files to compile and the include directories."""

    root: Path

    @property
    def sources(self) -> list[Path]:
        return [self.root / s for s in SOURCES]

    @property
    def includes(self) -> list[Path]:
        return [self.root / "include" / "sodium"]


def location(cache: Path | None = None) -> Path:
    """Where `libsodium` keeps the sources in the cache (whether or not they are there yet)."""
    return (cache or cache_dir()) / "bootcrypto" / f"libsodium-{LIBSODIUM_VERSION}-{SDIST_SHA256[:12]}"


def libsodium(cache: Path | None = None) -> Tree:
    """The libsodium sources verification needs, from the cache, else downloaded and checked."""
    root = location(cache)
    if (root / COMPLETE).is_file():
        return Tree(root)
    with writing(root, "the libsodium sources were not cached"):
        root.parent.mkdir(parents=True, exist_ok=True)
        # staged beside its place and renamed into it whole: another build (or test worker) doing
        # the same at the same time either finds the complete tree or loses the rename to it
        with tempfile.TemporaryDirectory(prefix=".staging-", dir=root.parent) as tmp:
            staged = Path(tmp) / "tree"
            _extract(_download(Path(tmp)), staged)
            try:
                os.rename(staged, root)
            except OSError:
                if not (root / COMPLETE).is_file():
                    raise
    return Tree(root)


def _download(into: Path) -> Path:
    """The pinned source archive, fetched from the package index's simple API (PEP 503:
    $PIP_INDEX_URL, else PyPI's), checked by its sha256. Not `pip download`: for a source archive
    pip prepares its metadata, which builds PyNaCl's build requirements (cffi) with a host C
    compiler that a minimal CI image does not have, to learn what is not needed here."""
    index = os.environ.get("PIP_INDEX_URL") or INDEX
    page = index.rstrip("/") + "/pynacl/"
    try:
        with urllib.request.urlopen(page, timeout=120) as r:
            links = _LINK.findall(r.read(_MAX_PAGE).decode("utf-8", "replace"))
        href = next((h for h in links if h.split("#", 1)[0].rsplit("/", 1)[-1] == SDIST), None)
        if href is None:
            raise BspError(f"{page}: no {SDIST} listed", hint="the package index must carry PyNaCl's source archive")
        archive = into / SDIST
        with urllib.request.urlopen(urllib.parse.urljoin(page, href.split("#", 1)[0]), timeout=300) as r:
            archive.write_bytes(r.read(_MAX_ARCHIVE))
    except OSError as e:          # urllib's URLError and HTTPError are OSErrors
        raise BspError(f"the boot stage's libsodium sources ({REQUIREMENT}'s source archive) could not be downloaded "
                       f"from {page}: {e}", hint="set PIP_INDEX_URL to a reachable index, or fill the cache on a "
                       "machine that reaches one") from None
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise BspError(f"{SDIST}: sha256 {digest}, expected {SDIST_SHA256}: refusing sources that are not the pinned ones")
    return archive


def _wanted(name: str) -> bool:
    if not name.startswith(ROOT):
        return False
    rel = name[len(ROOT):]
    return rel in SOURCES or (rel.endswith(".h") and any(rel.startswith(d) and "/" not in rel[len(d):]
                                                        for d in HEADER_DIRS)) or rel.startswith("include/sodium/private/")


def _extract(archive: Path, into: Path) -> None:
    """Copy the wanted regular files out by name (nothing else, no link followed), add version.h."""
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            if not (m.isfile() and _wanted(m.name)) or ".." in m.name.split("/"):
                continue
            dest = into / m.name[len(ROOT):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            assert src is not None
            dest.write_bytes(src.read())
    missing = [s for s in SOURCES if not (into / s).is_file()]
    if missing:
        raise BspError(f"{SDIST}: no {', '.join(missing)} in the archive")
    (into / COMPLETE).write_text(f"{SDIST} {SDIST_SHA256}\n")
