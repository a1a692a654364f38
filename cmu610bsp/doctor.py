"""`cmu610bsp doctor`: can this host build and boot CMU610 firmware? Each finding says the fix."""

from __future__ import annotations

import locale
import os
import resource
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import buildpath, proc
from cmu610bsp.errors import Timeout

MIN_FREE_GIB = 50      # an OpenBMC build with shared state needs tens of GiB
MIN_SHM_MIB = 64
MIN_NOFILE = 4096
MIN_INOTIFY = 65536


@dataclass(frozen=True)
class Item:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def _tool(name: str, exe: str, fix: str, version_arg: str = "--version") -> Item:
    path = shutil.which(exe)
    if not path:
        return Item(name, "fail", f"{exe} not found on PATH", fix)
    try:
        out = proc.run([path, version_arg], timeout=20)
        first = (out.stdout or out.stderr).strip().splitlines()
        return Item(name, "ok", f"{path}: {first[0] if first else 'present'}")
    except (OSError, Timeout) as e:
        return Item(name, "fail", f"{path} does not run: {e}", fix)


def _kas() -> Item:
    """The kas `build` runs: the one installed with cmu610bsp, whatever `kas` is on PATH."""
    try:
        import kas
    except ImportError:
        return Item("kas", "fail", f"kas is not installed for {sys.executable}", "pip install kas")
    return Item("kas", "ok", f"kas {getattr(kas, '__version__', '?')} ({sys.executable} -m kas)")


STANDIN_FIX = "apt-get install gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf, or `cmu610bsp toolchain install`"


def _toolchain(record_path: str | None, prefix: str, stand_in: bool, fix: str) -> Item:
    gcc = Path(record_path) / "bin" / f"{prefix}gcc" if record_path else None
    if gcc is None or not gcc.exists():
        return Item("toolchain", "fail", f"{gcc or prefix + 'gcc'} not found", fix)
    note = " (stand-in: Debian's riscv64-unknown-elf GCC, not the XuanTie toolchain)" if stand_in else ""
    return Item("toolchain", "ok", f"{gcc}{note}")


def _locale() -> Item:
    try:
        locale.setlocale(locale.LC_ALL, "en_US.UTF-8")
        locale.setlocale(locale.LC_ALL, "")
        return Item("locale", "ok", "en_US.UTF-8 is available (BitBake needs it)")
    except locale.Error:
        return Item("locale", "fail", "en_US.UTF-8 is not generated; BitBake refuses to start",
                    "apt-get install locales && sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' /etc/locale.gen && locale-gen")


def _disk(path: Path) -> Item:
    free = shutil.disk_usage(path).free / 2**30
    if free < MIN_FREE_GIB:
        return Item("disk", "warn", f"{free:.0f} GiB free at {path}; an OpenBMC build wants {MIN_FREE_GIB}+",
                    "free space, or point DL_DIR/SSTATE_DIR (--cache) at a larger disk")
    return Item("disk", "ok", f"{free:.0f} GiB free at {path}")


def _shm() -> Item:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return Item("/dev/shm", "fail", "/dev/shm is missing or not writable (BitBake's and Python's locks use it)",
                    "mount -t tmpfs -o size=1g tmpfs /dev/shm (in containers: --shm-size=1g)")
    size = shutil.disk_usage(shm).total / 2**20
    if size < MIN_SHM_MIB:
        return Item("/dev/shm", "warn", f"/dev/shm is only {size:.0f} MiB", "mount -o remount,size=1g /dev/shm")
    return Item("/dev/shm", "ok", f"{size:.0f} MiB, writable")


def _root() -> Item:
    if os.geteuid() == 0:
        return Item("user", "warn", "running as root: BitBake (OpenEmbedded's sanity checks) refuses to build as root",
                    "run builds as an ordinary user (useradd -m builder; su builder); generate/check/qemu work as root")
    return Item("user", "ok", f"uid {os.geteuid()} (not root)")


def _nofile() -> Item:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < MIN_NOFILE:
        return Item("open files", "warn", f"soft limit {soft} (< {MIN_NOFILE}); BitBake opens many files",
                    f"ulimit -n {min(hard, 65536) if hard > 0 else 65536} (or raise nofile in /etc/security/limits.conf)")
    return Item("open files", "ok", f"soft limit {soft}")


def _inotify() -> Item:
    path = Path("/proc/sys/fs/inotify/max_user_watches")
    try:
        watches = int(path.read_text())
    except (OSError, ValueError):
        return Item("inotify", "warn", "cannot read fs.inotify.max_user_watches", "")
    if watches < MIN_INOTIFY:
        return Item("inotify", "warn", f"max_user_watches {watches} (< {MIN_INOTIFY}); BitBake's server watches the layers",
                    f"sysctl -w fs.inotify.max_user_watches={MIN_INOTIFY * 8}")
    return Item("inotify", "ok", f"max_user_watches {watches}")


def _python() -> Item:
    v = sys.version_info
    if v < (3, 11):
        return Item("python", "fail", f"Python {v.major}.{v.minor}; cmu610bsp needs 3.11+", "apt-get install python3")
    return Item("python", "ok", f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})")


def _path(where: Path, in_workspace: bool) -> Item:
    """A workspace BitBake cannot parse its layer in (a space, a `$` in its path) fails every build;
    outside a workspace, the current directory is where `init .` would make one."""
    found = buildpath.problems(where)
    what = "the workspace" if in_workspace else "the current directory (no workspace here)"
    if found:
        return Item("path", "fail" if in_workspace else "warn", f"{where}: BitBake cannot build here: {'; '.join(found)}",
                    buildpath.fix(what))
    return Item("path", "ok", f"{where} ({what}): a path BitBake and OE can build in")


def run(toolchain_path: str | None, prefix: str, stand_in: bool, where: Path, fix: str = STANDIN_FIX,
        in_workspace: bool = True) -> list[Item]:
    """Every host prerequisite, in the order a build needs them; `where` is the workspace (or, not
    `in_workspace`, the directory doctor runs in)."""
    apt = "apt-get install -y "
    return [
        _python(),
        _tool("git", "git", apt + "git"),
        _kas(),
        _tool("dtc", "dtc", apt + "device-tree-compiler"),
        _tool("qemu", "qemu-system-riscv32", apt + "qemu-system-misc"),
        # `debug`: gdb on the QEMU twin's stub, both harts (RISC-V 32: Debian's multiarch gdb)
        _tool("gdb", "gdb-multiarch", apt + "gdb-multiarch"),
        # the firmware recipes take these from the host (HOSTTOOLS), as Zephyr's build does
        _tool("cmake", "cmake", apt + "cmake"),
        _tool("ninja", "ninja", apt + "ninja-build"),
        _toolchain(toolchain_path, prefix, stand_in, fix),
        _locale(),
        _path(where, in_workspace),
        _disk(where),
        _shm(),
        _root(),
        _nofile(),
        _inotify(),
    ]
