"""Issue 21, text: every text field of the description has a declared grammar, and each one
reaches its generated files as a value of their language, never as more of the file.

The input is a table made here, not written down: every free-text field found by walking the
models (textfields.py) is rendered with a marker, and the files the marker reaches are that
field's files; then each field gets a hostile value of its grammar (quotes, `$(...)`, backticks,
`;`, `#`, `*/`, Markdown, ...), and each of its files is read by its real consumer
(text_consumers.py): what the consumer reads must be what it read with the marker, the marker
replaced by the hostile text, and every other file must be unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

import text_consumers
import textfields
from cmu610bsp import escape, project
from cmu610bsp.errors import BspError
from conftest import REPO, Cli

FREE = textfields.free_fields()
IDS = [f.name for f in FREE]


def word(n: int) -> str:
    return f"zq{n}mark"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, str], list[str]]]:
    """field -> (the render with its marker, the files the marker reaches)."""
    base = textfields.full_description()
    out = {}
    for n, field in enumerate(FREE):
        value = textfields.marker(field, word(n))
        files = textfields.render_files(textfields.with_value(base, field, value), tmp_path_factory.mktemp("marker"))
        out[field.name] = (files, sorted(p for p, text in files.items() if word(n) in text))
    return out


@pytest.fixture
def canary() -> Iterator[Path]:
    path = textfields.canary_path()
    yield path
    path.unlink(missing_ok=True)


def test_every_text_field_declares_a_grammar() -> None:
    undeclared = [f.name for f in textfields.fields() if f.grammar is None]
    assert not undeclared, f"str fields without a grammar (text.py, or Field(pattern=...)): {undeclared}"
    unknown = {f.grammar for f in textfields.fields()} - {*textfields.FREE, *textfields.TIGHT}
    assert not unknown, f"grammars the tests give no values (tests/textfields.py): {unknown}"


def test_the_fields_reach_the_files_they_are_known_to_reach(table: dict[str, tuple[dict[str, str], list[str]]]) -> None:
    """The table is not empty where the issue found injections: a sample of it, as a floor."""
    reached = {name: files for name, (_f, files) in table.items()}
    expect = {
        "board:full_name": ["meta-cmu610/conf/machine/cmu610-evb.conf", "meta-cmu610/README.md",
                            "meta-cmu610/zephyr/boards/cmu/cmu610_evb/board.cmake",
                            "meta-cmu610/zephyr/boards/cmu/cmu610_evb/board.yml",
                            "meta-cmu610/zephyr/boards/cmu/cmu610_evb/cmu610_evb_cmu610_cpu1.dts",
                            "meta-cmu610/recipes-phosphor/configuration/files/cmu610-evb.json"],
        "product:description": ["configs/kas/bigbmc.yml", "meta-cmu610/recipes-core/images/cmu610-bigbmc-image.bb",
                                "meta-cmu610/zephyr/apps/bmc/bigbmc.conf"],
        "product:firmware.kconfig.*": ["meta-cmu610/zephyr/apps/bmc/bigbmc.conf"],
        "config:openbmc.url": ["configs/kas/base.yml"],
        "config:zephyr.url": ["meta-cmu610/recipes-bsp/cmu610-firmware/cmu610-zephyr-source_1.0.bb"],
        "config:toolchain.name": ["configs/kas/toolchain.yml", "meta-cmu610/toolchain.env"],
        "config:toolchain.path": ["configs/kas/toolchain.yml", "meta-cmu610/toolchain.env"],
        "config:toolchain.cache": ["meta-cmu610/toolchain.env"],
        "config:toolchain.sysroot": ["configs/kas/toolchain.yml"],
        "soc:full_name": ["meta-cmu610/conf/machine/include/cmu610.inc"],
        "board:sensors[].label": ["meta-cmu610/zephyr/boards/cmu/cmu610_evb/cmu610_evb_cmu610_cpu1.dts"],
        "board:domains.bmc.firmware": ["meta-cmu610/zephyr/boards/cmu/cmu610_evb/cmu610_evb_cmu610_cpu1.dts"],
    }
    for name, files in expect.items():
        assert set(files) <= set(reached[name]), (name, reached[name])


@pytest.mark.parametrize("field", FREE, ids=IDS)
def test_hostile_text_comes_back_as_a_value(field: textfields.Field, tmp_path: Path, canary: Path,
                                            table: dict[str, tuple[dict[str, str], list[str]]]) -> None:
    marked, reached = table[field.name]
    mark = word(FREE.index(field))
    hostile = mark + textfields.payload(field, canary)
    value = textfields.marker(field, hostile)
    files = textfields.render_files(textfields.with_value(textfields.full_description(), field, value),
                                    tmp_path / "hostile")
    assert sorted(files) == sorted(marked), "the value added, removed or renamed generated files"
    changed = [p for p in files if p not in reached and files[p] != marked[p]]
    assert not changed, f"files the marker does not reach changed: {changed}"
    work = tmp_path / "read"
    want = text_consumers.substitute(text_consumers.read(marked, reached, work), mark, hostile)
    got = text_consumers.read(files, reached, work)
    for path in reached:
        diff = text_consumers.difference(got[path], want[path])
        assert diff is None, f"{path}: its consumer reads more or less than the value: {diff}"
    assert not canary.exists()


@pytest.mark.parametrize("field", [f for f in textfields.fields() if f.grammar in textfields.TIGHT],
                         ids=lambda f: f.name)
def test_tight_grammars_refuse_every_special_character(field: textfields.Field) -> None:
    """A field with a pattern or an enumeration admits none of the characters a target treats
    specially (the first occurrence of the field, in the real description, set to each)."""
    base = textfields.full_description()
    path = textfields.where(base, field)
    root = textfields.ROOTS[field.root]
    for bad in ("\n", "\r", '"', "'", "\\", "$", "`", ";", "#", " ", "{", "}", "*/", "<", "|", "\u2028"):
        files = textfields.with_value(base, field, "ok" + bad + "x")
        with pytest.raises(ValidationError):
            root.model_validate(files[path])


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\tb", "a\0b", "a\x1b[31mb", "a\u2028b", "a\u202eb", "a\\b",
                                   "a ${@open('x','w')} b", "a ${HOME} b", " a", "a ", "", "x" * 201,
                                   "one \" and one '"])
def test_text_refuses_what_no_target_can_take(value: str) -> None:
    from cmu610bsp.text import Text

    with pytest.raises(ValidationError):
        TypeAdapter(Text).validate_python(value)


def test_a_refused_field_is_named_with_its_file_and_nothing_is_written(cli: Cli, workspace: Path) -> None:
    """The CLI: exit 2, every refused field of every file in one report, nothing written."""
    board = workspace / "configs/boards/cmu610-evb.yaml"
    product = workspace / "configs/products/bigbmc.yaml"
    before = {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file() and ".git" not in p.parts}
    board.write_text(board.read_text().replace("full_name: CMU610 evaluation board",
                                               "full_name: \"x\\\"; };\\n&otp { status = \\\"okay\\\"; };\""))
    product.write_text(product.read_text().replace("description: Full-featured",
                                                   "description: ${@open('/tmp/x','w')} Full-featured"))
    r = cli("sync", cwd=workspace)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "configs/boards/cmu610-evb.yaml: full_name:" in r.stderr
    assert "configs/products/bigbmc.yaml: description:" in r.stderr
    after = {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert {p: v for p, v in after.items() if p not in (board, product)} == \
           {p: v for p, v in before.items() if p not in (board, product)}


def test_load_project_reports_every_file_at_once(tmp_path: Path) -> None:
    base = textfields.full_description()
    bad = textfields.with_value(base, textfields.Field("board", ("full_name",), "text"), "a\nb")
    bad = textfields.with_value(bad, textfields.Field("soc", ("full_name",), "text"), "${@x}")
    textfields.write(bad, tmp_path)
    with pytest.raises(BspError) as e:
        project.load_project(tmp_path)
    assert {(f.file.removeprefix(str(tmp_path) + "/"), f.field) for f in e.value.findings} == {
        ("configs/boards/cmu610-evb.yaml", "full_name"), ("configs/soc/cmu610.yaml", "full_name")}


# ---------------------------------------------------------------- each escaping, by its consumer
BITBAKE_VALUES = ['plain', 'one " quote', "one ' quote", 'two "" quotes', "it's \"x\" 'y'", "a$(b)`c`;#d",
                  "trail \\", "%s {x} $ {y}"]


@pytest.mark.parametrize("value", BITBAKE_VALUES)
def test_bitbake_strings_read_back_as_the_value(value: str, tmp_path: Path) -> None:
    conf = tmp_path / "t.conf"
    comment = f"# {escape.line(value)}\n" if not value.endswith("\\") else ""
    conf.write_text(f"A = {escape.bitbake(value)}\n{comment}B = \"after\"\n")
    d = text_consumers.parse_bitbake(conf, tmp_path, recipe=False)[""]
    assert d["A"][:2] == (value, value) and d["B"][0] == "after"


def test_bitbake_refuses_what_it_cannot_quote() -> None:
    for value in ("one \" and one '", "a ${X}", "a\nb"):
        with pytest.raises(ValueError):
            escape.bitbake(value)


def test_dts_strings_and_comments_read_back(tmp_path: Path) -> None:
    value = 'a "q" \\ */ /* \' # //x'
    dts = tmp_path / "t.dts"
    dts.write_text(f"/dts-v1/;\n/* {escape.c_comment(value)} */\n/ {{\n\tmodel = {escape.dts(value)};\n}};\n")
    pre, blob = tmp_path / "t.pre", tmp_path / "t.dtb"
    import subprocess

    subprocess.run(["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P", str(dts), "-o", str(pre)],
                   check=True)
    subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", str(blob), str(pre)], check=True)
    assert text_consumers.fdt(blob.read_bytes()) == {"/": {"model": value.encode() + b"\0"}}


def test_shell_words_expand_nothing(tmp_path: Path) -> None:
    value = "a'b\"c $(touch x) `touch y` ${HOME} ; # \\"
    env = tmp_path / "t.env"
    env.write_text(f"V={escape.sh(value)}\nexport V\n")
    r = text_consumers.source_sh(env, tmp_path)
    assert f"V={value}\0" in r.stdout and not list(tmp_path.glob("[xy]"))


def test_markdown_shows_the_text(tmp_path: Path) -> None:
    value = "*a* _b_ `c` [d](e) <f> | & ~~g~~ \\"
    (tmp_path / "t.md").write_text(f"| a |\n|---|\n| {escape.markdown(value)} |\n\n{escape.markdown(value)}\n")
    tokens = text_consumers._markdown(tmp_path, "t.md")
    inline = [t[3] for t in tokens if t[0] == "inline"]
    texts = [[c[3] for c in t[4]] for t in tokens if t[0] == "inline"]
    assert inline[-2:] and all("".join(t) == value for t in texts[-2:]), texts


def test_reference_description_renders_unchanged_by_the_grammar() -> None:
    """The shipped descriptions pass every grammar (they are the reference workspace's input)."""
    project.load_project(REPO)
