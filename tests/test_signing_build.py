"""The signing key reaches the build (keys.build_env, kasbuild/compose.py): kas hands BitBake the
key's place and identity, and a PKCS#11 PIN only from the environment, never through a file; a
build of a workspace whose key cannot be used stops before kas runs. Real kas on the fixture build
system (tests/fixtures/buildsys), whose bitbake prints the environment it got."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from cmu610bsp import keys
from cmu610bsp import workspace as ws_mod
from cmu610bsp.kasbuild import compose
from conftest import SOFTHSM, Cli

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"


def _seen(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if f"NOTE: fixture bitbake: {name}=" in line]
    return line.split("=", 1)[1]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CMU610BSP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(keys.ENV_OVERRIDE, raising=False)
    return tmp_path / "cache"


def test_bitbake_gets_the_key_and_its_identity_and_the_pin_only_from_the_environment(
        cli: Cli, workspace: Path, cache: Path) -> None:
    rec = keys.generate(workspace_of(workspace), "ed25519")
    env = {"PKCS11_PIN": "secret-1234"}
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace, env=env)
    assert r.returncode == 0, r.stderr
    log = Path(json.loads(r.stdout)["log"]).read_text()
    assert _seen(log, "CMU610_SIGNING_KEY") == repr(str(cache / "keys" / str(rec.cache)))
    assert _seen(log, "CMU610_SIGNING_KEY_SHA256") == repr(rec.slots[0].sha256)
    assert _seen(log, "PKCS11_PIN") == repr("")       # never a BitBake variable (task scripts keep them)
    passed = _seen(log, "BB_ENV_PASSTHROUGH_ADDITIONS")
    assert all(name in passed for name in keys.BUILD_ENV) and "PKCS11_PIN" not in passed
    # what the build wrote and what a dry run prints hold no PIN
    overlay = (workspace / "build" / ".kas" / "littlebmc.yml").read_text()
    assert "secret-1234" not in overlay and "CMU610_SIGNING_KEY" in overlay
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", "--json", cwd=workspace, env=env)
    assert r.returncode == 0 and "secret-1234" not in r.stdout
    assert json.loads(r.stdout)["env"]["CMU610_SIGNING_KEY_SHA256"] == rec.slots[0].sha256


def test_a_workspace_without_a_key_is_warned_and_a_tracked_key_stops_the_build(
        cli: Cli, workspace: Path, cache: Path) -> None:
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", "--json", cwd=workspace)
    assert r.returncode == 0 and any("no image signing key" in w for w in json.loads(r.stdout)["warnings"])
    assert "CMU610_SIGNING_KEY" not in json.loads(r.stdout)["env"]
    rec = keys.generate(workspace_of(workspace), "ed25519")
    committed = workspace / "key.pem"
    committed.write_bytes((cache / "keys" / str(rec.cache)).read_bytes())
    subprocess.run(["git", "-C", str(workspace), "add", "key.pem"], check=True)
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace, env={keys.ENV_OVERRIDE: str(committed)})
    assert r.returncode == 2 and "tracked by git" in r.stderr
    assert not (workspace / "build" / "littlebmc" / "summary.json").exists()


def test_a_token_keys_pin_reaches_the_build_as_a_file_that_lives_as_long_as_the_build(
        cli: Cli, workspace: Path, cache: Path, token: str) -> None:
    """BitBake writes every exported variable into the task scripts it keeps under ${T}: a token's
    PIN from $PKCS11_PIN is handed over as the key URI's pin-source, a 0600 file removed after."""
    keys.generate(workspace_of(workspace), "ed25519", pkcs11=token)
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    log = Path(json.loads(r.stdout)["log"]).read_text()
    key = ast.literal_eval(_seen(log, "CMU610_SIGNING_KEY"))
    assert key.startswith(token.partition("?")[0] + "?") and "pin-source=file:" in key
    assert _seen(log, "pin-source") == f"0o600 {hashlib.sha256(b'1234').hexdigest()}"
    assert _seen(log, "PKCS11_PIN") == repr("") and "PKCS11_PIN" not in _seen(log, "BB_ENV_PASSTHROUGH_ADDITIONS")
    handed = Path(unquote(key.split("pin-source=file:")[1]))
    assert not handed.exists() and not handed.parent.exists()
    # a PIN inside the URI would be written into the task scripts: refused before kas runs
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace,
            env={keys.ENV_OVERRIDE: token.partition("?")[0] + f"?module-path={SOFTHSM}&pin-value=1234"})
    assert r.returncode == 2 and "pin-value" in r.stderr, r.stderr


def test_the_overlay_declares_every_signing_variable_without_a_value(workspace: Path) -> None:
    data = compose.overlay(workspace, compose.Request("littlebmc"), "cmu610-evb")
    assert {k: v for k, v in data["env"].items() if k in keys.BUILD_ENV} == dict.fromkeys(keys.BUILD_ENV, "")  # type: ignore[union-attr]


def workspace_of(root: Path) -> ws_mod.Workspace:
    return ws_mod.open_workspace(root)
