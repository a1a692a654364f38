"""`cmu610bsp build --plan` (against BitBake's own dry run) and `cmu610bsp devtool` on a real openbmc/openbmc tree (OPENBMC_DIR):
real kas, real BitBake, offline (BB_NO_NETWORK), the tree used in place through `--source`.
Skipped, never passed, without the tree.

As root, the tool runs as CMU610BSP_BB_USER (BitBake refuses root) from a virtualenv made with
Debian's python3 and this repository installed into it (CMU610BSP_BB_VENV reuses one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cmu610bsp import fwpackage
from cmu610bsp.layout import BuildPaths
from conftest import REPO, as_user, firmware_sources, openbmc_runner, processes
from toolchains import MISSING as NO_DEBIAN_GCC
from toolchains import debian_gcc_archive

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
        # this checkout's code, also in a reused virtualenv, and any dependency it has gained since
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(REPO)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(REPO)], check=True)
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
    # the flash image is signed: the workspace's key, in a key cache of this module's (every later
    # command finds it through CMU610BSP_SIGNING_KEY, whatever cache a test gives)
    r = _run(o, "keys", "generate", env={"CMU610BSP_CACHE": str(base / "keys")})
    assert r.returncode == 0, r.stdout + r.stderr
    o["key"] = str(base / "keys" / "keys" / yaml.safe_load((ws / "cmu610bsp.yml").read_text())["signing"]["cache"])
    yield o
    shutil.rmtree(base, ignore_errors=True)


def _run(o: dict[str, object], *args: str, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The tool as the ordinary user in a clean environment (plus `env`: NAME=VALUE for env(1))."""
    given = {"CMU610BSP_SIGNING_KEY": str(o["key"])} if "key" in o else {}
    extra = [f"{k}={v}" for k, v in {**given, **(env or {})}.items()]
    argv = as_user(o["user"], [*extra, *o["cmd"], *args], path=str(o["path"]))  # type: ignore[arg-type, misc]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, start_new_session=True,
                          cwd=str(o["ws"]) if Path(str(o["ws"])).is_dir() else "/")


def _bitbake_left(ws: Path) -> list[str]:
    """BitBake or kas processes still running for this workspace (there must be none)."""
    return [f"{pid} {cmd}" for pid, cmd, cwd in processes()
            if (str(ws) in cmd or (cwd is not None and cwd.is_relative_to(ws))) and ("bitbake" in cmd or "kas" in cmd)]


_DRY_RUN = """
import subprocess, sys, time
from pathlib import Path
from cmu610bsp.kasbuild import compose, lines_of
ws, line, target = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
req = compose.Request(line, target=target)
env = compose.environment(ws, req, lines_of(ws).toolchain)
start = time.monotonic()
r = subprocess.run(compose.kas("shell", compose.composition_of(ws, req), "-c", f"bitbake -n {target}"),
                   cwd=ws, env=env, capture_output=True, text=True)
print(r.stdout + r.stderr)
print(f"seconds {time.monotonic() - start:.1f} exit {r.returncode}")
"""
_SUMMARY = re.compile(r"Tasks Summary: Attempted (\d+) tasks of which (\d+) didn't need to be rerun")


def _dry_run(o: dict[str, object], line: str, target: str) -> tuple[int, int, float]:
    """BitBake's own dry run in the plan's build directory and composition (the run's overlay as
    the plan left it), with the interpreter the tool runs under (kas's environment names it, and
    a different one would change BitBake's configuration hash)."""
    python = Path(str(o["cmd"][0])).read_text().splitlines()[0].removeprefix("#!") if o["user"] else sys.executable  # type: ignore[index]
    # the workspace's signing key, as `_run` gives every command (the environment names it)
    key = [f"CMU610BSP_SIGNING_KEY={o['key']}"] if "key" in o else []
    argv = as_user(o["user"], [*key, python, "-c", _DRY_RUN, str(o["ws"]), line, target], path=str(o["path"]))  # type: ignore[arg-type]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=3600, cwd=str(o["ws"]))
    m, t = _SUMMARY.search(r.stdout), re.search(r"seconds ([\d.]+) exit 0", r.stdout)
    assert m and t, r.stdout[-4000:] + r.stderr[-2000:]
    return int(m.group(1)), int(m.group(2)), float(t.group(1))


@pytest.mark.parametrize("line", ["littlebmc", "bigbmc"])
def test_plan_counts_match_bitbake_dry_run(tool: dict[str, object], line: str) -> None:
    """The plan of the line's OpenBMC userspace image (the default target, the flash image, has a
    few dozen tasks) from the task graph: the same task count as `bitbake -n` and the same number
    that would run; a second plan in the same workspace answers from the warm parse cache."""
    target = f"cmu610-{line}-image"

    def plan() -> tuple[dict[str, object], float]:
        start = time.monotonic()
        r = _run(tool, "build", line, "--plan", "--target", target, "--offline",
                 "--source", f"openbmc={tool['tree']}", "--json", timeout=3600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        return json.loads(r.stdout), time.monotonic() - start

    data, first = plan()
    assert data["result"] == "success" and data["plan"] and data["artifacts"] == []
    p = data["planned"]
    assert p["total"] > 1000 and p["run"] + p["restored"] + p["current"] + p["not_needed"] == p["total"], p
    assert sum(r["tasks"] for r in p["recipes"]) == p["total"]
    log = Path(data["log"]).read_text()
    assert "Nothing PROVIDES" not in log and "Nothing RPROVIDES" not in log
    # the OpenBMC image is built from the whole OpenBMC composition, in the line's other build directory
    build = BuildPaths(Path(str(tool["ws"])), line, openbmc=True).build
    assert 'BB_NO_NETWORK = "1"' in (build / "conf" / "local.conf").read_text()
    assert _bitbake_left(Path(str(tool["ws"]))) == []
    again, second = plan()
    assert again["planned"] == p
    attempted, not_rerun, dry = _dry_run(tool, line, target)
    assert (attempted, attempted - not_rerun) == (p["total"], p["run"]), (attempted, not_rerun, p)
    print(f"\n{line}: {target}: {p['total']} tasks, {p['run']} would run, {p['restored']} restored; "
          f"first --plan {first:.0f} s, second {second:.0f} s, bitbake -n {dry:.0f} s")


@pytest.mark.parametrize("how", ["SIGTERM", "timeout"])
def test_no_bitbake_outlives_the_tool(tool: dict[str, object], how: str) -> None:
    """The real BitBake server daemonizes out of the tool's process group: on SIGTERM and on
    --timeout the tool still stops it (by bitbake.lock) and nothing holds the build directory."""
    ws = Path(str(tool["ws"]))
    build = BuildPaths(ws, "littlebmc", openbmc=True).build  # the OpenBMC image's build directory
    # the plan answers in seconds once the parse cache is warm (the tests above warmed it):
    # the timeout has to catch the server loading its cache
    extra = ["--timeout", "6"] if how == "timeout" else []
    start = time.time()
    argv = as_user(tool["user"], [*tool["cmd"], "build", "littlebmc", "--plan", "--target", "cmu610-littlebmc-image",  # type: ignore[arg-type, misc]
                                  "--offline",
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
    assert json.loads((build / "plan.json").read_text())["result"] == ("interrupted" if how == "SIGTERM" else "timeout")
    assert (build / "bitbake-cookerdaemon.log").stat().st_mtime >= start  # a server had started


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
FIRMWARE = ("cmu610-zephyr-source", "cmu610-secure-fw", "cmu610-bmc-fw", "cmu610-flash-image")
CHANGE = 'printk("devtool: edited by the firmware engineer\\n");'


Stamps = dict[tuple[str, str], tuple[str, bool]]


def _stamps(build: Path) -> Stamps:
    """(recipe, task) -> (signature, restored from shared state) of the firmware recipes' stamps
    in a build directory (BitBake's stamp files: <pv>.<task>[_setscene].<hash>[.<arch>])."""
    out: Stamps = {}
    for f in (build / "tmp" / "stamps").rglob("*.do_*"):
        # the variants that build (cmu610-bmc-fw-<machine>, cmu610-secure-fw-<secure domain>, ...:
        # cmu610_variant.bbclass) by their recipe's name; the recipes themselves only stand for them
        recipe = next((r for r in FIRMWARE[1:] if f.parent.name.startswith(f"{r}-")), None)
        if f.parent.name == "work-shared" and f.name.startswith("cmu610-zephyr-"):
            recipe = "cmu610-zephyr-source"  # its stamps are shared, not per architecture
        parts = f.name.split(".do_", 1)[1].split(".")
        if recipe is None or "sigdata" in parts or "siginfo" in parts or len(parts) < 2:
            continue
        task, sig = "do_" + parts[0], parts[1]
        restored = task.endswith("_setscene")
        out[(recipe, task.removesuffix("_setscene"))] = (sig, restored)
    return out


def _share(first: Stamps, second: Stamps) -> dict[str, object]:
    """Of the tasks the first (clean) build ran, those the second shares (the same signature, or
    not run at all because a restored task covers them): how many, how many the second did not
    run again, which it ran again; and the same for the tasks shared state can carry (those with
    a setscene variant: the second build's restored stamps name them)."""
    carried = {task for (_, task), (_, restored) in second.items() if restored}
    shared, rerun, sstate_shared, sstate_rerun = 0, [], 0, []
    for key, (sig, _) in sorted(first.items()):
        got = second.get(key)
        if got is not None and got[0] != sig and not got[1]:
            continue  # a different task in the second line (hart 1's firmware, the flash image)
        shared += 1
        sstate_shared += key[1] in carried
        if got is not None and not got[1]:
            rerun.append(f"{key[0]}:{key[1]}")
            if key[1] in carried:
                sstate_rerun.append(rerun[-1])
    return {"shared": shared, "not_rerun": shared - len(rerun), "rerun": rerun,
            "sstate_shared": sstate_shared, "sstate_restored": sstate_shared - len(sstate_rerun), "sstate_rerun": sstate_rerun}


@pytest.mark.zephyr
def test_line_build_smokes_its_flash_image_shares_the_secure_firmware_and_takes_devtool_edits(
        tool: dict[str, object]) -> None:
    """The issue's flow, offline, as an ordinary user, through real kas and the tree's BitBake with
    the workspace's toolchain (Debian's GCC stand-in): `build littlebmc --smoke` builds both harts'
    firmware and the flash image for the twin and smoke-tests that image; a no-op rebuild; `build
    bigbmc --smoke` restores the secure firmware from shared state; `devtool modify` of the BMC
    firmware, an edit, `build --smoke` sees it, `devtool reset`, and the edit is gone."""
    fw_sources = firmware_sources()
    if not shutil.which("qemu-system-riscv32"):
        pytest.skip("qemu-system-riscv32 not installed")
    ws = Path(str(tool["ws"]))
    src = ("--offline", "--source", f"openbmc={tool['tree']}", *fw_sources)
    figures = {}

    def build(line: str, name: str, passes: bool = True) -> dict[str, object]:
        start = time.monotonic()
        r = _run(tool, "build", line, *src, "--smoke", "--json", timeout=7200)
        figures[name] = time.monotonic() - start
        assert r.returncode == (0 if passes else 2), (r.stdout + r.stderr)[-4000:]
        data: dict[str, object] = json.loads(r.stdout)
        assert data["result"] == "success" and data["machine"] == "cmu610-evb-qemu", data
        assert data["smoke"]["passed"] == passes, data["smoke"]  # type: ignore[index]
        return data

    little = build("littlebmc", "clean build")
    names = {a["path"].rsplit("/", 1)[-1] for a in little["artifacts"]}  # type: ignore[attr-defined]
    assert {"zephyr-cpu0.elf", "zephyr-cpu1.elf", "flash.bin", "flash-manifest.json"} <= names, names
    layout = {p["partition"]: p for p in little["flash"]["partitions"]}  # type: ignore[index]
    assert layout["secure-fw"]["image"]["hart"] == 0 and layout["bmc-fw-a"]["image"]["hart"] == 1
    deploy = ws / "build" / "littlebmc" / "tmp" / "deploy" / "images" / "cmu610-evb-qemu"
    elf = (deploy / "zephyr-cpu1.elf").read_bytes()
    assert elf[:5] == b"\x7fELF\x01" and b"GCC: (" in elf  # .comment: the compiler that built it
    transcript = Path(little["smoke"]["transcript"]).read_text()  # type: ignore[index]
    assert "line littlebmc" in transcript and "inventory: 8 entries" in transcript
    # OpenBMC's code on both harts, compiled from the recipes' sources into each firmware
    for hart in (0, 1):
        syms = set(subprocess.run(["riscv64-unknown-elf-nm", "-j", str(deploy / f"zephyr-cpu{hart}.elf")],
                                  capture_output=True, text=True, check=True).stdout.split())
        assert {"pack_pldm_header", "mctp_init", "mctp_message_tx"} <= syms, (hart, sorted(syms)[:40])
    budgets = little["flash"]["budgets"]  # type: ignore[index]
    print("\nbudgets: " + "; ".join(f"{d} ROM {b['rom']['used']}/{b['rom']['size']} RAM {b['ram']['used']}/{b['ram']['size']}"
                                   for d, b in sorted(budgets.items())))
    smoke_s = little["smoke"]["seconds"]  # type: ignore[index]
    _signed_and_attested(tool, ws, little, deploy)

    noop = build("littlebmc", "no-op rebuild")
    assert noop["tasks"]["run"] == 0 or noop["tasks"]["attempted"] == noop["tasks"]["not_rerun"], noop["tasks"]  # type: ignore[index]

    big = build("bigbmc", "second line")
    assert "line bigbmc" in Path(big["smoke"]["transcript"]).read_text()  # type: ignore[index]
    first, second = _stamps(ws / "build" / "littlebmc"), _stamps(ws / "build" / "bigbmc")
    assert second[("cmu610-secure-fw", "do_deploy")][1], "the secure firmware was built again, not restored"
    assert ("cmu610-secure-fw", "do_compile") not in second
    share = _share(first, second)

    # devtool on the BMC firmware: the module with the application to edit
    r = _run(tool, "devtool", "modify", "cmu610-bmc-fw", "--line", "littlebmc", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    main_c = ws / "build" / "littlebmc" / "workspace" / "sources" / "cmu610-bmc-fw" / "zephyr" / "apps" / "bmc" / "src" / "main.c"
    text = main_c.read_text()
    main_c.write_text(text.replace("\tcmu610_devices();\n", f"\tcmu610_devices();\n\t{CHANGE}\n", 1))
    edited = build("littlebmc", "devtool build")
    assert "devtool: edited by the firmware engineer" in Path(edited["smoke"]["transcript"]).read_text()  # type: ignore[index]
    r = _run(tool, "devtool", "reset", "cmu610-bmc-fw", "--line", "littlebmc", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    reset = build("littlebmc", "after reset")
    assert "devtool: edited" not in Path(reset["smoke"]["transcript"]).read_text()  # type: ignore[index]

    # devtool on OpenBMC's code the firmware takes: libpldm's source as its recipe pins it. The edit
    # makes the BMC decode the secure hart's TID (1) as 101: the smoke's TID check sees it and fails
    r = _run(tool, "devtool", "modify", "libpldm", "--line", "littlebmc", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    base_c = ws / "build" / "littlebmc" / "workspace" / "sources" / "cmu610-zephyr-lib-libpldm" / "src" / "dsp" / "base.c"
    text = base_c.read_text()
    edit = text.replace("\tpldm_msgbuf_extract(buf, resp->tid);\n",
                        "\tpldm_msgbuf_extract(buf, resp->tid);\n\tresp->tid += 100; /* devtool edit */\n", 1)
    assert edit != text
    base_c.write_text(edit)
    seen = build("littlebmc", "libpldm devtool build", passes=False)
    assert re.search(r"TID 101\b", Path(seen["smoke"]["transcript"]).read_text()), seen["smoke"]  # type: ignore[index]
    r = _run(tool, "devtool", "reset", "libpldm", "--line", "littlebmc", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    back = build("littlebmc", "libpldm after reset")
    assert re.search(r"TID 1\b", Path(back["smoke"]["transcript"]).read_text())  # type: ignore[index]
    r = subprocess.run(["git", "-c", f"safe.directory={tool['tree']}", "-C", str(tool["tree"]), "status", "--porcelain"],
                       capture_output=True, text=True, check=True)
    assert r.stdout == "", f"the OpenBMC tree was modified: {r.stdout}"
    assert _bitbake_left(ws) == []
    print("\n" + "; ".join(f"{k} {v:.0f} s" for k, v in figures.items()) + f"; smoke {smoke_s:.1f} s")
    print(f"second line: of the {share['sstate_shared']} firmware tasks shared state can carry that it shares with "
          f"the first, {share['sstate_restored']} restored; of all {share['shared']} shared tasks, "
          f"{share['not_rerun']} not run again; run again: {', '.join(share['rerun']) or 'none'}")  # type: ignore[arg-type]
    assert share["sstate_restored"] >= 0.9 * share["sstate_shared"] > 0, share  # type: ignore[operator]


@pytest.mark.zephyr
def test_devtool_finish_on_a_component_writes_a_bbappend_the_firmware_is_built_with(tool: dict[str, object]) -> None:
    """`devtool modify libpldm`, an edit committed in devtool's tree, `devtool finish libpldm`: the
    patch lands in meta-cmu610 as a bbappend of OpenBMC's recipe file (the tree untouched), survives
    `sync`, and the next flash image's BMC firmware is built with it (its smoke shows the edit)."""
    fw_sources = firmware_sources()
    if not shutil.which("qemu-system-riscv32"):
        pytest.skip("qemu-system-riscv32 not installed")
    ws = Path(str(tool["ws"]))
    src = ("--offline", "--source", f"openbmc={tool['tree']}", *fw_sources)
    r = _run(tool, "devtool", "modify", "libpldm", "--line", "littlebmc", *src, timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    tree = ws / "build" / "littlebmc" / "workspace" / "sources" / "cmu610-zephyr-lib-libpldm"
    base_c = tree / "src" / "dsp" / "base.c"
    text = base_c.read_text()
    base_c.write_text(text.replace("\tpldm_msgbuf_extract(buf, resp->tid);\n",
                                   "\tpldm_msgbuf_extract(buf, resp->tid);\n\tresp->tid += 100; /* devtool edit */\n", 1))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tree)]
    # OE's patch QA wants an Upstream-Status in every patch of a layer: devtool finish takes the
    # patch's header from the commit message, so the developer states it there
    for step in (["add", "-A"], ["commit", "-q", "-m", "tid plus 100\n\nUpstream-Status: Inappropriate [test edit]"]):
        r = subprocess.run(as_user(tool["user"], [*git, *step]), capture_output=True, text=True)  # type: ignore[arg-type]
        assert r.returncode == 0, r.stderr
    r = _run(tool, "devtool", "finish", "libpldm", "--line", "littlebmc", timeout=3600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    (append,) = (ws / "meta-cmu610" / "recipes-phosphor" / "libpldm").glob("libpldm*.bbappend")
    assert "tid-plus-100" in append.read_text() or list(append.parent.rglob("*tid-plus-100*.patch")), append.read_text()
    assert _run(tool, "sync").returncode == 0 and append.is_file()
    r = _run(tool, "build", "littlebmc", *src, "--smoke", "--json", timeout=7200)
    data = json.loads(r.stdout)
    assert r.returncode == 2 and data["result"] == "success" and not data["smoke"]["passed"], (r.stdout + r.stderr)[-3000:]
    assert re.search(r"TID 101\b", Path(data["smoke"]["transcript"]).read_text())
    r = subprocess.run(["git", "-c", f"safe.directory={tool['tree']}", "-C", str(tool["tree"]), "status", "--porcelain"],
                       capture_output=True, text=True, check=True)
    assert r.stdout == "" and _bitbake_left(ws) == []


# "NOTE: Running [setscene |noexec ]task N of M ([virtual:...:]/path/<recipe>_<version>.bb:do_task)"
_TASK_LINE = re.compile(r"NOTE: Running (setscene |noexec )?task \d+ of \d+ \((?:[^()]*/)?([^/()]+)\.bb:(do_\w+)\)")


def _tasks_run(log: Path) -> dict[str, set[str]]:
    """What a build's log says BitBake ran: {"task": ..., "setscene": ..., "noexec": ...} of
    "recipe:do_task" (the recipe's file name without its version)."""
    out: dict[str, set[str]] = {"task": set(), "setscene": set(), "noexec": set()}
    for m in _TASK_LINE.finditer(log.read_text()):
        kind = (m.group(1) or "task ").strip()
        out[kind].add(f"{m.group(2).split('_')[0]}:{m.group(3)}")
    return out


# The tasks that run the compiler, and those after them: another toolchain runs these again
SWAP_RERUN = {f"{r}:{t}" for r in ("cmu610-secure-fw", "cmu610-bmc-fw") for t in ("do_configure", "do_compile", "do_deploy")} \
    | {"cmu610-flash-image:do_compile", "cmu610-flash-image:do_deploy"}


@pytest.mark.zephyr
def test_installed_toolchain_builds_the_firmware_and_another_archive_rebuilds_only_it(tool: dict[str, object]) -> None:
    """Issue 14: an archive packed from Debian's RISC-V GCC (relocated), installed with `toolchain
    install` and synced, builds the flash image: the ELFs' .comment names that compiler and the
    firmware recipes ran it from the install cache, not /usr/bin. A second archive of the same
    compiler (another checksum) installed the same way reruns the compiling tasks and nothing else;
    a third, unchanged build runs nothing."""
    fw_sources = firmware_sources()
    if NO_DEBIAN_GCC:
        pytest.skip(NO_DEBIAN_GCC)
    ws = Path(str(tool["ws"]))
    build_dir = ws / "build" / "littlebmc"
    archives = ws.parent / "toolchain-archives"
    archives.mkdir()
    # the ordinary user's own cache, removed with the module's directory (not the user's home)
    env = {"CMU610BSP_CACHE": str(ws.parent / "toolchain-cache")}
    config = ws / "cmu610bsp.yml"
    before = config.read_text()
    src = ("--board", "cmu610-evb-qemu", "--offline", "--source", f"openbmc={tool['tree']}", *fw_sources, "--json")
    figures: dict[str, float] = {}

    def install(label: str, extra: dict[str, str] | None = None) -> Path:
        """Pack, install (the same name each time: only the checksum differs) and sync; the root."""
        into = archives / label
        into.mkdir()
        archive, digest = debian_gcc_archive(into, extra=extra)
        if tool["user"]:
            for p in (into, archive):
                shutil.chown(p, str(tool["user"]))
        r = _run(tool, "toolchain", "install", str(archive), "--sha256", digest, "--name", "debian-gcc", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        r = _run(tool, "sync", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f'CMU610_TOOLCHAIN_SHA256 = "{digest}"' in (ws / "configs/kas/toolchain.yml").read_text()
        cache = yaml.safe_load(config.read_text())["toolchain"]["cache"]
        return Path(env["CMU610BSP_CACHE"], "toolchains", cache)

    def build(name: str) -> dict[str, object]:
        start = time.monotonic()
        r = _run(tool, "build", "littlebmc", *src, timeout=7200, env=env)
        figures[name] = time.monotonic() - start
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        data: dict[str, object] = json.loads(r.stdout)
        assert data["result"] == "success" and data["machine"] == "cmu610-evb-qemu", data
        return data

    def built_with(root: Path) -> None:
        """The firmware recipes and the flash image ran root's compiler; the ELFs say so."""
        gcc = root / "bin" / "riscv64-unknown-elf-gcc"
        version = subprocess.run([str(gcc), "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
        ident = "GCC: " + version.split(" ", 1)[1]  # "GCC: (12.2.0-14+deb12u1+11+b2) 12.2.0"
        work = build_dir / "tmp" / "work"
        for recipe in ("cmu610-secure-fw", "cmu610-bmc-fw"):
            (cache,) = work.glob(f"*/{recipe}-*/*/build/CMakeCache.txt")  # its variant for the twin
            assert f"CMAKE_C_COMPILER:STRING={gcc}\n" in cache.read_text(), recipe
        (script,) = work.glob("*/cmu610-flash-image-*/*/temp/run.do_compile")
        assert f"{gcc} " in script.read_text() and "/usr/bin/riscv64-unknown-elf-gcc" not in script.read_text()
        deploy = build_dir / "tmp" / "deploy" / "images" / "cmu610-evb-qemu"
        for elf in ("zephyr-cpu0.elf", "zephyr-cpu1.elf", "bootstage.elf"):
            r = subprocess.run([str(root / "bin" / "riscv64-unknown-elf-readelf"), "-p", ".comment", str(deploy / elf)],
                               capture_output=True, text=True, check=True)
            comment = {line.split("]", 1)[1].strip() for line in r.stdout.splitlines() if "]" in line}
            assert comment == {ident}, (elf, comment)

    try:
        first = install("a")
        a = build("build with archive A")
        built_with(first)
        stamps_a = _stamps(build_dir)

        second = install("b", extra={"share/doc/README": "the same compiler, another archive\n"})
        assert second != first and (first / "bin").is_dir()
        b = build("build with archive B")
        built_with(second)
        ran = _tasks_run(Path(str(b["log"])))
        stamps_b = _stamps(build_dir)
        resigned = {f"{r}:{t}" for (r, t), (sig, _) in stamps_b.items() if stamps_a.get((r, t), ("",))[0] != sig}

        c = build("no-change build")
        again = _tasks_run(Path(str(c["log"])))
    finally:
        config.write_text(before)  # the module's workspace back on the stand-in for the tests after this one
        r = _run(tool, "sync")
        assert r.returncode == 0, r.stdout + r.stderr

    print("\n" + "; ".join(f"{k} {v:.0f} s" for k, v in figures.items()))
    print(f"tasks: A {a['tasks']}; B {b['tasks']}; no change {c['tasks']}")
    print(f"after the swap, ran: {', '.join(sorted(ran['task']))}; setscene: {', '.join(sorted(ran['setscene'])) or 'none'}; "
          f"noexec: {', '.join(sorted(ran['noexec'])) or 'none'}")
    print(f"new signatures: {', '.join(sorted(resigned))}")
    # the checksum reached the signatures of the compiling tasks, and of nothing else but do_build
    assert {t for t in resigned if not t.endswith(":do_build")} == SWAP_RERUN, resigned
    assert ran["task"] == SWAP_RERUN and not ran["setscene"], ran
    assert "cmu610-zephyr-source:do_unpack" not in ran["task"]
    assert again == {"task": set(), "setscene": set(), "noexec": set()}, again
    assert _bitbake_left(ws) == []


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


def _signed_and_attested(tool: dict[str, object], ws: Path, summary: dict[str, object], deploy: Path) -> None:
    """Issue 25 on what BitBake built: MCUboot's own verifier (`imgtool verify`) accepts each
    firmware partition of the deployed flash image with the workspace's public key, and the
    board's SBOM passes spdx3-validate and holds every sha256 of the flash manifest."""
    from cryptography.hazmat.primitives import serialization

    from spdxcheck import manifest_hashes, sbom_hashes, validate_errors

    private = serialization.load_pem_private_key(Path(str(tool["key"])).read_bytes(), None)
    flash = (deploy / "flash.bin").read_bytes()
    manifest = json.loads((deploy / "flash-manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        public = Path(tmp) / "public.pem"
        public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))
        firmware = [p for p in manifest["partitions"] if p["role"] == "firmware"]
        assert {p["partition"] for p in firmware} == {"secure-fw", "bmc-fw-a", "bmc-fw-b"}, firmware
        for p in firmware:
            part = Path(tmp) / f"{p['partition']}.bin"
            part.write_bytes(flash[p["offset"]:p["offset"] + p["size"]])
            r = subprocess.run([sys.executable, "-c", "import sys; from imgtool.main import imgtool; sys.exit(imgtool())",
                                "verify", "-k", str(public), str(part)], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0 and "Image was correctly validated" in r.stdout, (p["partition"], r.stdout, r.stderr)
            print(f"imgtool verify {p['partition']}: {r.stdout.strip().splitlines()[-1]}")
    sbom = ws / "build" / "littlebmc" / str(summary["sbom"])
    assert validate_errors(sbom) == []
    doc = json.loads(sbom.read_text())
    missing = manifest_hashes(manifest) - sbom_hashes(doc)
    assert not missing, missing
    # the update package a field unit takes, and the signed BMC image inside it, by sha256
    carried = fwpackage.read((deploy / "bmc-update.pldm").read_bytes()).image
    assert {hashlib.sha256((deploy / "bmc-update.pldm").read_bytes()).hexdigest(),
            hashlib.sha256(carried).hexdigest()} <= sbom_hashes(doc)
    print(f"sbom {sbom.name}: spdx3-validate passed, {len(manifest_hashes(manifest))} manifest sha256 all present, "
          "and the update package's with its image's")
