"""Every generated file against its real consumer: dtc, Zephyr's schemas (pykwalify), kconfiglib,
BitBake's parser, oelint-adv, kas's schema, entity-manager's schema. Negative cases prove each
check can fail."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SCHEMA_OVERRIDES, Cli, Pristine

MODULE = "meta-cmu610/zephyr"
needs_dtc = pytest.mark.skipif(not (shutil.which("dtc") and shutil.which("cpp")), reason="dtc/cpp not installed")


@pytest.fixture(params=["cmu610-evb", "cmu610-sled", "cmu610-gpu-tray"])
def board_ws(request: pytest.FixtureRequest, tmp_path: Path, pristine: Pristine) -> tuple[str, Path]:
    """A workspace for the board as `init --board` makes it (the default one's for the default board)."""
    board = None if request.param == "cmu610-evb" else request.param
    return request.param, pristine(tmp_path / request.param, board)


def _compile(ws: Path, dts: Path, fmt: str = "dtb") -> subprocess.CompletedProcess[str]:
    z = ws / MODULE
    pre = subprocess.run(["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P",
                          f"-I{z}/dts/riscv", f"-I{z}/dts", str(dts)], capture_output=True, text=True, check=True)
    return subprocess.run(["dtc", "-I", "dts", "-O", fmt, "-o", "-" if fmt == "dts" else os.devnull, "-"],
                          input=pre.stdout, capture_output=True, text=True)


@needs_dtc
def test_every_dts_compiles_without_warnings(board_ws: tuple[str, Path]) -> None:
    _, ws = board_ws
    files = sorted((ws / MODULE / "boards").rglob("*.dts"))
    # two domains x (board, QEMU twin), and the secure domain alone (chip, twin: securedomain.py)
    assert len(files) == 6
    for dts in files:
        r = _compile(ws, dts)
        assert r.returncode == 0 and r.stderr == "", f"{dts.name}: {r.stderr}"


def test_check_reports_every_consumer_ok(cli: Cli, board_ws: tuple[str, Path]) -> None:
    _, ws = board_ws
    r = cli("check", "--json", cwd=ws, unset=SCHEMA_OVERRIDES)
    result = json.loads(r.stdout)
    status = {c["name"]: c["status"] for c in result["checks"]}
    assert status == {"model": "ok", "dtc": "ok", "zephyr-schemas": "ok", "kconfig": "ok",
                      "bitbake-parse": "ok", "oelint": "ok", "kas-schema": "ok", "entity-manager": "ok"}, result
    assert r.returncode == 0


def test_zephyr_schemas_validate_board_and_soc(workspace: Path, zephyr_schemas: Path) -> None:
    import yaml
    from pykwalify.core import Core

    files = {"board.yml": "board-schema.yml", "soc.yml": "soc-schema.yml"}
    seen = 0
    for path in (workspace / MODULE).rglob("*"):
        twister = path.suffix == ".yaml" and "/boards/" in str(path)
        schema = files.get(path.name) or ("twister-platform-schema.yaml" if twister else None)
        if schema:
            core = Core(source_data=yaml.safe_load(path.read_text()), schema_files=[str(zephyr_schemas / schema)])
            core.validate(raise_exception=True)
            seen += 1
    # soc.yml, two board.yml, four twister files; the secure domain alone: two board.yml, two twister
    assert seen == 1 + 2 + 4 + 2 + 2


def test_kconfig_selects_the_right_soc_cluster(workspace: Path) -> None:
    import kconfiglib

    from cmu610bsp.checks.zephyr import ZEPHYR_SYMBOLS

    z = workspace / MODULE
    soc = z / "soc/cmu/cmu610"
    for board in ("cmu610_evb", "cmu610_evb_qemu"):
        bdir = z / "boards/cmu" / board
        top = workspace / "Kconfig.test"
        lines = [f'config {s}\n\t{t} "{s}"\n' for s, t in ZEPHYR_SYMBOLS.items()]
        lines += [f'config BOARD_{q.upper()}\n\tbool "{q}"\n' for q in (board, f"{board}_cmu610_cpu0", f"{board}_cmu610_cpu1")]
        lines += [f'source "{bdir}/Kconfig.{board}"\n', f'source "{bdir}/Kconfig.defconfig"\n',
                  f'source "{soc}/Kconfig.soc"\n', f'source "{soc}/Kconfig.defconfig"\n', f'source "{soc}/Kconfig"\n']
        top.write_text("".join(lines))
        for cpu, hart in (("cpu0", "0"), ("cpu1", "1")):
            cfg = workspace / ".config"
            cfg.write_text(f"CONFIG_BOARD_{board.upper()}=y\nCONFIG_BOARD_{board.upper()}_CMU610_{cpu.upper()}=y\n"
                           + (bdir / f"{board}_cmu610_{cpu}_defconfig").read_text())
            k = kconfiglib.Kconfig(str(top), warn_to_stderr=False)
            k.load_config(str(cfg))
            assert k.warnings == []
            assert k.syms[f"SOC_CMU610_{cpu.upper()}"].str_value == "y"
            assert k.syms["SOC"].str_value == "cmu610"
            assert k.syms["RV_BOOT_HART"].str_value == (hart if hart != "0" else "")
            assert k.syms["RISCV_ISA_EXT_ZICSR"].str_value == "y"
            assert k.syms["SYS_CLOCK_HW_CYCLES_PER_SEC"].str_value == ("10000000" if board.endswith("qemu") else "1000000")


@needs_dtc
def test_bmc_tree_never_contains_secure_blocks(workspace: Path) -> None:
    boards = workspace / MODULE / "boards/cmu/cmu610_evb"
    bmc = _compile(workspace, boards / "cmu610_evb_cmu610_cpu1.dts", "dts").stdout
    secure = _compile(workspace, boards / "cmu610_evb_cmu610_cpu0.dts", "dts").stdout
    for block in ("cmu610-rot", "cmu610-crypto", "cmu610-otp", "cmu610-keystore", "cmu610-iopmp", "cmu610-mbox"):
        assert block not in bmc, block
        assert block in secure, block
    # blocks the secure domain owns on this board: uart0, i2c7, wdt0 (not even disabled)
    for node in ("serial@40000000", "i2c@40017000", "watchdog@40035000"):
        assert node not in bmc and node in secure
    assert re.search(r'label = "bmc-fw-a"', bmc) and not re.search(r'label = "keys"', bmc)
    assert re.search(r'label = "keys"', secure) and not re.search(r'label = "bmc-fw-a"', secure)
    assert 'gpio-line-names = "POWER_BUTTON", "RESET_BUTTON", "POWER_OUT"' in bmc
    i2c0 = bmc[bmc.index("i2c@40010000"):]
    assert "temperature-sensor@48" in i2c0[: i2c0.index("};\n\n")] or "temperature-sensor@48" in i2c0
    assert re.search(r"temperature-sensor@48 \{[^}]*reg = <0x48>", bmc)


@needs_dtc
def test_gpu_tray_sensors_on_i3c(cli: Cli, tmp_path: Path, pristine: Pristine) -> None:
    """The GPU tray's I3C buses as dtc reads them (three address cells; targets by static address
    and PID, by PID only, by static address only; legacy I2C devices with their LVR), and its
    entity-manager records (one bus numbering: i3cN follows the SoC's eight I2C controllers)."""
    ws = pristine(tmp_path / "tray", "cmu610-gpu-tray")
    bmc = _compile(ws, ws / MODULE / "boards/cmu/cmu610_gpu_tray/cmu610_gpu_tray_cmu610_cpu1.dts", "dts").stdout
    i3c0 = bmc[bmc.index("i3c@40020000 {"):]
    i3c0 = i3c0[: i3c0.index("\n\t\t};\n")]
    assert "#address-cells = <0x03>;" in i3c0 and "#size-cells = <0x00>;" in i3c0
    for node, reg in (("temperature-sensor@4800000236152a0090", "<0x48 0x236 0x152a0090>"),
                      ("power-sensor@400000000000000010", "<0x40 0x00 0x10>")):
        assert re.search(rf"{node} {{[^}}]*reg = {reg};", i3c0), (node, i3c0)
    assert re.search(r"temperature-sensor@236152a0091 \{[^}]*reg = <0x00 0x236 0x152a0091>;", bmc)
    assert re.search(r"temperature-sensor@4a0000000000000000 \{[^}]*reg = <0x4a 0x00 0x00>;", bmc)
    assert re.search(r"current-sensor@440000000000000050 \{[^}]*reg = <0x44 0x00 0x50>;", bmc)
    em = json.loads((ws / "meta-cmu610/recipes-phosphor/configuration/files/cmu610-gpu-tray.json").read_text())
    records = {r["Name"]: (r["Type"], r["Bus"], r["Address"]) for r in em["Exposes"]}
    assert records["Tray Inlet Temp"] == ("TMP75", 0, "0x48")
    assert records["GPU0 Temp"] == ("TMP75", 8, "0x09")            # its assigned dynamic address
    assert records["GPU0 Current"] == ("INA219", 8, "0x41")        # legacy I2C on i3c0
    assert records["GPU1 Temp"] == ("TMP75", 9, "0x0236152a0091")  # known only by its PID
    assert records["NVSwitch Temp"] == ("TMP75", 10, "0x4a")       # its static address
    r = cli("check", "--json", cwd=ws, unset=SCHEMA_OVERRIDES)  # the schemas shipped with the tool
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert res["entity-manager"]["status"] == "ok" and res["dtc"]["status"] == "ok", res


@needs_dtc
def test_qemu_twin_maps_onto_virt(workspace: Path) -> None:
    twin = workspace / MODULE / "boards/cmu/cmu610_evb_qemu"
    for cpu, sram in (("cpu0", "memory@80000000"), ("cpu1", "memory@800c0000")):
        out = _compile(workspace, twin / f"cmu610_evb_qemu_cmu610_{cpu}.dts", "dts").stdout
        for node in (sram, "serial@10000000", "timer@2000000", "interrupt-controller@c000000", "flash@20000000"):
            assert node in out, (cpu, node)
        assert "cmu,cmu610-i2c" not in out  # virt has no such block: the BMC's sensors sit on emulated buses
        assert out.count("i2c@") == out.count('compatible = "zephyr,i2c-emul-controller"')


@needs_dtc
def test_dtc_check_fails_on_a_broken_tree(cli: Cli, workspace: Path) -> None:
    dts = workspace / MODULE / "boards/cmu/cmu610_evb/cmu610_evb_cmu610_cpu1.dts"
    dts.write_text(dts.read_text().replace("reg = <0x48>;", "reg = <0x1ff>;"))
    r = cli("check", cwd=workspace)
    assert r.returncode == 2
    assert "cmu610_evb_cmu610_cpu1.dts: dtc:" in r.stdout and "i2c_bus_reg" in r.stdout


def test_kconfig_check_fails_on_bad_kconfig(cli: Cli, workspace: Path) -> None:
    kc = workspace / MODULE / "soc/cmu/cmu610/Kconfig"
    kc.write_text(kc.read_text().replace("select RISCV\n", "select RISCV if (\n"))
    r = cli("check", cwd=workspace)
    assert r.returncode == 2 and "kconfig" in r.stdout and "failed" in r.stdout


def test_schema_check_fails_on_bad_board_yml(cli: Cli, workspace: Path, zephyr_schemas: Path) -> None:
    by = workspace / MODULE / "boards/cmu/cmu610_evb/board.yml"
    by.write_text(by.read_text().replace("  vendor:", "  colour: red\n  vendor:"))
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert r.returncode == 2 and res["zephyr-schemas"]["status"] == "failed"
    assert res["zephyr-schemas"]["findings"][0]["file"].endswith("cmu610_evb/board.yml")


def test_bitbake_parse_fails_on_broken_machine_data(cli: Cli, workspace: Path) -> None:
    conf = workspace / "meta-cmu610/conf/machine/cmu610-evb.conf"
    conf.write_text(conf.read_text().replace('FLASH_BMC_FW_A_OFFSET = "4096"', 'FLASH_BMC_FW_A_OFFSET = "4095"'))
    inc = workspace / "meta-cmu610/conf/machine/include/cmu610.inc"
    r = cli("check", "--json", cwd=workspace)
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert res["bitbake-parse"]["status"] == "failed"
    assert any(f["field"] == "FLASH_BMC_FW_A_OFFSET" for f in res["bitbake-parse"]["findings"])
    inc.write_text(inc.read_text() + 'BROKEN = "unterminated\n')
    r = cli("check", "--json", cwd=workspace)
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert any(f["field"] == "bitbake" for f in res["bitbake-parse"]["findings"])


def test_oelint_and_kas_and_em_checks_fail_on_bad_files(cli: Cli, workspace: Path) -> None:
    img = workspace / "meta-cmu610/recipes-core/images/cmu610-littlebmc-image.bb"
    img.write_text(img.read_text().replace('IMAGE_FEATURES += "\\', 'IMAGE_FEATURES += " \\'))
    kas = workspace / "configs/kas/bigbmc.yml"
    kas.write_text(kas.read_text() + "no_such_key: 1\n")
    em = workspace / "meta-cmu610/recipes-phosphor/configuration/files/cmu610-evb.json"
    data = json.loads(em.read_text())
    data["Exposes"][0]["Bus"] = [0]
    em.write_text(json.dumps(data))
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert res["oelint"]["status"] == "failed"
    assert res["kas-schema"]["status"] == "failed" and res["kas-schema"]["findings"][0]["file"] == "configs/kas/bigbmc.yml"
    assert res["entity-manager"]["status"] == "failed"


def test_bitbake_parse_checks_the_firmware_chain(cli: Cli, workspace: Path) -> None:
    """The firmware recipes, their classes and the flash image are parsed by BitBake's parser and
    linted by oelint-adv; a toolchain missing from the signatures or a line image that no longer
    builds the flash image is a finding. (The fakeroot dependencies the classes strip come from
    oe-core's base.bbclass, stood in empty here: the OpenBMC build test covers those.)"""
    layer = workspace / "meta-cmu610"
    assert sorted(p.name for p in (layer / "recipes-bsp").rglob("*.bb")) == [
        "cmu610-bmc-fw_1.0.bb", "cmu610-flash-image_1.0.bb", "cmu610-secure-fw_1.0.bb", "cmu610-zephyr-source_1.0.bb"]
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    res = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert res["bitbake-parse"]["status"] == "ok" and res["oelint"]["status"] == "ok", res
    cls = layer / "classes/cmu610_baremetal.bbclass"
    cls.write_text(cls.read_text().replace('do_compile[vardeps] += "CMU610_TOOLCHAIN_ID"', ""))
    image = layer / "recipes-core/images/cmu610-littlebmc-image.bb"
    image.write_text(image.read_text().replace('do_image_complete[depends] += "cmu610-flash-image-${MACHINE}:do_deploy"', ""))
    zcls = layer / "classes/cmu610_zephyr.bbclass"
    zcls.write_text(zcls.read_text().replace('do_configure[depends] += "cmu610-zephyr-source:do_patch"', ""))
    r = cli("check", "--json", cwd=workspace, unset=SCHEMA_OVERRIDES)
    found = {(f["file"].rsplit("/", 1)[-1], f["field"]) for f in
             {c["name"]: c for c in json.loads(r.stdout)["checks"]}["bitbake-parse"]["findings"]}
    assert r.returncode == 2
    # the recipes' variants (one a board, one a secure domain) are what build: findings name them
    variant = {(name, field.split(" (")[0]) for name, field in found if field.endswith(")")}
    for recipe in ("cmu610-secure-fw_1.0.bb", "cmu610-flash-image_1.0.bb"):
        assert (recipe, "do_compile[vardeps]") in variant
    assert ("cmu610-littlebmc-image.bb", "do_image_complete[depends]") in found
    assert ("cmu610-bmc-fw_1.0.bb", "do_configure[depends]") in variant
