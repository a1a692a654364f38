"""Every command's --help as a user reads it (issue 22): arguments written as the usage line
writes them (`LINE`, `[DIR]`, `[SYSTEM]...`), never with a Python type (`<str>`, `<list[str]>`)
or typer's own brackets (`{LINE}`, `[[SYSTEM]...]...`), and defaults that say what they are."""

from __future__ import annotations

import re

import typer

from cmu610bsp.cli import app
from conftest import Cli


def _commands() -> list[list[str]]:
    """Every leaf command of the tree, as the words that name it."""
    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            out.append(path)
            return
        for name, sub in sorted(subs.items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def test_no_help_shows_a_python_type_or_typer_brackets(cli: Cli) -> None:
    commands = _commands()
    assert ["ci"] in commands and ["devtool", "modify"] in commands and len(commands) > 15
    for words in commands:
        r = cli(*words, "--help")
        assert r.returncode == 0, (words, r.stderr)
        usage = r.stdout.splitlines()[0]
        assert usage.startswith(f"Usage: cmu610bsp {' '.join(words)} [OPTIONS]"), usage
        assert not re.search(r"<(str|int|float|bool|path|list\[\w+\])>", r.stdout), r.stdout
        assert "{" not in usage and "[[" not in usage and "]...]" not in usage, usage


def test_arguments_are_written_as_their_usage(cli: Cli) -> None:
    r = cli("ci", "--help")
    assert r.stdout.splitlines()[0] == "Usage: cmu610bsp ci [OPTIONS] [SYSTEM]...", r.stdout
    assert re.search(r"^  \[SYSTEM\]\.\.\.  gitlab \(\.gitlab-ci\.yml\), github", r.stdout, re.M), r.stdout
    r = cli("build", "--help")
    assert r.stdout.splitlines()[0] == "Usage: cmu610bsp build [OPTIONS] LINE", r.stdout
    assert re.search(r"^  LINE  Product line", r.stdout, re.M), r.stdout
    r = cli("devtool", "modify", "--help")
    assert r.stdout.splitlines()[0] == "Usage: cmu610bsp devtool modify [OPTIONS] RECIPE [SRCTREE]", r.stdout


def test_build_defaults_say_what_they_are(cli: Cli) -> None:
    def words(text: str) -> str:
        """The text without white space: what it says, wherever the help formatter wrapped it."""
        return "".join(text.split())

    text = words(cli("build", "--help").stdout)
    assert words("--target TARGET BitBake target (default: the line's flash image, cmu610-flash-image, "
                 "built in build/LINE from the firmware's recipes alone;") in text
    assert words("the line's image)") not in text
    # --json with --dry-run prints the dry run, not "the plan" (that is --plan's plan.json)
    assert words("--json Print summary.json (with --plan plan.json; with --dry-run the dry run) on stdout.") in text
