"""`cmu610bsp.yml`, the workspace's own file: its shape (`WorkspaceConfig`: which descriptions to
render, the OpenBMC and Zephyr pins, the toolchain record, `keep:` globs, `ci:` systems), its one
reader (`load_config`) and its one writer (`set_key`): `ci` and `toolchain install` change a key
through it, every other line kept as the user wrote it, under the workspace lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field, model_validator

from cmu610bsp import wslock
from cmu610bsp.fileio import write_whole, writing
from cmu610bsp.layout import CONFIG_FILE
from cmu610bsp.model import KconfigSettings, Strict, parse_model, unique
from cmu610bsp.text import AbsPath, Prefix, RelPath, Sha256, Text, Token, Url
from cmu610bsp.yamlio import parse_yaml, read_text, read_yaml, with_key, yaml_value

DEFAULT_PRODUCTS = ["configs/products/bigbmc.yaml", "configs/products/littlebmc.yaml"]


class OpenBmcPin(Strict):
    """The OpenBMC tree the layer is written and tested against."""

    url: Url = "https://github.com/openbmc/openbmc.git"
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] = "8e3322f34f210d677bd97f98e11212ee9d7748cf"


class ZephyrPin(Strict):
    """The Zephyr tree both harts' firmware is built from: kas checks it out (repo `zephyr`),
    the firmware recipes fetch it from there at this commit (`--source zephyr=PATH`: a local tree).
    The default is the Zephyr 4.0.0 snapshot the layer is built and booted with."""

    url: Url = "https://github.com/shiyu-sz/zephyr-4.0.0.git"
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] = "0d6f47a50097fa9c77e4a75ace91d35a2ab80a21"


class ToolchainRecord(Strict):
    """The RISC-V toolchain every consumer (kas/Yocto, Zephyr) uses; written by `toolchain install`.

    Without one, Debian's riscv64-unknown-elf GCC in /usr is the stand-in."""

    name: Text
    # Where it lives is resolved on each machine (toolchain.location): an archive install by its
    # place in the toolchain cache (`cache`, named by the archive's checksum), a directory
    # recorded in place by `path` (that machine's path); CMU610BSP_TOOLCHAIN overrides both.
    path: AbsPath | None = None    # a directory recorded in place: bin/<prefix>gcc below it
    cache: RelPath | None = None   # below <cache>/toolchains/: an archive installed by `toolchain install`
    prefix: Prefix = "riscv64-unknown-elf-"
    sysroot: RelPath | None = None # for a linux-gnu (glibc) toolchain, relative to the toolchain root
    sha256: Sha256 | None = None   # of the archive it was installed from
    xuantie: bool = False          # accepts -mcpu=e906*


class KeySlot(Strict):
    """A public key the boot stage accepts (the keys partition holds every slot): its DER
    (SubjectPublicKeyInfo, base64) and the sha256 of that DER, which is imgtool's KEYHASH."""

    sha256: Sha256
    public: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{40,1000}={0,2}$")]

    @model_validator(mode="after")
    def _sha256_is_the_keys(self) -> KeySlot:
        """The hash is derived from the key: a record where they disagree was edited by hand."""
        try:
            der = base64.b64decode(self.public, validate=True)
        except binascii.Error as e:
            raise ValueError(f"public is not base64: {e}") from None
        if hashlib.sha256(der).hexdigest() != self.sha256:
            raise ValueError("sha256 is not the sha256 of public (the key's DER)")
        return self


class Pkcs11Key(Strict):
    """A key in a PKCS#11 token, by the token's label and the key's: the same on every machine the
    token is plugged into (the module and the PIN are the machine's: $PKCS11_MODULE, $PKCS11_PIN)."""

    token: Token
    object: Token


class SigningRecord(Strict):
    """The workspace's image signing key (`cmu610bsp keys generate|rotate`): its public halves in
    up to two slots (rotation: the old key stays accepted while the new one signs), and where the
    private key is, never in git: a PEM in this machine's key cache (`cache`, below <cache>/keys/)
    or an HSM's key (`pkcs11`); CMU610BSP_SIGNING_KEY (a PEM path or a pkcs11: URI) overrides both."""

    algorithm: Literal["ed25519"]         # what the boot stage verifies
    slots: list[KeySlot] = Field(min_length=1, max_length=2)
    active: int = Field(0, ge=0, le=1)   # the slot whose key signs
    cache: RelPath | None = None
    pkcs11: Pkcs11Key | None = None

    @model_validator(mode="after")
    def _active_exists(self) -> SigningRecord:
        if self.active >= len(self.slots):
            raise ValueError(f"active is slot {self.active}, but there are {len(self.slots)} slot(s)")
        return self


STANDIN_TOOLCHAIN = ToolchainRecord(name="debian-riscv64-unknown-elf (stand-in)", path="/usr")


# CI systems a workspace can have a generated pipeline for (`ci:`; cmu610bsp/pipelines.py)
CiSystem = Literal["gitlab", "github"]


class SecureFirmware(Strict):
    """The secure-domain firmware's settings (hart 0): one image serves every line and every board
    of the workspace, so they are the workspace's, not a line's (`cmu610bsp config LINE --domain
    secure` writes them), rendered into the secure application's prj.conf."""

    kconfig: KconfigSettings = Field(default_factory=dict)


def _name_and_email(value: str) -> str:
    if not re.fullmatch(r"[^<>@]+ <[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+>", value):
        raise ValueError('expected "Name <email>", e.g. "Jane Doe <jane@example.com>"')
    return value


class WorkspaceConfig(Strict):
    """`cmu610bsp.yml`: which descriptions to render, and what the generator must not touch."""

    version: int = Field(1, ge=1, le=1)
    # description files, read (never rendered)
    soc: Text
    boards: list[Text] = Field(min_length=1)
    products: list[Text] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS), min_length=1)
    catalog: Text | None = None
    openbmc: OpenBmcPin = OpenBmcPin()
    zephyr: ZephyrPin = ZephyrPin()
    toolchain: ToolchainRecord | None = None
    signing: SigningRecord | None = None
    keep: list[Text] = Field(default_factory=list)   # globs of generated files left alone
    # the layer's maintainer: its README and SECURITY.md name them (yocto-check-layer)
    maintainer: Annotated[Text, AfterValidator(_name_and_email)] | None = None
    # the CI systems to generate a pipeline for (`cmu610bsp ci gitlab github`); none by default
    ci: Annotated[list[CiSystem], AfterValidator(unique)] = Field(default_factory=list)
    secure_firmware: SecureFirmware = SecureFirmware()


def load_config(root: Path) -> WorkspaceConfig:
    """The workspace's `cmu610bsp.yml`, shape-checked."""
    path = root / CONFIG_FILE
    return parse_model(WorkspaceConfig, read_yaml(path), path)


def create(root: Path, soc: str, boards: list[str]) -> None:
    """A new workspace's cmu610bsp.yml (`init`, in its scratch directory): the descriptions it was
    given, the default product lines, nothing kept."""
    data = {"version": 1, "soc": soc, "boards": boards, "products": DEFAULT_PRODUCTS, "keep": []}
    text = ("# cmu610bsp workspace: the descriptions to render, and files the generator must never touch.\n"
            + yaml.safe_dump(data, sort_keys=False))
    _write(root / CONFIG_FILE, text)


def set_key(root: Path, key: str, value: object, comment: str, command: str, parent: str | None = None) -> str:
    """Set cmu610bsp.yml's top-level `key` (or `parent`.`key`) to `value` (a mapping in block style,
    anything else in flow style), every other line as written: comments, order, quoting (a new key
    goes at the end, after `comment`). What would be written is read back as `load_config` reads it
    first, and refused (nothing written) if it would not load; under the workspace lock, so that
    another writer's change is kept. Returns the text it replaced, for `restore`."""
    with wslock.held(root, command):
        path = root / CONFIG_FILE
        old = read_text(path)
        new = with_key(old, key, yaml_value(value), comment, parent)
        if new != old:
            _write(path, new)
        return old


def restore(root: Path, text: str, command: str) -> None:
    """Put cmu610bsp.yml back as `set_key` found it (a command whose next step failed)."""
    with wslock.held(root, command):
        _write(root / CONFIG_FILE, text)


def check_writable(root: Path, outcome: str) -> None:
    """Fail before a long step, not after it: cmu610bsp.yml is written through a temporary file
    beside it, so that file must be creatable."""
    probe = root / (CONFIG_FILE + ".tmp")
    with writing(probe, outcome):
        probe.touch()
        probe.unlink()


def _write(path: Path, text: str) -> None:
    parse_model(WorkspaceConfig, parse_yaml(text, path), path)
    write_whole(path, text, "it was left as it was")
