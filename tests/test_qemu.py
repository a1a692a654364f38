"""`cmu610bsp qemu smoke` on a bare-metal two-hart RV32 firmware built here from tests/firmware
with Debian's RISC-V GCC: pass, missing marker, fatal pattern, hung guest, QEMU absent, and the
tool killed at each stage with no QEMU left behind. The command lines run in this process (`cli`),
but those a test signals or kills: a process of their own (`spawn_cli`), whose QEMU must not
outlive it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import Cli, processes, spawn_cli

FW = Path(__file__).parent / "firmware"
GCC = "riscv64-unknown-elf-gcc"
pytestmark = pytest.mark.skipif(not (shutil.which(GCC) and shutil.which("qemu-system-riscv32")),
                                reason="needs Debian's gcc-riscv64-unknown-elf and qemu-system-misc")

SPEC = """
name: test-firmware
deadline: {deadline}
prompt: 'fw> '
cores:
  cpu0: {{markers: [{{pattern: 'cpu0: boot ok', within: {within}}}]}}
  cpu1: {{markers: [{{pattern: 'cpu1: boot ok', within: {cpu1_within}}}]}}
commands:
  - {{send: ping, expect: pong, within: {within}}}
  - {{send: {second}, expect: '{second_reply}', within: {second_within}}}
never: ['FATAL ERROR', 'Kernel panic']
"""


# What a test expects to pass gets a window no loaded machine exhausts (a pass returns as soon as
# its text is seen); only the window a test wants to see run out is short.
ROOMY = 240


def spec(tmp: Path, deadline: float = 280, cpu1_within: float = ROOMY, second: str = "status",
         second_reply: str = "status: cpu0 up", second_within: float = ROOMY) -> Path:
    p = tmp / "spec.yaml"
    p.write_text(SPEC.format(deadline=deadline, within=ROOMY, cpu1_within=cpu1_within, second=second,
                             second_reply=second_reply, second_within=second_within))
    return p


@pytest.fixture(scope="session")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("fw")
    libgcc = subprocess.run([GCC, "-march=rv32imac", "-mabi=ilp32", "-print-libgcc-file-name"],
                            capture_output=True, text=True, check=True).stdout.strip()
    images = {}
    for name, defs in (("good", []), ("nocpu1", ["-DNO_CPU1_MARKER"]), ("fatal", ["-DFATAL_AT_BOOT"])):
        elf = out / f"{name}.elf"
        subprocess.run([GCC, "-march=rv32imac_zicsr_zifencei", "-mabi=ilp32", "-mcmodel=medany", "-ffreestanding",
                        "-nostdlib", "-nostartfiles", "-O2", *defs, "-T", str(FW / "link.ld"), "-Wl,--no-warn-rwx-segments",
                        str(FW / "start.S"), str(FW / "fw.c"), f"-L{Path(libgcc).parent}", "-lgcc", "-o", str(elf)],
                       check=True)
        images[name] = elf
    return images


def _unique(fw: Path, tmp: Path) -> Path:
    """A private copy, so the process list can tell our QEMU from any other."""
    p = tmp / f"fw-{os.getpid()}-{time.monotonic_ns()}.elf"
    shutil.copy(fw, p)
    return p


def _qemus(marker: Path) -> list[str]:
    return [f"{pid} {cmd}" for pid, cmd, _ in processes() if "qemu-system-riscv32" in cmd and str(marker) in cmd]


def _smoke(cli: Cli, ws: Path, elf: Path, spec_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("qemu", "smoke", "--image", f"cpu0={elf}", "--image", f"cpu1={elf}", "--spec", str(spec_file),
               *extra, cwd=ws, timeout=600)


def test_pass_with_reports(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    elf = _unique(firmware["good"], tmp_path)
    r = _smoke(cli, workspace, elf, spec(tmp_path), "--junit", str(tmp_path / "j.xml"), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    run = data["runs"][0]
    assert data["passed"] and run["passed"]
    assert [c["kind"] for c in run["cases"]] == ["marker", "marker", "command", "command", "never", "never"]
    transcript = Path(run["transcript"]).read_text()
    assert "cpu0: boot ok" in transcript and "cpu1: boot ok" in transcript and "pong" in transcript
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "0"
    assert not _qemus(elf)


def test_an_unwritable_transcript_is_a_clear_error(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "cmu610-evb-bigbmc" / "console.log").mkdir(parents=True)  # where the transcript goes
    r = _smoke(cli, workspace, _unique(firmware["good"], tmp_path), spec(tmp_path), "--results", str(results))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "console.log" in r.stderr and "nothing was booted" in r.stderr and "Traceback" not in r.stderr


def test_missing_marker_fails_at_its_deadline(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    elf = _unique(firmware["nocpu1"], tmp_path)
    r = _smoke(cli, workspace, elf, spec(tmp_path, cpu1_within=2), "--json")
    assert r.returncode == 2
    cases = {c["name"]: c for c in json.loads(r.stdout)["runs"][0]["cases"]}
    assert cases["cpu0 boot: cpu0: boot ok"]["passed"]  # an unnamed marker: named by its text
    # its own window ran out, not the overall deadline (280 s): it failed at its deadline
    assert not cases["cpu1 boot: cpu1: boot ok"]["passed"]
    assert cases["cpu1 boot: cpu1: boot ok"]["message"] == "not seen within 2 s"
    assert not _qemus(elf)


def test_fatal_pattern_fails(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    elf = _unique(firmware["fatal"], tmp_path)
    r = _smoke(cli, workspace, elf, spec(tmp_path), "--json")
    assert r.returncode == 2
    failed = [c for c in json.loads(r.stdout)["runs"][0]["cases"] if not c["passed"]]
    assert failed[0]["kind"] == "never" and "Kernel panic" in failed[0]["message"]
    # a panic asked for on the console is caught too
    elf = _unique(firmware["good"], tmp_path)
    r = _smoke(cli, workspace, elf, spec(tmp_path, second="panic", second_reply="never-printed"), "--json")
    failed = [c for c in json.loads(r.stdout)["runs"][0]["cases"] if not c["passed"]]
    assert r.returncode == 2 and failed[0]["name"] == "never: FATAL ERROR"


def test_hung_guest_fails_at_the_deadline(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    elf = _unique(firmware["good"], tmp_path)
    r = _smoke(cli, workspace, elf, spec(tmp_path, deadline=4, second="hang", second_reply="never", second_within=30), "--json")
    assert r.returncode == 2
    last = json.loads(r.stdout)["runs"][0]["cases"][-1]
    assert not last["passed"] and "overall deadline" in last["message"]
    assert not _qemus(elf)


def test_qemu_absent_from_path(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    r = cli("qemu", "smoke", "--image", f"cpu0={firmware['good']}", "--image", f"cpu1={firmware['good']}",
            "--spec", str(spec(tmp_path)), cwd=workspace, env={"PATH": str(Path(sys.executable).parent)})
    assert r.returncode == 2 and "qemu-system-riscv32 not found" in r.stderr and "apt-get install qemu-system-misc" in r.stderr


def test_parallel_runs(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    elf = _unique(firmware["good"], tmp_path)
    r = cli("qemu", "smoke", "--line", "bigbmc", "--line", "littlebmc", "--image", f"cpu0={elf}",
            "--image", f"cpu1={elf}", "--spec", str(spec(tmp_path)), "--parallel", "2", "--json", cwd=workspace,
            timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert sorted(x["target"] for x in runs) == ["cmu610-evb/bigbmc", "cmu610-evb/littlebmc"]
    assert len({x["transcript"] for x in runs}) == 2
    assert not _qemus(elf)


STAGES = {
    # stage: (firmware, spec kwargs, what the transcript shows once we are in that stage)
    "before-boot": ("nocpu1", {"cpu1_within": 30, "deadline": 60}, None),
    "booting": ("nocpu1", {"cpu1_within": 30, "deadline": 60}, "cpu0: boot ok"),
    "waiting-on-command": ("good", {"second": "hang", "second_reply": "never", "second_within": 30, "deadline": 60}, "pong"),
}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["INT", "TERM", "KILL"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_killed_tool_leaves_no_qemu(workspace: Path, firmware: dict[str, Path], tmp_path: Path, stage: str, sig: int) -> None:
    fw, kwargs, seen = STAGES[stage]
    elf = _unique(firmware[fw], tmp_path)
    results = tmp_path / "results"
    p = spawn_cli("qemu", "smoke", "--image", f"cpu0={elf}", "--image", f"cpu1={elf}", "--spec", str(spec(tmp_path, **kwargs)),
                  "--results", str(results), cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  start_new_session=True)
    try:
        transcript = results / "cmu610-evb-bigbmc" / "console.log"
        deadline = time.monotonic() + 20
        if seen is None:
            while time.monotonic() < deadline and not _qemus(elf) and p.poll() is None:
                time.sleep(0.01)  # QEMU was just started: no output read yet
        else:
            while time.monotonic() < deadline and (not transcript.exists() or seen not in transcript.read_text()):
                time.sleep(0.02)
            time.sleep(0.3)
        assert p.poll() is None, "the tool ended before the stage was reached"
        assert _qemus(elf), "QEMU should be running at this stage"
        os.kill(p.pid, sig)  # the tool only, not its process group: it must clean up itself
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    if sig != signal.SIGKILL:
        assert p.returncode == 130, p.stderr.read().decode()
    end = time.monotonic() + 5
    while _qemus(elf) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _qemus(elf), "QEMU outlived the tool"


def test_scratch_of_a_killed_run_is_swept(tmp_path: Path) -> None:
    """A SIGKILLed smoke leaves its /tmp/cmu610bsp-qemu-* directory; the next run removes it,
    and leaves alone the one of a run still alive (this process)."""
    from cmu610bsp import qemu

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"{qemu.SCRATCH_PREFIX}{dead.stdout.strip()}-abc"
    old_style = tmp_path / f"{qemu.SCRATCH_PREFIX}k2j3h4"
    alive = tmp_path / f"{qemu.SCRATCH_PREFIX}{os.getpid()}-xyz"
    for d in (gone, old_style, alive):
        d.mkdir()
        (d / "qmp.sock").write_text("")
    assert sorted(qemu.sweep_scratch(tmp_path)) == sorted([gone, old_style])
    assert alive.is_dir() and not gone.exists() and not old_style.exists()


def test_images_are_checked_before_qemu_starts(cli: Cli, workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    """A hart the SoC does not have, or a file that is not an RV32 ELF, is refused up front (QEMU
    booted hart 0 only, or ran until the deadline)."""
    elf = _unique(firmware["good"], tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not firmware\n")
    for images, words in (([f"cpu0={elf}", f"cpu2={elf}"], "harts cpu0 to cpu1"),
                          ([f"cpu0={elf}", f"cpu1={text}"], "not an ELF file"),
                          ([f"cpu0={elf}", f"cpu1={tmp_path / 'missing.elf'}"], "not found")):
        args = [x for i in images for x in ("--image", i)]
        r = cli("qemu", "smoke", *args, "--spec", str(spec(tmp_path)), cwd=workspace)
        assert r.returncode == 2 and words in r.stderr, (images, r.stderr)
        assert not _qemus(elf)


def test_qemu_run_interrupted_exits_130(workspace: Path, firmware: dict[str, Path], tmp_path: Path) -> None:
    """`qemu run` puts QEMU on the terminal as a child: Ctrl-C (SIGINT to the tool) stops it and
    the command says interrupted with 130, not QEMU's own exit code."""
    elf = _unique(firmware["good"], tmp_path)
    p = spawn_cli("qemu", "run", "--image", f"cpu0={elf}", "--image", f"cpu1={elf}", cwd=workspace, stdin=subprocess.DEVNULL,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and not _qemus(elf):
            time.sleep(0.05)
        assert _qemus(elf), "QEMU did not start"
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130 and "interrupted" in err, (out, err)
    end = time.monotonic() + 10
    while _qemus(elf) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _qemus(elf)


# A console that loses the first line typed at it (nothing comes back, not even an echo), or
# answers it wrongly: a real process on a pty, standing in for a shell on a loaded twin.
DEAF_ONCE = ("import sys\nsys.stdin.readline()\n"
             "print('got ' + sys.stdin.readline().strip(), flush=True)\nsys.stdin.readline()\n")
WRONG = ("import sys\nprint('wrong ' + sys.stdin.readline().strip(), flush=True)\n"
         "print('got ' + sys.stdin.readline().strip(), flush=True)\n")


@pytest.mark.parametrize(("script", "passed"), [(DEAF_ONCE, True), (WRONG, False)],
                         ids=["silence-is-retyped", "a-wrong-reply-is-not"])
def test_a_command_nothing_answered_is_typed_again(script: str, passed: bool) -> None:
    import pexpect

    from cmu610bsp import smoke

    child = pexpect.spawn(sys.executable, ["-c", script], encoding="utf-8", echo=False)
    start = time.monotonic()

    def wait_for(pattern: str, limit: float) -> tuple[bool, str]:
        try:
            child.expect(pattern, timeout=max(0.0, limit - (time.monotonic() - start)))
            return True, ""
        except pexpect.TIMEOUT:
            return False, "not seen"

    try:
        ok, why = smoke._command(child, smoke.Command(send="status", expect="got status", within=3), wait_for, 0.0)
        assert ok is passed, why  # DEAF_ONCE answers only its second line: typed twice
        if not passed:  # answered (wrongly), so typed once: the second line's answer never came
            assert "wrong status" in child.buffer and "got status" not in child.buffer and "typed" not in why
    finally:
        child.close(force=True)
