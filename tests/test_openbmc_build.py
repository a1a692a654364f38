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
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, as_user, openbmc_runner

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
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if str(ws) in ln and ("bitbake" in ln or "kas" in ln)]


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


def test_devtool_round_trip_on_a_local_source_recipe(tool: dict[str, object]) -> None:
    """modify (the recipe's own local files as the source tree) -> status -> reset."""
    ws, src = Path(str(tool["ws"])), Path(str(tool["src"]))
    common = ("--line", "littlebmc")
    start = time.monotonic()
    r = _run(tool, "devtool", "modify", RECIPE, str(src), "--no-extract", *common, timeout=3600)
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
