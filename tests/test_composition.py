"""The firmware composition (issue 24): the flash image is built from the layer's recipes and the
OpenBMC recipes the firmware takes, masked out of the rest (configs/kas/firmware.yml), in
build/<line>; any other target from the whole OpenBMC composition in build/<line>-openbmc. The mask
is checked the way BitBake applies it (a search of each recipe file's path), the layer's class
through BitBake's own parser, the CLI flow on the fixture build system (tests/fixtures/buildsys)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cmu610bsp import components, composition
from cmu610bsp.checks.yocto import import_bb
from cmu610bsp.kasbuild import bitbake, compose
from cmu610bsp.layout import BuildPaths
from cmu610bsp.names import LAYER_RECIPES, component_variant
from conftest import Cli

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
SRC = f"openbmc={FIXTURE}"
REPO = Path(__file__).resolve().parent.parent


def _masked(mask: str, path: str) -> bool:
    """As bb/cooker.py collect_bbfiles: a file is masked when the BBMASK expression is found in its path."""
    return re.compile(mask).search(path) is not None


def test_the_mask_leaves_only_the_named_recipes_and_their_appends_in_any_layer() -> None:
    mask = composition.mask(composition.recipes(("libpldm", "libmctp")))
    kept = ["/t/meta-phosphor/recipes-phosphor/libpldm/libpldm_git.bb",
            "/t/meta-foo/recipes-phosphor/libpldm/libpldm_%.bbappend",
            "/ws/meta-cmu610/recipes-bsp/cmu610-firmware/cmu610-bmc-fw_1.0.bb",
            "/ws/build/littlebmc/workspace/appends/cmu610-bmc-fw_1.0.bbappend",
            "/ws/meta-cmu610/recipes-bsp/cmu610-flash/cmu610-flash-image_1.0.bb",
            "/t/meta-phosphor/recipes-phosphor/libmctp/libmctp_git.bb"]
    masked = ["/t/meta-phosphor/recipes-phosphor/libpldm/libpldm-extra_git.bb",  # another recipe, same prefix
              "/t/meta/recipes-devtools/python/python3_3.13.bb",
              "/t/meta-phosphor/recipes-phosphor/state/phosphor-state-manager_git.bb",
              "/ws/meta-cmu610/recipes-phosphor/images/cmu610-littlebmc-image.bb",
              "/t/meta-libpldm/recipes/foo/foo_1.0.bb"]  # a directory named like a kept recipe
    assert [p for p in kept if _masked(mask, p)] == []
    assert [p for p in masked if not _masked(mask, p)] == []
    assert " " not in mask  # BBMASK is split on spaces
    with pytest.raises(ValueError):
        composition.mask(("lib pldm",))


def test_the_composition_is_fed_from_the_component_table(workspace: Path) -> None:
    """configs/kas/firmware.yml parses what components.used gives (the secure firmware's
    libpldm and libmctp at least), with its mask; a table of fewer components masks the others."""
    from cmu610bsp import workspace as wsp

    project = wsp.load_project(wsp.open_workspace(workspace))
    names = composition.recipes(components.used(project.products))
    assert names == (*LAYER_RECIPES, *components.used(project.products))
    assert {"libpldm", "libmctp"} <= set(names)
    conf = yaml.safe_load((workspace / "configs/kas/firmware.yml").read_text())["local_conf_header"]["cmu610-firmware"]
    assert f'BBMASK += "{composition.mask(names)}"' in conf and 'INHERIT += "cmu610_firmware_only"' in conf
    only_pldm = composition.mask(composition.recipes(("libpldm",)))
    assert _masked(only_pldm, "/t/meta-phosphor/recipes-phosphor/libmctp/libmctp_git.bb")
    assert compose.Lines(("littlebmc",), {}, components={"littlebmc": ("libpldm",)}).composed == (*LAYER_RECIPES, "libpldm")


def test_which_targets_and_devtool_recipes_the_firmware_composition_serves() -> None:
    names = composition.recipes(("libpldm",))
    assert composition.serves(None) and composition.serves("cmu610-flash-image")
    assert composition.serves("cmu610-bmc-fw-cmu610-evb-qemu") and composition.serves("cmu610-zephyr-source:do_unpack")
    assert not composition.serves("cmu610-littlebmc-image") and not composition.serves("libpldm")
    assert composition.parses("libpldm", names) and composition.parses(component_variant("libpldm"), names)
    assert composition.parses("cmu610-bmc-fw", names)
    assert not composition.parses("phosphor-state-manager", names) and not composition.parses("libmctp", names)


def test_each_composition_has_its_build_directory_and_files(workspace: Path) -> None:
    fw, full = compose.Request("littlebmc"), compose.Request("littlebmc", target="cmu610-littlebmc-image")
    assert [f.name for f in compose.kas_files(workspace, fw)][-2:] == ["firmware.yml", "littlebmc.yml"]
    assert "firmware.yml" not in [f.name for f in compose.kas_files(workspace, full)]
    assert compose.changes(workspace, fw, compose.STANDIN_TOOLCHAIN).set["KAS_BUILD_DIR"] == str(workspace / "build/littlebmc")
    assert compose.changes(workspace, full, compose.STANDIN_TOOLCHAIN).set["KAS_BUILD_DIR"] == str(
        workspace / "build/littlebmc-openbmc")
    # one devtool workspace layer for both
    assert fw.paths(workspace).devtool_workspace == full.paths(workspace).devtool_workspace


def test_the_openbmc_image_builds_apart_and_smoke_is_refused_with_it(cli: Cli, workspace: Path) -> None:
    r = cli("build", "littlebmc", "--target", "cmu610-littlebmc-image", "--source", SRC, "--json", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == "success"
    assert (workspace / "build/littlebmc-openbmc/summary.json").is_file()
    assert not (workspace / "build/littlebmc/summary.json").exists()
    r = cli("build", "littlebmc", "--source", SRC, cwd=workspace)
    assert r.returncode == 0, r.stderr
    local = (workspace / "build/littlebmc/conf/local.conf").read_text()
    assert "cmu610_firmware_only" in local
    assert "cmu610_firmware_only" not in (workspace / "build/littlebmc-openbmc/conf/local.conf").read_text()
    before = sorted(p.name for p in (workspace / "build").iterdir())
    r = cli("build", "littlebmc", "--smoke", "--target", "cmu610-littlebmc-image", "--source", SRC, cwd=workspace)
    assert r.returncode == 2 and "--smoke boots the line's flash image" in r.stderr
    assert sorted(p.name for p in (workspace / "build").iterdir()) == before


def test_devtool_in_either_build_directory_uses_the_lines_workspace_layer(cli: Cli, workspace: Path) -> None:
    """A firmware recipe is modified in build/littlebmc, any other in build/littlebmc-openbmc
    (devtool.conf's workspace_path): both appends in one layer, which status lists."""
    assert cli("build", "littlebmc", "--source", SRC, cwd=workspace).returncode == 0
    for recipe in ("cmu610-bmc-fw", "phosphor-state-manager"):
        r = cli("devtool", "modify", recipe, "--line", "littlebmc", cwd=workspace)
        assert r.returncode == 0, r.stdout + r.stderr
    appends = workspace / "build/littlebmc/workspace/appends"
    assert sorted(p.name.split("_")[0] for p in appends.glob("*.bbappend")) == ["cmu610-bmc-fw", "phosphor-state-manager"]
    conf = (workspace / "build/littlebmc-openbmc/conf/devtool.conf").read_text()
    assert f"workspace_path = {appends.parent}" in conf
    assert not (workspace / "build/littlebmc-openbmc/workspace").exists()
    r = cli("devtool", "status", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and "cmu610-bmc-fw:" in r.stdout and "phosphor-state-manager:" in r.stdout


def test_the_workspace_layer_of_the_other_build_directory_is_listed_once(tmp_path: Path) -> None:
    """kas writes the line's workspace layer relative to TOPDIR; devtool compares text and would add
    it again: the entry is written as devtool writes it (absolute), once."""
    paths = BuildPaths(tmp_path, "littlebmc", openbmc=True)
    (paths.build / "conf").mkdir(parents=True)
    conf = paths.build / "conf" / "bblayers.conf"
    conf.write_text('BBLAYERS ?= " \\\n  /x/meta \\\n  ${TOPDIR}/../littlebmc/workspace \\\n'
                    f'  {paths.devtool_workspace} \\\n  "\n')
    bitbake.devtool_layer_as_devtool_writes_it(paths.build, paths.devtool_workspace)
    text = conf.read_text()
    entries = [line.strip(" \\") for line in text.splitlines()[1:-1]]
    assert entries == ["/x/meta", str(paths.devtool_workspace)]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_build_configuration_reads_each_repositorys_head_as_git_prints_it(tmp_path: Path) -> None:
    """cmu610_firmware_only.bbclass's Python, parsed and run by BitBake's own parser, against
    `git rev-parse` on a branch, packed refs, a detached HEAD and a linked worktree."""
    bb = import_bb()
    d = bb.data.init()
    d.setVar("BBPATH", str(REPO / "meta-cmu610"))
    bb.parse.handle(str(REPO / "meta-cmu610/classes/cmu610_firmware_only.bbclass"), d, True)
    head, toplevel = bb.utils._context["cmu610_git_head"], bb.utils._context["cmu610_git_toplevel"]
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "layer" / "conf").mkdir(parents=True)
    (repo / "layer/conf/layer.conf").write_text("\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")

    def expected(where: Path) -> tuple[str, str]:
        return _git(where, "rev-parse", "--abbrev-ref", "HEAD"), _git(where, "rev-parse", "HEAD")

    assert toplevel(str(repo / "layer")) == str(repo) and toplevel("/") is None
    assert head(str(repo)) == expected(repo) == ("main", expected(repo)[1])
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git/refs/heads/main").exists() and head(str(repo)) == expected(repo)
    _git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    assert head(str(tmp_path / "wt")) == expected(tmp_path / "wt") == ("side", expected(repo)[1])
    _git(repo, "checkout", "-q", "--detach")
    assert head(str(repo)) == expected(repo) == ("HEAD", expected(repo)[1])
    subprocess.run(["git", "init", "-q", "-b", "unborn", str(tmp_path / "empty")], check=True)
    assert head(str(tmp_path / "empty")) is None  # no commit: left to git (oe.buildcfg)


def test_offline_the_openbmc_image_needs_no_source_of_the_firmwares_components(cli: Cli, workspace: Path) -> None:
    """The firmware's variant of libpldm is what a --source serves; the OpenBMC image builds
    OpenBMC's own recipe from its pin: its plan offline is not refused for the firmware's sake."""
    r = cli("build", "littlebmc", "--offline", "--source", SRC, cwd=workspace)
    assert r.returncode == 2 and "--offline: no source of libpldm, libmctp" in r.stderr
    r = cli("build", "littlebmc", "--offline", "--plan", "--target", "cmu610-littlebmc-image", "--source", SRC,
            cwd=workspace)
    assert r.returncode == 0, r.stderr


def test_the_components_variant_depends_on_nothing_the_composition_lacks(workspace: Path) -> None:
    """`check` (BitBake's parser) parses each component's variant from a stand-in recipe that
    appends DEPENDS as meson's class does: the variant drops it; a layer that did not would leave
    the firmware composition without a provider of python3-native, and is reported."""
    from cmu610bsp import workspace as wsp
    from cmu610bsp.checks.yocto import check_bitbake

    assert check_bitbake(wsp.open_workspace(workspace)).status == "ok"
    cls = workspace / "meta-cmu610/classes/cmu610_zephyr_lib.bbclass"
    text = cls.read_text()
    assert '    d.setVar("DEPENDS", "")\n' in text
    cls.write_text(text.replace('    d.setVar("DEPENDS", "")\n', ""))
    res = check_bitbake(wsp.open_workspace(workspace))
    assert res.status == "failed"
    assert {f.field for f in res.findings} == {"DEPENDS (libpldm)", "DEPENDS (libmctp)"}, res.findings
