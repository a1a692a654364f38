"""`cmu610bsp doctor` on this machine's real state, and on a PATH without qemu and dtc."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import Cli

EXPECTED = ["python", "git", "kas", "dtc", "qemu", "gdb", "cmake", "ninja", "toolchain", "locale", "path", "disk",
            "/dev/shm", "user", "open files", "inotify"]


def test_doctor_on_this_machine(cli: Cli, workspace: Path) -> None:
    r = cli("doctor", "--json", cwd=workspace)
    data = json.loads(r.stdout)
    items = {i["name"]: i for i in data["items"]}
    assert list(items) == EXPECTED
    for i in data["items"]:
        assert i["status"] in ("ok", "warn", "fail") and i["detail"]
        if i["status"] != "ok":
            assert i["fix"], i
    failed = [i for i in data["items"] if i["status"] == "fail"]
    assert r.returncode == (2 if failed else 0) and data["ok"] == (not failed)
    assert "stand-in" in items["toolchain"]["detail"]
    assert items["user"]["status"] == ("warn" if os.geteuid() == 0 else "ok")
    if shutil.which("qemu-system-riscv32"):
        assert items["qemu"]["status"] == "ok"


def test_doctor_without_qemu_and_dtc(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """A PATH holding everything the tool needs except qemu-system-riscv32 and dtc."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for exe in os.listdir(d):
            if exe in ("qemu-system-riscv32", "dtc") or (bindir / exe).exists():
                continue
            src = os.path.join(d, exe)
            if os.access(src, os.X_OK) and not os.path.isdir(src):
                (bindir / exe).symlink_to(src)
    r = cli("doctor", cwd=workspace, env={"PATH": str(bindir)})
    assert r.returncode == 2, r.stdout
    lines = r.stdout.splitlines()
    qemu = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["qemu"])
    dtc = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["dtc"])
    assert lines[qemu].startswith("fail") and "apt-get install -y qemu-system-misc" in lines[qemu + 1]
    assert lines[dtc].startswith("fail") and "apt-get install -y device-tree-compiler" in lines[dtc + 1]
    assert next(line for line in lines if line.split()[1:2] == ["git"]).startswith("ok")
