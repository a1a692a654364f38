"""Each generated file as its real consumer reads it: BitBake's parser, cpp + dtc (the compiled
tree, read back from the blob), kconfiglib, CMake (its trace of the commands it runs), sh (the
environment sourcing leaves), PyYAML, json, markdown-it. `read` returns, per file, a plain
structure of what the consumer saw; two renders that differ only in a field's value must give
structures that differ only in that value (see `substitute`).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import kconfiglib
import yaml
from markdown_it import MarkdownIt

from cmu610bsp import layout
from cmu610bsp.checks import zephyr
from cmu610bsp.checks.yocto import _STANDIN_FILES, import_bb

LAYER = Path(layout.LAYER)
Z = Path(layout.ZEPHYR_MODULE)


def kind(path: str) -> str | None:
    """Which consumer reads a generated file (None: no consumer known here)."""
    p = Path(path)
    if path.startswith(layout.KAS_DIR + "/"):
        return "kas"
    if p.suffix in (".yml", ".yaml"):
        return "yaml"
    if p.suffix == ".json":
        return "json"
    if p.suffix in (".dts", ".dtsi"):
        return "dts"
    if p.name.startswith("Kconfig"):
        return "kconfig"
    if path.startswith(str(Z) + "/") and (p.name.endswith("_defconfig") or p.suffix == ".conf"):
        return "kconfig-values"
    if p.name in ("board.cmake", "CMakeLists.txt"):
        return "cmake"
    if p.suffix in (".bb", ".bbappend", ".bbclass", ".inc", ".conf", ".sample"):
        return "bitbake"
    if p.name == "toolchain.env":
        return "sh"
    if p.suffix == ".md":
        return "markdown"
    if p.suffix == ".txt":
        return "text"
    return None


def substitute(value: Any, old: str, new: str) -> Any:
    """`value` with `old` replaced by `new` in every string and byte string inside it."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, bytes):
        return value.replace(old.encode(), new.encode())
    if isinstance(value, dict):
        return {substitute(k, old, new): substitute(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, old, new) for v in value)
    return value


def difference(got: Any, want: Any, where: str = "") -> str | None:
    """Where two read structures first differ, and how (None: equal): pytest's own explanation
    of a large structure takes minutes."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(set(got) | set(want), key=str):
            if k not in got or k not in want:
                side = "what was read" if k in got else "what was expected"
                return f"{where}/{k}: only in {side}: {(got.get(k), want.get(k))!r:.300}"
            found = difference(got[k], want[k], f"{where}/{k}")
            if found:
                return found
        return None
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            found = difference(g, w, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if got == want else f"{where}: read {got!r:.300}, expected {want!r:.300}"


def read(files: dict[str, str], paths: list[str], work: Path) -> dict[str, Any]:
    """{path: what its consumer read} for `paths` of the render `files`, written under `work`
    (emptied first: two renders read in one `work` give the same file names)."""
    shutil.rmtree(work, ignore_errors=True)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    readers = {"kas": _kas, "yaml": lambda w, p: yaml.safe_load((w / p).read_text()),
               "json": lambda w, p: json.loads((w / p).read_text()), "kconfig": _kconfig,
               "kconfig-values": _kconfig_values, "cmake": _cmake, "bitbake": _bitbake, "sh": _sh,
               "markdown": _markdown, "text": lambda w, p: (w / p).read_text().splitlines()}
    out = {}
    trees: dict[str, Any] = {}
    for p in paths:
        k = kind(p)
        if k is None:
            raise AssertionError(f"{p}: no consumer to read it with (tests/text_consumers.py)")
        if k == "dts":
            trees = trees or _dts(work)
            out[p] = trees.get(p, trees)   # a .dtsi: every tree that includes it
        else:
            out[p] = readers[k](work, p)
    return out


# ---------------------------------------------------------------- BitBake
def _snapshot(d: Any) -> dict[str, Any]:
    """Every variable BitBake set, unexpanded and expanded, with its flags."""
    out: dict[str, Any] = {}
    for k in sorted(d.keys()):
        if k.startswith("__") or k in ("FILE", "FILE_DIRNAME", "BB_CURRENT_MC"):
            continue
        try:
            expanded = d.getVar(k)
        except Exception as e:  # noqa: BLE001 - an expansion that fails is compared by its type
            expanded = f"<{type(e).__name__}>"
        out[k] = (d.getVar(k, False), expanded, sorted((f, str(v)) for f, v in (d.getVarFlags(k) or {}).items()
                                                       if not f.startswith("_")))
    return out


def parse_bitbake(path: Path, work: Path, recipe: bool, append: Path | None = None) -> dict[str, Any]:
    """A file as BitBake parses it, with the layer under `work` and the files of oe-core and
    meta-phosphor it uses stood in: {variant ("" the recipe itself): snapshot of its datastore}."""
    bb = import_bb()
    standin = work / "standin"
    for rel in _STANDIN_FILES:
        (standin / rel).parent.mkdir(parents=True, exist_ok=True)
        (standin / rel).write_text("")
    d = bb.data.init()
    d.setVar("BBPATH", f"{work / LAYER}:{standin}")
    d.setVar("TOPDIR", str(work))
    d.setVar("__bbclasstype", "recipe")
    if append:
        d.setVar("__BBAPPEND", str(append))
    if recipe:
        d.setVar("PN", path.stem.split("_")[0])
    parsed = bb.parse.handle(str(path), d, not recipe)
    variants = parsed if isinstance(parsed, dict) else {"": parsed}
    return {name: _snapshot(v) for name, v in sorted(variants.items())}


def _bitbake(work: Path, rel: str) -> dict[str, Any]:
    path = work / rel
    if path.suffix in (".conf", ".inc", ".sample"):
        wrapper = work / "parse.conf"
        wrapper.write_text(f"require {path}\n")
        return parse_bitbake(wrapper, work, recipe=False)
    if path.suffix == ".bbclass":
        wrapper = work / "parse-class_1.0.bb"
        wrapper.write_text(f"inherit {path.stem}\n")
        return parse_bitbake(wrapper, work, recipe=True)
    if path.suffix == ".bbappend":
        recipe = work / "recipes" / path.name.replace("%", "git").replace(".bbappend", ".bb")
        recipe.parent.mkdir(parents=True, exist_ok=True)
        recipe.write_text("")
        return parse_bitbake(recipe, work, recipe=True, append=path)
    return parse_bitbake(path, work, recipe=True)


def _kas(work: Path, rel: str) -> dict[str, Any]:
    """The kas file as kas loads it, each of its local.conf blocks as BitBake parses it."""
    data = yaml.safe_load((work / rel).read_text())
    for name, block in sorted((data.get("local_conf_header") or {}).items()):
        path = work / f"local-{name}.conf"
        path.write_text(block)
        data["local_conf_header"][name] = parse_bitbake(path, work, recipe=False)
    return data


# ---------------------------------------------------------------- devicetrees
def _dts(work: Path) -> dict[str, Any]:
    """Every board devicetree of the render compiled (a .dtsi reaches them through #include),
    each read back from its blob: {dts: {node path: {property: bytes}}}."""
    z = work / Z
    includes = [z / "dts" / "riscv", z / "dts" / "common", z / "dts", z / "include"]
    out = {}
    for dts in sorted(work.rglob("*.dts")):
        pre, blob = dts.with_suffix(".pre"), dts.with_suffix(".dtb")
        subprocess.run(["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P",
                        *(f"-I{d}" for d in includes), str(dts), "-o", str(pre)], check=True)
        r = subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", str(blob), str(pre)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{dts}: {r.stderr}"
        out[str(dts.relative_to(work))] = fdt(blob.read_bytes())
    return out


def fdt(blob: bytes) -> dict[str, dict[str, bytes]]:
    """A flattened devicetree's nodes and properties (devicetree specification, chapter 5)."""
    magic, _size, off_struct, off_strings = struct.unpack_from(">IIII", blob)
    assert magic == 0xD00DFEED
    nodes: dict[str, dict[str, bytes]] = {}
    stack: list[str] = []
    pos = off_struct
    while True:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == 1:      # FDT_BEGIN_NODE
            end = blob.index(b"\0", pos)
            name = blob[pos:end].decode()
            pos = (end + 4) & ~3
            stack.append(name)
            nodes["/".join(stack) or "/"] = {}
        elif token == 2:    # FDT_END_NODE
            stack.pop()
        elif token == 3:    # FDT_PROP
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            name = blob[off_strings + nameoff:blob.index(b"\0", off_strings + nameoff)].decode()
            nodes["/".join(stack) or "/"][name] = blob[pos:pos + length]
            pos = (pos + length + 3) & ~3
        elif token == 9:    # FDT_END
            return nodes


# ---------------------------------------------------------------- Kconfig
def _kconfig(work: Path, rel: str) -> dict[str, Any]:
    """Every menu node kconfiglib makes of the file (with the files it is read with)."""
    path = work / rel
    z = work / Z
    if path.parent.name == "bmc" and path.parent.parent.name == "apps":
        (work / "Kconfig.zephyr").write_text("")
        top = path
    else:
        soc_dirs = sorted(p.parent for p in z.glob("soc/*/*/Kconfig.soc"))
        bdir = path.parent if path.parent.parent.parent.name == "boards" else next(
            p.parent for p in sorted(z.glob("boards/*/*/board.yml")))
        top = work / "Kconfig.top"
        top.write_text(zephyr._kconfig_top(yaml.safe_load((bdir / "board.yml").read_text())["board"]["name"],
                                           bdir, soc_dirs))
    old = os.environ.get("srctree")  # noqa: SIM112 - kconfiglib's name for it
    os.environ["srctree"] = str(work)  # noqa: SIM112
    try:
        kconf = kconfiglib.Kconfig(str(top), warn_to_stderr=False)
    finally:
        if old is None:
            os.environ.pop("srctree")  # noqa: SIM112
        else:
            os.environ["srctree"] = old  # noqa: SIM112
    return {"nodes": [str(n) for n in kconf.node_iter()], "warnings": kconf.warnings}


def _kconfig_values(work: Path, rel: str) -> dict[str, Any]:
    """A configuration fragment as kconfiglib loads it, every symbol it sets declared with the
    type its value has: {symbol: value}, and the warnings."""
    path = work / rel
    decls = []
    for line in path.read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            name, value = line.split("=", 1)
            typ = "string" if value.startswith('"') else "bool" if value in ("y", "n") else "int"
            decls.append(f'config {name.removeprefix("CONFIG_")}\n\t{typ} "{name}"\n')
    top = work / "Kconfig.values"
    top.write_text("".join(decls))
    kconf = kconfiglib.Kconfig(str(top), warn_to_stderr=False)
    kconf.load_config(str(path))
    return {"values": {s.name: s.str_value for s in kconf.unique_defined_syms},
            "warnings": [w.replace(str(path), rel) for w in kconf.warnings]}


# ---------------------------------------------------------------- CMake, sh, Markdown
CMAKE_STANDINS = ("find_package", "project", "target_include_directories", "target_sources",
                  "board_set_debugger_ifnset")


def run_cmake(path: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """`cmake -P` of a wrapper that includes the file, the commands a script cannot run stood in."""
    wrapper = work / "include.cmake"
    wrapper.write_text("".join(f"macro({c})\nendmacro()\n" for c in CMAKE_STANDINS) + f'include("{path}")\n')
    trace = work / "trace.json"
    return subprocess.run(["cmake", "-DCMU610_LINE=bigbmc", "-DARCH=riscv", "--trace-expand",
                           "--trace-format=json-v1", f"--trace-redirect={trace}", "-P", str(wrapper)],
                          capture_output=True, text=True, cwd=work)


def _cmake(work: Path, rel: str) -> dict[str, Any]:
    """The commands CMake runs for the file, with their expanded arguments, and its output."""
    r = run_cmake(work / rel, work)
    calls = [json.loads(line) for line in (work / "trace.json").read_text().splitlines()[1:]]
    return {"exit": r.returncode, "stderr": r.stderr,
            "calls": [(c["file"], c["line"], c["cmd"], c["args"]) for c in calls]}


def source_sh(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(["sh", "-c", '. "$1" && env -0', "sh", str(path)], env=env,
                          capture_output=True, text=True, cwd=home)


def _sh(work: Path, rel: str) -> dict[str, Any]:
    """The environment a POSIX shell has after sourcing the file, and what it printed."""
    r = source_sh(work / rel, work)
    env = dict(item.split("=", 1) for item in r.stdout.split("\0") if "=" in item)
    return {"exit": r.returncode, "stderr": r.stderr,
            "env": {k: v for k, v in env.items() if k not in ("PWD", "OLDPWD", "SHLVL", "_")}}


def _markdown(work: Path, rel: str) -> list[Any]:
    """markdown-it's tokens (CommonMark with GitHub's tables and strikethrough)."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])

    def flat(tokens: Any) -> list[Any]:
        return [(t.type, t.tag, t.nesting, t.content if not t.children else "", flat(t.children or []))
                for t in tokens]

    return flat(md.parse((work / rel).read_text()))
