"""The workspace's image signing key (`cmu610bsp keys generate|show|rotate`): kept outside git like
the toolchain (a PEM in this machine's key cache, or a key in an HSM named by a `pkcs11:` URI;
CMU610BSP_SIGNING_KEY overrides either), its public halves recorded in cmu610bsp.yml in two slots
(the keys partition and the boot stage accept both: a rotation keeps the old key accepted while
the new one signs), and `signing_key`, what `build` hands the flash image's packer.

A key file git tracks is refused wherever it is found: generating into a git work tree that does
not ignore it, and using one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pydantic import ValidationError

from cmu610bsp import config, hsm, mcuimage, proc, toolchain, workspace, wslock
from cmu610bsp.config import KeySlot, Pkcs11Key, SigningRecord
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import writing

ENV_OVERRIDE = "CMU610BSP_SIGNING_KEY"
ALGORITHMS = hsm.ALGORITHMS
_COMMENT = "the image signing key: public halves in slots, the private key outside git (`cmu610bsp keys`)"


def keys_dir() -> Path:
    """<cache>/keys: where `keys generate` writes a workspace's PEM (the toolchain's cache)."""
    return toolchain.cache_dir() / "keys"


def slot_of(der: bytes) -> KeySlot:
    return KeySlot(sha256=hashlib.sha256(der).hexdigest(), public=base64.b64encode(der).decode())


def public_der(ref: str) -> tuple[str, bytes]:
    """(algorithm, public key DER) of a key reference: a PEM path or a pkcs11: URI."""
    if ref.startswith("pkcs11:"):
        try:
            return hsm.public_der(ref)
        except hsm.HsmError as e:
            raise BspError(str(e)) from None
    path = Path(ref)
    refuse_tracked(path)
    from imgtool.keys import Ed25519, load

    try:
        key = load(str(path))
    except (OSError, ValueError) as e:
        raise BspError(f"{path}: not a readable private key: {e}") from None
    if isinstance(key, Ed25519):
        return "ed25519", key.get_public_bytes()
    raise BspError(f"{path}: a {type(key).__name__} key; the boot stage checks {' or '.join(ALGORITHMS)} signatures")


def refuse_tracked(path: Path) -> None:
    """A key file git tracks (in whatever repository holds it) is refused: it is on its way to a
    remote, or already there."""
    if not path.is_file():
        raise BspError(f"{path}: no such key file", hint="`cmu610bsp keys generate`, or set "
                                                         f"{ENV_OVERRIDE} to the key's path or pkcs11: URI")
    r = proc.run(["git", "-C", str(path.parent), "ls-files", "--error-unmatch", "--", path.name])
    if r.returncode == 0:
        raise BspError(f"{path}: the signing key is tracked by git; a private key must never be committed",
                       [Finding(str(path), "signing key", "tracked by the git repository that holds it")],
                       hint="`git rm --cached` it, rotate the key (`cmu610bsp keys rotate`), keep keys in the cache")


def _refuse_committable(path: Path) -> None:
    """Before a key is written: a place inside a git work tree that does not ignore it is refused."""
    inside = proc.run(["git", "-C", str(path.parent), "rev-parse", "--is-inside-work-tree"])
    if inside.returncode == 0 and inside.stdout.strip() == "true":
        ignored = proc.run(["git", "-C", str(path.parent), "check-ignore", "-q", "--", path.name])
        if ignored.returncode != 0:
            raise BspError(f"{path}: inside a git work tree that does not ignore it: the key could be committed; "
                           "nothing was generated", hint="set CMU610BSP_CACHE outside the repository")


def _new_pem(root: Path, algorithm: str) -> tuple[Path, bytes]:
    """A new private key written to the key cache (mode 0600): its path and public DER."""
    from imgtool.keys import Ed25519

    key = Ed25519.generate()
    der: bytes = key.get_public_bytes()
    base = keys_dir()
    with writing(base, "nothing was generated"):
        base.mkdir(parents=True, exist_ok=True)
    # the directory's name helps a person tell the cache's keys apart; only its token characters,
    # since the file's name is recorded in cmu610bsp.yml (`cache`, a relative path)
    label = re.sub(r"[^A-Za-z0-9._+-]+", "-", root.name).strip(".-") or "workspace"
    path = base / f"{label}-{hashlib.sha256(der).hexdigest()[:12]}.pem"
    _refuse_committable(path)
    with writing(path, "nothing was generated"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        key.export_private(str(path))
    return path, der


def _new_key(root: Path, algorithm: str, pkcs11: str | None) -> tuple[dict[str, object], bytes, Path | None]:
    """({"cache": ...} or {"pkcs11": {token, object}}, public DER, the new PEM file or None).
    Of a pkcs11: URI only the token's and the key's labels are recorded (checked before the token
    makes the key); its module and PIN are this machine's."""
    if pkcs11 is None:
        path, der = _new_pem(root, algorithm)
        return {"cache": path.name}, der, path
    try:
        uri = hsm.parse_uri(pkcs11)
        where: dict[str, object] = {"pkcs11": Pkcs11Key.model_validate({"token": uri.token, "object": uri.label}).model_dump()}
        der = hsm.generate(pkcs11, algorithm)
    except hsm.HsmError as e:
        raise BspError(f"--pkcs11: {e}") from None
    except ValidationError as e:
        raise BspError(f"--pkcs11: the labels are recorded in cmu610bsp.yml: {e.errors()[0]['loc'][0]} "
                       f"{e.errors()[0]['msg']} (letters, digits, . _ + -)") from None
    return where, der, None


def _save(root: Path, record: SigningRecord, new_file: Path | None, command: str) -> SigningRecord:
    try:
        config.set_key(root, "signing", record.model_dump(exclude_none=True), _COMMENT, command)
    except BaseException:
        if new_file is not None:
            new_file.unlink(missing_ok=True)
        raise
    return record


def generate(ws: workspace.Workspace, algorithm: str, pkcs11: str | None = None) -> SigningRecord:
    """The workspace's first signing key, in slot 0. A workspace that has one is refused
    (`rotate` replaces a key). Under the workspace lock from the check to the write, so that two
    at once cannot both find none."""
    with wslock.held(ws.root, "keys generate"):
        return _generate(ws.root, config.load_config(ws.root).signing, algorithm, pkcs11)


def _generate(root: Path, current: SigningRecord | None, algorithm: str, pkcs11: str | None) -> SigningRecord:
    if current is not None:
        raise BspError("this workspace already has a signing key (cmu610bsp.yml `signing:`); nothing was generated",
                       hint="`cmu610bsp keys rotate` makes a new one and keeps the current one accepted")
    if algorithm not in ALGORITHMS:
        raise BspError(f"--algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    config.check_writable(root, "nothing was generated")
    where, der, new_file = _new_key(root, algorithm, pkcs11)
    record = SigningRecord.model_validate({"algorithm": algorithm, "slots": [slot_of(der).model_dump()], "active": 0, **where})
    return _save(root, record, new_file, "keys generate")


def rotate(ws: workspace.Workspace, pkcs11: str | None = None) -> SigningRecord:
    """A new key of the same algorithm signs from now on, in the other slot; the key that signed
    until now stays in its slot, accepted, until the next rotation replaces it. Under the workspace
    lock from reading the current key to the write."""
    with wslock.held(ws.root, "keys rotate"):
        return _rotate(ws.root, config.load_config(ws.root).signing, pkcs11)


def _rotate(root: Path, old: SigningRecord | None, pkcs11: str | None) -> SigningRecord:
    if old is None:
        raise BspError("this workspace has no signing key to rotate", hint="`cmu610bsp keys generate`")
    if pkcs11 is None and old.pkcs11 is not None:
        raise BspError("the current key is in an HSM: give --pkcs11 URI for the new key (another object label)")
    config.check_writable(root, "nothing was generated")
    where, der, new_file = _new_key(root, old.algorithm, pkcs11)
    keep = old.slots[old.active]
    slot = 1 - old.active
    slots = [keep, slot_of(der)] if slot == 1 else [slot_of(der), keep]
    record = SigningRecord.model_validate({"algorithm": old.algorithm, "slots": [s.model_dump() for s in slots],
                                           "active": slot, **where})
    return _save(root, record, new_file, "keys rotate")


def reference(record: SigningRecord) -> str:
    """Where the private key is on this machine: $CMU610BSP_SIGNING_KEY, else the record's."""
    if os.environ.get(ENV_OVERRIDE):
        return os.environ[ENV_OVERRIDE]
    if record.pkcs11:
        return f"pkcs11:token={record.pkcs11.token};object={record.pkcs11.object}"
    return str(keys_dir() / (record.cache or ""))


def signing_key(ws: workspace.Workspace) -> str | None:
    """The key the build signs with (a PEM path or a pkcs11: URI), checked: present, untracked,
    and the active slot's key (an image signed by another key would be refused by the boot stage).
    None for a workspace without a signing record."""
    record = ws.config.signing
    if record is None:
        return None
    ref = reference(record)
    algorithm, der = public_der(ref)
    active = record.slots[record.active]
    if algorithm != record.algorithm or hashlib.sha256(der).hexdigest() != active.sha256:
        raise BspError(f"{mcuimage.shown(ref)}: not the workspace's signing key "
                       f"(slot {record.active}, sha256 {active.sha256[:16]}...)",
                       hint=f"unset {ENV_OVERRIDE}, or point it at the key `cmu610bsp keys show` names")
    return ref


# what a build hands kas (and kas BitBake, cmu610_signing.bbclass): the key and its identity, and
# for a key in a token the module and SoftHSM configuration of this machine's environment. Never
# the PIN: BitBake writes every exported variable into the task scripts it keeps under ${T}, so
# a token's PIN reaches the packer as a pin-source file (`pin_handover`), not as a variable.
BUILD_ENV = ("CMU610_SIGNING_KEY", "CMU610_SIGNING_KEY_SHA256", hsm.MODULE_ENV, "SOFTHSM2_CONF")


def build_env(root: Path) -> dict[str, str]:
    """CMU610_SIGNING_KEY and CMU610_SIGNING_KEY_SHA256 for a build of the workspace at `root`
    (checked as `signing_key` checks them); none for a workspace without a signing key."""
    ws = workspace.open_workspace(root)
    ref = signing_key(ws)
    if ref is None or ws.config.signing is None:
        return {}
    if ref.startswith("pkcs11:") and "pin-value" in hsm.parse_uri(ref).query:
        raise BspError(f"{mcuimage.shown(ref)}: a pin-value in the key's URI would be written into BitBake's task scripts",
                       hint=f"give the PIN as ${hsm.PIN_ENV} or a pin-source=FILE attribute")
    return {"CMU610_SIGNING_KEY": ref, "CMU610_SIGNING_KEY_SHA256": ws.config.signing.slots[ws.config.signing.active].sha256}


@contextmanager
def pin_handover(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` (a build's) with a token key's PIN from $PKCS11_PIN handed over as a pin-source file:
    0600 in a private directory made for the build and removed after it, however it ends, and
    $PKCS11_PIN itself taken out. Any other key, or a URI with its own pin-source: `env` as it is."""
    ref = env.get("CMU610_SIGNING_KEY", "")
    pin = env.get(hsm.PIN_ENV)
    if not ref.startswith("pkcs11:") or not pin or "pin-source" in hsm.parse_uri(ref).query:
        yield env
        return
    where = Path(tempfile.mkdtemp(prefix="cmu610bsp-pin-"))
    try:
        fd = os.open(where / "pin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pin)
        handed = {k: v for k, v in env.items() if k != hsm.PIN_ENV}
        handed["CMU610_SIGNING_KEY"] = f"{ref}{'&' if '?' in ref else '?'}pin-source=file:{quote(str(where / 'pin'))}"
        yield handed
    finally:
        shutil.rmtree(where, ignore_errors=True)


@dataclass(frozen=True)
class Status:
    """What `keys show` reports."""

    record: SigningRecord | None
    reference: str | None
    usable: bool
    problem: str | None

    def as_dict(self) -> dict[str, object]:
        r = self.record
        return {"algorithm": r.algorithm if r else None, "key": mcuimage.shown(self.reference) if self.reference else None,
                "overridden": bool(os.environ.get(ENV_OVERRIDE)), "usable": self.usable, "problem": self.problem,
                "active": r.active if r else None,
                "slots": [{"slot": i, "sha256": s.sha256, "active": i == r.active, "public_pem": public_pem(s)}
                          for i, s in enumerate(r.slots)] if r else []}


def status(ws: workspace.Workspace) -> Status:
    record = ws.config.signing
    if record is None:
        return Status(None, None, False, "no signing key: `cmu610bsp keys generate`")
    try:
        signing_key(ws)
    except BspError as e:
        return Status(record, reference(record), False, str(e))
    return Status(record, reference(record), True, None)


def public_pem(slot: KeySlot) -> str:
    """A slot's public key as PEM: what `imgtool verify -k` takes."""
    from cryptography.hazmat.primitives import serialization

    der = base64.b64decode(slot.public)
    return serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
