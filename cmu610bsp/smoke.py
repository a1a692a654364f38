"""Smoke specs and their runner: boot markers per core with deadlines, console commands with
expected replies, patterns that must never appear, an overall deadline. Results as JUnit XML
and JSON; every console transcript is kept."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
from pydantic import Field

from cmu610bsp.errors import BspError
from cmu610bsp.model import Soc, Strict, parse_model
from cmu610bsp.qemu import Images, Qemu
from cmu610bsp.yamlio import read_yaml


class Marker(Strict):
    pattern: str
    within: float = Field(30, gt=0)   # seconds from QEMU's start


class Core(Strict):
    markers: list[Marker] = Field(min_length=1)


class Command(Strict):
    send: str
    expect: str
    within: float = Field(10, gt=0)


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
    spec = parse_model(Spec, read_yaml(path), path)
    for text in _patterns(spec):
        try:
            re.compile(text.format(**values))
        except (re.error, KeyError, IndexError) as e:
            raise BspError(f"{path}: bad pattern {text!r}: {e}") from None
    return spec


def _patterns(spec: Spec) -> list[str]:
    out = [m.pattern for c in spec.cores.values() for m in c.markers]
    out += [c.expect for c in spec.commands] + spec.never + ([spec.prompt] if spec.prompt else [])
    return out


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
    def __init__(self, pattern: str, text: str):
        super().__init__(pattern)
        self.pattern, self.text = pattern, text


def run(soc: Soc, images: Images, spec: Spec, target: str, results: Path, values: dict[str, str],
        timeout: float | None = None) -> RunResult:
    """Boot, then check every marker, command and never-pattern; QEMU is stopped on every path."""
    res = RunResult(target, transcript=results / "console.log")
    deadline = min(spec.deadline, timeout or spec.deadline)
    never = [re.compile(p.format(**values)) for p in spec.never]
    start = time.monotonic()
    qemu = Qemu(soc, images, res.transcript)
    try:
        child = qemu.start()

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
            raise _Fatal(never[i - 1].pattern, after)

        try:
            boot_text, unread = _boot(child, spec, values, never, start, deadline, res)
            if not all(c.passed for c in res.cases):
                return res
            # what came after the last marker goes back to pexpect: a prompt split across two
            # reads ("fw" then "> ") must still be found by the expect below
            child.buffer = boot_text[unread:] + child.buffer
            # a prompt printed while the other hart was still booting was read with the boot text
            prompt_ready = bool(spec.prompt and re.search(spec.prompt.format(**values), boot_text))
            for cmd in spec.commands:
                if spec.prompt and not prompt_ready:
                    ok, why = wait_for(spec.prompt, time.monotonic() - start + cmd.within)
                    if not ok:
                        res.cases.append(Case(f"prompt before {cmd.send!r}", "command", False, time.monotonic() - start, why))
                        return res
                prompt_ready = False
                ok, why = _command(child, cmd, wait_for, time.monotonic() - start)
                res.cases.append(Case(f"{cmd.send!r} -> {cmd.expect}", "command", ok, time.monotonic() - start, why))
                if not ok:
                    return res
        except _Fatal as f:
            res.cases.append(Case(f"never: {f.pattern}", "never", False, time.monotonic() - start, f"seen: {f.text.strip()}"))
            return res
        for p in never:
            res.cases.append(Case(f"never: {p.pattern}", "never", True, time.monotonic() - start))
        return res
    finally:
        qemu.stop()
        res.seconds = time.monotonic() - start


RESENDS = 2   # a command the console never answered at all is typed again, at most this often


def _command(child: pexpect.spawn, cmd: Command, wait_for: Callable[[str, float], tuple[bool, str]],
             now: float) -> tuple[bool, str]:
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
        if ok or last or len(child.buffer) > before or why.startswith("QEMU exited"):
            return ok, why + (f" (typed {attempt + 1} times)" if attempt and why else "")
    return False, "unreachable"


def _boot(child: pexpect.spawn, spec: Spec, values: dict[str, str], never: list[re.Pattern[str]],
          start: float, deadline: float, res: RunResult) -> tuple[str, int]:
    """Both harts boot at once and print in any order: each core's markers are matched in order
    within that core, independently of the other cores, each against its own deadline.
    Returns the text read and where the part no marker consumed starts."""
    pending = {core: [(re.compile(m.pattern.format(**values)), m) for m in c.markers] for core, c in spec.cores.items()}
    pos = dict.fromkeys(pending, 0)
    text = ""
    while any(pending.values()):
        now = time.monotonic() - start
        try:
            text += child.read_nonblocking(4096, timeout=0.01)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            for core, left in pending.items():
                for _, m in left:
                    res.cases.append(Case(f"{core}: {m.pattern}", "marker", False, now, "QEMU exited"))
            return text, len(text)
        for p in never:
            hit = p.search(text)
            if hit:
                raise _Fatal(p.pattern, text[max(0, hit.start() - 200):hit.end() + 200])
        for core, left in pending.items():
            while left:
                rx, m = left[0]
                hit = rx.search(text, pos[core])
                if hit:
                    pos[core] = hit.end()
                    res.cases.append(Case(f"{core}: {m.pattern}", "marker", True, now))
                    left.pop(0)
                elif now > min(m.within, deadline):
                    why = "overall deadline" if m.within > deadline else f"not seen within {m.within:g} s"
                    res.cases.append(Case(f"{core}: {m.pattern}", "marker", False, now, why))
                    left.clear()
                else:
                    break
    return text, max(pos.values(), default=len(text))


def junit(results: list[RunResult], path: Path) -> None:
    suites = ET.Element("testsuites")
    for r in results:
        failures = sum(1 for c in r.cases if not c.passed) + (1 if r.error else 0)
        suite = ET.SubElement(suites, "testsuite", name=f"smoke {r.target}", tests=str(len(r.cases)),
                              failures=str(failures), time=f"{r.seconds:.3f}")
        for c in r.cases:
            case = ET.SubElement(suite, "testcase", classname=f"{r.target}.{c.kind}", name=c.name, time=f"{c.seconds:.3f}")
            if not c.passed:
                ET.SubElement(case, "failure", message=c.message)
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=f"{r.target}.run", name="run")
            ET.SubElement(case, "error", message=r.error)
        if r.transcript:
            ET.SubElement(suite, "system-out").text = f"transcript: {r.transcript}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def to_json(results: list[RunResult]) -> str:
    return json.dumps({"passed": all(r.passed for r in results), "runs": [r.as_dict() for r in results]},
                      indent=2, sort_keys=True)
