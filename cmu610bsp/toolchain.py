"""The workspace's RISC-V toolchain: safe install from a tarball, a real RV32 compile-and-link
check, and the one record every consumer (kas/Yocto, Zephyr) reads.

Without a record, Debian's riscv64-unknown-elf GCC in /usr is the stand-in, and reports say so.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cmu610bsp import archive, config, layout, proc, workspace
from cmu610bsp.config import STANDIN_TOOLCHAIN, ToolchainRecord
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import sha256_file, writing
from cmu610bsp.model import parse_model

_GCC_RE = re.compile(r"^(riscv(?:32|64)-[a-z0-9_]+-[a-z0-9_-]+-)gcc$")
TEST_PROGRAM = r"""
unsigned long long mul64(unsigned long long a, unsigned long long b) { return a / (b | 1) + a * b; }
volatile unsigned long long sink;
void _start(void) { sink = mul64(0x123456789ull, 77); for (;;) { } }
"""


def cache_dir() -> Path:
    """$CMU610BSP_CACHE, else $XDG_CACHE_HOME/cmu610bsp, else ~/.cache/cmu610bsp."""
    if os.environ.get("CMU610BSP_CACHE"):
        return Path(os.environ["CMU610BSP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cmu610bsp"


def find_prefix(root: Path) -> str | None:
    """The cross prefix of the GCC in root/bin (riscv64-unknown-elf-, ...)."""
    bindir = root / "bin"
    if not bindir.is_dir():
        return None
    prefixes = sorted(m.group(1) for p in bindir.iterdir() if (m := _GCC_RE.match(p.name)))
    return prefixes[0] if prefixes else None


def _toolchain_root(tree: Path) -> Path:
    """The directory with bin/<prefix>gcc: the tree itself or its single top-level directory."""
    if find_prefix(tree):
        return tree
    entries = [p for p in tree.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and find_prefix(entries[0]):
        return entries[0]
    raise BspError(f"no bin/riscv*-gcc found in the toolchain ({tree.name})",
                   hint="expected an archive of a GCC toolchain directory (bin/, lib/, ...)")


def install(ws: workspace.Workspace, source: Path, sha256: str | None, name: str | None) -> ToolchainRecord:
    """Record a toolchain directory in place, or verify and extract an archive into the cache."""
    if not source.exists():
        raise BspError(f"{source}: no such file or directory")
    if source.is_dir():
        root = _toolchain_root(source.resolve())
        digest = None
    else:
        if not sha256:
            raise BspError(f"{source}: an archive needs --sha256 (the checksum its supplier published)")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise BspError("--sha256: expected 64 hexadecimal digits")
        digest = sha256_file(source)
        if digest != sha256.lower():
            raise BspError(f"{source}: checksum mismatch, nothing was extracted",
                           [Finding(str(source), "sha256", f"is {digest}, expected {sha256.lower()}")])
        base = cache_dir() / "toolchains"
        config.check_writable(ws.root, "nothing was extracted")
        with writing(base, "nothing was extracted"):
            base.mkdir(parents=True, exist_ok=True)
        label = name or re.sub(r"(\.tar)?\.(gz|xz|bz2|zst|tgz)$|\.tar$", "", source.name)
        final = base / f"{re.sub(r'[^A-Za-z0-9._-]', '_', label)}-{digest[:12]}"
        if not final.exists():
            with writing(base, "nothing was extracted"):
                tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=base))
            try:
                archive.extract(source, tmp)
                top = _toolchain_root(tmp)
                _record(source, top, name, {"cache": str(final.name / top.relative_to(tmp))}, digest)  # before it is installed
                # mkdtemp made it 0700: the ordinary user BitBake runs as must be able to use it
                tmp.chmod(0o755)
                os.rename(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        root = _toolchain_root(final)
    # an archive is recorded by its place in the cache (found again on any machine that installs
    # the same archive), a directory by its path on this machine
    where = {"cache": str(root.relative_to(cache_dir() / "toolchains"))} if digest else {"path": str(root)}
    record = _record(source, root, name, where, digest)
    config.set_key(ws.root, "toolchain", record.model_dump(exclude_none=True),
                   "the RISC-V toolchain (`cmu610bsp toolchain install`)", "toolchain install")
    return record


def _record(source: Path, root: Path, name: str | None, where: dict[str, str], digest: str | None) -> ToolchainRecord:
    """The record of the toolchain at `root`, checked against the record's grammars: a name or
    path (from --name, the archive's top-level directory, the directory given) that a consumer
    of the record could not take is refused, naming it, and nothing is recorded."""
    prefix = find_prefix(root) or ""
    data = {"name": name or root.name, "prefix": prefix, **where,
            "sysroot": "sysroot" if (root / "sysroot").is_dir() else None, "sha256": digest,
            "xuantie": _accepts(root / "bin" / f"{prefix}gcc", ["-mcpu=e906"])}
    try:
        return parse_model(ToolchainRecord, {k: v for k, v in data.items() if v is not None}, source)
    except BspError as e:
        raise BspError(f"{source}: cannot be recorded as the workspace's toolchain; nothing was installed",
                       [Finding(f.file, f"toolchain.{f.field}", f.reason) for f in e.findings],
                       hint="give it a --name of plain text, and a directory (or an archive's top-level "
                            "directory) named with letters, digits and . _ + -") from None


ENV_OVERRIDE = "CMU610BSP_TOOLCHAIN"


def location(record: ToolchainRecord) -> Path:
    """Where the toolchain is on this machine: $CMU610BSP_TOOLCHAIN, else its place in this
    machine's toolchain cache (archive installs), else its recorded path (directories)."""
    if os.environ.get(ENV_OVERRIDE):
        return Path(os.environ[ENV_OVERRIDE])
    if record.cache:
        return cache_dir() / "toolchains" / record.cache
    return Path(record.path or "/usr")


def recorded_as(record: ToolchainRecord) -> str:
    """How the record says where the toolchain is, and how this machine resolves it."""
    if os.environ.get(ENV_OVERRIDE):
        return f"${ENV_OVERRIDE}, which overrides the record"
    if record.cache:
        return f"cache: {record.cache} (an archive installed into this machine's toolchain cache, {cache_dir() / 'toolchains'})"
    return f"path: {record.path or '/usr'} (a directory, used where it is)"


def kas_env(record: ToolchainRecord) -> dict[str, str]:
    """The kas env values `build` gives on this machine (configs/kas/toolchain.yml declares them,
    with defaults a plain `kas build` falls back to): where the toolchain is, and the Python
    Zephyr's build scripts and the flash packer run in (pykwalify, pyelftools and imgtool are
    dependencies of cmu610bsp). The file also declares CMU610_LIBSODIUM_DIR: kasbuild.compose
    gives it."""
    return {"CMU610_TOOLCHAIN_PATH": str(location(record)), "CMU610_ZEPHYR_PYTHON": sys.executable}


def missing(record: ToolchainRecord) -> tuple[str, str] | None:
    """(why the recorded toolchain cannot be used on this machine, how to get it), or None."""
    root = location(record)
    if (root / "bin" / f"{record.prefix}gcc").is_file():
        return None
    how = (f"install the same archive here: `cmu610bsp toolchain install ARCHIVE --sha256 {record.sha256}`"
           if record.sha256 else "install it with `cmu610bsp toolchain install ARCHIVE_OR_DIR`")
    return (f"toolchain {record.name} is not on this machine ({root}/bin/{record.prefix}gcc not found)",
            f"{how}, or set {ENV_OVERRIDE} to its directory")


def current(ws: workspace.Workspace) -> tuple[ToolchainRecord, bool]:
    """(record, is_stand_in)."""
    return (ws.config.toolchain, False) if ws.config.toolchain else (STANDIN_TOOLCHAIN, True)


def _accepts(gcc: Path, flags: list[str]) -> bool:
    if not gcc.exists():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("int x;\n")
        return proc.run([gcc, *flags, "-c", src, "-o", Path(tmp) / "t.o"]).returncode == 0


@dataclass
class CheckReport:
    record: ToolchainRecord
    stand_in: bool
    gcc: str
    version: str = ""
    target: str = ""
    multilibs: list[str] = field(default_factory=list)
    mcpu: str = ""            # the -mcpu accepted, or "" (generic -march used)
    multilib_trap: bool = False
    link_flags: list[str] = field(default_factory=list)
    elf_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.elf_ok and not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"name": self.record.name, "stand_in": self.stand_in, "gcc": self.gcc, "version": self.version,
                "target": self.target, "multilibs": self.multilibs, "mcpu": self.mcpu or None,
                "multilib_trap": self.multilib_trap, "link_flags": self.link_flags,
                "rv32_elf": self.elf_ok, "problems": self.problems, "ok": self.ok}


def check(record: ToolchainRecord, stand_in: bool, isa: str, abi: str, mcpu: str | None) -> CheckReport:
    """Compile and link a small RV32 program with the SoC's ISA and ABI, and say what it took."""
    gcc = location(record) / "bin" / f"{record.prefix}gcc"
    rep = CheckReport(record, stand_in, str(gcc))
    why = missing(record)
    if why:
        rep.problems.append(": ".join(why))
        return rep
    rep.version = proc.run([gcc, "--version"]).stdout.splitlines()[0]
    rep.target = proc.run([gcc, "-dumpmachine"]).stdout.strip()
    rep.multilibs = proc.run([gcc, "-print-multi-lib"]).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "t.c").write_text(TEST_PROGRAM)
        arch = [f"-march={isa}", f"-mabi={abi}"]
        if mcpu and _accepts(gcc, [f"-mcpu={mcpu}", f"-mabi={abi}"]):
            rep.mcpu = mcpu
        cflags = ([f"-mcpu={rep.mcpu}", f"-mabi={abi}"] if rep.mcpu else arch) + ["-mcmodel=medany", "-ffreestanding", "-O2"]
        r = proc.run([gcc, *cflags, "-c", t / "t.c", "-o", t / "t.o"])
        if r.returncode:
            rep.problems.append(f"compile failed: {r.stderr.strip()[-300:]}")
            return rep
        link = ["-nostdlib", "-nostartfiles", "-Wl,-Ttext=0x80000000", "-Wl,--no-warn-rwx-segments"]
        naive = proc.run([gcc, *arch, *link, t / "t.o", "-lgcc", "-o", t / "naive.elf"])
        rep.link_flags = []
        if naive.returncode:
            text = naive.stderr
            if "ABI is incompatible" in text or "rv64" in text or "elf64" in text:
                rep.multilib_trap = True
            # the fix: hand the linker the rv32/ilp32 libgcc explicitly
            libgcc = proc.run([gcc, f"-march={_base_isa(isa)}", f"-mabi={abi}", "-print-libgcc-file-name"]).stdout.strip()
            rep.link_flags = [f"-L{Path(libgcc).parent}"]
            r = proc.run([gcc, *arch, *link, *rep.link_flags, t / "t.o", "-lgcc", "-o", t / "fixed.elf"])
            if r.returncode:
                rep.problems.append(f"link failed even with the rv32 libgcc: {r.stderr.strip()[-300:]}")
                return rep
            elf = t / "fixed.elf"
        else:
            elf = t / "naive.elf"
        head = elf.read_bytes()[:20]
        rep.elf_ok = head[:4] == b"\x7fELF" and head[4] == 1 and int.from_bytes(head[18:20], "little") == 243
        if not rep.elf_ok:
            rep.problems.append("the linked program is not a 32-bit RISC-V ELF")
    return rep


def _base_isa(isa: str) -> str:
    """'rv32imac_zicsr_zifencei' -> 'rv32imac' (the multilib directories GCC 12 knows)."""
    return isa.split("_", 1)[0]


def consumers(ws: workspace.Workspace) -> dict[str, dict[str, str]]:
    """Where each consumer reads the toolchain from, as a build on this machine sees the generated
    files right now."""
    out: dict[str, dict[str, str]] = {}
    kas = ws.root / layout.KAS_DIR / "toolchain.yml"
    if kas.is_file():
        data = yaml.safe_load(kas.read_text())
        text = data["local_conf_header"]["cmu610-toolchain"]
        pairs = (line.partition("=") for line in text.splitlines())
        values = {k.strip(): v.strip().strip('"') for k, _, v in pairs if k.strip()}
        # kas env: the file holds a plain `kas build`'s defaults; `build` gives this machine's values
        given = kas_env(current(ws)[0])
        values.update({k: given.get(k, str(v)) for k, v in (data.get("env") or {}).items()})
        out[str(kas.relative_to(ws.root))] = values
    env = ws.root / layout.TOOLCHAIN_ENV
    if env.is_file():
        # what a shell that sources it gets on this machine (the file resolves the location itself)
        names = [line.removeprefix("export ").split("=", 1)[0]
                 for line in env.read_text().splitlines() if line.startswith("export ")]
        script = '. "$1" && shift && for v in "$@"; do printf "%s=" "$v"; printenv "$v"; done'
        r = proc.run(["sh", "-c", script, "sh", str(env), *names])
        out[str(env.relative_to(ws.root))] = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return out
