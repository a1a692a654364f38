"""The secure firmware's Kconfig settings: the workspace's (`secure_firmware.kconfig` of
cmu610bsp.yml, one image for every line), rendered into the secure application's prj.conf and
refused there as a line's are (CONFIG_CMU610_*), in-process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from cmu610bsp import config, firmware, render
from cmu610bsp.config import SecureFirmware
from cmu610bsp.errors import BspError
from cmu610bsp.project import load_project

REPO = Path(__file__).resolve().parent.parent
PRJ = "meta-cmu610/zephyr/apps/secure/prj.conf"


def test_the_settings_reach_the_secure_prj_conf_and_nothing_of_the_bmc() -> None:
    project = load_project(REPO)
    plain = render.render(project)
    settings = {"CONFIG_LOG": True, "CONFIG_SHELL_PROMPT_UART": 'sec "0"', "CONFIG_SRAM_OFFSET": "0x1000",
                "CONFIG_MAIN_STACK_SIZE": 2048}
    files = render.render(dataclasses.replace(project, secure_firmware=SecureFirmware(kconfig=settings)))
    lines = files[PRJ].splitlines()
    assert plain[PRJ].splitlines() == lines[:len(plain[PRJ].splitlines())]  # added after what was there
    assert lines[-4:] == ["CONFIG_LOG=y", "CONFIG_MAIN_STACK_SIZE=2048", 'CONFIG_SHELL_PROMPT_UART="sec \\"0\\""',
                          "CONFIG_SRAM_OFFSET=0x1000"]  # a hex value as written, not a quoted string
    assert {k for k in files if files[k] != plain.get(k)} == {PRJ}


def test_a_line_hex_setting_is_written_as_hex() -> None:
    assert firmware.kconfig_lines({"CONFIG_B": "0xfF", "CONFIG_A": "0x"}) == ['CONFIG_A="0x"', "CONFIG_B=0xfF"]


@pytest.mark.parametrize(("kconfig", "message"), [
    ({"CONFIG_CMU610_PRODUCT_LINE": "x"}, "CONFIG_CMU610_PRODUCT_LINE: CONFIG_CMU610_* is set from the description"),
    ({"LOG": True}, "String should match pattern"),
])
def test_refused_settings_are_named(tmp_path: Path, kconfig: dict[str, object], message: str) -> None:
    data = yaml.safe_load((REPO / "cmu610bsp.yml").read_text())
    (tmp_path / "cmu610bsp.yml").write_text(yaml.safe_dump({**data, "secure_firmware": {"kconfig": kconfig}}))
    with pytest.raises(BspError) as e:
        config.load_config(tmp_path)
    assert any(f.field.startswith("secure_firmware.kconfig") and message in f.reason for f in e.value.findings), \
        e.value.findings
