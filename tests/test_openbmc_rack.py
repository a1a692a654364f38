"""A rack of boards on a real openbmc/openbmc tree (OPENBMC_DIR). Skipped, never passed, without it.

1. The variants as the tree's BitBake parses them (tests/bb_variants.py: oe-core's bitbake.conf
   and classes, in-process, seconds): each board's flash image takes its own files, each variant
   has its own PACKAGE_ARCH, and the secure firmware's tasks hash the same whatever MACHINE is.
2. `cmu610bsp build LINE --all-boards` with a Zephyr checkout (ZEPHYR_BASE) and the components'
   (LIBPLDM_DIR, LIBMCTP_DIR): real kas, the tree's BitBake, offline, as an ordinary user (see
   tests/test_openbmc_build.py, whose `tool` fixture this uses). Three sleds that differ in their
   BMC domain and share their secure domain, in one BitBake run: the secure firmware compiles once
   and the two other boards reuse it, each board gets its own BMC firmware and flash image, and
   every flash image boots on the twin (--smoke)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Cli, firmware_sources, openbmc_runner
from rack import make_rack
from test_openbmc_build import _bitbake_left, _run, tool  # noqa: F401 - the module's fixture

pytestmark = pytest.mark.openbmc


def test_variants_take_their_boards_files_and_the_secure_firmware_ignores_machine(cli: Cli, workspace: Path) -> None:
    tree, _ = openbmc_runner()
    make_rack(workspace, 3)
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0, r.stderr

    def parse(machine: str) -> dict[str, dict[str, object]]:
        r = subprocess.run(["/usr/bin/python3", str(Path(__file__).parent / "bb_variants.py"), str(tree),
                            str(workspace / "meta-cmu610"), machine], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        data: dict[str, dict[str, object]] = json.loads(r.stdout)
        return data

    a, b = parse("cmu610-sled-qemu"), parse("cmu610-sled2")
    (secure,) = [pn for pn in a if pn.startswith("cmu610-secure-fw-") and pn.endswith("-qemu")]
    sd = secure.removeprefix("cmu610-secure-fw-")
    for n in ("", "1", "2"):
        m = f"cmu610-sled{n}-qemu"
        flash = a[f"cmu610-flash-image-{m}"]
        assert flash["package_arch"] == m.replace("-", "_") and str(flash["deploy_dir_image"]).endswith(f"/images/{m}")
        assert all(f"/files/{m}/" in p for p in flash["files"].values()), flash["files"]  # type: ignore[attr-defined]
        assert flash["compile_depends"] == [f"{secure}:do_deploy", f"cmu610-bmc-fw-{m}:do_deploy"]
    assert a[secure]["package_arch"] == sd.replace("-", "_")
    # the signature of what the three boards share does not depend on the machine a run is for,
    # nor do the boards' own variants
    for pn, rec in a.items():
        assert rec["basehash"] == b[pn]["basehash"], pn


@pytest.mark.zephyr
def test_three_sleds_in_one_run_share_the_secure_firmware_and_each_smokes(tool: dict[str, object]) -> None:  # noqa: F811
    sources = firmware_sources()
    if not shutil.which("qemu-system-riscv32"):
        pytest.skip("qemu-system-riscv32 not installed")
    ws = Path(str(tool["ws"]))
    boards = make_rack(ws, 3)
    if tool["user"]:
        for p in [ws / "cmu610bsp.yml", *(ws / "configs" / "boards").iterdir()]:
            shutil.chown(p, str(tool["user"]))
    r = _run(tool, "sync")
    assert r.returncode == 0, r.stdout + r.stderr
    start = time.monotonic()
    r = _run(tool, "build", "littlebmc", "--all-boards", "--offline", "--source", f"openbmc={tool['tree']}",
             *sources, "--smoke", "--json", timeout=7200)
    seconds = time.monotonic() - start
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    s = json.loads(r.stdout)
    twins = [f"{b}-qemu" for b in boards]
    assert s["result"] == "success" and list(s["boards"]) == twins, s
    assert all(b["result"] == "success" and b["smoke"] is True for b in s["boards"].values()), s["boards"]
    (sec,) = [x for x in s["shared"] if x["recipe"].startswith("cmu610-secure-fw-")]
    # compiled once (a fresh workspace: nothing in shared state), reused by the two other sleds
    assert sec["boards"] == twins and sec["compiled"] == 1 and sec["reused"] == 2, sec
    compiled = s["compiled"]
    assert len(compiled) == len(set(compiled)), compiled  # nothing compiled twice
    assert sorted(c.split("-fw-")[0] for c in compiled if "-fw-" in c) == ["cmu610-bmc", "cmu610-bmc", "cmu610-bmc",
                                                                          "cmu610-secure"]
    for twin in twins:
        board = json.loads((ws / "build/littlebmc/boards" / twin / "summary.json").read_text())
        transcript = Path(board["smoke"]["transcript"]).read_text()
        assert f"board {twin.removesuffix('-qemu')}, domain bmc" in transcript
        assert f"board {sec['recipe'].removeprefix('cmu610-secure-fw-').removesuffix('-qemu')}, domain secure" in transcript
        names = {a["path"].rsplit("/", 1)[-1] for a in board["artifacts"]}
        assert {"flash.bin", "zephyr-cpu0.elf", "zephyr-cpu1.elf"} <= names, names
    assert _bitbake_left(ws) == []
    print(f"\n3 sleds, one BitBake run: {seconds:.0f} s; tasks {s['tasks']}; compiled: {', '.join(compiled)}; "
          f"secure firmware: compiled {sec['compiled']}, restored {sec['restored']}, reused by {sec['reused']}")
