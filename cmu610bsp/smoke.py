"""Smoke specs and their runner: boot markers per core with deadlines, console commands with
expected replies, patterns that must never appear, an overall deadline. Results as JUnit XML
(written by junitparser, which keeps its counts) and JSON; every console transcript is kept.

Each case is named by what it checks, as a CI's test report lists it: `cpu0 boot: secure firmware
banner`, `command inventory: replies with 6 sensors and 2 fans`. A spec names its markers and
commands (`name:`, the generated specs always do); without a name, a pattern that is plain text
names its case, and any other pattern its place (`cpu1 boot: marker 2`), never the regex."""

from __future__ import annotations

import json
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
from junitparser import Error, Failure, JUnitXml, TestCase, TestSuite
from pydantic import Field

from cmu610bsp.errors import BspError
from cmu610bsp.model import Soc, Strict, parse_model
from cmu610bsp.qemu import Images, Qemu
from cmu610bsp.text import Text
from cmu610bsp.yamlio import read_yaml


class Marker(Strict):
    pattern: str
    within: float = Field(30, gt=0)   # seconds from QEMU's start
    name: Text | None = None          # what it checks, as a test report names the case


class Core(Strict):
    markers: list[Marker] = Field(min_length=1)


class Bound(Strict):
    """A number in a command's reply that must lie within bounds (a regex cannot say 10.8 to 13.2):
    `pattern`'s first group, searched in the text `expect` matched."""

    pattern: str
    low: float
    high: float
    name: Text | None = None          # what the number is (a sensor's reading)


class Command(Strict):
    send: str
    expect: str
    within: float = Field(10, gt=0)
    name: Text | None = None          # what the reply shows, as a test report names the case
    values: list[Bound] = []  # noqa: RUF012 - a pydantic field (ruff cannot see Strict's base): defaults are copied


class Spec(Strict):
    """configs/smoke/<line>.yaml (or configs/smoke/<board>/<line>.yaml, or --spec)."""

    name: str
    deadline: float = Field(120, gt=0)
    prompt: str | None = None          # waited for before each command when given
    cores: dict[str, Core]             # cpu0, cpu1: markers in boot order
    commands: list[Command] = []  # noqa: RUF012 - a pydantic field (ruff cannot see Strict's base): defaults are copied
    never: list[str] = []  # noqa: RUF012 - as above


def load_spec(path: Path, values: dict[str, str]) -> Spec:
    """Read a spec; `{zephyr_board}`-style placeholders are filled from `values`."""
    return checked(read_spec(path), path, values)


def read_spec(path: Path) -> Spec:
    """A spec as written, its patterns not yet checked (`checked`)."""
    return parse_model(Spec, read_yaml(path), path)


def placeholders(spec: Spec) -> set[str]:
    """The `{name}` placeholders its patterns use."""
    return {f for text in _patterns(spec) for _, f, _, _ in string.Formatter().parse(text) if f}


def checked(spec: Spec, path: Path, values: dict[str, str]) -> Spec:
    """The spec, once every pattern compiles with its placeholders filled from `values`."""
    for text in _patterns(spec):
        try:
            re.compile(text.format(**values))
        except (re.error, KeyError, IndexError) as e:
            raise BspError(f"{path}: bad pattern {text!r}: {e}") from None
    return spec


def _patterns(spec: Spec) -> list[str]:
    out = [m.pattern for c in spec.cores.values() for m in c.markers]
    out += [c.expect for c in spec.commands] + [b.pattern for c in spec.commands for b in c.values]
    return out + spec.never + ([spec.prompt] if spec.prompt else [])


def out_of_bounds(cmd: Command, reply: str, values: dict[str, str]) -> str:
    """What in `reply` (the text `cmd.expect` matched) breaks the command's bounds: "" when nothing.
    A bound whose number is missing fails as surely as one out of range."""
    bad = []
    for b in cmd.values:
        what = b.name or b.pattern
        hit = re.search(b.pattern.format(**values), reply)
        if hit is None:
            bad.append(f"{what}: not in the reply")
            continue
        try:
            value = float(hit.group(1))
        except (IndexError, ValueError):
            bad.append(f"{what}: {hit.group(0)!r} is not a number")
            continue
        if not b.low <= value <= b.high:
            bad.append(f"{what}: {value:g} outside {b.low:g} to {b.high:g}")
    return "; ".join(bad)


def _plain(pattern: str) -> str | None:
    """The text a pattern matches when it matches that text only (`cpu0: boot ok`, `0\\.1\\.0`
    as 0.1.0), else None."""
    if not re.fullmatch(r"(?:[^\\.^$*+?()\[\]{}|]|\\[^A-Za-z0-9])+", pattern):
        return None
    return re.sub(r"\\(.)", r"\1", pattern)


def marker_case(core: str, index: int, marker: Marker, values: dict[str, str]) -> str:
    """`cpu0 boot: secure firmware banner`; unnamed, the marker's text or its place (from 1)."""
    what = marker.name or _plain(marker.pattern.format(**values)) or f"marker {index + 1}"
    return f"{core} boot: {what}"


def command_case(cmd: Command, values: dict[str, str]) -> str:
    """`command inventory: replies with 6 sensors and 2 fans`; unnamed, the reply's text."""
    reply = _plain(cmd.expect.format(**values))
    what = cmd.name or (f"replies {reply}" if reply else "replies as the spec expects")
    return f"command {cmd.send}: {what}"


def never_case(index: int, pattern: str) -> str:
    """`never: >>> ZEPHYR FATAL ERROR` (the pattern's text), or its place when it is a regex."""
    return f"never: {_plain(pattern) or f'pattern {index + 1}'}"


@dataclass
class Case:
    name: str
    kind: str          # marker | command | never
    passed: bool
    seconds: float
    message: str = ""


@dataclass
class RunResult:
    target: str
    cases: list[Case] = field(default_factory=list)
    transcript: Path | None = None
    seconds: float = 0.0
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.cases) and all(c.passed for c in self.cases)

    def as_dict(self) -> dict[str, object]:
        return {"target": self.target, "passed": self.passed, "seconds": round(self.seconds, 3),
                "error": self.error, "transcript": str(self.transcript) if self.transcript else None,
                "cases": [c.__dict__ for c in self.cases]}


class _Fatal(Exception):
    def __init__(self, case: str, text: str):
        super().__init__(case)
        self.case, self.text = case, text


def run(soc: Soc, images: Images, spec: Spec, target: str, results: Path, values: dict[str, str],
        timeout: float | None = None) -> RunResult:
    """Boot, then check every marker, command and never-pattern; QEMU is stopped on every path."""
    res = RunResult(target, transcript=results / "console.log")
    deadline = min(spec.deadline, timeout or spec.deadline)
    never = [re.compile(p.format(**values)) for p in spec.never]
    never_cases = [never_case(i, p.pattern) for i, p in enumerate(never)]
    start = time.monotonic()
    qemu = Qemu(soc, images, res.transcript)
    try:
        try:
            child = qemu.start()
        except (pexpect.ExceptionPexpect, OSError) as e:
            res.error = f"QEMU did not start: {e}"
            return res

        def wait_for(pattern: str, limit: float) -> tuple[bool, str]:
            """Expect pattern before `limit` (seconds since start) and before the overall deadline."""
            left = min(limit, deadline) - (time.monotonic() - start)
            if left <= 0:
                return False, "deadline passed"
            pats = [re.compile(pattern.format(**values)), *never]
            try:
                i = child.expect([*pats, pexpect.EOF], timeout=left)
            except pexpect.TIMEOUT:
                why = "overall deadline" if limit > deadline else f"not seen within {limit:g} s"
                return False, why
            if i == 0:
                return True, ""
            if i == len(pats):
                return False, f"QEMU exited (status {child.exitstatus or child.signalstatus})"
            after = child.after if isinstance(child.after, str) else child.after.decode(errors="replace")
            raise _Fatal(never_cases[i - 1], after)

        try:
            boot_text, unread = _boot(child, spec, values, list(zip(never, never_cases, strict=True)),
                                      start, deadline, res)
            if not all(c.passed for c in res.cases):
                return res
            # what came after the last marker goes back to pexpect: a prompt split across two
            # reads ("fw" then "> ") must still be found by the expect below
            child.buffer = boot_text[unread:] + child.buffer
            # a prompt printed while the other hart was still booting was read with the boot text
            prompt_ready = bool(spec.prompt and re.search(spec.prompt.format(**values), boot_text))
            for cmd in spec.commands:
                name = command_case(cmd, values)
                if spec.prompt and not prompt_ready:
                    ok, why = wait_for(spec.prompt, time.monotonic() - start + cmd.within)
                    if not ok:
                        res.cases.append(Case(f"command {cmd.send}: shell prompt before it", "command", False,
                                              time.monotonic() - start, why))
                        return res
                prompt_ready = False
                ok, why = _command(child, cmd, wait_for, time.monotonic() - start, values)
                res.cases.append(Case(name, "command", ok, time.monotonic() - start, why))
                if not ok:
                    return res
        except _Fatal as f:
            res.cases.append(Case(f.case, "never", False, time.monotonic() - start, f"seen: {f.text.strip()}"))
            return res
        for name in never_cases:
            res.cases.append(Case(name, "never", True, time.monotonic() - start))
        return res
    finally:
        qemu.stop()
        res.seconds = time.monotonic() - start


RESENDS = 2   # a command the console never answered at all is typed again, at most this often


def _command(child: pexpect.spawn, cmd: Command, wait_for: Callable[[str, float], tuple[bool, str]],
             now: float, values: dict[str, str] | None = None) -> tuple[bool, str]:
    """Send `cmd` and wait for its reply. The twin's harts share one UART, and on a loaded host a
    line typed at a shell can be lost before the shell reads it (seen: no echo, no reply, once in
    about a dozen flash boots); a command answered by nothing at all, not even its echo, within a
    third of its time is typed again. A wrong or partial reply is never retried: it fails."""
    share = cmd.within / (RESENDS + 1)
    for attempt in range(RESENDS + 1):
        child.sendline(cmd.send)
        before = len(child.buffer)
        last = attempt == RESENDS
        ok, why = wait_for(cmd.expect, now + (cmd.within if last else share * (attempt + 1)))
        if ok and cmd.values:
            after = child.after if isinstance(child.after, str) else child.after.decode(errors="replace")
            why = out_of_bounds(cmd, after, values or {})
            return not why, why
        if ok or last or len(child.buffer) > before or why.startswith("QEMU exited"):
            return ok, why + (f" (typed {attempt + 1} times)" if attempt and why else "")
    return False, "unreachable"


def _boot(child: pexpect.spawn, spec: Spec, values: dict[str, str], never: list[tuple[re.Pattern[str], str]],
          start: float, deadline: float, res: RunResult) -> tuple[str, int]:
    """Both harts boot at once and print in any order: each core's markers are matched in order
    within that core, independently of the other cores, each against its own deadline.
    Returns the text read and where the part no marker consumed starts."""
    pending = {core: [(re.compile(m.pattern.format(**values)), m, marker_case(core, i, m, values))
                      for i, m in enumerate(c.markers)] for core, c in spec.cores.items()}
    pos = dict.fromkeys(pending, 0)
    text = ""
    while any(pending.values()):
        now = time.monotonic() - start
        try:
            text += child.read_nonblocking(4096, timeout=0.01)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            for left in pending.values():
                for _, _, name in left:
                    res.cases.append(Case(name, "marker", False, now, "QEMU exited"))
            return text, len(text)
        for p, name in never:
            hit = p.search(text)
            if hit:
                raise _Fatal(name, text[max(0, hit.start() - 200):hit.end() + 200])
        for core, left in pending.items():
            while left:
                rx, m, name = left[0]
                hit = rx.search(text, pos[core])
                if hit:
                    pos[core] = hit.end()
                    res.cases.append(Case(name, "marker", True, now))
                    left.pop(0)
                elif now > min(m.within, deadline):
                    why = "overall deadline" if m.within > deadline else f"not seen within {m.within:g} s"
                    res.cases.append(Case(name, "marker", False, now, why))
                    left.clear()
                else:
                    break
    return text, max(pos.values(), default=len(text))


def junit(results: list[RunResult], path: Path) -> None:
    """One test suite a run, one test case a check; a check that did not pass is a <failure>, a run
    that could not check (QEMU did not start) an <error> case. junitparser counts them (tests=,
    failures=, errors=). A case's time is how long after the one before it was decided (checks
    are decided in boot order), so the cases add up to the run."""
    report = JUnitXml("cmu610bsp smoke")
    for r in results:
        suite = TestSuite(f"smoke {r.target}")
        transcript = f"transcript: {r.transcript}" if r.transcript else ""
        if transcript:
            suite.add_property("transcript", str(r.transcript))
        seen = 0.0
        for c in r.cases:
            case = TestCase(c.name, f"{r.target}.{c.kind}", round(max(c.seconds - seen, 0.0), 3))
            seen = max(seen, c.seconds)
            if not c.passed:
                case.result = [Failure(c.message or "failed")]
            suite.add_testcase(case)
        if r.error:
            case = TestCase("QEMU starts", f"{r.target}.run", round(r.seconds, 3))
            case.result = [Error(r.error)]
            suite.add_testcase(case)
        if transcript:  # where to look, on each case that did not pass
            for case in suite:
                if case.result:
                    case.system_out = transcript
        report.add_testsuite(suite)
    report.update_statistics()  # type: ignore[no-untyped-call]  # junitparser leaves it unannotated
    path.parent.mkdir(parents=True, exist_ok=True)
    report.write(str(path), pretty=True)


def to_json(results: list[RunResult]) -> str:
    return json.dumps({"passed": all(r.passed for r in results), "runs": [r.as_dict() for r in results]},
                      indent=2, sort_keys=True)
