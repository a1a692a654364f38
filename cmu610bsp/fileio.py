"""Writing files the way every command must: whole or not at all, and a system error (a read-only
workspace, permissions, a full disk) turned into the user's `WriteFailed` naming the path; and a
file's sha256, read in blocks."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cmu610bsp.errors import WriteFailed


@contextmanager
def writing(path: Path | str, outcome: str = "nothing was written") -> Iterator[None]:
    """Around a step that writes under `path`: an OSError from it is the user's WriteFailed.
    The step itself must leave nothing half written (temporary file and rename, or roll-back)."""
    try:
        yield
    except OSError as e:
        raise WriteFailed(path, e, outcome) from None


def write_whole(path: Path, text: str, outcome: str = "nothing was written") -> None:
    """Write a small file whole or not at all (a temporary file beside it, renamed over it), its
    directory made when missing; an OSError is the user's WriteFailed and leaves no temporary."""
    tmp = path.with_name(f".{path.name}.cmu610bsp-tmp")
    with writing(path, outcome):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    """A file's sha256 in hex, read a MiB at a time (a toolchain archive, a flash image)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
