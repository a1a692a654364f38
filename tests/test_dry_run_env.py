"""`build --dry-run` prints what the build runs (issue 22: it left out CMU610_TOOLCHAIN_PATH and
CMU610_ZEPHYR_PYTHON, so its command did not reproduce the build). Checked against what a real
build on the fixture build system hands `proc.stream`, and by running the printed line in sh."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cmu610bsp import proc
from conftest import Cli

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"


def _seen(output: str, name: str) -> str:
    """What the fixture bitbake found in its environment for `name`."""
    (line,) = [line for line in output.splitlines() if f"NOTE: fixture bitbake: {name}=" in line]
    return line.split("=", 1)[1]


def test_the_dry_run_is_the_command_and_environment_the_build_runs(cli: Cli, workspace: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[list[str], Path | None, dict[str, str]]] = []
    real = proc.stream

    def recorded(argv, on_line, cwd=None, env=None, timeout=None):  # type: ignore[no-untyped-def]
        ran.append(([str(a) for a in argv], cwd, dict(env or {})))
        return real(argv, on_line, cwd=cwd, env=env, timeout=timeout)

    monkeypatch.setattr(proc, "stream", recorded)
    # a toolchain found through the override, and a KAS_* variable of the caller's, which kas
    # would read as its own setting: the build takes it out
    toolchain = tmp_path / "team-gcc"
    env = {"CMU610BSP_TOOLCHAIN": str(toolchain), "KAS_CLONE_DEPTH": "1"}
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", "--json", cwd=workspace, env=env)
    assert r.returncode == 0, r.stderr
    dry = json.loads(r.stdout)
    assert ran == []  # a dry run runs nothing
    r = cli("build", "littlebmc", "--source", SRC, "--json", cwd=workspace, env=env)
    assert r.returncode == 0, r.stderr
    ((argv, cwd, build_env),) = ran
    assert dry["command"] == argv and dry["cwd"] == str(cwd)
    assert dry["env"]["CMU610_TOOLCHAIN_PATH"] == str(toolchain) and dry["env"]["CMU610_ZEPHYR_PYTHON"]
    assert dry["unset"] == ["KAS_CLONE_DEPTH"]
    caller = {**os.environ, **env}  # this process's environment during both calls
    assert {**{k: v for k, v in caller.items() if k not in dry["unset"]}, **dry["env"]} == build_env
    log = Path(json.loads(r.stdout)["log"]).read_text()
    assert _seen(log, "CMU610_TOOLCHAIN_PATH") == repr(str(toolchain))
    assert _seen(log, "CMU610_ZEPHYR_PYTHON") == repr(dry["env"]["CMU610_ZEPHYR_PYTHON"])

    # the text form is one line of sh: run as it is printed, it is the same build
    r = cli("build", "littlebmc", "--source", SRC, "--dry-run", cwd=workspace, env=env)
    line = r.stdout.splitlines()[0]
    assert line.startswith(f"cd {workspace} && env -u KAS_CLONE_DEPTH "), line
    again = subprocess.run(["sh", "-c", line], env=caller, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    for name in ("CMU610_TOOLCHAIN_PATH", "CMU610_ZEPHYR_PYTHON", "PYTHONPATH"):
        assert _seen(again.stdout + again.stderr, name) == _seen(log, name), name
