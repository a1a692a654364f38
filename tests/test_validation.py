"""Bad descriptions are rejected before anything is written: exit 2, the file and the field path
named, a reason given, no traceback, and the workspace byte-for-byte as it was.

Every case is a small edit of the shipped default board (configs/boards/cmu610-evb.yaml) or of
the SoC file (configs/soc/cmu610.yaml), made as text so the rest of the file stays as shipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cmu610bsp.model import load_board, load_soc
from cmu610bsp.validate import board_labels, soc_labels
from conftest import REPO, run_cli, snapshot

BOARD = "configs/boards/cmu610-evb.yaml"
SOC = "configs/soc/cmu610.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    target: str                                  # BOARD or SOC (workspace-relative)
    edits: tuple[tuple[str, str], ...]           # (old, new): each old must occur exactly once
    field: str                                   # expected field path, or "line N" for YAML syntax
    reason: str                                  # a word (or phrase) of the expected reason

    def apply(self, text: str) -> str:
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} occurs {text.count(old)} times in {self.target}"
            text = text.replace(old, new)
        return text


def _line_of(target: str, edits: tuple[tuple[str, str], ...], needle: str) -> str:
    """'line N' of the first line containing `needle` once the edits are applied."""
    text = (REPO / target).read_text()
    for old, new in edits:
        text = text.replace(old, new)
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return f"line {n}"
    raise AssertionError(f"{needle!r} not in the edited {target}")


_UNCLOSED_QUOTE = (("  - {name: POWER_OUT, controller: gpio0,", '  - {name: POWER_OUT, label: "oops, controller: gpio0,'),)
_MAPPING_IN_VALUE = (("  hostname: cmu610-evb", "  hostname: cmu610-evb: lab"),)
_TAB_INDENT = (("    console: uart1\n", "    console: uart1\n\tfirmware: tabbed\n"),)
_SOC_MAPPING_IN_VALUE = (("pmp_slots: 16", "pmp_slots: 16 16: x"),)

CASES = [
    # ---- names that do not exist
    Case("unknown-peripheral", BOARD, (("tach0, eth0, fmc]", "tach0, eth0, fmc, uart9]"),),
         "domains.bmc.peripherals[15]", "unknown peripheral"),
    Case("unknown-sensor-kind", BOARD, (("kind: ina230", "kind: ina999"),),
         "sensors[3].kind", "unknown sensor kind"),
    Case("hart-not-in-soc", BOARD, (("    hart: 1\n", "    hart: 5\n"),),
         "domains.bmc.hart", "no hart 5"),
    # ---- shape: unknown fields, wrong types, missing fields
    Case("unknown-field-typo", BOARD, (("{name: fan1, pwm: pwm0, pwm_channel: 1", "{name: fan1, pwm: pwm0, pwm_chanel: 1"),),
         "fans[1].pwm_chanel", "unknown field"),
    Case("unknown-top-level-field", BOARD, (("\nnetwork:\n", "\nnetwrok:\n"),),
         "netwrok", "unknown field"),
    Case("wrong-type-address", BOARD, (("bus: i2c1, address: 0x40", "bus: i2c1, address: forty"),),
         "sensors[3].address", "integer"),
    Case("wrong-type-list", BOARD, (("product_lines: [bigbmc, littlebmc]", "product_lines: bigbmc"),),
         "product_lines", "list"),
    Case("wrong-type-bool-for-hart", BOARD, (("    hart: 1\n", "    hart: true\n"),),
         "domains.bmc.hart", "integer"),
    Case("missing-required-field", BOARD, (("    firmware: OpenBMC on Zephyr\n", ""),),
         "domains.bmc.firmware", "required"),
    # ---- memory slices
    Case("sram-slices-overlap", BOARD, (("{region: sram, offset: 768K, size: 432K}", "{region: sram, offset: 512K, size: 432K}"),),
         "domains.bmc.memory[0]", "overlaps domains.secure.memory[0]"),
    Case("sram-over-committed", BOARD, (("{region: sram, offset: 0, size: 768K}", "{region: sram, offset: 0, size: 1M}"),),
         "domains.bmc.memory", "over-committed"),
    Case("psram-slice-past-end", BOARD, (("{region: psram, offset: 1M, size: 7M}", "{region: psram, offset: 1M, size: 8M}"),),
         "domains.bmc.memory[1]", "past the"),
    # ---- flash partitions
    Case("partitions-overlap", BOARD, (("{name: bmc-fw-b, offset: 14M,", "{name: bmc-fw-b, offset: 13M,"),),
         "flash.partitions[4]", "overlaps flash.partitions[3]"),
    Case("partition-past-end-of-flash", BOARD, (("{name: bmc-log, offset: 28M, size: 4M,", "{name: bmc-log, offset: 28M, size: 8M,"),),
         "flash.partitions[6]", "past the end"),
    Case("partition-not-sector-aligned", BOARD, (("{name: bmc-config, offset: 24M, size: 4M,", "{name: bmc-config, offset: 24M, size: 0x3ff800,"),),
         "flash.partitions[5]", "sector"),
    Case("secure-partition-owned-by-bmc", BOARD, (("{name: keys, offset: 2M, size: 64K, owner: secure,", "{name: keys, offset: 2M, size: 64K, owner: bmc,"),),
         "flash.partitions[2].owner", "secure partition"),
    Case("partition-names-same-dt-label", BOARD, (("{name: bmc-config,", "{name: bmc_log,"),),
         "flash.partitions[5].name", "bmc"),
    # ---- sensors
    Case("two-sensors-one-address", BOARD, (("bus: i2c0, address: 0x49", "bus: i2c0, address: 0x48"),),
         "sensors[1].address", "already used by inlet_temp"),
    Case("sensor-on-disabled-bus", BOARD, (("bus: i2c0, address: 0x48", "bus: i2c3, address: 0x48"),),
         "sensors[0].bus", "disabled"),
    Case("sensor-on-secure-bus", BOARD, (("bus: i2c1, address: 0x4c", "bus: i2c7, address: 0x4c"),),
         "sensors[2].bus", "secure domain"),
    Case("sensor-name-clashes-with-soc-label", BOARD, (("{name: inlet_temp,", "{name: uart1,"),),
         "sensors[0].name", "uart1"),
    # ---- domains and ownership
    Case("secure-only-rot-to-bmc", BOARD, (("i2c7, rot, crypto", "i2c7, crypto"), ("eth0, fmc]", "eth0, fmc, rot]")),
         "domains.bmc.peripherals[15]", "secure-only"),
    Case("secure-only-otp-to-bmc", BOARD, (("eth0, fmc]", "eth0, fmc, otp]"),),
         "domains.bmc.peripherals[15]", "secure-only"),
    Case("secure-only-keystore-to-bmc", BOARD, (("otp, keystore, iopmp", "otp, iopmp"), ("[uart1, uart2,", "[keystore, uart1, uart2,")),
         "domains.bmc.peripherals[0]", "secure-only"),
    Case("peripheral-in-both-domains", BOARD, (("eth0, fmc]", "eth0, fmc, wdt0]"),),
         "domains.bmc.peripherals[15]", "already owned by the secure domain"),
    Case("console-not-a-uart", BOARD, (("    console: uart1\n", "    console: i2c0\n"),),
         "domains.bmc.console", "not a uart"),
    Case("console-not-owned", BOARD, (("    console: uart1\n", "    console: uart3\n"),),
         "domains.bmc.console", "not one of this domain's peripherals"),
    Case("both-domains-same-hart", BOARD, (("    hart: 1\n", "    hart: 0\n"),),
         "domains.bmc.hart", "same hart"),
    Case("network-on-unowned-ethernet", BOARD, (("tach0, eth0, fmc]", "tach0, fmc]"),),
         "network.interface", "disabled"),
    # ---- gpio lines and fans
    Case("gpio-line-beyond-ngpios", BOARD, (("line: 8, role: presence", "line: 32, role: presence"),),
         "gpio_lines[7].line", "no line 32"),
    Case("gpio-line-twice", BOARD, (("{name: RESET_OUT, controller: gpio0, line: 3,", "{name: RESET_OUT, controller: gpio0, line: 2,"),),
         "gpio_lines[3].line", "already named POWER_OUT"),
    Case("fan-pwm-channel-missing", BOARD, (("pwm_channel: 1", "pwm_channel: 8"),),
         "fans[1].pwm_channel", "no channel 8"),
    Case("fan-name-twice", BOARD, (("{name: fan1, pwm: pwm0", "{name: fan0, pwm: pwm0"),),
         "fans[1].name", "used twice"),
    # ---- the SoC file
    Case("soc-peripheral-windows-overlap", SOC, (("uart1: {kind: uart, compatible: ns16550, base: 0x40001000", "uart1: {kind: uart, compatible: ns16550, base: 0x40000000"),),
         "peripherals.uart1", "overlaps peripherals.uart0"),
    Case("soc-unknown-field", SOC, (("pmp_slots: 16", "pmp_slot: 16"),),
         "pmp_slot", "unknown field"),
    Case("soc-wrong-type", SOC, (("irq: 9,", "irq: nine,"),),
         "peripherals.i2c1.irq", "integer"),
    Case("soc-missing-field", SOC, (("timebase_frequency: 1000000   # provisional machine-timer rate\n", ""),),
         "timebase_frequency", "required"),
    # ---- YAML syntax: the finding names the line
    Case("yaml-mapping-in-value", BOARD, _MAPPING_IN_VALUE,
         _line_of(BOARD, _MAPPING_IN_VALUE, "hostname: cmu610-evb: lab"), "mapping values"),
    Case("yaml-tab-indent", BOARD, _TAB_INDENT,
         _line_of(BOARD, _TAB_INDENT, "\tfirmware: tabbed"), "tab"),
    Case("soc-yaml-syntax", SOC, _SOC_MAPPING_IN_VALUE,
         _line_of(SOC, _SOC_MAPPING_IN_VALUE, "pmp_slots: 16 16: x"), "mapping values"),
    Case("yaml-unclosed-quote", BOARD, _UNCLOSED_QUOTE,
         _line_of(BOARD, _UNCLOSED_QUOTE, '"oops'), "quoted"),
    Case("yaml-duplicate-key", BOARD, (("\nfans:\n", "\nsensors: []\n\nfans:\n"),),
         "sensors", "duplicate"),
]

# Cases also fed to `cmu610bsp init DIR --board BADFILE` (board files only: init uses the built-in SoC).
INIT_CASES = ["unknown-peripheral", "unknown-sensor-kind", "sram-slices-overlap", "partitions-overlap",
              "secure-only-rot-to-bmc", "yaml-tab-indent"]


def _params(cases: list[Case]) -> list:
    return [pytest.param(c, id=c.id) for c in cases]


@dataclass
class Outcome:
    file: Path                                   # the edited description
    result: subprocess.CompletedProcess[str] | None
    before: dict[str, str]                       # snapshot just before the command
    after: dict[str, str]                        # and just after
    existing: bool = False                       # init: into a directory that already existed
    error: BaseException | None = None


def _run_all(cases: list[Case], one: Callable[[Case], Outcome]) -> dict[str, Outcome]:
    """Run every case's CLI process, a few at once (each is a separate process on its own
    directory), so the whole table costs a fraction of running them one by one."""
    def guarded(case: Case) -> Outcome:
        try:
            return one(case)
        except BaseException as e:  # re-raised in that case's own test
            return Outcome(Path(), None, {}, {}, error=e)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        return dict(zip((c.id for c in cases), pool.map(guarded, cases)))


@pytest.fixture(scope="module")
def generate_outcomes(_pristine_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Each case: a copy of a workspace made by the real `init`, the edit, then `cmu610bsp generate`."""
    root = tmp_path_factory.mktemp("bad-generate")

    def one(case: Case) -> Outcome:
        ws = root / case.id
        shutil.copytree(_pristine_workspace, ws, symlinks=True)
        path = ws / case.target
        path.write_text(case.apply(path.read_text()))
        before = snapshot(ws)
        r = run_cli("generate", cwd=ws)
        return Outcome(path, r, before, snapshot(ws))

    return _run_all(CASES, one)


@pytest.fixture(scope="module")
def init_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Each case: the edited default board as a file, then `cmu610bsp init DIR --board FILE`,
    half of them into a new directory, half into an existing one holding a file of the user's."""
    root = tmp_path_factory.mktemp("bad-init")

    def one(case: Case) -> Outcome:
        top = root / case.id
        bad = top / "boards" / "bad-board.yaml"
        bad.parent.mkdir(parents=True)
        bad.write_text(case.apply((REPO / BOARD).read_text()))
        parent = top / "dest"
        parent.mkdir()
        existing = INIT_CASES.index(case.id) % 2 == 1
        target = parent / "ws"
        if existing:
            target.mkdir()
            (target / "notes.txt").write_text("mine\n")
        before = snapshot(parent)
        r = run_cli("init", str(target), "--board", str(bad), cwd=top)
        return Outcome(bad, r, before, snapshot(parent), existing=existing)

    return _run_all([c for c in CASES if c.id in INIT_CASES], one)


def assert_rejected(o: Outcome, case: Case) -> None:
    """Exit 2, no traceback, one finding line `FILE: FIELD: ...REASON...`, nothing changed."""
    if o.error is not None:
        raise o.error
    r = o.result
    assert r is not None
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: "), r.stderr
    prefix = f"{o.file}: {case.field}: "
    hits = [ln.strip() for ln in r.stderr.splitlines() if ln.strip().startswith(prefix)]
    assert hits, f"no finding for {prefix!r} in:\n{r.stderr}"
    assert any(case.reason.lower() in h[len(prefix):].lower() for h in hits), \
        f"no finding {prefix!r} gives a reason with {case.reason!r}:\n{r.stderr}"
    assert o.after == o.before, "the rejected command changed files"


@pytest.mark.parametrize("case", _params(CASES))
def test_generate_rejects_bad_description(generate_outcomes: dict[str, Outcome], case: Case) -> None:
    o = generate_outcomes[case.id]
    assert_rejected(o, case)
    assert ".cmu610bsp/state/manifest.json" in o.after and not any(p.startswith(".cmu610bsp/txn") for p in o.after)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.id in INIT_CASES]))
def test_init_rejects_bad_board_file(init_outcomes: dict[str, Outcome], case: Case) -> None:
    o = init_outcomes[case.id]
    assert_rejected(o, case)
    # nothing created: the target is as it was, and no scratch directory is left beside it
    assert o.after == ({"ws/notes.txt": o.before["ws/notes.txt"]} if o.existing else {"./": "dir"}), o.after


def test_every_finding_is_reported_at_once(workspace: Path) -> None:
    """Three independent mistakes in one edit: one run names all three."""
    path = workspace / BOARD
    text = path.read_text()
    for old, new in (("kind: ina230", "kind: ina999"), ("    hart: 1\n", "    hart: 0\n"),
                     ("{name: bmc-fw-b, offset: 14M,", "{name: bmc-fw-b, offset: 13M,")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text)
    before = snapshot(workspace)
    r = run_cli("generate", cwd=workspace)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for fld in ("sensors[3].kind", "domains.bmc.hart", "flash.partitions[4]"):
        assert f"{path}: {fld}: " in r.stderr, r.stderr
    assert snapshot(workspace) == before


def test_the_shipped_descriptions_are_valid(workspace: Path) -> None:
    """The baseline every case above edits passes, so each rejection is the edit's doing."""
    assert (workspace / BOARD).read_text() == (REPO / BOARD).read_text()
    assert (workspace / SOC).read_text() == (REPO / SOC).read_text()
    before = snapshot(workspace)
    r = run_cli("generate", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "0 written, 0 deleted" in r.stdout
    assert snapshot(workspace) == before


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
