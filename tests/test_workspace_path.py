"""A workspace (or --cache/--source directory) BitBake or OE cannot build in (issue 21): a path with
a space or a `$` passed `init` and `doctor`, then failed every BitBake parse. Now `init` refuses
it, `doctor` fails its `path` item with the fix, `build` refuses it before kas runs (exit 2).

The rule (cmu610bsp/buildpath.py) is BitBake's and OE-core's own: the first tests show BitBake's
parser failing on the layer at such paths and passing at a path with every character allowed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cmu610bsp import buildpath, init
from cmu610bsp.checks import yocto
from cmu610bsp.errors import BspError
from cmu610bsp.workspace import open_workspace
from conftest import Cli, snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"


def _moved(workspace: Path, tmp_path: Path, parent: str) -> Path:
    ws = tmp_path / parent / "ws"
    ws.parent.mkdir()
    shutil.move(workspace, ws)
    return ws


# ---------------------------------------------------------------- the rule, against BitBake's parser
@pytest.mark.parametrize("parent", ["a$b", "a b", "a:b", "a,b"])
def test_bitbakes_parser_fails_on_the_layer_at_a_refused_path(workspace: Path, tmp_path: Path, parent: str) -> None:
    ws = _moved(workspace, tmp_path, parent)
    assert buildpath.problems(ws)
    assert yocto.check_bitbake(open_workspace(ws)).status == "failed"


def test_bitbakes_parser_passes_at_a_path_with_every_allowed_character(workspace: Path, tmp_path: Path) -> None:
    ws = _moved(workspace, tmp_path, "Az09_.-~x")
    assert buildpath.problems(ws) == []
    result = yocto.check_bitbake(open_workspace(ws))
    assert result.status == "ok", result.findings


@pytest.mark.parametrize(("char", "reason"), [
    (" ", "' ': OE-core's sanity check refuses it in TMPDIR and COREBASE (sanity.bbclass), and BitBake splits"),
    ("$", "'$': BitBake names the anonymous Python functions"),
    ("+", "'+': OE-core's sanity check refuses it"), ("@", "'@': OE-core's sanity check"),
    ("%", "'%': OE-core's sanity check"), ("&", "'&': OE's shell tasks put paths in commands unquoted"),
    ('"', "'\"': BitBake names"), (":", "':': BitBake names"), ("é", "'é' is not ASCII"),
])
def test_each_refused_character_says_why(char: str, reason: str) -> None:
    found = buildpath.problems(Path(f"/home/jane/my{char}ws"))
    assert len(found) == 1 and found[0].startswith(reason), found


def test_dot_dot_and_length() -> None:
    assert buildpath.problems(Path("/home/jane/ws..old")) == [
        "'..' in a name: OE-core's sanity check refuses it in TMPDIR and COREBASE (sanity.bbclass)"]
    longest = 400 - len("/build/littlebmc/tmp")
    assert buildpath.problems(Path("/" + "a" * (longest - 1))) == []
    assert "TMPDIR (<workspace>/build/<line>/tmp) would be longer than the 400" in buildpath.problems(
        Path("/" + "a" * longest))[0]


# ---------------------------------------------------------------- init, doctor, build
@pytest.mark.parametrize("parent", ["a b", "a$b"])
def test_init_refuses_the_path_and_creates_nothing(tmp_path: Path, parent: str) -> None:
    (tmp_path / parent).mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(BspError) as info:
        init.init(tmp_path / parent / "ws", None)
    assert info.value.message == f"the workspace cannot be built in by BitBake: {tmp_path / parent / 'ws'}"
    assert [f.field for f in info.value.findings] == ["(path)"]
    assert snapshot(tmp_path) == before


def test_cli_init_exits_2(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "my bsp" / "ws"
    r = cli("init", str(target))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"  {target}: (path): ' ': OE-core's sanity check" in r.stderr and "hint: move the workspace" in r.stderr
    assert not target.parent.exists()


def test_cli_doctor_fails_the_path_item_with_the_fix(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    ws = _moved(workspace, tmp_path, "a$b")
    r = cli("doctor", "--json", cwd=ws)
    assert r.returncode == 2, r.stdout + r.stderr
    item = next(i for i in json.loads(r.stdout)["items"] if i["name"] == "path")
    assert item["status"] == "fail" and "'$': BitBake names" in item["detail"], item
    assert item["fix"].startswith("move the workspace to a directory whose path has only ASCII letters"), item


def test_cli_doctor_passes_the_path_item_of_a_good_workspace(cli: Cli, workspace: Path) -> None:
    r = cli("doctor", "--json", cwd=workspace)
    item = next(i for i in json.loads(r.stdout)["items"] if i["name"] == "path")
    assert item["status"] == "ok", item


@pytest.mark.parametrize("dry_run", [False, True])
def test_cli_build_refuses_before_kas_runs(cli: Cli, workspace: Path, tmp_path: Path, dry_run: bool) -> None:
    """With the fixture build system the build would run (and succeed) at this path before."""
    ws = _moved(workspace, tmp_path, "a b")
    r = cli("build", "littlebmc", "--source", SRC, *(["--dry-run"] if dry_run else []), cwd=ws, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"error: the workspace cannot be built in by BitBake: {ws}"), r.stderr
    assert not (ws / "build").exists()  # no overlay written, kas never ran


@pytest.mark.parametrize("option", ["--cache", "--source"])
def test_cli_build_refuses_a_cache_or_source_directory_bitbake_cannot_use(cli: Cli, workspace: Path, tmp_path: Path,
                                                                          option: str) -> None:
    bad = tmp_path / "dl $HOME"
    bad.mkdir()
    value = str(bad) if option == "--cache" else f"zephyr={bad}"
    r = cli("build", "littlebmc", "--source", SRC, option, value, cwd=workspace, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    what = "the --cache directory" if option == "--cache" else "the --source zephyr directory"
    assert r.stderr.startswith(f"error: {what} cannot be built in by BitBake: {bad}"), r.stderr
    assert not (workspace / "build").exists()
