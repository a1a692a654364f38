"""`cmu610bsp build` through the real kas on a fixture build system (tests/fixtures/buildsys: its
own oe-init-build-env and a stand-in bitbake, as kas's own tests do; a real BitBake build needs
the network). Covers the composed config, progress, summary, failure report, --dry-run, --plan,
--source, shared state across lines, timeouts and signals with a ps-style check for leftovers.
The command lines run in this process (`cli`), but the builds a test signals or kills: a process of
their own (`spawn_cli`), whose children must not outlive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import Cli, processes, snapshot, spawn_cli

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"


def _ctl(ws: Path, line: str, **ctl: object) -> None:
    d = ws / "build" / line
    d.mkdir(parents=True, exist_ok=True)
    (d / "fake-bitbake.json").write_text(json.dumps(ctl))


def _procs_in(root: Path) -> list[str]:
    """Processes whose working directory is inside root (kas, bitbake, its server)."""
    return [f"{pid} {cmd}" for pid, cmd, cwd in processes() if cwd is not None and cwd.is_relative_to(root)]


def test_dry_run_prints_command_and_composed_config(cli: Cli, workspace: Path) -> None:
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    first, _, dump = r.stdout.partition("\n")
    assert "KAS_WORK_DIR=" in first and "KAS_BUILD_DIR=" in first and first.endswith(
        "kas build configs/kas/base.yml:configs/kas/littlebmc.yml:configs/kas/toolchain.yml:configs/kas/cache.yml:"
        "configs/kas/firmware.yml:build/.kas/littlebmc.yml")
    cfg = yaml.safe_load(dump)
    assert cfg["target"] == "cmu610-flash-image" and cfg["machine"] == "cmu610-evb"
    assert cfg["repos"]["openbmc"]["path"] == str(FIXTURE) and cfg["repos"]["openbmc"]["url"] is None
    assert "meta-phosphor" in cfg["repos"]["openbmc"]["layers"]
    assert set(cfg["local_conf_header"]) >= {"cmu610-base", "cmu610-toolchain", "cmu610-cache"}
    assert not (workspace / "build" / "littlebmc" / "cmu610bsp-build.log").exists()  # nothing ran
    assert cfg["repos"]["cmu610bsp"]["path"] == str(workspace)


def test_dry_run_clones_nothing(cli: Cli, workspace: Path) -> None:
    """Without --source, kas dump would clone OpenBMC first: --dry-run shows the files instead."""
    r = cli("build", "bigbmc", "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "kas dump skipped: it would clone openbmc first" in r.stdout
    assert "# --- configs/kas/base.yml\n" in r.stdout and 'url: "https://github.com/openbmc/openbmc.git"' in r.stdout
    assert not (workspace / "build" / "openbmc").exists()


def test_workspace_inside_another_git_repository(cli: Cli, tmp_path: Path) -> None:
    """kas takes the top level of the git repository holding the config files as the layer's
    repository: a workspace in a subdirectory of a monorepo must still give kas meta-cmu610."""
    outer = tmp_path / "monorepo"
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    ws = outer / "bsp" / "evb"
    r = cli("init", str(ws))
    assert r.returncode == 0 and "inside an existing repository" in r.stdout, r.stdout + r.stderr
    r = cli("build", "littlebmc", "--source", SRC, cwd=ws)
    assert r.returncode == 0, r.stderr
    layers = (ws / "build/littlebmc/conf/bblayers.conf").read_text()
    assert "${TOPDIR}/../../meta-cmu610 " in layers and "${TOPDIR}/../.. " not in layers, layers


def test_overlay_carries_caches_mirror_and_hashserv(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    r = cli("build", "bigbmc", "--source", SRC, "--cache", str(tmp_path / "c"), "--sstate-mirror", "http://mirror/sstate",
            "--hashserv", "hashserv.lan:8686", "--target", "core-image-minimal", "--offline", "--dry-run", cwd=workspace)
    cfg = yaml.safe_load(r.stdout.partition("\n")[2])
    run = cfg["local_conf_header"]["zz-cmu610bsp-run"]
    assert f'SSTATE_DIR = "{tmp_path}/c/sstate-cache"' in run and 'BB_HASHSERVE = "hashserv.lan:8686"' in run
    assert "http://mirror/sstate/PATH" in run and cfg["target"] == "core-image-minimal"
    assert 'BB_NO_NETWORK = "1"' in run
    r = cli("build", "bigbmc", "--hashserv", "nope", "--dry-run", cwd=workspace)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr


def test_build_progress_summary_and_shared_state(cli: Cli, workspace: Path) -> None:
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["result"] == "success" and s["board"] == "cmu610-evb" and s["line"] == "littlebmc"
    assert s["tasks"] == {"attempted": 22, "not_rerun": 0, "run": 22, "restored_from_sstate": 0}
    art = s["artifacts"][0]
    assert art["path"] == "tmp/deploy/images/cmu610-evb/cmu610-flash-image-cmu610-evb.rootfs.tar.xz"
    import hashlib
    assert art["sha256"] == hashlib.sha256((workspace / "build/littlebmc" / art["path"]).read_bytes()).hexdigest()
    assert json.loads((workspace / "build/littlebmc/summary.json").read_text()) == s
    assert "NOTE: Running task 22 of 22" in Path(s["log"]).read_text()
    layers = (workspace / "build/littlebmc/conf/bblayers.conf").read_text()
    assert "${TOPDIR}/../../meta-cmu610 " in layers and "${TOPDIR}/../.. " not in layers, layers
    assert f"warning: not pinned to a commit: openbmc (local checkout {FIXTURE})" in r.stderr
    assert "NOTE: Running task" in r.stderr  # plain progress lines when not on a terminal
    # the second line reuses the shared state the first one built (the stand-in's tasks are by
    # recipe and target name, and both lines' default target is the flash image: all of them; the
    # real per-line difference, hart 1's firmware, is measured by the OpenBMC build test)
    s2 = json.loads(cli("build", "bigbmc", "--source", SRC, "--json", cwd=workspace).stdout)
    assert s2["tasks"]["restored_from_sstate"] == 22 and s2["tasks"]["run"] == 0
    assert (workspace / "build/bigbmc").is_dir() and (workspace / "build/sstate-cache").is_dir()


def test_plan_counts_without_building(cli: Cli, workspace: Path) -> None:
    """The plan runs bbplan.py in kas's shell (the stand-in tinfoil of tests/fixtures answers for
    BitBake's server), keeps its own record, and sees what a build put into shared state."""
    r = cli("build", "littlebmc", "--source", SRC, "--plan", "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["plan"] is True and s["tasks"]["run"] == 22 and s["artifacts"] == []
    p = s["planned"]
    assert (p["total"], p["run"], p["restored"], p["not_needed"]) == (22, 22, 0, 0)
    assert {"pn": "bmcweb", "tasks": 4, "run": 4, "restored": 0, "current": 0} in p["recipes"]
    assert "kas shell" in s["kas_command"] and "bbplan.py" in s["kas_command"], s["kas_command"]
    d = workspace / "build/littlebmc"
    assert not (d / "tmp/deploy").exists() and not (d / "summary.json").exists()
    assert json.loads((d / "plan.json").read_text())["planned"] == p
    assert "fixture tinfoil: parsing recipes" in (d / "cmu610bsp-plan.log").read_text()
    # after a build, the image is in shared state: restoring it is all the next build needs
    assert cli("build", "littlebmc", "--source", SRC, cwd=workspace).returncode == 0
    r = cli("build", "littlebmc", "--source", SRC, "--plan", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "22 tasks; 0 would run" in r.stdout and "1 restored from shared state (1 local, 0 mirror" in r.stdout
    assert "21 not needed" in r.stdout and json.loads((d / "summary.json").read_text())["plan"] is False


def test_plan_failure_is_reported(cli: Cli, workspace: Path) -> None:
    _ctl(workspace, "littlebmc", no_provider="cmu610-flash-image")
    r = cli("build", "littlebmc", "--source", SRC, "--plan", "--json", cwd=workspace)
    assert r.returncode == 2, r.stderr
    s = json.loads(r.stdout)
    assert s["result"] == "failed" and "planned" not in s
    assert "nothing provides cmu610-flash-image" in (workspace / "build/littlebmc/cmu610bsp-plan.log").read_text()


def test_failure_report(cli: Cli, workspace: Path) -> None:
    _ctl(workspace, "littlebmc", fail="entity-manager:do_compile")
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace)
    assert r.returncode == 2
    s = json.loads(r.stdout)
    assert s["result"] == "failed" and s["artifacts"] == []
    f = s["failed_task"]
    assert f["task"] == "/layers/entity-manager.bb:do_compile" and f["log"].endswith(".do_compile." + f["log"].rsplit(".", 1)[1])
    assert f["log_tail"][-1] == "error: fixture failure" and len(f["log_tail"]) == 20
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert "first failing task: /layers/entity-manager.bb:do_compile" in r.stdout


def test_bad_input(cli: Cli, workspace: Path) -> None:
    for args, words in ((["hugebmc"], "unknown product line"), (["littlebmc", "--board", "x"], "not a board"),
                        (["littlebmc", "--source", "openbmc"], "NAME=PATH"),
                        (["littlebmc", "--source", "openbmc=/nonexistent"], "not a directory")):
        r = cli("build", *args, "--dry-run", cwd=workspace)
        assert r.returncode == 2 and words in r.stderr, (args, r.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signal_stops_kas_bitbake_and_its_server(cli: Cli, workspace: Path, sig: int) -> None:
    """The server lingers (as with BB_SERVER_TIMEOUT): stopping it is the tool's job."""
    _ctl(workspace, "littlebmc", hang="bmcweb:do_compile", linger=True)
    p = spawn_cli("build", "littlebmc", "--source", SRC, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True, start_new_session=True)
    try:
        log = workspace / "build/littlebmc/cmu610bsp-build.log"
        end = time.monotonic() + 30
        while time.monotonic() < end and not (log.exists() and "bmcweb-1.0-r0: task do_compile: Started" in log.read_text()):
            time.sleep(0.05)
        assert (workspace / "build/littlebmc/bitbake.lock").exists()
        assert len(_procs_in(workspace)) >= 3  # cmu610bsp, kas, bitbake and its server
        # a second run in the same build directory is refused, and leaves the first alone
        r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
        assert r.returncode == 2 and "another cmu610bsp run is using" in r.stderr and p.poll() is None
        os.kill(p.pid, sig)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, p.stderr.read() if p.stderr else ""
    time.sleep(0.3)
    assert _procs_in(workspace) == []
    assert json.loads((workspace / "build/littlebmc/summary.json").read_text())["result"] == "interrupted"
    # the next build starts cleanly
    _ctl(workspace, "littlebmc")
    assert cli("build", "littlebmc", "--source", SRC, cwd=workspace).returncode == 0


@pytest.mark.parametrize("linger", [False, True], ids=["server-follows-client", "server-lingers"])
def test_sigkill_of_the_tool(cli: Cli, workspace: Path, linger: bool) -> None:
    """SIGKILL runs no handler of ours: kas gets SIGTERM from the kernel (parent-death signal) and
    stops BitBake; BitBake's server exits with its client, or, when it lingers (BB_SERVER_TIMEOUT),
    the next build stops it before starting."""
    _ctl(workspace, "littlebmc", hang="bmcweb:do_compile", linger=linger)
    p = spawn_cli("build", "littlebmc", "--source", SRC, cwd=workspace, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL, start_new_session=True)
    log = workspace / "build/littlebmc/cmu610bsp-build.log"
    end = time.monotonic() + 30
    while time.monotonic() < end and not (log.exists() and "bmcweb-1.0-r0: task do_compile: Started" in log.read_text()):
        time.sleep(0.05)
    assert len(_procs_in(workspace)) >= 3
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)

    def left() -> list[str]:
        end = time.monotonic() + 15
        while time.monotonic() < end and len(_procs_in(workspace)) > 2 * linger:
            time.sleep(0.1)
        return _procs_in(workspace)
    if not linger:
        assert left() == []
        return
    lingering = left()  # the server and its parser
    server = (workspace / "build/littlebmc/bitbake.lock").read_text().split()[0]
    assert len(lingering) == 2 and all("bitbake" in p for p in lingering) and server in [p.split()[0] for p in lingering]
    _ctl(workspace, "littlebmc")
    assert cli("build", "littlebmc", "--source", SRC, cwd=workspace).returncode == 0
    time.sleep(0.3)
    assert _procs_in(workspace) == []


@pytest.mark.parametrize("stubborn", [False, True], ids=["server-stops-on-sigterm", "server-ignores-sigterm"])
def test_timeout_exits_124_and_leaves_nothing(cli: Cli, workspace: Path, stubborn: bool) -> None:
    """The server is daemonized (not its group's leader) and has a parser process; one that
    ignores SIGTERM is killed with its whole group, parser included (killing the server's pid
    alone orphaned it)."""
    _ctl(workspace, "littlebmc", hang="busybox:do_install", linger=True, stubborn=stubborn)
    r = cli("build", "littlebmc", "--source", SRC, "--timeout", "4", "--json", cwd=workspace)
    assert r.returncode == 124, r.stderr
    assert json.loads(r.stdout)["result"] == "timeout"
    time.sleep(0.3)
    assert _procs_in(workspace) == []


def test_devtool_round_trip_keeps_workspace_layer(cli: Cli, workspace: Path) -> None:
    assert cli("build", "littlebmc", "--source", SRC, cwd=workspace).returncode == 0
    r = cli("devtool", "modify", "phosphor-state-manager", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and "Source tree extracted" in r.stdout
    # a later build (kas rewrites bblayers.conf) keeps devtool's layer, and warns about it
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 0 and "devtool workspace overrides phosphor-state-manager" in r.stderr
    assert "${TOPDIR}/workspace" in (workspace / "build/littlebmc/conf/bblayers.conf").read_text()
    r = cli("devtool", "status", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and "phosphor-state-manager:" in r.stdout
    r = cli("devtool", "finish", "phosphor-state-manager", "--line", "littlebmc", cwd=workspace)
    out = workspace / "meta-cmu610/recipes-phosphor/phosphor-state-manager/phosphor-state-manager_%.bbappend"
    assert r.returncode == 0 and out.is_file() and f"into {workspace / 'meta-cmu610'}" in r.stdout
    assert cli("devtool", "reset", "phosphor-state-manager", "--line", "littlebmc", cwd=workspace).returncode == 0


def test_devtool_modify_an_existing_source_tree(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """`modify RECIPE SRCTREE --no-extract`: devtool builds from the user's tree, fetching nothing."""
    src = tmp_path / "phosphor-state-manager"
    src.mkdir()
    (src / "main.c").write_text("int main(void) { return 1; }\n")
    # a fresh workspace: no build has run, --source says where OpenBMC is and --offline sets
    # BB_NO_NETWORK (OE's sanity check would try the network); later commands reuse both
    r = cli("devtool", "modify", "phosphor-state-manager", str(src), "--no-extract", "--line", "littlebmc",
            "--source", SRC, "--offline", cwd=workspace)
    assert r.returncode == 0 and f"set up to build from {src}" in r.stdout, r.stdout + r.stderr
    assert not (workspace / "build" / "openbmc").exists()
    assert (src / "main.c").read_text() == "int main(void) { return 1; }\n"
    r = cli("devtool", "status", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and f"phosphor-state-manager: {src}" in r.stdout
    assert 'BB_NO_NETWORK = "1"' in (workspace / "build/littlebmc/conf/local.conf").read_text()
    r = cli("devtool", "modify", "phosphor-state-manager", "--no-extract", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 2 and "--no-extract needs SRCTREE" in r.stderr


def test_lock_pins_a_floating_repository_with_real_kas(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """A repository added by hand on a branch floats: `build` names it; `lock` (kas lock, cloning
    a local git repository) pins it in configs/kas/base.lock.yml and the warning goes away."""
    extra = tmp_path / "meta-extra"
    extra.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(extra)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(extra)], check=True)
    (extra / "README").write_text("an extra layer\n")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    base = workspace / "configs/kas/base.yml"
    base.write_text(base.read_text().replace("\n  openbmc:\n", f'\n  meta-extra:\n    url: "file://{extra}"\n'
                                             "    branch: main\n    layers:\n      .: disabled\n\n  openbmc:\n", 1))
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 0 and "not pinned to a commit: meta-extra, openbmc (local checkout" in r.stderr, r.stderr
    r = cli("lock", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 0 and "pinned: configs/kas/base.lock.yml" in r.stdout, r.stdout + r.stderr
    lock = yaml.safe_load((workspace / "configs/kas/base.lock.yml").read_text())
    assert lock["overrides"]["repos"]["meta-extra"]["commit"] == head
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 0 and "not pinned to a commit: openbmc (local checkout" in r.stderr and "meta-extra" not in r.stderr


def test_build_takes_boards_and_lines_from_the_model(cli: Cli, workspace: Path) -> None:
    """Which board serves which line comes from the validated description (not from regexes over
    generated files); a description changed since the last generate is named; the QEMU twin of a
    board is buildable; a broken generated kas file is exit 2 naming it, nothing written."""
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0 and "changed since" not in r.stderr, r.stderr
    r = cli("build", "littlebmc", "--board", "cmu610-evb-qemu", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout.partition("\n")[2])["machine"] == "cmu610-evb-qemu"
    r = cli("build", "littlebmc", "--board", "nope", "--dry-run", cwd=workspace)
    assert r.returncode == 2 and "not a board of this workspace" in r.stderr
    assert "boards: cmu610-evb, cmu610-evb-qemu" in r.stderr
    r = cli("build", "base", "--dry-run", cwd=workspace)  # a kas file, but not a line's
    assert r.returncode == 2 and "unknown product line 'base'" in r.stderr and "lines: bigbmc, littlebmc" in r.stderr
    board = workspace / "configs/boards/cmu610-evb.yaml"
    board.write_text(board.read_text().replace("product_lines: [bigbmc, littlebmc]", "product_lines: [bigbmc]"))
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 2 and "no board of this workspace serves littlebmc" in r.stderr
    r = cli("build", "littlebmc", "--board", "cmu610-evb", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 2 and "cmu610-evb does not serve littlebmc (it serves bigbmc)" in r.stderr
    r = cli("build", "bigbmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0
    assert "warning: changed since the layer was generated: configs/boards/cmu610-evb.yaml" in r.stderr
    board.write_text(board.read_text().replace("product_lines: [bigbmc]", "product_lines: [bigbmc, littlebmc]"))
    line = workspace / "configs/kas/littlebmc.yml"
    line.write_text(line.read_text() + "repos: [\n")  # a hand edit gone wrong
    before = snapshot(workspace)
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 2 and f"{line}: not valid YAML" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert snapshot(workspace) == before


def test_line_file_without_default_board(cli: Cli, workspace: Path) -> None:
    """A line file that names no board: the first board of the description serving the line."""
    line = workspace / "configs/kas/bigbmc.yml"
    line.write_text("\n".join(x for x in line.read_text().splitlines() if not x.startswith("machine:")) + "\n")
    r = cli("build", "bigbmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0 and yaml.safe_load(r.stdout.partition("\n")[2])["machine"] == "cmu610-evb", r.stderr


def test_build_command_line(cli: Cli, workspace: Path) -> None:
    """build is a command of the one typer tree: its help, usage errors, global options on either
    side of its name; the command logged is the command recorded in summary.json, which ran."""
    r = cli("build", "--help")
    assert r.returncode == 0 and "Usage: cmu610bsp build" in r.stdout and "--sstate-mirror URL" in r.stdout
    assert "<bool>" not in r.stdout and "<list" not in r.stdout
    r = cli("--help")
    assert r.returncode == 0 and "build" in r.stdout
    r = cli("build", "littlebmc", "--no-such-option", cwd=workspace)
    assert r.returncode == 2 and "No such option: --no-such-option" in r.stderr
    r = cli("build", cwd=workspace)
    assert r.returncode == 2 and "LINE" in r.stderr
    for args in (["--debug", "build", "littlebmc"], ["build", "littlebmc", "--debug"]):
        r = cli(*args, "--source", SRC, "--json", cwd=workspace)
        assert r.returncode == 0, r.stderr
        ran = json.loads(r.stdout)["kas_command"]
        assert ran.startswith(f"{sys.executable} -m kas build configs/kas/base.yml:")
        assert f"{workspace}$ {ran}\n" in r.stderr  # the wrapper's log line: what ran is what is recorded
    r = cli("-w", str(workspace), "build", "littlebmc", "--dry-run", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["command"][-1].endswith("build/.kas/littlebmc.yml")
    r = cli("build", "littlebmc", "-w", str(workspace), "--timeout", "-5")
    assert r.returncode == 2 and "--timeout -5: expected a number of seconds above 0" in r.stderr
    r = cli("build", "littlebmc", "-w", str(workspace), "--sstate-mirror", "not a url", "--dry-run")
    assert r.returncode == 2 and "expected a URL" in r.stderr
    r = cli("build", "littlebmc", "-w", str(workspace), "--source", f"foo={FIXTURE}", "--dry-run")
    assert r.returncode == 2 and "the configuration has no repository 'foo'" in r.stderr


def test_failure_before_bitbake_starts_is_reported(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """kas fails before any task (an OpenBMC tree with no init script): the cause is in the
    summary and on the terminal, not only in the log."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("build", "littlebmc", "--source", f"openbmc={empty}", "--json", cwd=workspace)
    assert r.returncode == 2
    s = json.loads(r.stdout)
    assert s["result"] == "failed" and "failed_task" not in s
    assert any("init-build-env" in line for line in s["error"]), s


def test_bitbake_processes_do_not_see_the_build_directory_on_sys_path(cli: Cli, workspace: Path) -> None:
    """oe-init-build-env's PYTHONPATH ends in ':' (the current directory) when it was empty; the
    overlay's kas env gives BitBake's library path instead, so parser tables a read-only BitBake
    tree left in the build directory are never imported (devtool's second BitBake run died on them)."""
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout.partition("\n")[2])
    assert cfg["env"]["PYTHONPATH"] == str(FIXTURE / "bitbake" / "lib")
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    log = Path(json.loads(r.stdout)["log"]).read_text()
    assert f"NOTE: fixture bitbake: PYTHONPATH='{FIXTURE}/bitbake/lib'\n" in log  # no trailing ':'
