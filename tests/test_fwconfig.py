"""`cmu610bsp config` without a Zephyr tree (CI): `--set` writes the description (the product file's
firmware.kconfig, or cmu610bsp.yml's secure_firmware.kconfig) through the one YAML writer, comments
kept, under the workspace lock, and syncs; the next build (the fixture build system) builds from
the layer holding the value, and Kconfig (kconfiglib, Zephyr's own) puts it in the .config. Refused
input changes nothing. With a real tree and menuconfig: test_zephyr_fwconfig.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
LITTLE = "configs/products/littlebmc.yaml"
FRAGMENT = "meta-cmu610/zephyr/apps/bmc/littlebmc.conf"
NO_TREE = ("ZEPHYR_BASE",)


def _kconfig_dot_config(ws: Path, tmp: Path, symbols: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The .config Kconfig makes of the BMC application's Kconfig and the line's fragment as the
    layer ships them (Zephyr's own Kconfig stood in for by `symbols`)."""
    import kconfiglib

    app = tmp / "app"
    app.mkdir()
    (app / "Kconfig").write_text((ws / "meta-cmu610/zephyr/apps/bmc/Kconfig").read_text())
    (app / "Kconfig.zephyr").write_text(symbols)
    monkeypatch.setenv("srctree", str(app))  # where `source "Kconfig.zephyr"` is looked up
    kconf = kconfiglib.Kconfig(str(app / "Kconfig"), warn_to_stderr=False)
    kconf.load_config(str(ws / FRAGMENT))
    kconf.write_config(str(tmp / ".config"))
    return (tmp / ".config").read_text()


def test_set_writes_the_line_s_yaml_syncs_and_the_next_build_has_it(cli: Cli, workspace: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    before = (workspace / LITTLE).read_text()
    r = cli("config", "littlebmc", "--set", "CONFIG_MAIN_STACK_SIZE=2048", "--set", 'CONFIG_SHELL_PROMPT_UART="lb:~$ "',
            cwd=workspace, unset=NO_TREE)
    assert r.returncode == 0, r.stderr
    assert f"{LITTLE}: firmware.kconfig: CONFIG_MAIN_STACK_SIZE: 2048 (new)" in r.stdout, r.stdout
    assert "no Zephyr tree: the values were written as given" in r.stderr, r.stderr
    after = (workspace / LITTLE).read_text()
    # only the settings' lines changed: comments, order and quoting as the user wrote them
    assert after == before.replace("  kconfig:\n", "  kconfig:\n    CONFIG_MAIN_STACK_SIZE: 2048\n") \
        .replace("    CONFIG_SHELL_HISTORY: false\n", "    CONFIG_SHELL_HISTORY: false\n    CONFIG_SHELL_PROMPT_UART: 'lb:~$ '\n")
    fragment = (workspace / FRAGMENT).read_text().splitlines()
    assert "CONFIG_MAIN_STACK_SIZE=2048" in fragment and 'CONFIG_SHELL_PROMPT_UART="lb:~$ "' in fragment
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    # the next build takes the layer as synced (the fixture build system stands in for BitBake)
    b = cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", cwd=workspace)
    assert b.returncode == 0, b.stderr
    assert "${TOPDIR}/../../meta-cmu610 " in (workspace / "build/littlebmc/conf/bblayers.conf").read_text()
    dot = _kconfig_dot_config(workspace, tmp_path, 'config MAIN_STACK_SIZE\n\tint "main stack"\n\tdefault 1024\n'
                                                   'config SHELL_PROMPT_UART\n\tstring "prompt"\n', monkeypatch)
    assert "CONFIG_MAIN_STACK_SIZE=2048\n" in dot and 'CONFIG_SHELL_PROMPT_UART="lb:~$ "\n' in dot, dot
    # setting it again changes nothing
    again = cli("config", "littlebmc", "--set", "CONFIG_MAIN_STACK_SIZE=2048", cwd=workspace, unset=NO_TREE)
    assert again.returncode == 0 and f"{LITTLE}: firmware.kconfig unchanged" in again.stdout, again.stdout


def test_the_secure_domain_s_settings_are_the_workspace_s(cli: Cli, workspace: Path) -> None:
    cfg = workspace / "cmu610bsp.yml"
    before = cfg.read_text()
    r = cli("config", "bigbmc", "--domain", "secure", "--set", "CONFIG_LOG=y", cwd=workspace, unset=NO_TREE)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text().startswith(before) and cfg.read_text().endswith("secure_firmware:\n  kconfig:\n    CONFIG_LOG: true\n")
    prj = (workspace / "meta-cmu610/zephyr/apps/secure/prj.conf").read_text()
    assert prj.endswith("CONFIG_LOG=y\n"), prj
    assert "CONFIG_LOG" not in (workspace / LITTLE).read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "CONFIG_CMU610_FEATURES=\"x\""],
     "--set: CONFIG_CMU610_FEATURES: CONFIG_CMU610_* is set from the description"),
    (["--domain", "secure", "--set", "CONFIG_CMU610_X=y"], "--set: CONFIG_CMU610_X: CONFIG_CMU610_* is set from"),
    (["--set", "MAIN_STACK_SIZE=1"], "--set: MAIN_STACK_SIZE=1: expected CONFIG_NAME=VALUE"),
    (["--set", "CONFIG_LOG=maybe"], "--set: CONFIG_LOG=maybe: not a Kconfig value"),
    (["--set", "CONFIG_LOG=y", "--domain", "hart1"], "--domain 'hart1': one of bmc, secure"),
    (["--set", "CONFIG_LOG=y", "--source", "linux=/x"], "--source linux=...: not a source `config` takes"),
    ([], "menuconfig needs a Zephyr tree"),
])
def test_refused_input_changes_nothing(cli: Cli, workspace: Path, args: list[str], message: str) -> None:
    before = snapshot(workspace)
    r = cli("config", "littlebmc", *args, cwd=workspace, unset=NO_TREE)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert snapshot(workspace) == before


def test_an_unknown_line_or_board_is_named(cli: Cli, workspace: Path) -> None:
    r = cli("config", "midbmc", "--set", "CONFIG_LOG=y", cwd=workspace, unset=NO_TREE)
    assert r.returncode == 2 and "'midbmc': not a product line of this workspace" in r.stderr, r.stderr
    r = cli("config", "littlebmc", "--board", "nope", "--set", "CONFIG_LOG=y", cwd=workspace, unset=NO_TREE)
    assert r.returncode == 2 and "--board 'nope': not a board of this workspace" in r.stderr, r.stderr


def test_config_takes_the_workspace_lock(cli: Cli, workspace: Path) -> None:
    """A process (another writer) holds the lock: config waits, then refuses naming it."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from cmu610bsp import wslock\n"
                               "with wslock.held(Path(sys.argv[1]), 'sync'):\n"
                               "    print('held', flush=True)\n    time.sleep(60)\n", str(workspace)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = snapshot(workspace)
        r = cli("config", "littlebmc", "--set", "CONFIG_LOG=y", cwd=workspace, unset=NO_TREE,
                env={"CMU610BSP_LOCK_WAIT": "0.3"})
        assert r.returncode == 2 and f"being written by pid {holder.pid}: cmu610bsp sync" in r.stderr, r.stderr
        assert snapshot(workspace) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_second_secure_setting_keeps_the_comments_of_its_block(cli: Cli, workspace: Path) -> None:
    """secure_firmware.kconfig is set in place, as a product file's firmware.kconfig is: a comment
    a person wrote in the block stays (the whole block used to be replaced)."""
    cfg = workspace / "cmu610bsp.yml"
    assert cli("config", "bigbmc", "--domain", "secure", "--set", "CONFIG_LOG=y", cwd=workspace,
               unset=NO_TREE).returncode == 0
    cfg.write_text(cfg.read_text().replace("secure_firmware:\n", "secure_firmware:\n  # logging for the lab units\n"))
    r = cli("config", "bigbmc", "--domain", "secure", "--set", "CONFIG_LOG=y", "--set", "CONFIG_ASSERT=y",
            cwd=workspace, unset=NO_TREE)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text().endswith("secure_firmware:\n  # logging for the lab units\n  kconfig:\n"
                                    "    CONFIG_ASSERT: true\n    CONFIG_LOG: true\n"), cfg.read_text()


def test_a_firmware_block_in_flow_style_is_named_with_its_file(cli: Cli, workspace: Path) -> None:
    import json

    import yaml

    product = workspace / LITTLE
    lines = product.read_text().split("\n")
    start = lines.index("firmware:")
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "#"))), len(lines))
    flow = "firmware: " + json.dumps(yaml.safe_load(product.read_text())["firmware"])   # JSON: YAML's flow style
    product.write_text("\n".join([*lines[:start], flow, *lines[end:]]))
    before = snapshot(workspace)
    r = cli("config", "littlebmc", "--set", "CONFIG_LOG=y", cwd=workspace, unset=NO_TREE)
    assert r.returncode == 2 and f"{product}: firmware.kconfig: cannot set firmware.kconfig" in r.stderr, r.stderr
    assert snapshot(workspace) == before
