"""Shared helpers: run the real CLI (in this process, or in a subprocess where a test needs a
process), make workspaces, snapshot trees."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from cmu610bsp import resources

REPO = Path(__file__).resolve().parents[1]
# The upstream schemas shipped inside the package (cmu610bsp/data/, SOURCES.md says from where).
ZEPHYR_SCHEMAS = resources.zephyr_schemas()
EM_SCHEMAS = resources.entity_manager_schemas()

# The shipped default board and SoC, and files generated from them (workspace-relative).
BOARD = "configs/boards/cmu610-evb.yaml"
SOC = "configs/soc/cmu610.yaml"
MACHINE_CONF = "meta-cmu610/conf/machine/cmu610-evb.conf"
BMC_DTS = "meta-cmu610/zephyr/boards/cmu/cmu610_evb/cmu610_evb_cmu610_cpu1.dts"


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file with `new`, as a user edits a file by hand."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


# Environment variables that replace the shipped schemas; unset, `check` uses the shipped copies.
SCHEMA_OVERRIDES = ("ZEPHYR_BASE", "CMU610BSP_ZEPHYR_SCHEMAS", "CMU610BSP_EM_SCHEMAS")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120, unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`cmu610bsp ARGS` as a user runs it: a separate process, real exit code and streams. Only for
    what needs a process (signals, the entry point, a closed pipe); the rest uses `cli`."""
    full_env = {**{k: v for k, v in os.environ.items() if k not in unset}, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cmu610bsp", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_sigint_as_a_terminal_sends_it)


def _sigint_as_a_terminal_sends_it() -> None:
    """In the child, before exec: SIGINT's default action. A suite started with SIGINT ignored (a
    background job of a shell without job control) would hand SIG_IGN on through exec, and the
    tool would never see the Ctrl-C a test sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_cli(*args: str, **popen: Any) -> subprocess.Popen[Any]:
    """`cmu610bsp ARGS` started as a process of its own, for a test that signals or kills it, or
    watches its children (Popen's keyword arguments as given)."""
    return subprocess.Popen([sys.executable, "-m", "cmu610bsp", *args], preexec_fn=_sigint_as_a_terminal_sends_it,
                            **popen)


class Cli(Protocol):
    def __call__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 120, unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]: ...


class CliTimeout(BaseException):
    """A command line in this process ran past its time: raised where it was, so it unwinds as
    Ctrl-C does (children stopped, writes rolled back) and fails the test, not the suite."""


def _pipe() -> io.TextIOWrapper:
    """What a command writes to instead of a pipe: UTF-8 text, no terminal, no file descriptor."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="", write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    """What the stream got, read as `subprocess.run(text=True)` reads a pipe: UTF-8, any line end a newline."""
    assert isinstance(stream.buffer, io.BytesIO)
    return io.TextIOWrapper(io.BytesIO(stream.buffer.getvalue()), encoding="utf-8").read()


@contextlib.contextmanager
def _deadline(seconds: float, what: str) -> Iterator[None]:
    """`run_cli`'s timeout for a call in this process: SIGALRM raises CliTimeout where it runs."""
    def overran(signum: int, frame: object) -> None:
        raise CliTimeout(f"{what} ran past {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cli_in_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 120, unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`cmu610bsp ARGS` through `cli.run` in this process: the exit code and the two streams as
    `run_cli` gives them, without an interpreter's start-up. The working directory and the
    environment (`unset` removed, then `env` added) are the call's own, put back after it."""
    from cmu610bsp import cli

    out, err = _pipe(), _pipe()
    with pytest.MonkeyPatch.context() as mp:
        for name in unset:
            mp.delenv(name, raising=False)
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        if cwd is not None:
            mp.chdir(cwd)
        with (contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
              _deadline(timeout, f"cmu610bsp {' '.join(args)}")):
            rc = cli.run(list(args))
    return subprocess.CompletedProcess(["cmu610bsp", *args], rc, _read(out), _read(err))


@pytest.fixture
def cli() -> Cli:
    """`cli(*ARGS, cwd=, env=, timeout=, unset=)`: the command line in this process
    (`cli_in_process`), the call shape of `run_cli`; a helper outside a test takes it as an argument."""
    return cli_in_process


def processes() -> list[tuple[int, str, Path | None]]:
    """Every other process as (pid, command line, working directory), read from /proc: a minimal
    Debian root has no `ps`, and the tests must not need one."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmdline = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        try:
            cwd: Path | None = Path(os.readlink(p / "cwd"))
        except OSError:
            cwd = None
        if cmdline:
            out.append((int(p.name), cmdline, cwd))
    return out


def snapshot(root: Path) -> dict[str, str]:
    """Every file (and symlink, and empty directory) under root with a hash of its bytes."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if d.name == ".git":
            dirnames.clear()
            continue
        rel = str(d.relative_to(root))
        if not dirnames and not filenames:
            out[rel + "/"] = "dir"
        for name in filenames:
            p = d / name
            out[str(p.relative_to(root))] = (
                "link:" + os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            )
    return out


class Pristine(Protocol):
    def __call__(self, into: Path, board: str | None = None) -> Path: ...


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    """`pristine(INTO, BOARD)`: INTO made a copy of a workspace the real `init` made for BOARD (the
    default board: None), its git repository included; one `init` per board in a session."""
    made: dict[str | None, Path] = {}

    def copy(into: Path, board: str | None = None) -> Path:
        if board not in made:
            ws = tmp_path_factory.mktemp("pristine") / "ws"
            r = cli_in_process("init", str(ws), *(["--board", board] if board else []))
            assert r.returncode == 0, r.stderr
            made[board] = ws
        shutil.copytree(made[board], into, symlinks=True)
        return into

    return copy


@pytest.fixture
def workspace(tmp_path: Path, pristine: Pristine) -> Path:
    """A fresh workspace for the default board: a copy of one made by the real `init`
    (its git repository included), so each test starts from the same state cheaply."""
    return pristine(tmp_path / "ws")


@pytest.fixture
def zephyr_schemas() -> Path:
    return ZEPHYR_SCHEMAS


OPENBMC_DIR = os.environ.get("OPENBMC_DIR", "")


def openbmc_runner() -> tuple[Path, str | None]:
    """The openbmc/openbmc tree and the user to run BitBake as (None: this user), or skip.
    BitBake refuses root (OpenEmbedded's sanity checks): as root, CMU610BSP_BB_USER names an
    ordinary user, and BitBake runs as that user with Debian's python3."""
    import pwd

    if not OPENBMC_DIR or not (Path(OPENBMC_DIR) / "oe-init-build-env").exists():
        pytest.skip("set OPENBMC_DIR to an openbmc/openbmc checkout to run the OpenBMC integration tests")
    if os.geteuid() != 0:
        return Path(OPENBMC_DIR), None
    user = os.environ.get("CMU610BSP_BB_USER")
    if not user:
        pytest.skip("BitBake refuses root: set CMU610BSP_BB_USER to an ordinary user to run it as")
    pwd.getpwnam(user)
    return Path(OPENBMC_DIR), user


def as_user(user: str | None, argv: list[str], path: str = "/usr/bin:/bin:/usr/sbin:/sbin") -> list[str]:
    """argv run as `user` (or as this user) in a clean environment with the locale BitBake needs."""
    import pwd

    home = pwd.getpwnam(user).pw_dir if user else os.environ["HOME"]
    env = ["env", "-i", f"PATH={path}", f"HOME={home}", "LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8"]
    return (["runuser", "-u", user, "--"] if user else []) + env + argv


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only for the block, as a read-only file system is: as root a read-only bind
    mount of it onto itself (mode bits do not stop root), else mode 0555 on its directories."""
    if os.geteuid() == 0:
        r = subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"no read-only bind mount here: {r.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    dirs = [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())]
    modes = {d: d.stat().st_mode for d in dirs}
    for d in dirs:
        d.chmod(0o555)
    try:
        yield
    finally:
        for d, mode in modes.items():
            d.chmod(mode)


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """A step that may block for good (reading a FIFO nobody writes) fails the test after
    `seconds` instead of hanging the suite."""
    import signal

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# local checkouts of the OpenBMC recipes the firmware is built with (offline: the recipes' own git
# URLs are out of reach), e.g. clones of openbmc/libpldm and openbmc/libmctp
COMPONENT_DIRS = {"libpldm": os.environ.get("LIBPLDM_DIR", ""), "libmctp": os.environ.get("LIBMCTP_DIR", "")}


def firmware_sources() -> tuple[str, ...]:
    """--source options for the Zephyr tree and the components; skips the test without them."""
    zephyr = os.environ.get("ZEPHYR_BASE", "")
    if not zephyr or not (Path(zephyr) / ".git").exists():
        pytest.skip("set ZEPHYR_BASE to a git checkout of Zephyr 4.x to build the firmware with BitBake")
    missing = [f"{n.upper()}_DIR" for n, d in COMPONENT_DIRS.items() if not d or not (Path(d) / ".git").exists()]
    if missing:
        pytest.skip(f"set {' and '.join(missing)} to git checkouts of the OpenBMC recipes the firmware takes")
    return ("--source", f"zephyr={zephyr}", *(x for n, d in COMPONENT_DIRS.items() for x in ("--source", f"{n}={d}")))


# One SoftHSM token per session and worker for the tests of PKCS#11 keys (test_keys, test_signing_build):
# defined here once, since a session fixture imported into two modules would be two tokens, and
# the library in this process reads only the first one's configuration.
SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One SoftHSM token for the session (the library reads its configuration once per process),
    its configuration and store in the session's tmp; the PIN through $PKCS11_PIN, as a recorded
    URI must have it (set by `token` for its test only: another module's test in the same worker
    must not find a module and a PIN it did not ask for)."""
    if not SOFTHSM.is_file():
        pytest.skip("softhsm2 is not installed (scripts/bootstrap test installs it)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "cmu610", "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True)
    yield
    mp.undo()


@pytest.fixture
def token(softhsm: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URI of a key label of this test's own on the session's token (no PIN in it)."""
    monkeypatch.setenv("PKCS11_PIN", "1234")
    monkeypatch.setenv("PKCS11_MODULE", str(SOFTHSM))
    return f"pkcs11:token=cmu610;object=signing-{tmp_path.name}?module-path={SOFTHSM}"
