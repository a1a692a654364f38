"""Build and smoke as one flow: `build LINE --smoke` boots what the build deployed and records the
verdict in summary.json and JUnit; `qemu smoke` with no image arguments boots the last build.

Real kas, real QEMU, a real boot stage and flash image (tests/flashimg.py: the boot stage and two
test images built with Debian's RISC-V GCC); BitBake is the fixture's stand-in, which deploys that
flash image as the flash image recipe would (a real BitBake build of the Zephyr firmware is the
OpenBMC integration test's, tests/test_openbmc_build.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import Cli
from flashimg import MISSING, amp_flash_image

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
SRC = f"openbmc={Path(__file__).parent / 'fixtures' / 'buildsys'}"
# what the test images print (tests/firmware/fw.c, AMP_IMAGE)
SPEC = """name: test-images
deadline: 60
cores:
  cpu0:
    markers: [{pattern: 'boot: secure-fw: ok'}, {pattern: 'cpu0: boot ok'}]
  cpu1:
    markers: [{pattern: 'boot: bmc-fw-a: ok'}, {pattern: 'cpu1: boot ok'}]
never: ['no good image']
"""


@pytest.fixture(scope="module")
def flash_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flash")
    path = out / "flash.bin"
    path.write_bytes(amp_flash_image(out).flash)
    return path


def _deploys(ws: Path, line: str, flash: Path) -> None:
    d = ws / "build" / line
    d.mkdir(parents=True, exist_ok=True)
    (d / "fake-bitbake.json").write_text(json.dumps({"deploy": {"flash.bin": str(flash)}}))
    (ws / "configs" / "smoke").mkdir(exist_ok=True)
    (ws / "configs" / "smoke" / f"{line}.yaml").write_text(SPEC)


def test_build_smoke_boots_the_twin_and_records_the_verdict(cli: Cli, workspace: Path, flash_bin: Path) -> None:
    _deploys(workspace, "littlebmc", flash_bin)
    r = cli("build", "littlebmc", "--source", SRC, "--smoke", "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["machine"] == "cmu610-evb-qemu" and s["board"] == "cmu610-evb"  # --smoke builds the twin
    assert s["target"] == "cmu610-flash-image"
    assert s["smoke"]["passed"] is True and s["smoke"]["failed"] == []
    assert json.loads((workspace / "build/littlebmc/summary.json").read_text())["smoke"] == s["smoke"]
    suite = ET.parse(s["smoke"]["junit"]).getroot()
    cases = suite.iter("testcase")
    assert len(list(cases)) == 5 and suite.find(".//failure") is None
    assert "cpu1: boot ok" in Path(s["smoke"]["transcript"]).read_text()
    assert any(a["path"].endswith("cmu610-evb-qemu/flash.bin") for a in s["artifacts"])

    # `qemu smoke` with no image arguments boots the same build's flash image
    r = cli("qemu", "smoke", "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    (run,) = json.loads(r.stdout)["runs"]
    assert run["target"] == "cmu610-evb/littlebmc" and run["passed"]


def test_a_failing_smoke_fails_the_build_and_says_why(cli: Cli, workspace: Path, flash_bin: Path) -> None:
    _deploys(workspace, "bigbmc", flash_bin)
    spec = workspace / "configs/smoke/bigbmc.yaml"
    spec.write_text(SPEC.replace("cpu1: boot ok", "cpu1: never printed").replace("deadline: 60", "deadline: 5"))
    r = cli("build", "bigbmc", "--source", SRC, "--smoke", "--junit", str(workspace / "junit.xml"), cwd=workspace)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "smoke failed on cmu610-evb-qemu: cpu1 boot: cpu1: never printed" in r.stderr
    s = json.loads((workspace / "build/bigbmc/summary.json").read_text())
    assert s["result"] == "success" and s["smoke"]["passed"] is False
    assert ET.parse(workspace / "junit.xml").getroot().find(".//failure") is not None


def test_smoke_refuses_the_chip_and_a_missing_build(cli: Cli, workspace: Path) -> None:
    r = cli("build", "littlebmc", "--board", "cmu610-evb", "--smoke", "--source", SRC, cwd=workspace)
    assert r.returncode == 2 and "--smoke boots the QEMU twin of cmu610-evb: give --board cmu610-evb-qemu" in r.stderr
    assert not (workspace / "build/littlebmc/summary.json").exists()  # refused before kas ran
    r = cli("build", "littlebmc", "--plan", "--smoke", cwd=workspace)
    assert r.returncode == 2 and "not with --plan" in r.stderr
    r = cli("qemu", "smoke", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 2 and "no flash image of littlebmc for cmu610-evb-qemu" in r.stderr
    assert "cmu610bsp build littlebmc --board cmu610-evb-qemu" in r.stderr
