"""`cmu610bsp build LINE --all-boards`: several boards of a line in one BitBake run.

In-process: which boards, secure domains (boards that share one get one secure firmware), the
task lines read back into what each board ran and what the boards shared, each board's result.
Through the CLI: the options only it checks, and whole runs on the fixture build system, whose
stand-in `bitbake` stands in for a full BitBake build: it prints BitBake's task lines for the
variants meta-cmu610 builds (virtual:cmu610_variant:...), shares the secure firmware's tasks
between the boards whose secure domain it is, goes on past a failure with -k, and deploys a real
flash image (tests/flashimg.py) for --smoke. The real build is tests/test_openbmc_build.py's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmu610bsp import render
from cmu610bsp import workspace as wsp
from cmu610bsp.errors import BspError
from cmu610bsp.kasbuild import compose, rack
from cmu610bsp.kasbuild.bitbake import Progress
from cmu610bsp.kasbuild.report import summarize
from conftest import Cli
from rack import make_rack

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"


@pytest.fixture
def rack_ws(cli: Cli, workspace: Path) -> Path:
    make_rack(workspace, 3, keep_evb=True)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr
    return workspace


def _project(ws: Path):  # type: ignore[no-untyped-def]
    return wsp.load_project(wsp.open_workspace(ws))


def test_sleds_share_one_secure_domain_and_the_evb_has_its_own(rack_ws: Path) -> None:
    domains = render.secure_domains(_project(rack_ws))
    twins = {d.variant: d.machines for d in domains if d.twin}
    assert sorted(twins.values()) == [("cmu610-evb-qemu",), ("cmu610-sled-qemu", "cmu610-sled1-qemu", "cmu610-sled2-qemu")]
    assert len([d for d in domains if not d.twin]) == 2
    shared = next(d for d in domains if len(d.machines) == 3 and d.twin)
    # its Zephyr board holds the secure domain alone, named by what it is, not by a board
    assert shared.zephyr_target == f"{shared.zephyr_board}/cmu610/cpu0" and "sled" not in shared.zephyr_board
    dts = dict(shared.files)[f"meta-cmu610/zephyr/boards/cmu/{shared.zephyr_board}/{shared.zephyr_board}_cmu610_cpu0.dts"]
    assert f'board = "{shared.name}"' in dts
    inc = (rack_ws / "meta-cmu610/conf/machine/include/cmu610-boards.inc").read_text()
    for m in shared.machines:
        assert f'CMU610_SECURE_DOMAIN:cmu610-variant-{m} = "{shared.variant}"' in inc
    # a board's BMC domain is not part of it: a sensor moved changes the BMC firmware only
    assert render.secure_domains(_project(rack_ws)) == domains


def test_which_boards(rack_ws: Path) -> None:
    from cmu610bsp.kasbuild import lines_from

    lines = lines_from(_project(rack_ws))
    assert rack.select(lines, "littlebmc", [], True, False) == [
        ("cmu610-evb", "cmu610-evb"), ("cmu610-sled", "cmu610-sled"), ("cmu610-sled1", "cmu610-sled1"),
        ("cmu610-sled2", "cmu610-sled2")]
    assert rack.select(lines, "littlebmc", ["cmu610-sled2-qemu", "cmu610-sled-qemu"], False, True) == [
        ("cmu610-sled2", "cmu610-sled2-qemu"), ("cmu610-sled", "cmu610-sled-qemu")]
    assert [m for _, m in rack.select(lines, "bigbmc", [], True, True)] == ["cmu610-evb-qemu"]
    with pytest.raises(BspError, match="not with --board"):
        rack.select(lines, "littlebmc", ["cmu610-sled"], True, False)
    with pytest.raises(BspError, match="give --board cmu610-sled-qemu"):
        rack.select(lines, "littlebmc", ["cmu610-sled"], False, True)
    with pytest.raises(BspError, match="given twice"):
        rack.select(lines, "littlebmc", ["cmu610-sled", "cmu610-sled"], False, False)
    with pytest.raises(BspError, match="does not serve bigbmc"):
        rack.select(lines, "bigbmc", ["cmu610-sled", "cmu610-evb"], False, False)


def test_task_ids_name_the_variants() -> None:
    assert rack.recipe_of("virtual:cmu610_variant:cmu610-sled-qemu:/l/meta-cmu610/recipes-bsp/cmu610-firmware/"
                          "cmu610-bmc-fw_1.0.bb:do_compile") == ("cmu610-bmc-fw-cmu610-sled-qemu", "do_compile")
    assert rack.recipe_of("/l/cmu610-zephyr-source_1.0.bb:do_unpack") == ("cmu610-zephyr-source", "do_unpack")
    assert rack.recipe_of("virtual:native:/l/cmake_3.31.bb:do_compile") == ("cmake-native", "do_compile")


SD = "cmu610-sd-0123abcd-qemu"
MACHINES = ("a-qemu", "b-qemu", "c-qemu")


def _log(lines: list[str]) -> rack.TaskLog:
    prog = Progress()
    for line in lines:
        prog.feed("2026-11-27 08:00:56 - INFO     - " + line)
    return rack.TaskLog.of(prog)


def _run_lines(restored_secure: bool = False, fail: str = "") -> list[str]:
    fw = "virtual:cmu610_variant:{v}:/l/{r}_1.0.bb:{t}"
    out = []
    if restored_secure:
        out.append("NOTE: Running setscene task 1 of 1 (" + fw.format(v=SD, r="cmu610-secure-fw", t="do_deploy") + "_setscene)")
    else:
        out += [f"NOTE: Running task 1 of 9 ({fw.format(v=SD, r='cmu610-secure-fw', t=t)})" for t in ("do_compile", "do_deploy")]
    for m in MACHINES:
        for r in ("cmu610-bmc-fw", "cmu610-flash-image"):
            for t in ("do_compile", "do_deploy"):
                tid = fw.format(v=m, r=r, t=t)
                out.append(f"NOTE: Running task 2 of 9 ({tid})")
                if fail == f"{r}-{m}:{t}":
                    out += ["ERROR: Logfile of failure stored in: /nonexistent/log.do_compile.1",
                            f"ERROR: Task ({tid}) failed with exit code '1'"]
                    break
    return out


def test_the_secure_firmware_compiles_once_for_three_boards() -> None:
    chains = {m: rack.chain(m, SD) for m in MACHINES}
    shared = {s.recipe: s for s in rack.sharing(chains, _log(_run_lines()))}
    assert set(shared) == {f"cmu610-secure-fw-{SD}", "cmu610-zephyr-source"}
    sec = shared[f"cmu610-secure-fw-{SD}"]
    assert (sec.boards, sec.compiled, sec.restored, sec.reused) == (MACHINES, 1, 0, 2)
    # the next run restores it once from shared state, and the other two boards reuse that
    sec = {s.recipe: s for s in rack.sharing(chains, _log(_run_lines(restored_secure=True)))}[f"cmu610-secure-fw-{SD}"]
    assert (sec.compiled, sec.restored, sec.reused) == (0, 1, 2)
    # nothing ran for it (current in this build directory): all three boards reused it
    assert rack.sharing(chains, rack.TaskLog())[1].reused == 3


def test_a_failed_board_does_not_hide_the_others(tmp_path: Path) -> None:
    log = _log(_run_lines(fail="cmu610-bmc-fw-b-qemu:do_compile"))
    for m in ("a-qemu", "c-qemu"):  # what the flash image recipe deploys
        d = tmp_path / "tmp/deploy/images" / m
        d.mkdir(parents=True)
        (d / "flash-manifest.json").write_text('{"partitions": []}')
    prog = Progress()
    whole = summarize("failed", "littlebmc", "a", "a-qemu", False, 1.0, prog, tmp_path / "log", tmp_path, "kas build")
    boards = {m: rack.board_summary(whole, m.removesuffix("-qemu"), m, rack.chain(m, SD), log, tmp_path)
              for m in MACHINES}
    assert {m: s.result for m, s in boards.items()} == {"a-qemu": "success", "b-qemu": "failed", "c-qemu": "success"}
    failed = boards["b-qemu"].failed_task
    assert failed is not None and failed.task == "cmu610-bmc-fw-b-qemu:do_compile"
    assert boards["a-qemu"].target == "cmu610-flash-image-a-qemu" and boards["a-qemu"].tasks.run == 6
    # a failure in the shared secure firmware fails every board that takes it
    log = _log([f"ERROR: Task (virtual:cmu610_variant:{SD}:/l/cmu610-secure-fw_1.0.bb:do_compile) failed with exit code '1'"])
    assert all(rack.board_summary(whole, m, m, rack.chain(m, SD), log, tmp_path).result == "failed" for m in MACHINES)


def test_several_boards_are_one_kas_run_that_goes_on_past_failures(workspace: Path) -> None:
    req = compose.Request("littlebmc", "cmu610-evb", targets=("cmu610-flash-image-a", "cmu610-flash-image-b"),
                          keep_going=True, sources={"openbmc": FIXTURE})
    assert compose.build_command(workspace, req)[-2:] == ["--", "-k"]
    data = compose.overlay(workspace, req, "cmu610-evb")
    assert data["target"] == ["cmu610-flash-image-a", "cmu610-flash-image-b"]
    assert compose.target(workspace, req) == "cmu610-flash-image-a cmu610-flash-image-b"


def test_cli_refuses_what_builds_one_board(cli: Cli, workspace: Path) -> None:
    for extra in (["--plan"], ["--dry-run"], ["--target", "x"], ["--board", "cmu610-evb"]):
        r = cli("build", "littlebmc", "--all-boards", *extra, cwd=workspace)
        assert r.returncode == 2 and "not with" in r.stderr, (extra, r.stderr)
    assert not (workspace / "build" / "littlebmc" / "summary.json").exists()


def _fixture_ctl(ws: Path, line: str, **ctl: object) -> None:
    d = ws / "build" / line
    d.mkdir(parents=True, exist_ok=True)
    domains = render.secure_domains(_project(ws))
    secure = {m: sd.variant for sd in domains for m in sd.machines}
    (d / "fake-bitbake.json").write_text(json.dumps({"recipes": [], "secure_domains": secure, **ctl}))


def test_all_boards_in_one_run_share_the_secure_firmware(cli: Cli, rack_ws: Path) -> None:
    """Stand-in BitBake (tests/fixtures/buildsys): the task lines of a full build of four boards."""
    manifest = rack_ws / "manifest.json"
    manifest.write_text('{"partitions": []}')
    _fixture_ctl(rack_ws, "littlebmc", deploy={"flash-manifest.json": str(manifest)})
    r = cli("build", "littlebmc", "--all-boards", "--source", SRC, "--json", cwd=rack_ws)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["kind"] == "rack" and s["result"] == "success" and s["hash_equivalence"] == "auto"
    assert list(s["boards"]) == ["cmu610-evb", "cmu610-sled", "cmu610-sled1", "cmu610-sled2"]
    (sec,) = [x for x in s["shared"] if x["recipe"].startswith("cmu610-secure-fw-")]
    assert sec["boards"] == ["cmu610-sled", "cmu610-sled1", "cmu610-sled2"] and sec["compiled"] == 1 and sec["reused"] == 2
    # one compile per distinct firmware: two secure domains, four BMC firmwares, four flash images
    assert len(s["compiled"]) == len(set(s["compiled"])) == 2 + 4 + 4
    assert json.loads((rack_ws / "build/littlebmc/summary.json").read_text()) == s
    for m in s["boards"]:
        board = json.loads((rack_ws / "build/littlebmc/boards" / m / "summary.json").read_text())
        assert board["result"] == "success" and board["machine"] == m and board["flash"] == {"partitions": []}
        assert board["target"] == f"cmu610-flash-image-{m}"
        assert [a["path"] for a in board["artifacts"]] == [f"tmp/deploy/images/{m}/flash-manifest.json"]

    # again: everything from shared state, the secure firmware restored once for the three sleds
    r = cli("build", "littlebmc", "--all-boards", "--source", SRC, "--json", cwd=rack_ws)
    s = json.loads(r.stdout)
    (sec,) = [x for x in s["shared"] if x["recipe"].startswith("cmu610-secure-fw-")]
    assert (sec["compiled"], sec["restored"], sec["reused"]) == (0, 2, 2) and s["compiled"] == []


def test_a_failing_board_fails_the_run_and_the_others_still_build(cli: Cli, rack_ws: Path) -> None:
    _fixture_ctl(rack_ws, "littlebmc", fail="cmu610-bmc-fw-cmu610-sled1:do_compile")
    r = cli("build", "littlebmc", "--board", "cmu610-sled", "--board", "cmu610-sled1", "--board", "cmu610-sled2",
            "--source", SRC, cwd=rack_ws)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "1 of 3 boards of littlebmc failed (cmu610-sled1)" in r.stderr
    s = json.loads((rack_ws / "build/littlebmc/summary.json").read_text())
    assert s["result"] == "failed" and {m: b["result"] for m, b in s["boards"].items()} == {
        "cmu610-sled": "success", "cmu610-sled1": "failed", "cmu610-sled2": "success"}
    board = json.loads((rack_ws / "build/littlebmc/boards/cmu610-sled1/summary.json").read_text())
    assert board["failed_task"]["task"] == "cmu610-bmc-fw-cmu610-sled1:do_compile"
    assert board["failed_task"]["log_tail"][-1] == "error: fixture failure"
    assert "cmu610-sled1" in r.stdout and "first failing task cmu610-bmc-fw-cmu610-sled1:do_compile" in r.stdout


def test_smoke_boots_each_boards_flash_image(cli: Cli, rack_ws: Path, tmp_path: Path) -> None:
    """Stand-in BitBake deploys a real flash image (tests/flashimg.py) for each board; real QEMU."""
    from flashimg import MISSING, amp_flash_image
    from test_smoke_flow import SPEC

    if MISSING:
        pytest.skip(MISSING)
    flash = tmp_path / "flash.bin"
    flash.write_bytes(amp_flash_image(tmp_path).flash)
    _fixture_ctl(rack_ws, "littlebmc", deploy={"flash.bin": str(flash)})
    (rack_ws / "configs" / "smoke").mkdir(exist_ok=True)
    (rack_ws / "configs" / "smoke" / "littlebmc.yaml").write_text(SPEC)
    r = cli("build", "littlebmc", "--board", "cmu610-sled-qemu", "--board", "cmu610-sled2-qemu", "--smoke",
            "--source", SRC, "--json", cwd=rack_ws, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert {m: (b["result"], b["smoke"]) for m, b in s["boards"].items()} == {
        "cmu610-sled-qemu": ("success", True), "cmu610-sled2-qemu": ("success", True)}
    for m in s["boards"]:
        board = json.loads((rack_ws / "build/littlebmc/boards" / m / "summary.json").read_text())
        assert board["smoke"]["passed"] and Path(board["smoke"]["junit"]) == rack_ws / f"build/littlebmc/boards/{m}/junit.xml"
        assert "cpu1: boot ok" in Path(board["smoke"]["transcript"]).read_text()
