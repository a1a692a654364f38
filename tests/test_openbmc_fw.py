"""The firmware built with OpenBMC's libpldm and libmctp (issue 23), at the Zephyr level: cmake and
ninja against ZEPHYR_BASE with the components' sources from LIBPLDM_DIR / LIBMCTP_DIR (skipped,
and reported so, without them), booted on the twin and checked by the smoke spec generated from
the description. The 40-sensor fixture board (every sensor kind, I2C, I3C, ADC, thresholds) builds
and smokes the same way as the default board; the default board's applications packed into a flash
image with versioned headers report those versions through PLDM. Without any tree: the
applications' CMake refuses a missing component source before Zephyr is looked for.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cmu610bsp import __version__, bootstage, firmware, flash, flash_layout, layout, names
from cmu610bsp.model import load_board
from cmu610bsp.project import load_project
from conftest import Cli, cli_in_process
from flashimg import signing_key
from test_zephyr import _build, zephyr_env

RACK40 = Path(__file__).parent / "fixtures/boards/cmu610-rack40.yaml"
__all__ = ["zephyr_env"]  # the fixture, shared with tests/test_zephyr.py


def _configure(ws: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """cmake's configure step of the BMC application; its messages unwrapped (cmake wraps them)."""
    r = subprocess.run(["cmake", "-S", str(ws / "meta-cmu610/zephyr/apps/bmc"), "-B", str(tmp / "b"),
                        "-DCMU610_LINE=littlebmc", *args], capture_output=True, text=True, timeout=120)
    r.stderr = " ".join(r.stderr.split())
    return r


@pytest.mark.skipif(not shutil.which("cmake"), reason="cmake not installed")
def test_the_applications_refuse_a_missing_component_source(workspace: Path, tmp_path: Path) -> None:
    """Before Zephyr is even looked for (no tree needed): which -D<NAME>_SOURCE to give, and a
    directory that is not the component's checkout named as such."""
    r = _configure(workspace, tmp_path)
    assert r.returncode != 0
    assert "this firmware takes OpenBMC's libpldm: give its source, -DLIBPLDM_SOURCE=<checkout>" in r.stderr, r.stderr
    r = _configure(workspace, tmp_path, f"-DLIBPLDM_SOURCE={tmp_path}")
    assert f"LIBPLDM_SOURCE={tmp_path}: not a checkout of libpldm's source (no zephyr/module.yml in it)" in r.stderr
    (tmp_path / "zephyr").mkdir()
    (tmp_path / "zephyr/module.yml").write_text("name: libpldm\n")
    r = _configure(workspace, tmp_path, f"-DLIBPLDM_SOURCE={tmp_path}")
    assert "give its source, -DLIBMCTP_SOURCE=<checkout>" in r.stderr, r.stderr


def _sizes(elf: Path) -> str:
    """text/data/bss of an image (the twin links everything into its SRAM slice)."""
    out = subprocess.run(["riscv64-unknown-elf-size", str(elf)], capture_output=True, text=True, check=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return f"{elf.parent.parent.name}: text {text} data {data} bss {bss}"


@pytest.mark.zephyr
@pytest.mark.parametrize(("cpu", "app", "extra"), [("cpu0", "secure", ()), ("cpu1", "bmc", ("-DCMU610_LINE=littlebmc",))])
def test_the_applications_build_for_the_chip(zephyr_env: dict[str, object], cpu: str, app: str,
                                             extra: tuple[str, ...]) -> None:
    """The real board's tree names the real parts on buses whose controllers have no Zephyr driver
    yet: the applications still build (their sensors' drivers are the twin's only)."""
    elf = _build(zephyr_env, f"cmu610_evb/cmu610/{cpu}", *extra, app=app)
    print(_sizes(elf))
    header = (elf.parent / "include/generated/zephyr/autoconf.h").read_text()
    assert "#define CONFIG_PLDM 1" in header and "#define CONFIG_LIBMCTP 1" in header
    assert "CONFIG_EMUL " not in header


@pytest.mark.zephyr
def test_the_forty_sensor_board_builds_and_smokes(cli: Cli, zephyr_env: dict[str, object],
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every one of its 40 sensors has its PDR, a reading in range, and (with a critical_high) a
    crossing that reads back critical: the spec generated from its description passes."""
    ws = tmp_path_factory.mktemp("rack40") / "ws"
    assert cli_in_process("init", str(ws), "--board", str(RACK40)).returncode == 0
    zb = names.zephyr_board("cmu610-rack40", True)
    cpu0 = _build(zephyr_env, f"{zb}/cmu610/cpu0", ws=ws, app="secure")
    cpu1 = _build(zephyr_env, f"{zb}/cmu610/cpu1", "-DCMU610_LINE=littlebmc", ws=ws, app="bmc")
    print(_sizes(cpu0), _sizes(cpu1), sep="\n")
    results = tmp_path_factory.mktemp("rack40-smoke")
    r = cli("qemu", "smoke", "--line", "littlebmc", "--image", f"cpu0={cpu0}", "--image", f"cpu1={cpu1}", "--json",
            "--results", str(results), cwd=ws, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    run = json.loads(r.stdout)["runs"][0]
    console = Path(run["transcript"]).read_text().replace("\r", "")
    board = load_board(RACK40)
    assert "pdr: 40 numeric sensor PDRs" in console and "sensors: 40 read, 0 unavailable" in console
    for i, s in enumerate(board.sensors, start=1):
        assert re.search(rf"\npdr {i} sensor {i} {s.name} ", console), s.name
        assert re.search(rf"\n{s.name} +-?[0-9]+\.[0-9]{{3}} [CVAW] normal\n", console), s.name
    crossings = [c for c in run["cases"] if c["name"].startswith("command twin set ")]
    assert len(crossings) == sum(s.thresholds.critical_high is not None for s in board.sensors) == 39
    print(f"rack40 smoke: {run['seconds']} s")


@pytest.mark.zephyr
def test_the_flash_images_versions_reach_the_bmc_over_pldm(cli: Cli, zephyr_env: dict[str, object],
                                                           tmp_path: Path) -> None:
    """The default board's applications packed into a flash image whose headers carry their version,
    booted through the boot stage as `build --smoke` boots it: the secure hart reports each
    partition's version through GetFirmwareParameters and the BMC shows them; the spec's versions
    are read from the image's headers."""
    ws: Path = zephyr_env["ws"]  # type: ignore[assignment]
    cpu0 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu0", app="secure")
    cpu1 = _build(zephyr_env, "cmu610_evb_qemu/cmu610/cpu1", "-DCMU610_LINE=littlebmc", app="bmc")
    project = load_project(ws)
    board, soc, catalog = project.boards[0], project.soc, project.catalog
    version = firmware.version_parts(__version__)
    images = {}
    for (domain, window), elf in zip(flash_layout.windows(board, soc, catalog).items(), (cpu0, cpu1), strict=True):
        binary = tmp_path / f"{domain}.bin"
        subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
        entry = int.from_bytes(elf.read_bytes()[24:28], "little")
        images[domain] = flash.Image(binary.read_bytes(), window.base, entry, window.hart, version)
    boot = bootstage.build(board, soc, catalog, tmp_path / "boot").read_bytes()
    deploy = layout.BuildPaths(ws, "littlebmc").deploy(names.twin_machine(board.name)) / layout.FLASH_IMAGE
    deploy.parent.mkdir(parents=True, exist_ok=True)
    deploy.write_bytes(flash_layout.pack(board, soc, images, boot, signing_key(tmp_path / "key.pem")))
    try:
        r = cli("qemu", "smoke", "--line", "littlebmc", "--json", "--results", str(tmp_path / "smoke"), cwd=ws, timeout=600)
    finally:
        deploy.unlink()
    assert r.returncode == 0, r.stdout + r.stderr
    console = Path(json.loads(r.stdout)["runs"][0]["transcript"]).read_text()
    text = ".".join(map(str, version))
    assert f"pldm: component 1 secure-fw active {text}" in console
    assert f"pldm: component 2 bmc-fw-a active {text}" in console  # a factory image: both slots alike
    assert f"pldm: component 3 bmc-fw-b active {text}" in console
