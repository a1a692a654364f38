"""Integration with a real openbmc/openbmc tree (OPENBMC_DIR): BitBake parses every recipe with
the generated layer added for MACHINE=cmu610-evb, and the dry runs of both product-line images
resolve with no missing provider, offline. Skipped, never passed, without the tree.

BitBake refuses to run as root (OpenEmbedded's sanity checks): as root, set CMU610BSP_BB_USER to
an ordinary user; the test runs BitBake as that user with Debian's python3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmu610bsp.kasbuild.bitbake import drop_stale_parser_tables
from conftest import as_user, cli_in_process, openbmc_runner

pytestmark = pytest.mark.openbmc

LAYERS = ("meta", "meta-openembedded/meta-oe", "meta-openembedded/meta-networking",
          "meta-openembedded/meta-python", "meta-phosphor")


@pytest.fixture(scope="module")
def obmc() -> Iterator[dict[str, object]]:
    tree, user = openbmc_runner()
    base = Path(tempfile.mkdtemp(prefix="cmu610bsp-openbmc-", dir=os.environ.get("CMU610BSP_BB_TMP", "/var/tmp")))
    base.chmod(0o755)
    ws = base / "ws"
    assert cli_in_process("init", str(ws)).returncode == 0
    build = base / "build"
    (build / "conf").mkdir(parents=True)
    layers = [f"{tree}/{layer}" for layer in LAYERS] + [str(ws / "meta-cmu610")]
    (build / "conf/bblayers.conf").write_text(
        'LCONF_VERSION = "8"\nBBPATH = "${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = "' + " ".join(layers) + '"\n')
    (build / "conf/local.conf").write_text(
        'MACHINE = "cmu610-evb"\nDISTRO = "openbmc-phosphor"\nPACKAGE_CLASSES = "package_ipk"\n'
        'BB_NO_NETWORK = "1"\nCONF_VERSION = "2"\n')
    if user:
        shutil.chown(base, user)
        for p in base.rglob("*"):
            shutil.chown(p, user)
    yield {"tree": tree, "build": build, "user": user, "ws": ws}
    shutil.rmtree(base, ignore_errors=True)


def _bitbake(o: dict[str, object], args: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    script = f'. "{o["tree"]}/oe-init-build-env" "{o["build"]}" > /dev/null && bitbake {args}'
    argv = as_user(o["user"], ["bash", "-c", script])  # type: ignore[arg-type]
    start = time.monotonic()
    build = Path(str(o["build"]))
    drop_stale_parser_tables(build)  # what `cmu610bsp build` does before each run
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, start_new_session=True, cwd=build)
    return r, time.monotonic() - start


def test_parse_all_recipes(obmc: dict[str, object]) -> None:
    r, seconds = _bitbake(obmc, "-p", timeout=1800)
    out = r.stdout + r.stderr
    m = re.search(r"Parsing of (\d+) \.bb files complete .* (\d+) errors", out)
    assert r.returncode == 0 and m and m.group(2) == "0", out[-4000:]
    print(f"\nparsed {m.group(1)} recipes in {seconds:.0f} s")


@pytest.mark.parametrize("line", ["littlebmc", "bigbmc"])
def test_dry_run_resolves(obmc: dict[str, object], line: str) -> None:
    r, seconds = _bitbake(obmc, f"-n cmu610-{line}-image", timeout=3600)
    out = r.stdout + r.stderr
    assert "Nothing PROVIDES" not in out and "Nothing RPROVIDES" not in out, out[-4000:]
    m = re.search(r"Tasks Summary: Attempted (\d+) tasks of which (\d+) didn't need to be rerun and all succeeded", out)
    assert r.returncode == 0 and m, out[-4000:]
    print(f"\n{line}: dry run of {m.group(1)} tasks in {seconds:.0f} s")
