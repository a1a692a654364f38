"""`cmu610bsp build --plan` and `cmu610bsp devtool` on a real openbmc/openbmc tree (OPENBMC_DIR):
real kas, real BitBake, offline (BB_NO_NETWORK), the tree used in place through `--source`.
Skipped, never passed, without the tree.

As root, the tool runs as CMU610BSP_BB_USER (BitBake refuses root) from a virtualenv made with
Debian's python3 and this repository installed into it (CMU610BSP_BB_VENV reuses one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, as_user, openbmc_runner, processes

pytestmark = pytest.mark.openbmc

# A small OpenBMC recipe whose sources are local files of its layer (no fetch, no compile).
RECIPE = "phosphor-ipmi-config"
RECIPE_FILES = "meta-phosphor/recipes-phosphor/ipmi/phosphor-ipmi-config"


@pytest.fixture(scope="module")
def tool() -> Iterator[dict[str, object]]:
    tree, user = openbmc_runner()
    base = Path(tempfile.mkdtemp(prefix="cmu610bsp-obmc-build-", dir=os.environ.get("CMU610BSP_BB_TMP", "/var/tmp")))
    base.chmod(0o755)
    if user:
        venv = Path(os.environ.get("CMU610BSP_BB_VENV") or base / "venv")
        if not (venv / "bin" / "cmu610bsp").exists():
            subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(REPO)], check=True)
        # this checkout's code, also in a reused virtualenv
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(REPO)], check=True)
        path = f"{venv}/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        cmd = [str(venv / "bin" / "cmu610bsp")]
    else:
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        cmd = [sys.executable, "-m", "cmu610bsp"]
    ws = base / "ws"
    src = base / "src" / RECIPE
    shutil.copytree(tree / RECIPE_FILES, src)
    if user:
        shutil.chown(base, user)
        for p in base.rglob("*"):
            if venv not in p.parents:
                shutil.chown(p, user)
    o: dict[str, object] = {"tree": tree, "user": user, "path": path, "cmd": cmd, "ws": ws, "src": src}
    r = _run(o, "init", str(ws))
    assert r.returncode == 0, r.stdout + r.stderr
    yield o
    shutil.rmtree(base, ignore_errors=True)


def _run(o: dict[str, object], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    argv = as_user(o["user"], [*o["cmd"], *args], path=str(o["path"]))  # type: ignore[arg-type, misc]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, start_new_session=True,
                          cwd=str(o["ws"]) if Path(str(o["ws"])).is_dir() else "/")


def _bitbake_left(ws: Path) -> list[str]:
    """BitBake or kas processes still running for this workspace (there must be none)."""
    return [f"{pid} {cmd}" for pid, cmd, cwd in processes()
            if (str(ws) in cmd or (cwd is not None and cwd.is_relative_to(ws))) and ("bitbake" in cmd or "kas" in cmd)]


@pytest.mark.parametrize("line", ["littlebmc", "bigbmc"])
def test_plan_through_real_kas_and_bitbake(tool: dict[str, object], line: str) -> None:
    start = time.monotonic()
    r = _run(tool, "build", line, "--plan", "--offline", "--source", f"openbmc={tool['tree']}", "--json",
             timeout=3600)
    seconds = time.monotonic() - start
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    data = json.loads(r.stdout)
    assert data["result"] == "success" and data["plan"] and data["artifacts"] == []
    assert data["tasks"]["attempted"] and data["tasks"]["attempted"] > 1000, data["tasks"]
    log = Path(data["log"]).read_text()
    assert "Nothing PROVIDES" not in log and "Nothing RPROVIDES" not in log
    assert 'BB_NO_NETWORK = "1"' in (Path(str(tool["ws"])) / "build" / line / "conf" / "local.conf").read_text()
    assert _bitbake_left(Path(str(tool["ws"]))) == []
    print(f"\n{line}: cmu610bsp build --plan: {data['tasks']['attempted']} tasks "
          f"({data['tasks']['not_rerun']} not rerun) in {seconds:.0f} s")


@pytest.mark.parametrize("how", ["SIGTERM", "timeout"])
def test_no_bitbake_outlives_the_tool(tool: dict[str, object], how: str) -> None:
    """The real BitBake server daemonizes out of the tool's process group: on SIGTERM and on
    --timeout the tool still stops it (by bitbake.lock) and nothing holds the build directory."""
    ws = Path(str(tool["ws"]))
    build = ws / "build" / "littlebmc"
    extra = ["--timeout", "150"] if how == "timeout" else []
    argv = as_user(tool["user"], [*tool["cmd"], "build", "littlebmc", "--plan", "--offline",  # type: ignore[arg-type, misc]
                                  "--source", f"openbmc={tool['tree']}", "-w", str(ws), *extra], path=str(tool["path"]))
    launcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if how == "SIGTERM":
            end = time.monotonic() + 900
            while time.monotonic() < end and launcher.poll() is None and not any(
                    "bitbake-server" in cmd for _, cmd, _ in processes() if str(ws) in cmd or "bitbake" in cmd):
                time.sleep(0.5)
            time.sleep(5)  # the server is up and parsing
            assert launcher.poll() is None, "the plan ended before the server was seen"
            os.kill(_tool_pid(launcher), signal.SIGTERM)
        launcher.wait(timeout=300)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == (130 if how == "SIGTERM" else 124), launcher.stderr.read() if launcher.stderr else ""
    end = time.monotonic() + 30
    while time.monotonic() < end and _bitbake_left(ws):
        time.sleep(0.5)
    assert _bitbake_left(ws) == []
    assert json.loads((build / "summary.json").read_text())["result"] == ("interrupted" if how == "SIGTERM" else "timeout")


def test_devtool_round_trip_on_a_local_source_recipe(tool: dict[str, object]) -> None:
    """modify (the recipe's own local files as the source tree) -> status -> reset, on a BitBake
    tree the ordinary user cannot write and nothing has written to (no parser tables in it):
    devtool's two BitBake runs per command must not trip over tables the first one left."""
    assert not (Path(str(tool["tree"])) / "bitbake/lib/bb/pysh/pyshtables.py").exists(), "a test wrote into the tree"
    ws, src = Path(str(tool["ws"])), Path(str(tool["src"]))
    common = ("--line", "littlebmc")
    start = time.monotonic()
    # --source and --offline here, so the test stands alone; status and reset reuse them
    r = _run(tool, "devtool", "modify", RECIPE, str(src), "--no-extract", *common, "--offline",
             "--source", f"openbmc={tool['tree']}", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    appends = ws / "build" / "littlebmc" / "workspace" / "appends"
    (append,) = appends.glob(f"{RECIPE}*.bbappend")
    assert str(src) in append.read_text()
    r = _run(tool, "devtool", "status", *common, timeout=3600)
    assert r.returncode == 0 and f"{RECIPE}: {src}" in r.stdout, (r.stdout + r.stderr)[-4000:]
    r = _run(tool, "devtool", "reset", RECIPE, *common, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert not append.exists()
    r = _run(tool, "devtool", "status", *common, timeout=3600)
    assert r.returncode == 0 and RECIPE not in r.stdout, r.stdout
    assert sorted(p.name for p in src.iterdir()) == sorted(p.name for p in (Path(str(tool["tree"])) / RECIPE_FILES).iterdir())
    assert _bitbake_left(ws) == []
    print(f"\ndevtool modify/status/reset/status on {RECIPE}: {time.monotonic() - start:.0f} s")


def _tool_pid(launcher: subprocess.Popen[str]) -> int:
    """The cmu610bsp process: the launcher itself, or its child when runuser started it."""
    if launcher.args[0] != "runuser":  # type: ignore[index]
        return launcher.pid
    end = time.monotonic() + 10
    while time.monotonic() < end:
        kids = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("runuser started nothing")


ZEPHYR_BASE = os.environ.get("ZEPHYR_BASE", "")
BANNERS = ("Hello World! cmu610_evb_qemu/cmu610/cpu0", "Hello World! cmu610_evb_qemu/cmu610/cpu1")


@pytest.mark.zephyr
def test_firmware_and_flash_image_built_by_bitbake_boot_in_qemu(tool: dict[str, object]) -> None:
    """Both harts' Zephyr firmware and the flash image, built offline by the OpenBMC tree's BitBake
    from a local Zephyr tree with the workspace's toolchain (Debian's GCC stand-in), for the QEMU
    twin; then a no-op rebuild; then the deployed flash.bin boots on QEMU virt as pflash: the boot
    stage checks both images and each hart prints its banner."""
    if not ZEPHYR_BASE or not (Path(ZEPHYR_BASE) / ".git").exists():
        pytest.skip("set ZEPHYR_BASE to a git checkout of Zephyr 4.x to build the firmware with BitBake")
    if not shutil.which("qemu-system-riscv32"):
        pytest.skip("qemu-system-riscv32 not installed")
    ws = Path(str(tool["ws"]))
    argv = ("build", "littlebmc", "--board", "cmu610-evb-qemu", "--offline", "--source", f"openbmc={tool['tree']}",
            "--source", f"zephyr={ZEPHYR_BASE}", "--target", "cmu610-flash-image", "--json")
    times = []
    for _ in range(2):
        start = time.monotonic()
        r = _run(tool, *argv, timeout=7200)
        times.append(time.monotonic() - start)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        data = json.loads(r.stdout)
        assert data["result"] == "success", data
    deploy = ws / "build" / "littlebmc" / "tmp" / "deploy" / "images" / "cmu610-evb-qemu"
    names = {a["path"].rsplit("/", 1)[-1] for a in data["artifacts"]}
    assert {"zephyr-cpu0.elf", "zephyr-cpu0.bin", "zephyr-cpu1.elf", "zephyr-cpu1.bin", "flash.bin",
            "flash-manifest.json"} <= names, names
    flash_bin = deploy / "flash.bin"
    assert flash_bin.stat().st_size == 32 * 2**20
    manifest = json.loads((deploy / "flash-manifest.json").read_text())
    images = {p["partition"]: p["image"] for p in manifest["partitions"] if p.get("image")}
    assert images["secure-fw"]["hart"] == 0 and images["bmc-fw-a"]["hart"] == 1 and images["bmc-fw-b"]["hart"] == 1
    elf = (deploy / "zephyr-cpu1.elf").read_bytes()
    assert elf[:5] == b"\x7fELF\x01" and b"GCC: (" in elf  # .comment: the compiler that built it
    lines: list[str] = []
    qemu = subprocess.Popen(["qemu-system-riscv32", "-machine", "virt", "-smp", "2", "-m", "256", "-bios", "none",
                             "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
                             "-drive", f"if=pflash,unit=0,format=raw,file={flash_bin},readonly=on"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    # a boot that prints nothing must not hang the test: QEMU is killed after 240 s whatever it does
    watchdog = threading.Timer(240, os.killpg, (qemu.pid, signal.SIGKILL))
    watchdog.start()
    try:
        assert qemu.stdout is not None
        # both harts write to the twin's one UART: a banner may be cut by the other hart's line
        while not _banners_seen("\n".join(lines)):
            line = qemu.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
    finally:
        watchdog.cancel()
        os.killpg(qemu.pid, signal.SIGKILL)
        qemu.wait()
    out = "\n".join(lines)
    assert "boot: secure-fw: ok" in out and "boot: bmc-fw-a: ok" in out, out
    assert _banners_seen(out), out
    print(f"\nfirmware + flash image: build {times[0]:.0f} s, no-op rebuild {times[1]:.0f} s; QEMU flash boot ok")


def _banners_seen(out: str) -> bool:
    """Each hart's banner, allowing the other hart's output between its words (one UART)."""
    return out.count("Hello World!") == len(BANNERS) and all(b.removeprefix("Hello World! ") in out for b in BANNERS)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_cache_serve_answers_and_stops(tool: dict[str, object], sig: int) -> None:
    """`cache serve` runs the tree's own bitbake-hashserv; BitBake's client gets answers from it;
    SIGTERM ends it with exit 130, and after a SIGKILL of the tool the server is gone too."""
    tree, ws = Path(str(tool["tree"])), Path(str(tool["ws"]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = as_user(tool["user"], [*tool["cmd"], "cache", "serve", "--bitbake", str(tree / "bitbake"),  # type: ignore[arg-type, misc]
                                  "--bind", f"127.0.0.1:{port}", "-w", str(ws)], path=str(tool["path"]))
    launcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    # as the ordinary user, like every BitBake-side tool: as root it would write ply's tables into the tree
    client = as_user(tool["user"], ["/usr/bin/python3", str(tree / "bitbake/bin/bitbake-hashclient"),  # type: ignore[arg-type]
                                    "--address", f"127.0.0.1:{port}"])
    try:
        pid = _tool_pid(launcher)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            r = subprocess.run([*client, "stats"], capture_output=True, text=True)
            if r.returncode == 0:
                break
            time.sleep(0.5)
        assert r.returncode == 0 and '"requests"' in r.stdout, r.stdout + r.stderr
        assert subprocess.run([*client, "ping"], capture_output=True, text=True).returncode == 0
        assert (ws / "build" / "hashserv.db").is_file()
        os.kill(pid, sig)
        launcher.wait(timeout=30)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    if sig == signal.SIGTERM:
        assert launcher.returncode == 130, launcher.stderr.read() if launcher.stderr else ""
    def server_left() -> bool:
        return any("hashserv" in cmd and f"127.0.0.1:{port}" in cmd for _, cmd, _ in processes())
    end = time.monotonic() + 10
    while time.monotonic() < end and server_left():
        time.sleep(0.2)
    assert not server_left()
