"""The description's text fields, found by walking the models (so a new field is found too), and
a description in which every one of them is set: the input of the injection and canary tests.

A field is named `<file>:<path>`, e.g. `board:sensors[].label`, `product:firmware.kconfig.*`,
`catalog:sensor_kinds.*.dt_properties.<key>` (a dict's keys).
"""

from __future__ import annotations

import copy
import secrets
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cmu610bsp import layout, project, render
from cmu610bsp.config import OpenBmcPin, WorkspaceConfig, ZephyrPin
from cmu610bsp.model import Board, Catalog, Product, Soc
from cmu610bsp.text import Grammar

REPO = Path(__file__).resolve().parents[1]
ROOTS: dict[str, type[BaseModel]] = {
    "config": WorkspaceConfig, "soc": Soc, "board": Board, "product": Product, "catalog": Catalog}
# grammars of free text: the tests give each field a marker and a hostile value of its grammar
FREE = ("text", "kconfig-text", "url", "abs-path", "rel-path")
# grammars that admit no character any target treats specially: checked to refuse them
TIGHT = ("pattern", "literal", "hostname")
# fields of cmu610bsp.yml whose value names a description file
FILE_FIELDS = ("soc", "boards", "products", "catalog")


@dataclass(frozen=True)
class Field:
    root: str
    path: tuple[str, ...]     # field names, "[]" a list item, "*" a dict value, "<key>" a dict key
    grammar: str | None       # a Grammar's name, "pattern", "literal", or None: none declared

    @property
    def name(self) -> str:
        text = ""
        for p in self.path:
            text += p if p == "[]" else f".{p}" if text else p
        return f"{self.root}:{text}"


def _grammar(meta: typing.Iterable[Any]) -> str | None:
    for m in meta:
        if isinstance(m, Grammar):
            return m.name
        if getattr(m, "pattern", None):
            return "pattern"
        if isinstance(m, FieldInfo):
            found = _grammar(m.metadata)
            if found:
                return found
    return None


def _walk(tp: Any, root: str, path: tuple[str, ...], grammar: str | None) -> Iterator[Field]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        yield from _walk(base, root, path, _grammar(meta) or grammar)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _walk(arg, root, path, grammar)
    elif origin is list:
        yield from _walk(typing.get_args(tp)[0], root, (*path, "[]"), None)
    elif origin is dict:
        key, value = typing.get_args(tp)
        yield from _walk(key, root, (*path, "<key>"), None)
        yield from _walk(value, root, (*path, "*"), None)
    elif origin is typing.Literal:
        if any(isinstance(v, str) for v in typing.get_args(tp)):
            yield Field(root, path, "literal")
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            ann = typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            yield from _walk(ann, root, (*path, name), None)
    elif tp is str:
        yield Field(root, path, grammar)


def fields() -> list[Field]:
    """Every str-typed leaf of every description file's model (dict keys included), once."""
    seen: dict[str, Field] = {}
    for root, model in ROOTS.items():
        for f in _walk(model, root, (), None):
            seen.setdefault(f.name, f)
    return sorted(seen.values(), key=lambda f: f.name)


def free_fields() -> list[Field]:
    return [f for f in fields() if f.grammar in FREE]


# ---------------------------------------------------------------- a description with every field set
TOOLCHAIN = {"name": "vendor RISC-V GCC 13", "path": "/opt/riscv-gcc", "prefix": "riscv64-unknown-elf-",
             "sysroot": "sysroot", "sha256": "0" * 64, "xuantie": True}


SIGNING = {"algorithm": "ed25519", "active": 0, "cache": "ws-0123456789ab.pem",
           "pkcs11": {"token": "cmu610", "object": "signing"},
           "slots": [{"sha256": "722abd12e99a5367f375aeb9672a8e07712e03c2add16fa8d6914d1cfa2efe0c",
                       "public": "MCowBQYDK2VwAyEA" + "A" * 43 + "="}]}


def full_description() -> dict[str, Any]:
    """{workspace-relative path: YAML data} of a workspace whose description sets every field: the
    reference one, with a catalogue file, pinned repositories, a toolchain record and a Kconfig
    string setting of each firmware added."""
    config = yaml.safe_load((REPO / layout.CONFIG_FILE).read_text())
    config.update({"catalog": "configs/catalog/sensor-kinds.yaml", "keep": ["meta-cmu610/README.md"], "ci": ["gitlab"],
                   "openbmc": OpenBmcPin().model_dump(), "zephyr": ZephyrPin().model_dump(),
                   "toolchain": dict(TOOLCHAIN), "signing": dict(SIGNING),
                   "secure_firmware": {"kconfig": {"CONFIG_SHELL_PROMPT_UART": "sec:~$ "}}})
    files: dict[str, Any] = {layout.CONFIG_FILE: config}
    for rel in [config["soc"], *config["boards"], *config["products"], config["catalog"]]:
        files[rel] = yaml.safe_load((REPO / rel).read_text())
    board = files[config["boards"][0]]
    # an MCTP window of its own: the last page of PSRAM, which the BMC's slice then leaves free
    board["mctp"] = {"secure_eid": 9, "bmc_eid": 8, "window": {"region": "psram", "offset": 0x7FF000, "size": 4096}}
    next(m for m in board["domains"]["bmc"]["memory"] if m["region"] == "psram")["size"] = 0x6FF000
    bigbmc = files[config["products"][0]]
    bigbmc["firmware"]["kconfig"] = {"CONFIG_SHELL_PROMPT_UART": "bmc:~$ ", **bigbmc["firmware"]["kconfig"]}
    return files


def root_file(files: dict[str, Any], root: str) -> str:
    config = files[layout.CONFIG_FILE]
    return {"config": layout.CONFIG_FILE, "soc": config["soc"], "board": config["boards"][0],
            "product": config["products"][0], "catalog": config["catalog"]}[root]


def _locate(data: Any, path: tuple[str, ...]) -> tuple[Any, Any]:
    """(container, key) of the first value at `path` in `data` (the first list item, the first
    dict entry, that has the rest of the path; "<key>": the dict and its first key); the last
    key need not exist yet."""
    last = path[-1]
    if len(path) == 1:
        return data, 0 if last == "[]" else next(iter(data)) if last in ("*", "<key>") else last
    p = path[0]
    keys = range(len(data)) if p == "[]" else list(data) if p == "*" else [p]
    for k in keys:
        if isinstance(data, dict) and k not in data:
            continue
        try:
            return _locate(data[k], path[1:])
        except (KeyError, IndexError, StopIteration, TypeError):
            continue
    raise KeyError(f"nothing at {path} in the description")


def where(files: dict[str, Any], field: Field) -> str:
    """The file a finding about this field's value names."""
    return root_file(files, field.root)


def with_value(files: dict[str, Any], field: Field, value: str) -> dict[str, Any]:
    """A copy of the description with the field's first occurrence set to `value` (a dict key:
    renamed to it; a field that names a description file: the file moved there)."""
    out = copy.deepcopy(files)
    parent, key = _locate(out[root_file(out, field.root)], field.path)
    if field.path[-1] == "<key>":
        items = list(parent.items())
        parent.clear()
        parent.update({value if k == key else k: v for k, v in items})
        return out
    old = parent[key] if key in parent or isinstance(parent, list) else None
    parent[key] = value
    if field.root == "config" and field.path[0] in FILE_FIELDS:
        out[value] = out.pop(old)
    return out


def write(files: dict[str, Any], root: Path) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def render_files(files: dict[str, Any], root: Path) -> dict[str, str]:
    """What the description renders to, loaded from `root` (made, and left, with its files)."""
    write(files, root)
    return render.render(project.load_project(root))


# ---------------------------------------------------------------- values of each grammar
def marker(field: Field, word: str) -> str:
    """A value of the field's grammar holding `word`, found nowhere else: where the word lands is
    where the field goes (a renderer may write a value in parts: a URL's scheme apart)."""
    value = {"text": word, "kconfig-text": word, "url": f"https://{word}.invalid/x.git",
             "abs-path": f"/opt/{word}", "rel-path": word}[field.grammar or ""]
    return _fit(field, value)


def payload(field: Field, canary: Path) -> str:
    """What a hostile value adds after the marker's word: every character some target treats
    specially that the grammar admits; what would run if it were not escaped writes `canary`."""
    c = str(canary)
    text = {
        "text": f""" 19" 'a' 'b' $(touch {c}) `touch {c}`; # */ model; /* <b>*x*</b> | & ~ [l](u) % {{{{x}}}} $HOME""",
        "kconfig-text": f""" "q" \\ \\" $(shell,touch {c}) ${{HOME}} `touch {c}`; # """,
        "url": ":8443/a,b+c=d%41~e@f/g.git?x=1&y=2",
        "abs-path": "/a.b_c+d-e",
        "rel-path": "/a.b_c+d-e",
    }[field.grammar or ""]
    if field.name == "config:maintainer":
        return "".join(ch for ch in text if ch not in "<>@")
    if field.root == "config" and field.path[0] in FILE_FIELDS:
        return text.replace("/", "%")
    return text


def canary_path() -> Path:
    """A short path no file has (a value holds it several times, within its grammar's length)."""
    path = Path("/tmp") / f"k{secrets.token_hex(3)}"
    assert not path.exists()
    return path


def attacks(field: Field, canary: Path) -> list[str]:
    """Values that create `canary` if any consumer runs them (shell, BitBake, Kconfig's macros,
    CMake, Python, a line added): each must be refused, or written so that nothing runs."""
    c = str(canary)
    runs = [
        # shell (unquoted, single- and double-quoted), Kconfig's macros, CMake, a Python string, a C comment
        f"""$(touch {c})`touch {c}`';touch {c};'";touch {c};"$(shell,touch {c}) """
        f"""")file(WRITE {c} x)#("'+open('{c}','w').name+'*/""",
        f"${{@open('{c}','w')}}", f"x\n${{@open('{c}','w')}}",
        # a line break, then a whole statement, and the rest of the template's line made a comment
        f"x\nfile(WRITE {c} x)\n#", f"x\ntouch {c}\n#", f"x\n$(shell,touch {c})\n#", "x\rCONFIG_CMU610_X=y\n#",
        f"x\"\npython __anonymous() {{\n    open('{c}','w')\n}}\nZZ = \"y",
    ]
    if field.grammar == "url":
        runs = [f"https://h.invalid/{r}" for r in runs] + [f"https://h.invalid/x;protocol=file;{r}" for r in runs[:2]]
    elif field.grammar in ("abs-path", "rel-path"):
        runs = [f"/opt/{r}" if field.grammar == "abs-path" else f"x/{r}" for r in runs]
    return [_fit(field, r) for r in runs]


def _fit(field: Field, value: str) -> str:
    """A value made acceptable to what the field adds to its grammar."""
    if field.name == "config:maintainer":
        return value + " <a@b.c>"
    if field.root == "config" and field.path[0] in FILE_FIELDS:
        return "configs/" + value.replace("/", "%")
    return value
