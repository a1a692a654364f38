"""The data issue 23 adds to the descriptions, and its refusals: the OpenBMC components a product
line's BMC firmware takes (`firmware.openbmc`, components.py), the harts' MCTP endpoints and
shared window (`mctp:` of a board, mctp.py), the twin's emulator of each sensor kind (`twin:` of
the sensor catalogue, sensor_twin.py). In-process against the loader every command uses; one case
through the CLI for the exit code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cmu610bsp import components, mctp
from cmu610bsp.errors import BspError
from cmu610bsp.project import load_project
from conftest import BOARD, REPO, Cli, edit, snapshot

CATALOG = "configs/catalog/sensor-kinds.yaml"


def findings(root: Path) -> list[str]:
    with pytest.raises(BspError) as info:
        load_project(root)
    return [str(f) for f in info.value.findings]


def test_the_shipped_lines_take_libpldm_and_libmctp(workspace: Path) -> None:
    project = load_project(workspace)
    for product in project.products:
        assert components.for_line(product) == ("libpldm", "libmctp")
    assert components.used(project.products) == ("libpldm", "libmctp")
    assert components.COMPONENTS["libpldm"].cmake_var == "LIBPLDM_SOURCE"
    assert components.COMPONENTS["libmctp"].cmake_var == "LIBMCTP_SOURCE"


def test_an_unknown_component_is_refused_naming_the_file_and_field(workspace: Path) -> None:
    product = workspace / "configs/products/littlebmc.yaml"
    edit(product, "openbmc: [libpldm, libmctp]", "openbmc: [libpldm, phosphor-fan]")
    assert findings(workspace) == [f"{product}: firmware.openbmc[1]: no integration of the OpenBMC recipe "
                                   "'phosphor-fan' into the firmware is known (known: libpldm, libmctp)"]


def test_cli_refuses_an_unknown_component_with_exit_2_and_writes_nothing(cli: Cli, workspace: Path) -> None:
    product = workspace / "configs/products/bigbmc.yaml"
    edit(product, "openbmc: [libpldm, libmctp]", "openbmc: [libspdm]")
    before = snapshot(workspace)
    r = cli("generate", cwd=workspace)
    assert r.returncode == 2, r.stderr
    assert f"  {product}: firmware.openbmc[0]: no integration of the OpenBMC recipe 'libspdm'" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(workspace) == before


def test_a_component_named_twice_is_refused(workspace: Path) -> None:
    product = workspace / "configs/products/littlebmc.yaml"
    edit(product, "openbmc: [libpldm, libmctp]", "openbmc: [libpldm, libpldm]")
    (found,) = findings(workspace)
    assert found.startswith(f"{product}: firmware.openbmc:"), found


def test_default_endpoints_and_window_come_from_the_bmc_domains_memory(workspace: Path) -> None:
    """No `mctp:` in the evb: EIDs 9 (secure) and 8 (BMC), one page from the end of the BMC's PSRAM."""
    board = load_project(workspace).boards[0]
    ep = mctp.endpoints(board)
    assert (ep.secure_eid, ep.bmc_eid) == (9, 8)
    psram = next(s for s in board.domains.bmc.memory if s.region == "psram")
    assert ep.window == mctp.Window("psram", psram.offset + psram.size - 4096, 4096, "bmc")
    assert mctp.carved(board, "bmc", "psram") == 4096
    assert mctp.carved(board, "bmc", "sram") == mctp.carved(board, "secure", "psram") == 0


def _mctp(ws: Path, text: str) -> Path:
    path = ws / BOARD
    edit(path, "\nflash:\n", f"\nmctp:\n{text}\nflash:\n")
    return path


def test_given_endpoints_and_window_are_taken(workspace: Path) -> None:
    """A window in PSRAM no domain owns once the BMC's slice is shortened."""
    path = _mctp(workspace, "  secure_eid: 20\n  bmc_eid: 30\n  window: {region: psram, offset: 0x7ff000, size: 4K}")
    edit(path, "{region: psram, offset: 1M, size: 7M}", "{region: psram, offset: 1M, size: 6M}")
    ep = mctp.endpoints(load_project(workspace).boards[0])
    assert (ep.secure_eid, ep.bmc_eid, ep.window) == (20, 30, mctp.Window("psram", 0x7FF000, 4096))


@pytest.mark.parametrize(("given", "expected"), [
    ("  secure_eid: 7", ["mctp.secure_eid: EID 7 is not an endpoint ID an endpoint may take (8 to 254; "
                         "0 is null, 1-7 are reserved, 255 is broadcast)"]),
    ("  bmc_eid: 255", ["mctp.bmc_eid: EID 255 is not an endpoint ID an endpoint may take (8 to 254; "
                        "0 is null, 1-7 are reserved, 255 is broadcast)"]),
    ("  bmc_eid: 9", ["mctp.bmc_eid: EID 9 is both domains' (mctp.secure_eid and mctp.bmc_eid must differ; "
                      "defaults: secure 9, BMC 8)"]),
    ("  window: {region: psram, offset: 0x7ff000, size: 4K}",
     ["mctp.window: overlaps the bmc domain's memory (domains.bmc.memory[1], psram 0x100000+0x700000): "
      "the window must be memory no domain owns"]),
    ("  window: {region: sram, offset: 0, size: 4K}",
     ["mctp.window: overlaps the secure domain's memory (domains.secure.memory[0], sram 0x0+0xc0000): "
      "the window must be memory no domain owns"]),
    ("  window: {region: psram, offset: 8M, size: 4K}", ["mctp.window: ends at 0x801000, past the 0x800000-byte psram"]),
    ("  window: {region: psram, offset: 0x100, size: 4K}",
     ["mctp.window: offset and size must be 4 KiB aligned",
      "mctp.window: overlaps the secure domain's memory (domains.secure.memory[1], psram 0x0+0x100000): "
      "the window must be memory no domain owns"]),
], ids=["eid-reserved", "eid-broadcast", "eid-clash", "window-in-bmc", "window-in-secure", "window-past-end",
        "window-unaligned"])
def test_bad_endpoints_are_refused_naming_the_field(workspace: Path, given: str, expected: list[str]) -> None:
    path = _mctp(workspace, given)
    assert findings(workspace) == sorted(f"{path}: {e}" for e in expected)


def _catalog(ws: Path, old: str, new: str) -> Path:
    """The workspace reading its own copy of the shipped catalogue, edited."""
    path = ws / CATALOG
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((REPO / CATALOG).read_text())
    edit(path, old, new)
    edit(ws / "cmu610bsp.yml", "keep: []", f"catalog: {CATALOG}\nkeep: []")
    return path


def test_a_kind_with_no_emulator_is_refused_naming_it(workspace: Path) -> None:
    path = _catalog(workspace, ', addresses: [0x10, 0x1f], twin: "ti,ina230"}', ", addresses: [0x10, 0x1f]}")
    (found,) = findings(workspace)
    assert found.startswith(f"{path}: sensor_kinds.adm1275.twin: adm1275 has no Zephyr driver with an emulator "
                            "and no stand-in"), found


@pytest.mark.parametrize(("old", "new", "reason"), [
    ('addresses: [0x48, 0x4f], twin: "fintek,f75303"}\n  tmp112', 'addresses: [0x48, 0x4f], twin: "ti,ina230"}\n  tmp112',
     "sensor_kinds.tmp75.twin: ti,ina230 stands in for power/current; tmp75 measures temperature"),
    ('twin: "voltage-divider"', 'twin: "zephyr,adc-emul"',
     "sensor_kinds.adc.twin: zephyr,adc-emul: not an emulator the firmware can drive"),
    ('"adi,adm1275", entity_type: ADM1275, unit: power, addresses: [0x10, 0x1f], twin: "ti,ina230"',
     '"adi,adm1275", entity_type: ADM1275, unit: voltage, addresses: [0x10, 0x1f], twin: "voltage-divider"',
     "sensor_kinds.adm1275.twin: voltage-divider is an ADC channel; adm1275 is a bus device"),
], ids=["wrong-quantity", "unknown-emulator", "wrong-bus"])
def test_a_kind_with_an_unfit_emulator_is_refused(workspace: Path, old: str, new: str, reason: str) -> None:
    path = _catalog(workspace, old, new)
    (found,) = findings(workspace)
    assert found.startswith(f"{path}: {reason}"), found
