"""The image signing key (`keys generate|show|rotate`, cmu610bsp/keys.py, cmu610bsp/hsm.py): kept
outside git, refused when git tracks it, rotated through two slots, and in a PKCS#11 token
(SoftHSM, Debian's softhsm2); every key signs an image in MCUboot's format that imgtool's own
`verify` accepts with the public key the workspace recorded."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from imgtool import image, version
from tests.conftest import Cli

from cmu610bsp import hsm, keys, workspace
from cmu610bsp.errors import BspError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own cache (keys land in <cache>/keys), and no override from the caller."""
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(keys.ENV_OVERRIDE, raising=False)
    return tmp_path / "cache"


def ws_of(root: Path) -> workspace.Workspace:
    return workspace.open_workspace(root)


def signed_and_verified(tmp: Path, key: object, slot_der: bytes) -> subprocess.CompletedProcess[str]:
    """An image signed by `key` through imgtool's API, checked by `imgtool verify` with the
    public key as the workspace recorded it (DER, written as PEM for imgtool)."""
    (tmp / "app.bin").write_bytes(os.urandom(3000))
    img = image.Image(version=version.decode_version("1.2.3"), header_size=0x20, pad_header=True, security_counter=3)
    img.load(str(tmp / "app.bin"))
    img.create(key, "hash", None)
    img.save(str(tmp / "signed.bin"))
    pem = serialization.load_der_public_key(slot_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp / "pub.pem").write_bytes(pem)
    imgtool = Path(sys.executable).parent / "imgtool"    # installed with cmu610bsp (a dependency)
    return subprocess.run([str(imgtool), "verify", "-k", str(tmp / "pub.pem"), str(tmp / "signed.bin")],
                          capture_output=True, text=True)


@pytest.mark.parametrize("algorithm", ["ed25519"])
def test_generated_key_is_outside_git_and_signs_what_imgtool_verifies(workspace: Path, cache: Path, tmp_path: Path,
                                                                       algorithm: str) -> None:
    rec = keys.generate(ws_of(workspace), algorithm)
    path = cache / "keys" / str(rec.cache)
    assert path.is_file() and path.stat().st_mode & 0o777 == 0o600
    assert not path.is_relative_to(workspace)
    recorded = yaml.safe_load((workspace / "cmu610bsp.yml").read_text())["signing"]
    assert recorded["algorithm"] == algorithm and recorded["active"] == 0
    assert "PRIVATE" not in (workspace / "cmu610bsp.yml").read_text()
    ref = keys.signing_key(ws_of(workspace))
    assert ref == str(path)
    from imgtool.keys import load
    key = load(ref)
    der = base64.b64decode(ws_of(workspace).config.signing.slots[0].public)  # type: ignore[union-attr]
    # the slot's hash is imgtool's KEYHASH: sha256 of the key's DER
    assert hashlib.sha256(key.get_public_bytes()).hexdigest() == recorded["slots"][0]["sha256"]
    r = signed_and_verified(tmp_path, key, der)
    assert r.returncode == 0 and "correctly validated" in r.stdout, r.stdout + r.stderr


def test_a_second_generate_is_refused_and_rotate_keeps_the_old_key_accepted(workspace: Path, cache: Path) -> None:
    first = keys.generate(ws_of(workspace), "ed25519")
    before = (workspace / "cmu610bsp.yml").read_text()
    with pytest.raises(BspError, match="already has a signing key"):
        keys.generate(ws_of(workspace), "ed25519")
    assert (workspace / "cmu610bsp.yml").read_text() == before
    second = keys.rotate(ws_of(workspace))
    assert second.active == 1 and second.slots[0] == first.slots[0] and second.slots[1] != first.slots[0]
    assert keys.signing_key(ws_of(workspace)) == str(cache / "keys" / str(second.cache))
    third = keys.rotate(ws_of(workspace))
    # the key that signed until now stays; the oldest one goes
    assert third.active == 0 and third.slots[1] == second.slots[1] and third.slots[0] not in (first.slots[0], second.slots[1])


def test_a_tracked_key_is_refused(workspace: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = keys.generate(ws_of(workspace), "ed25519")
    committed = workspace / "signing.pem"
    committed.write_bytes((cache / "keys" / str(rec.cache)).read_bytes())
    subprocess.run(["git", "-C", str(workspace), "add", "signing.pem"], check=True)
    monkeypatch.setenv(keys.ENV_OVERRIDE, str(committed))
    with pytest.raises(BspError, match="tracked by git") as e:
        keys.signing_key(ws_of(workspace))
    assert e.value.findings[0].file == str(committed)


def test_generating_into_a_git_work_tree_that_keeps_it_is_refused(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMU610BSP_CACHE", str(workspace / "cache"))
    before = (workspace / "cmu610bsp.yml").read_text()
    with pytest.raises(BspError, match="could be committed"):
        keys.generate(ws_of(workspace), "ed25519")
    assert not list((workspace / "cache" / "keys").iterdir())
    assert (workspace / "cmu610bsp.yml").read_text() == before


def test_another_key_in_the_environment_is_refused(workspace: Path, cache: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    keys.generate(ws_of(workspace), "ed25519")
    from imgtool.keys import Ed25519
    Ed25519.generate().export_private(str(tmp_path / "other.pem"))
    monkeypatch.setenv(keys.ENV_OVERRIDE, str(tmp_path / "other.pem"))
    with pytest.raises(BspError, match="not the workspace's signing key"):
        keys.signing_key(ws_of(workspace))


def test_keys_show_exit_codes(workspace: Path, cache: Path, cli: Cli) -> None:
    r = cli("keys", "show", cwd=workspace)
    assert r.returncode == 2 and "keys generate" in r.stderr
    assert cli("keys", "generate", "--algorithm", "rsa", cwd=workspace).returncode == 2
    # a key the boot stage could not verify (it checks Ed25519) is not made to fail the build later
    r = cli("keys", "generate", "--algorithm", "ecdsa-p256", cwd=workspace)
    assert r.returncode == 2 and "expected one of ed25519" in r.stderr and not (cache / "keys").exists()
    assert cli("keys", "generate", cwd=workspace).returncode == 0
    r = cli("keys", "show", "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["usable"] and shown["algorithm"] == "ed25519" and [s["active"] for s in shown["slots"]] == [True]
    assert shown["slots"][0]["public_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    (cache / "keys" / Path(shown["key"]).name).unlink()
    r = cli("keys", "show", cwd=workspace)
    assert r.returncode == 2 and "no such key file" in r.stderr


@pytest.mark.parametrize("algorithm", ["ed25519"])
def test_a_key_in_a_pkcs11_token_signs_what_imgtool_verifies(workspace: Path, cache: Path, token: str, tmp_path: Path,
                                                             algorithm: str) -> None:
    rec = keys.generate(ws_of(workspace), algorithm, pkcs11=token)
    assert rec.pkcs11 is not None and (rec.pkcs11.token, rec.pkcs11.object) == ("cmu610", f"signing-{tmp_path.name}")
    assert rec.cache is None
    assert not (cache / "keys").exists()      # nothing of the key left the token
    ref = keys.signing_key(ws_of(workspace))
    assert ref == token.partition("?")[0]     # the module from $PKCS11_MODULE, the PIN from $PKCS11_PIN
    r = signed_and_verified(tmp_path, hsm.signer(ref), base64.b64decode(rec.slots[0].public))
    assert r.returncode == 0 and "correctly validated" in r.stdout, r.stdout + r.stderr


def test_pkcs11_refusals(workspace: Path, cache: Path, token: str) -> None:
    with pytest.raises(BspError, match="object"):
        keys.generate(ws_of(workspace), "ed25519", pkcs11=token.replace("object=signing", "object=a%20key"))
    with pytest.raises(BspError, match="no token labelled 'other'"):
        keys.generate(ws_of(workspace), "ed25519", pkcs11=token.replace("token=cmu610", "token=other"))
    keys.generate(ws_of(workspace), "ed25519", pkcs11=token)
    with pytest.raises(BspError, match="give --pkcs11"):
        keys.rotate(ws_of(workspace))
    with pytest.raises(BspError, match="already has a key labelled"):
        keys.rotate(ws_of(workspace), pkcs11=token)
    rotated = keys.rotate(ws_of(workspace), pkcs11=token.replace("object=signing", "object=rotated"))
    assert rotated.active == 1 and keys.signing_key(ws_of(workspace)) == keys.reference(rotated)
    with pytest.raises(hsm.HsmError, match="not one of the attributes"):
        hsm.parse_uri("pkcs11:token=a;object=b;colour=red")
    # RFC 7512 attributes this tool would not act on are refused, not ignored (a token by serial)
    with pytest.raises(hsm.HsmError, match="'serial=42' is not one of the attributes id, object, token"):
        hsm.parse_uri("pkcs11:token=a;object=b;serial=42")


SHIPPED = "meta-cmu610/recipes-bsp/cmu610-flash/files/cmu610_hsm.py"


def test_hsm_py_is_shipped_as_it_is_and_imports_nothing_of_cmu610bsp() -> None:
    """The flash image's packer signs with a token's key inside BitBake: the layer carries hsm.py
    byte for byte, and it needs no module of cmu610bsp."""
    import ast

    from conftest import REPO

    source = Path(hsm.__file__).read_text()
    assert (REPO / SHIPPED).read_text() == source
    tree = ast.parse(source)
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "cmu610bsp" not in names and {"pkcs11", "imgtool", "cryptography"} <= names


@pytest.mark.parametrize("pin_by", ["environment", "handover"])
def test_the_shipped_hsm_py_signs_in_a_process_of_its_own(workspace: Path, cache: Path, token: str, tmp_path: Path,
                                                          pin_by: str) -> None:
    """The layer's copy, imported by its layer name in a fresh interpreter (as the packer runs it
    in BitBake: a process, the point here), signs with the token through the environment alone
    (module and PIN from PKCS11_MODULE and PKCS11_PIN), or as a build hands the key over
    (keys.pin_handover: the PIN in a pin-source file, none in the environment); imgtool verify
    accepts the image."""
    from conftest import REPO

    rec = keys.generate(ws_of(workspace), "ed25519", pkcs11=token)
    script = ("import sys, cmu610_hsm\nfrom imgtool import image, version\n"
              "img = image.Image(version=version.decode_version('2.0.0'), header_size=0x20, pad_header=True)\n"
              "img.load(sys.argv[2])\nimg.create(cmu610_hsm.signer(sys.argv[1]), 'full', None)\nimg.save(sys.argv[3])\n")
    (tmp_path / "app.bin").write_bytes(os.urandom(2000))
    env = {**os.environ, "PYTHONPATH": str((REPO / SHIPPED).parent), "CMU610_SIGNING_KEY": keys.reference(rec)}
    with contextlib.ExitStack() as stack:
        if pin_by == "handover":
            env = stack.enter_context(keys.pin_handover(env))
            assert hsm.PIN_ENV not in env and "pin-source=file:" in env["CMU610_SIGNING_KEY"]
        r = subprocess.run([sys.executable, "-c", script, env["CMU610_SIGNING_KEY"], str(tmp_path / "app.bin"),
                            str(tmp_path / "s.bin")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pem = serialization.load_der_public_key(base64.b64decode(rec.slots[0].public)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "pub.pem").write_bytes(pem)
    imgtool = Path(sys.executable).parent / "imgtool"
    v = subprocess.run([str(imgtool), "verify", "-k", str(tmp_path / "pub.pem"), str(tmp_path / "s.bin")],
                       capture_output=True, text=True)
    assert v.returncode == 0 and "correctly validated" in v.stdout, v.stdout + v.stderr


def test_the_keys_partition_trusts_both_slots_after_a_rotation(workspace: Path, cache: Path) -> None:
    """flash-layout.json (what the packer writes the keys partition from) lists each slot's key
    hash: rendered from cmu610bsp.yml, so a rotation reaches the image through `sync`."""
    from cmu610bsp import render
    from cmu610bsp.workspace import load_project

    layout = "meta-cmu610/recipes-bsp/cmu610-flash/files/cmu610-evb-qemu/flash-layout.json"
    assert "trusted_keys" not in json.loads(render.render(load_project(ws_of(workspace)))[layout])
    first = keys.generate(ws_of(workspace), "ed25519")
    second = keys.rotate(ws_of(workspace))
    rendered = json.loads(render.render(load_project(ws_of(workspace)))[layout])
    assert rendered["trusted_keys"] == [first.slots[0].sha256, second.slots[1].sha256]


@pytest.mark.parametrize("edit, reason", [
    (lambda s: s.replace("active: 0", "active: 1"), "active is slot 1, but there are 1 slot(s)"),
    (lambda s: re.sub(r"sha256: [0-9a-f]{64}", "sha256: " + "a" * 64, s, count=1), "sha256 is not the sha256 of public"),
])
def test_a_hand_edited_signing_record_is_a_finding_not_a_crash(workspace: Path, cache: Path, cli: Cli,
                                                               edit: Callable[[str], str], reason: str) -> None:
    """What keys generate recorded is checked on load: an active slot that does not exist, a hash
    that is not the key's, each named in cmu610bsp.yml (exit 2), never an IndexError later."""
    assert cli("keys", "generate", cwd=workspace).returncode == 0
    config = workspace / "cmu610bsp.yml"
    text = config.read_text()
    assert edit(text) != text
    config.write_text(edit(text))
    r = cli("keys", "show", cwd=workspace)
    assert r.returncode == 2 and "cmu610bsp.yml" in r.stderr and reason in r.stderr, r.stderr


def test_a_workspace_directory_name_with_spaces_gets_a_recordable_key_file(pristine: Any, cache: Path, tmp_path: Path) -> None:
    """The key file's name is recorded in cmu610bsp.yml: a directory named `rev sign 2` gave a name
    the record refuses (an internal error, and a private key left unreferenced in the cache)."""
    ws = pristine(tmp_path / "rev sign 2")
    rec = keys.generate(ws_of(ws), "ed25519")
    assert rec.cache == f"rev-sign-2-{rec.slots[0].sha256[:12]}.pem"
    assert [p.name for p in (cache / "keys").iterdir()] == [rec.cache]
