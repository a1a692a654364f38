"""The smoke test's JUnit report as a CI's test report shows it (issue 22): each case named by what
it checks, never by its regular expression (`cmu610 secure firmware 0\\.1\\.0: board (a|b)...`,
`\\r*`); a failed check a <failure>; a run that could not check (QEMU did not start) an <error>,
counted in errors= and in tests=. Read back with junitparser and, independently, ElementTree."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import JUnitXml

from cmu610bsp import qemu, resources, smoke
from cmu610bsp.model import load_soc
from conftest import REPO

VALUES = {"board": "cmu610-evb", "line": "littlebmc", "zephyr_board": "cmu610_evb_qemu",
          # the evb's firmware partitions (the generated spec's pldm reply names their image versions)
          **{f"image_version@{o:#x}": r"\(none\)" for o in (0x40000, 0x400000, 0xE00000)}}
REGEX = re.compile(r"\\|\(.*\|.*\)|\[|\*|\+")  # what a regular expression shows and a name does not


def _cases(spec: smoke.Spec) -> list[str]:
    """Every case name a run of `spec` reports when all its checks pass, in order per kind."""
    out = [smoke.marker_case(core, i, m, VALUES) for core, c in spec.cores.items() for i, m in enumerate(c.markers)]
    out += [smoke.command_case(cmd, VALUES) for cmd in spec.commands]
    return out + [smoke.never_case(i, p) for i, p in enumerate(spec.never)]


def test_the_generated_spec_names_each_check(tmp_path: Path) -> None:
    """The reference workspace's generated spec (tests/test_drift.py keeps it what `generate` renders)."""
    spec = smoke.load_spec(REPO / "meta-cmu610/zephyr/smoke/cmu610-evb/littlebmc.yaml", VALUES)
    assert all(m.name for c in spec.cores.values() for m in c.markers) and all(c.name for c in spec.commands)
    assert _cases(spec) == [
        "cpu0 boot: secure firmware banner",
        "cpu0 boot: devices of the secure domain",
        "cpu0 boot: secure MCTP endpoint and PLDM terminus ready",
        "cpu1 boot: bmc firmware banner of littlebmc",
        "cpu1 boot: features of littlebmc",
        "cpu1 boot: devices of the bmc domain",
        "cpu1 boot: PLDM repository of the board's sensors",
        "cpu1 boot: BMC MCTP endpoint up, the secure endpoint answers",
        "command inventory: replies with 6 sensors and 2 fans",
        "command pdr: one numeric sensor PDR for each of the 6 sensors",
        "command sensors: all 6 sensors read, each normal and in range",
        *(f"command twin set {s}: {s.split()[0]} above critical_high reads back critical" for s in (
            "inlet_temp 56000", "outlet_temp 78000", "soc_vr_temp 116000", "p12v_power 441000", "p12v 15000",
            "p3v3 4000")),
        "command pldm: the secure hart's TID and the versions of its 3 firmware images",
        "never: >>> ZEPHYR FATAL ERROR", "never: ASSERTION FAIL", "never: Halting system", "never: runs on hart",
    ]


def test_a_hand_written_spec_needs_no_names(tmp_path: Path) -> None:
    """Unnamed, a check is named by its pattern's text when the pattern is plain text (escapes
    undone), else by its place: never by the regular expression."""
    path = tmp_path / "spec.yaml"
    path.write_text("name: t\ncores:\n"
                    "  cpu0: {markers: [{pattern: 'cpu0: boot ok'}, {pattern: 'v[0-9]+ up \\(rev {board}\\)'},"
                    " {pattern: 'board {board} up'}]}\n"
                    "commands: [{send: ping, expect: pong}, {send: status, expect: 'up.*ok'},"
                    " {send: ls, expect: 'x', name: lists x}]\n"
                    "never: ['FATAL ERROR', 'panic\\.c:[0-9]+']\n")
    names = _cases(smoke.load_spec(path, VALUES))
    assert names == ["cpu0 boot: cpu0: boot ok", "cpu0 boot: marker 2", "cpu0 boot: board cmu610-evb up",
                     "command ping: replies pong", "command status: replies as the spec expects", "command ls: lists x",
                     "never: FATAL ERROR", "never: pattern 2"]
    assert not [n for n in names if REGEX.search(n)]


def _result(target: str, *cases: smoke.Case, error: str = "") -> smoke.RunResult:
    return smoke.RunResult(target, list(cases), Path(f"/results/{target}/console.log"), 9.0, error)


def test_failures_and_errors_are_counted_as_junit_counts_them(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    smoke.junit([
        _result("evb/littlebmc", smoke.Case("cpu0 boot: secure firmware banner", "marker", True, 1.5),
                smoke.Case("cpu1 boot: bmc firmware banner of littlebmc", "marker", True, 2.0),
                smoke.Case("command inventory: replies with 6 sensors and 2 fans", "command", False, 7.25,
                           "not seen within 60 s")),
        _result("evb/bigbmc", error="QEMU did not start: [Errno 8] Exec format error"),
    ], report)
    suites = {s.name: s for s in JUnitXml.fromfile(str(report))}
    little, big = suites["smoke evb/littlebmc"], suites["smoke evb/bigbmc"]
    assert (little.tests, little.failures, little.errors) == (3, 1, 0)
    assert (big.tests, big.failures, big.errors) == (1, 0, 1)
    # each case's time is its share of the run: the three add up to when the last was decided
    assert [c.time for c in little] == [1.5, 0.5, 5.25]
    failed = next(c for c in little if c.result)
    assert failed.name == "command inventory: replies with 6 sensors and 2 fans"
    assert failed.result[0].message == "not seen within 60 s"
    assert failed.system_out == "transcript: /results/evb/littlebmc/console.log"
    (errored,) = list(big)
    assert errored.result[0].message.startswith("QEMU did not start") and type(errored.result[0]).__name__ == "Error"
    # the same counts from the elements themselves, without the library that wrote them
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(len(c.findall("failure")) for c in cases))
        assert suite.get("errors") == str(sum(len(c.findall("error")) for c in cases))


def test_a_qemu_that_does_not_start_is_a_run_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its run has an error, no case, and is an <error> case in the report; nothing is left running."""
    fake = tmp_path / "bin" / qemu.BINARY
    fake.parent.mkdir()
    fake.write_bytes(b"")  # executable, but no program: exec fails (ENOEXEC)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    image = tmp_path / "fw.elf"
    image.write_bytes(b"\x7fELF")
    spec = smoke.Spec(name="t", cores={"cpu0": smoke.Core(markers=[smoke.Marker(pattern="up")])})
    soc = load_soc(resources.builtin_soc())
    run = smoke.run(soc, qemu.Images({0: image, 1: image}), spec, "evb/littlebmc", tmp_path / "results", VALUES)
    assert run.error.startswith("QEMU did not start") and not run.cases and not run.passed, run
    smoke.junit([run], tmp_path / "junit.xml")
    (suite,) = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    assert (suite.tests, suite.failures, suite.errors) == (1, 0, 1)
