"""Bad descriptions are rejected before anything is written: every finding names the file, the
field path and the reason, and the workspace stays byte-for-byte as it was.

Every case is a small edit of the shipped default board (configs/boards/cmu610-evb.yaml) or of
the SoC file (configs/soc/cmu610.yaml), made as text so the rest of the file stays as shipped.
The table runs in-process against the loader every command uses (milliseconds a case); a few
cases at the end run the real CLI for the exit code and the printed message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

from cmu610bsp import generate, i3c, init, workspace
from cmu610bsp.errors import BspError
from cmu610bsp.kinds import KINDS
from cmu610bsp.model import PeripheralKind, load_board, load_soc
from cmu610bsp.validate import board_labels, soc_labels
from conftest import BMC_DTS, BOARD, REPO, SOC, Cli, snapshot


@dataclass(frozen=True)
class Case:
    id: str
    target: str                                  # BOARD or SOC (workspace-relative)
    edits: tuple[tuple[str, str], ...]           # (old, new): each old must occur exactly once
    findings: tuple[str, ...]                    # every expected "field: reason" in the target
    encoding: str = "utf-8"                      # how the edited file is saved

    def apply(self, text: str) -> str:
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} occurs {text.count(old)} times in {self.target}"
            text = text.replace(old, new)
        return text


def case(id: str, target: str, edits: tuple[tuple[str, str], ...], *findings: str, encoding: str = "utf-8") -> Case:
    return Case(id, target, edits, findings, encoding)


def _bomb(levels: int) -> str:
    """Nested anchors, each level nine aliases of the one below: 9**levels values expanded."""
    lines = ["x-b0: &b0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"x-b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nsensors: *b{levels}\n"


LONG = "h" * 5000


def i3c_sensors(*sensors: str) -> tuple[tuple[str, str], ...]:
    """An edit adding sensors (flow mappings) after the shipped board's last one."""
    return (("\nfans:\n", "".join(f"  - {s}\n" for s in sensors) + "\nfans:\n"),)


CASES = [
    # ---- names that do not exist
    case('unknown-peripheral', BOARD, (('tach0, eth0, fmc]', 'tach0, eth0, fmc, uart9]'),),
         "domains.bmc.peripherals[15]: unknown peripheral 'uart9' (not in the SoC description)",),
    case('unknown-sensor-kind', BOARD, (('kind: ina230', 'kind: ina999'),),
         "sensors[3].kind: unknown sensor kind 'ina999' (known: adc, adm1275, emc1413, ina219, ina230, lm75a, p3t1755, "
         "tmp112, tmp421, tmp75)",),
    case('hart-not-in-soc', BOARD, (('    hart: 1\n', '    hart: 5\n'),),
         'domains.bmc.hart: the SoC has no hart 5',),
    # ---- shape: unknown fields, wrong types, missing fields
    case('unknown-field-typo', BOARD, (('{name: fan1, pwm: pwm0, pwm_channel: 1', '{name: fan1, pwm: pwm0, pwm_chanel: 1'),),
         'fans[1].pwm_chanel: unknown field', 'fans[1].pwm_channel: Field required'),
    case('unknown-top-level-field', BOARD, (('\nnetwork:\n', '\nnetwrok:\n'),),
         'netwrok: unknown field',),
    case('wrong-type-address', BOARD, (('bus: i2c1, address: 0x40', 'bus: i2c1, address: forty'),),
         'sensors[3].address: Input should be a valid integer',),
    case('wrong-type-list', BOARD, (('product_lines: [bigbmc, littlebmc]', 'product_lines: bigbmc'),),
         'product_lines: Input should be a valid list',),
    case('wrong-type-bool-for-hart', BOARD, (('    hart: 1\n', '    hart: true\n'),),
         'domains.bmc.hart: Input should be a valid integer',),
    case('missing-required-field', BOARD, (('    firmware: OpenBMC on Zephyr\n', ''),),
         'domains.bmc.firmware: Field required',),
    # ---- memory slices
    case('sram-slices-overlap', BOARD,
         (('{region: sram, offset: 768K, size: 432K}', '{region: sram, offset: 512K, size: 432K}'),),
         'domains.bmc.memory[0]: sram slice overlaps domains.secure.memory[0]',),
    case('sram-over-committed', BOARD, (('{region: sram, offset: 0, size: 768K}', '{region: sram, offset: 0, size: 1M}'),),
         'domains.bmc.memory: sram over-committed across domains: 0x16c000 bytes given, 0x12c000 exist',
         'domains.bmc.memory[0]: sram slice overlaps domains.secure.memory[0]'),
    case('psram-slice-past-end', BOARD, (('{region: psram, offset: 1M, size: 7M}', '{region: psram, offset: 1M, size: 8M}'),),
         'domains.bmc.memory: psram over-committed across domains: 0x900000 bytes given, 0x800000 exist',
         'domains.bmc.memory[1]: psram slice ends at 0x900000, past the 0x800000-byte psram'),
    # ---- flash partitions
    case('partitions-overlap', BOARD, (('{name: bmc-fw-b, offset: 14M,', '{name: bmc-fw-b, offset: 13M,'),),
         'flash.partitions[4]: partition overlaps flash.partitions[3]',),
    case('partition-past-end-of-flash', BOARD,
         (('{name: bmc-log, offset: 28M, size: 4M,', '{name: bmc-log, offset: 28M, size: 8M,'),),
         'flash.partitions[6]: bmc-log ends at 0x2400000, past the end of the 0x2000000-byte flash',),
    case('partition-not-sector-aligned', BOARD,
         (('{name: bmc-config, offset: 24M, size: 4M,', '{name: bmc-config, offset: 24M, size: 0x3ff800,'),),
         'flash.partitions[5]: bmc-config: offset and size must be multiples of the 4096-byte sector',),
    case('secure-partition-owned-by-bmc', BOARD,
         (('{name: keys, offset: 2M, size: 64K, owner: secure,', '{name: keys, offset: 2M, size: 64K, owner: bmc,'),),
         'flash.partitions[2].owner: keys is a secure partition and cannot be given to the BMC domain',),
    case('keys-partition-not-secure', BOARD,
         (('{name: keys, offset: 2M, size: 64K, owner: secure, secure: true}', '{name: keys, offset: 2M, size: 64K, '
           'owner: bmc}'),),
         'flash.partitions[2].owner: keys: must be owned by the secure domain and secure: true (it holds what the '
         'boot stage trusts)',),
    case('no-keys-partition', BOARD,
         (('{name: keys, offset: 2M, size: 64K,', '{name: vault, offset: 2M, size: 64K,'),),
         "flash.partitions: no partition named keys: it holds the image signing keys' hashes and the anti-rollback "
         "counters the boot stage verifies by",),
    case('partition-names-same-dt-label', BOARD, (('{name: bmc-config,', '{name: bmc_log,'),),
         "flash.partitions[5].name: 'bmc_log' becomes the devicetree label part_bmc_log, as does "
         "flash.partitions[6].name ('bmc-log')",
         "flash.partitions[6].name: 'bmc-log' becomes the devicetree label part_bmc_log, as does "
         "flash.partitions[5].name ('bmc_log')"),
    # ---- flash partition roles (what the boot stage and cmu610bsp/flash.py rely on)
    case('no-boot-partition', BOARD, (('read_only: true, role: boot}', 'read_only: true}'),),
         'flash.partitions: no boot partition (role: boot): the harts would have nothing to start',),
    case('two-boot-partitions', BOARD, (('{name: keys, offset: 2M, size: 64K, owner: secure, secure: true}',
                                         '{name: keys, offset: 2M, size: 64K, owner: secure, secure: true, role: boot}'),),
         'flash.partitions[2].role: keys: a second boot partition (the first is secure-boot)',
         'flash.partitions[2].offset: keys: the boot partition must start at 0x0, where the harts start'),
    case('boot-partition-owned-by-bmc', BOARD, (('read_only: true, role: boot}', 'read_only: true}'),
                                                 ('{name: bmc-config, offset: 24M, size: 4M, owner: bmc}',
                                                  '{name: bmc-config, offset: 24M, size: 4M, owner: bmc, role: boot}')),
         'flash.partitions[5].owner: bmc-config: the boot partition must be owned by the secure domain',
         'flash.partitions[5].offset: bmc-config: the boot partition must start at 0x0, where the harts start'),
    case('slot-on-a-data-partition', BOARD, (('{name: bmc-log, offset: 28M, size: 4M, owner: bmc}',
                                              '{name: bmc-log, offset: 28M, size: 4M, owner: bmc, slot: a}'),),
         'flash.partitions[6].slot: bmc-log: only a firmware partition has a slot',),
    case('domain-without-firmware', BOARD, (('owner: secure, secure: true, role: firmware}', 'owner: secure, secure: true}'),),
         'flash.partitions: no firmware partition (role: firmware) for the secure domain',),
    case('two-firmware-partitions-without-slots', BOARD,
         (('{name: keys, offset: 2M, size: 64K, owner: secure, secure: true}',
           '{name: keys, offset: 2M, size: 64K, owner: secure, secure: true, role: firmware}'),),
         "flash.partitions[2].slot: the secure domain's firmware partitions are secure-fw (slot none), keys (slot none): "
         "give one without a slot, or slots a and b",),
    case('slot-a-without-slot-b', BOARD, (('owner: bmc, role: firmware, slot: b}', 'owner: bmc}'),),
         "flash.partitions[3].slot: the bmc domain's firmware partitions are bmc-fw-a (slot a): "
         "give one without a slot, or slots a and b",),
    case('ab-slots-differ-in-size', BOARD,
         (('{name: bmc-fw-b, offset: 14M, size: 10M,', '{name: bmc-fw-b, offset: 14M, size: 8M,'),),
         'flash.partitions[4].size: bmc-fw-b is 0x800000 bytes, its slot a bmc-fw-a 0xa00000: A/B slots must be the same size',),
    # ---- sensors
    case('two-sensors-one-address', BOARD, (('bus: i2c0, address: 0x49', 'bus: i2c0, address: 0x48'),),
         'sensors[1].address: i2c0 address 0x48 is already used by inlet_temp',),
    case('sensor-on-disabled-bus', BOARD, (('bus: i2c0, address: 0x48', 'bus: i2c3, address: 0x48'),),
         'sensors[0].bus: i2c3 is disabled on this board (no domain owns it)',),
    case('sensor-on-secure-bus', BOARD, (('bus: i2c1, address: 0x4c', 'bus: i2c7, address: 0x4c'),),
         'sensors[2].bus: i2c7 is owned by the secure domain, not the BMC domain',),
    case('sensor-name-clashes-with-soc-label', BOARD, (('{name: inlet_temp,', '{name: uart1,'),),
         "sensors[0].name: 'uart1' becomes the devicetree label uart1, which is the SoC block uart1",),
    # ---- sensors on I3C (the shipped board's BMC domain owns i3c0 and i3c1; added sensors are 6, 7)
    case('i3c-duplicate-static-address', BOARD, i3c_sensors(
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, address: 0x48, pid: 0x0236152a0090}',
        '{name: gpu1_temp, label: GPU1 Temp, kind: p3t1755, bus: i3c0, address: 0x48, pid: 0x0236152a0091}'),
         'sensors[7].address: i3c0 address 0x48 is already used by gpu0_temp',),
    case('i3c-dynamic-address-taken-by-legacy-device', BOARD, i3c_sensors(
        '{name: gpu0_power, label: GPU0 Power, kind: ina230, bus: i3c0, address: 0x40}',
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, pid: 0x0236152a0090, assigned_address: 0x40}'),
         'sensors[7].assigned_address: i3c0 address 0x40 is already used by gpu0_power',),
    case('i3c-duplicate-pid', BOARD, i3c_sensors(
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, address: 0x48, pid: 0x0236152a0090}',
        '{name: gpu1_temp, label: GPU1 Temp, kind: p3t1755, bus: i3c0, address: 0x49, pid: 0x0236152a0090}'),
         'sensors[7].pid: i3c0 PID 0x0236152a0090 is already used by gpu0_temp',),
    case('i3c-part-on-i2c-bus', BOARD, i3c_sensors(
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i2c2, address: 0x48, pid: 0x0236152a0090}'),
         'sensors[6].bus: i2c2 is of kind i2c; a sensor of kind p3t1755 needs a block of kind i3c',),
    case('i2c-part-on-gpio', BOARD, i3c_sensors('{name: gpu0_power, label: GPU0 Power, kind: ina230, bus: gpio0, address: 0x40}'),
         'sensors[6].bus: gpio0 is of kind gpio; a sensor of kind ina230 needs a block of kind i2c or i3c',),
    case('pid-not-48-bit', BOARD, i3c_sensors(
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, pid: 0x1000000000000}'),
         'sensors[6].pid: 0x1000000000000 is not a 48-bit provisioned ID',),
    case('i3c-target-without-address-or-pid', BOARD, i3c_sensors('{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0}'),
         'sensors[6]: an I3C target needs a static address (address), a provisioned ID (pid) or both',),
    case('i3c-reserved-dynamic-address', BOARD, i3c_sensors(
        '{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, pid: 0x0236152a0090, assigned_address: 0x3e}'),
         'sensors[6].assigned_address: 0x3e is reserved on an I3C bus (one bit away from the broadcast address 0x7e)',),
    case('legacy-i2c-on-i3c-without-lvr', BOARD,
         i3c_sensors('{name: gpu0_temp, label: GPU0 Temp, kind: tmp75, bus: i3c1, address: 0x48}'),
         'sensors[6].lvr: a sensor of kind tmp75 on the I3C bus i3c1 is a legacy I2C device: give its legacy virtual '
         f'register (lvr) here or in its sensor kind, {i3c.LVR_MEANING}',),
    case('legacy-i2c-on-i3c-bad-lvr', BOARD, i3c_sensors(
        '{name: gpu0_power, label: GPU0 Power, kind: ina230, bus: i3c0, address: 0x40, lvr: 0x61}'),
         f'sensors[6].lvr: 0x61 is not a legacy virtual register value: {i3c.LVR_MEANING}',),
    case('i3c-fields-on-i2c-bus', BOARD, (('bus: i2c0, address: 0x48', 'bus: i2c0, address: 0x48, pid: 0x1234, lvr: 0x10'),),
         'sensors[0].pid: only an I3C target has a provisioned ID',
         'sensors[0].lvr: only an I2C device on an I3C bus has a legacy virtual register'),
    # ---- domains and ownership
    case('secure-only-rot-to-bmc', BOARD, (('i2c7, rot, crypto', 'i2c7, crypto'), ('eth0, fmc]', 'eth0, fmc, rot]')),
         'domains.bmc.peripherals[15]: rot is a secure-only block (rot) and cannot be given to the BMC domain',),
    case('secure-only-otp-to-bmc', BOARD, (('eth0, fmc]', 'eth0, fmc, otp]'),),
         'domains.bmc.peripherals[15]: otp is a secure-only block (otp) and cannot be given to the BMC domain',),
    case('secure-only-keystore-to-bmc', BOARD,
         (('otp, keystore, iopmp', 'otp, iopmp'), ('[uart1, uart2,', '[keystore, uart1, uart2,')),
         'domains.bmc.peripherals[0]: keystore is a secure-only block (keystore) and cannot be given to the BMC domain',),
    case('peripheral-in-both-domains', BOARD, (('eth0, fmc]', 'eth0, fmc, wdt0]'),),
         'domains.bmc.peripherals[15]: wdt0: already owned by the secure domain',),
    case('console-not-a-uart', BOARD, (('    console: uart1\n', '    console: i2c0\n'),),
         'domains.bmc.console: i2c0 is of kind i2c, not a uart',),
    case('console-not-owned', BOARD, (('    console: uart1\n', '    console: uart3\n'),),
         "domains.bmc.console: uart3 is not one of this domain's peripherals",),
    case('both-domains-same-hart', BOARD, (('    hart: 1\n', '    hart: 0\n'),),
         'domains.bmc.hart: both domains run on the same hart',),
    case('network-on-unowned-ethernet', BOARD, (('tach0, eth0, fmc]', 'tach0, fmc]'),),
         'network.interface: eth0 is disabled on this board (no domain owns it)',),
    # ---- gpio lines and fans
    case('gpio-line-beyond-ngpios', BOARD, (('line: 8, role: presence', 'line: 32, role: presence'),),
         'gpio_lines[7].line: gpio1 has no line 32',),
    case('gpio-line-twice', BOARD,
         (('{name: RESET_OUT, controller: gpio0, line: 3,', '{name: RESET_OUT, controller: gpio0, line: 2,'),),
         'gpio_lines[3].line: gpio0 line 2 is already named POWER_OUT',),
    case('fan-pwm-channel-missing', BOARD, (('pwm_channel: 1', 'pwm_channel: 8'),),
         'fans[1].pwm_channel: pwm0 has no channel 8',),
    case('fan-name-twice', BOARD, (('{name: fan1, pwm: pwm0', '{name: fan0, pwm: pwm0'),),
         "fans[1].name: fan name 'fan0' is used twice",),
    # ---- the SoC file
    case('soc-peripheral-windows-overlap', SOC,
         (('uart1: {kind: uart, compatible: ns16550, base: 0x40001000',
          'uart1: {kind: uart, compatible: ns16550, base: 0x40000000'),),
         'peripherals.uart1: address window overlaps peripherals.uart0',),
    case('soc-unknown-field', SOC, (('pmp_slots: 16', 'pmp_slot: 16'),),
         'pmp_slot: unknown field', 'pmp_slots: Field required'),
    case('soc-wrong-type', SOC, (('irq: 9,', 'irq: nine,'),),
         'peripherals.i2c1.irq: Input should be a valid integer',),
    case('soc-missing-field', SOC, (('timebase_frequency: 1000000   # provisional machine-timer rate\n', ''),),
         'timebase_frequency: Field required',),
    # ---- YAML syntax: the finding names the line
    case('yaml-mapping-in-value', BOARD, (('  hostname: cmu610-evb', '  hostname: cmu610-evb: lab'),),
         'line 67: mapping values are not allowed in this context',),
    case('yaml-tab-indent', BOARD, (('    console: uart1\n', '    console: uart1\n\tfirmware: tabbed\n'),),
         'line 21: found a tab character that violates indentation',),
    case('soc-yaml-syntax', SOC, (('pmp_slots: 16', 'pmp_slots: 16 16: x'),),
         'line 33: mapping values are not allowed in this context',),
    case('yaml-unclosed-quote', BOARD,
         (('  - {name: POWER_OUT, controller: gpio0,', '  - {name: POWER_OUT, label: "oops, controller: gpio0,'),),
         'line 57: while scanning a quoted scalar that starts here: found unexpected end of stream (line 68)',),
    case('yaml-duplicate-key', BOARD, (('\nfans:\n', '\nsensors: []\n\nfans:\n'),),
         "sensors: duplicate key 'sensors' (first at line 36, again at line 50): the second would replace the first",),
    case('bad-product-line', BOARD, (('product_lines: [bigbmc, littlebmc]', 'product_lines: [bigbmc, hugebmc]'),),
         "product_lines[1]: 'hugebmc' is not allowed: 'bigbmc' or 'littlebmc'",),
    case('i2c-address-out-of-range', BOARD, (('bus: i2c0, address: 0x48', 'bus: i2c0, address: 0x20'),),
         'sensors[0].address: 0x20 is outside 0x48..0x4f, where a sensor of kind tmp75 answers',),
    case('thresholds-do-not-rise', BOARD,
         (('thresholds: {warning_high: 40, critical_high: 50}', 'thresholds: {warning_high: 60, critical_high: 50}'),),
         'sensors[0].thresholds: thresholds must rise: critical_low <= warning_low <= warning_high <= critical_high',),
    case('soc-unknown-kind', SOC, (('uart1: {kind: uart,', 'uart1: {kind: usb,'),),
         "peripherals.uart1.kind: 'usb' is not allowed: 'uart', 'i2c', 'i3c', 'adc', 'gpio', 'pwm', 'tach', "
         "'watchdog', 'ethernet', 'flash-controller', 'mailbox', 'rot', 'crypto', 'otp', 'keystore' or 'iopmp'",),
    # ---- hostile or careless input: bounded work, values cut in messages, the byte located
    case('yaml-alias-bomb', BOARD, (('\nfans:\n', '\n' + _bomb(6) + '\nfans:\n'),),
         'line 54: alias *b3 expands to 7381 values: aliases would add more than 10000 values to this file '
         '(nested aliases multiply)',),
    case('long-value-cut', BOARD, (('product_lines: [bigbmc, littlebmc]', f'product_lines: [bigbmc, {LONG}]'),),
         f"product_lines[1]: '{LONG[:79]}... (5000 characters) is not allowed: 'bigbmc' or 'littlebmc'",),
    case('latin-1-comment', BOARD, (('# CMU610 evaluation board', '# CMU610 \u00e9valuation board'),),
         'line 1, column 10: byte 0xe9 (offset 9) is not UTF-8', encoding="latin-1"),
    case('latin-1-value', BOARD, (('full_name: CMU610 evaluation board', 'full_name: CMU610 \u00e9valuation board'),),
         'line 4, column 19: byte 0xe9 (offset 102) is not UTF-8', encoding="latin-1"),
    case('utf-16-text', BOARD, (), 'line 1, column 1: the file is UTF-16 text, not UTF-8', encoding="utf-16"),
    case('soc-non-utf8-byte', SOC, (('pmp_slots: 16', 'pmp_slots: 16 # \u00ff'),),
         'line 33, column 17: byte 0xff (offset 1291) is not UTF-8', encoding="latin-1"),
    case('sensor-labels-twice', BOARD, (('label: Outlet Temp', 'label: Inlet Temp'),),
         "sensors[1].label: outlet_temp's label 'Inlet Temp' is also the label of sensors[0].label (inlet_temp): "
         "two entity-manager sensors with one Name",),
    case('sensor-labels-same-dbus-name', BOARD, (('label: P3V3', 'label: SoC_VR Temp'),),
         "sensors[5].label: p3v3's label 'SoC_VR Temp' is also the label of sensors[2].label (soc_vr_temp): "
         "two entity-manager sensors with one Name",),
    case('hostname-too-long', BOARD, (('  hostname: cmu610-evb', '  hostname: ' + 'cmu610-evb-' * 6 + 'rack42'),),
         f"network.hostname: {'cmu610-evb-' * 6 + 'rack42'!r} is 72 characters long: a host name has at most 63",),
    case('hostname-trailing-dash', BOARD, (('  hostname: cmu610-evb', '  hostname: cmu610-evb-'),),
         "network.hostname: 'cmu610-evb-' is not a host name: use a-z, 0-9 and '-', not first or last",),
    case('yaml-unclosed-bracket', BOARD, (('product_lines: [bigbmc, littlebmc]', 'product_lines: [bigbmc, littlebmc'),),
         "line 8: did not find expected ',' or ']'",),
]

# Cases also fed to `init DIR --board BADFILE` (board files only: init uses the built-in SoC).
INIT_CASES = ["unknown-peripheral", "unknown-sensor-kind", "sram-slices-overlap", "partitions-overlap",
              "secure-only-rot-to-bmc", "yaml-tab-indent", "bad-product-line"]


def _params(cases: list[Case]) -> list[object]:
    return [pytest.param(c, id=c.id) for c in cases]


def _edited(ws: Path, c: Case) -> Path:
    path = ws / c.target
    path.write_text(c.apply(path.read_text()), encoding=c.encoding)
    return path


@pytest.mark.parametrize("c", _params(CASES))
def test_generate_rejects_bad_description(workspace: Path, c: Case) -> None:
    """Exactly the expected findings, all naming the edited file, and nothing written."""
    path = _edited(workspace, c)
    before = snapshot(workspace)
    with pytest.raises(BspError) as info:
        workspace_generate(workspace)
    assert [str(f) for f in info.value.findings] == sorted(f"{path}: {f}" for f in c.findings)
    assert snapshot(workspace) == before


def workspace_generate(root: Path) -> generate.GenerateResult:
    """What `cmu610bsp generate -w ROOT` does, without the process around it."""
    return generate.generate(workspace.open_workspace(root))


@pytest.mark.parametrize("c", _params([c for c in CASES if c.id in INIT_CASES]))
def test_init_rejects_bad_board_file(tmp_path: Path, c: Case) -> None:
    """init validates the user's own file (findings name it) and creates nothing: not the target,
    not a scratch directory beside it, nothing in an existing directory of the user's."""
    bad = tmp_path / "boards" / "bad-board.yaml"
    bad.parent.mkdir()
    bad.write_text(c.apply((REPO / BOARD).read_text()))
    parent = tmp_path / "dest"
    parent.mkdir()
    target = parent / "ws"
    existing = INIT_CASES.index(c.id) % 2 == 1
    if existing:
        target.mkdir()
        (target / "notes.txt").write_text("mine\n")
    before = snapshot(parent)
    with pytest.raises(BspError) as info:
        init.init(target, str(bad))
    assert [str(f) for f in info.value.findings] == sorted(f"{bad}: {f}" for f in c.findings)
    assert snapshot(parent) == before


def test_every_finding_is_reported_at_once(workspace: Path) -> None:
    """Three independent mistakes in one edit: one run names all three."""
    c = case("three", BOARD, (("kind: ina230", "kind: ina999"), ("    hart: 1\n", "    hart: 0\n"),
                              ("{name: bmc-fw-b, offset: 14M,", "{name: bmc-fw-b, offset: 13M,")))
    path = _edited(workspace, c)
    before = snapshot(workspace)
    with pytest.raises(BspError) as info:
        workspace_generate(workspace)
    assert [f.field for f in info.value.findings] == ["domains.bmc.hart", "flash.partitions[4]", "sensors[3].kind"]
    assert {f.file for f in info.value.findings} == {str(path)}
    assert snapshot(workspace) == before


def test_the_shipped_descriptions_are_valid(workspace: Path) -> None:
    """The baseline every case above edits passes, so each rejection is the edit's doing."""
    assert (workspace / BOARD).read_text() == (REPO / BOARD).read_text()
    assert (workspace / SOC).read_text() == (REPO / SOC).read_text()
    before = snapshot(workspace)
    assert workspace_generate(workspace).changes == {}
    assert snapshot(workspace) == before


def test_i3c_targets_and_legacy_i2c_devices_are_accepted(workspace: Path) -> None:
    """A legacy I2C part on an I3C bus with its LVR (from its kind, or its own) and I3C targets by
    static address and PID, by PID only: accepted, and their reg cells follow Zephyr's i3c-device.yaml."""
    c = case("i3c-ok", BOARD, i3c_sensors(
        "{name: gpu0_power, label: GPU0 Power, kind: ina230, bus: i3c0, address: 0x40}",
        "{name: gpu0_current, label: GPU0 Current, kind: ina219, bus: i3c1, address: 0x41, lvr: 0x50}",
        "{name: gpu0_temp, label: GPU0 Temp, kind: p3t1755, bus: i3c0, address: 0x48, pid: 0x0236152a0090, "
        "assigned_address: 0x09}",
        "{name: gpu1_temp, label: GPU1 Temp, kind: p3t1755, bus: i3c1, pid: 0x0236152a0091}"))
    _edited(workspace, c)
    workspace_generate(workspace)
    dts = (workspace / BMC_DTS).read_text()
    for node, reg in (("power-sensor@400000000000000010", "<0x40 0x0 0x10>"),
                      ("current-sensor@410000000000000050", "<0x41 0x0 0x50>"),
                      ("temperature-sensor@4800000236152a0090", "<0x48 0x236 0x152a0090>"),
                      ("temperature-sensor@236152a0091", "<0x0 0x236 0x152a0091>")):
        assert re.search(rf"{node} {{\n\t\tcompatible = \"[^\"]+\";\n\t\treg = {reg};\n", dts), (node, dts)
    assert "assigned-address = <0x9>;" in dts


def test_validation_knows_every_devicetree_label() -> None:
    """The label rules compare against `soc_labels` + `board_labels`: every label the rendered
    trees of the reference workspace define must be one of them, or a clash could slip past."""
    soc = load_soc(REPO / SOC)
    board = load_board(REPO / BOARD)
    trees = sorted((REPO / "meta-cmu610" / "zephyr").rglob("*.dts*"))
    assert len(trees) >= 7, trees
    defined = {m for t in trees for m in re.findall(r"^\s*([a-z_][a-z0-9_]*):\s+[a-z]", t.read_text(), re.M)}
    from_board = {lab for lab, _, _ in board_labels(board)}
    assert defined - set(soc_labels(soc)) - from_board == set()
    assert from_board <= defined


def test_every_peripheral_kind_has_a_table_entry() -> None:
    """The kinds the SoC file may name and the table the bindings and trees come from agree."""
    assert set(KINDS) == set(get_args(PeripheralKind))


# ---- the real CLI: exit code 2, the message on stderr, no traceback, nothing written
CLI_CASES = [("unknown-peripheral", "error: the description has errors; nothing was written"),
             ("soc-wrong-type", "invalid description"),
             ("yaml-unclosed-quote", "error: invalid YAML")]


@pytest.mark.parametrize(("case_id", "headline"), CLI_CASES, ids=[c for c, _ in CLI_CASES])
def test_cli_generate_exits_2_and_prints_the_findings(cli: Cli, workspace: Path, case_id: str, headline: str) -> None:
    c = next(c for c in CASES if c.id == case_id)
    path = _edited(workspace, c)
    before = snapshot(workspace)
    r = cli("generate", cwd=workspace)
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.stderr.startswith("error: ") and headline in r.stderr.splitlines()[0], r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for f in c.findings:
        assert f"  {path}: {f}" in r.stderr.splitlines(), r.stderr
    assert snapshot(workspace) == before


def test_cli_init_with_bad_board_exits_2_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    c = next(c for c in CASES if c.id == "secure-only-rot-to-bmc")
    bad = tmp_path / "bad-board.yaml"
    bad.write_text(c.apply((REPO / BOARD).read_text()))
    r = cli("init", str(tmp_path / "new-ws"), "--board", str(bad))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: the board description has errors; nothing was written"), r.stderr
    assert f"  {bad}: {c.findings[0]}" in r.stderr.splitlines(), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad-board.yaml"]  # no target, no scratch


@pytest.mark.parametrize("command", [("check",), ("sync", "--allow-dirty"), ("generate",), ("board", "show")])
def test_cli_non_utf8_description_exits_2_naming_the_byte(cli: Cli, workspace: Path, command: tuple[str, ...]) -> None:
    """A Latin-1 byte in a comment: every command that reads the description names the file and
    the position, exits 2, writes nothing (it used to be exit 1, UnicodeDecodeError)."""
    c = next(c for c in CASES if c.id == "latin-1-comment")
    path = _edited(workspace, c)
    before = snapshot(workspace)
    r = cli(*command, cwd=workspace)
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert f"{path}: {c.findings[0]}" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert snapshot(workspace) == before


def test_cli_init_with_utf16_board_exits_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "utf16-board.yaml"
    bad.write_text((REPO / BOARD).read_text(), encoding="utf-16")
    r = cli("init", str(tmp_path / "new-ws"), "--board", str(bad))
    assert r.returncode == 2, r.stderr
    assert f"  {bad}: line 1, column 1: the file is UTF-16 text, not UTF-8" in r.stderr.splitlines(), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["utf16-board.yaml"]


def test_cli_prints_at_most_50_findings_and_counts_the_rest(cli: Cli, workspace: Path) -> None:
    """Thousands of unknown keys: the message stays short (it printed one line per key)."""
    c = case("many-unknown-keys", BOARD, (("\nfans:\n", "\n" + "".join(f"x{i}: 1\n" for i in range(3000)) + "\nfans:\n"),))
    _edited(workspace, c)
    r = cli("generate", cwd=workspace)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 52 and lines[-1] == "  ... and 2950 more", lines[:3] + lines[-3:]
