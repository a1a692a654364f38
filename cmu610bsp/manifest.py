"""The manifest of a workspace's generated files (`.cmu610bsp/state/manifest.json`): every file the
last generate or sync wrote with its sha256 and git blob id, the description files it was rendered
from (their text and sha256) and the generator's version. Read here as a typed `Manifest`, shape
and paths checked (a path it records is one the generator may delete: only paths it writes are
accepted), and made here; `generate` and `sync` write it with the files it describes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from cmu610bsp import __version__
from cmu610bsp.errors import BspError, Finding, field_path
from cmu610bsp.layout import MANIFEST, OWNED_ROOTS, owned

HINT = "restore it from git"


class _Record(BaseModel):
    # strict types; keys a later version may add are ignored
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Input(_Record):
    """A description file as the render read it."""

    sha256: str
    text: str


class Manifest(_Record):
    generator: str = "cmu610bsp"
    version: str = ""
    inputs: dict[str, Input] = {}
    files: dict[str, str] = {}   # generated path -> sha256 of what was written
    blobs: dict[str, str] = {}   # generated path -> its git blob id (sync finds a base by it)

    def to_bytes(self) -> bytes:
        """The file's bytes: one JSON object, keys sorted (the render is deterministic)."""
        data = {"generator": self.generator, "version": self.version,
                "inputs": {p: {"sha256": i.sha256, "text": i.text} for p, i in self.inputs.items()},
                "files": self.files, "blobs": self.blobs}
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob: lets sync find a file's base in the repository."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make(inputs: dict[str, str], files: dict[str, str]) -> Manifest:
    """The manifest of a render: `inputs` the description files by path, `files` the render."""
    return Manifest(version=__version__,
                    inputs={p: Input(sha256=sha256(t.encode()), text=t) for p, t in sorted(inputs.items())},
                    files={p: sha256(t.encode()) for p, t in sorted(files.items())},
                    blobs={p: git_blob_id(t.encode()) for p, t in sorted(files.items())})


def read(root: Path) -> Manifest | None:
    """What the last generate recorded, or None before the first; a manifest that is not one, or
    that records a path the generator never writes (it would delete it), is refused."""
    path = root / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BspError(f"{path}: unreadable manifest ({e})", hint=HINT) from None
    if not isinstance(data, dict):
        raise BspError(f"{path}: unreadable manifest (not a JSON object)", hint=HINT)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as e:
        raise BspError(f"{path}: unreadable manifest", [Finding(MANIFEST, field_path(tuple(err["loc"])), err["msg"])
                                                        for err in e.errors()], hint=HINT) from None
    bad = [Finding(MANIFEST, f"{section}.{rel}", "not a path inside the generated directories "
                   f"({', '.join(OWNED_ROOTS)}) or a generated file")
           for section, paths in (("files", manifest.files), ("blobs", manifest.blobs)) for rel in paths if not owned(rel)]
    if bad:
        raise BspError(f"{path}: the manifest records paths the generator never writes; nothing was written", bad,
                       hint=HINT)
    return manifest


def stale_inputs(root: Path) -> list[str]:
    """Description files changed since the layer was generated (or unreadable now); none when the
    manifest cannot be read (`generate` and `sync` report that, a build does not need it)."""
    try:
        recorded = read(root)
    except BspError:
        return []
    out = []
    for rel, entry in sorted(recorded.inputs.items()) if recorded else []:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            out.append(rel)
            continue
        if sha256(text.encode()) != entry.sha256:
            out.append(rel)
    return out
