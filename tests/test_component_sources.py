"""The OpenBMC recipes the firmware is built with (libpldm, libmctp), on the BitBake side: the
layer makes a source-only variant of each recipe, untouched (checked with BitBake's own parser,
the recipe stood in), the firmware recipes wait for it, `--source libpldm=PATH` sends the variant's
fetch to a local checkout (pinned when the checkout holds the recipe's SRCREV), an offline build
with no source for a component is refused before kas runs, and `devtool modify libpldm` modifies
the variant the firmware is built from. Real git repositories throughout; kas and devtool are the
fixture build system's (tests/fixtures/buildsys: a BitBake build needs the network); the real
build is the OpenBMC integration test's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from cmu610bsp import workspace as wsmod
from cmu610bsp.checks.yocto import check_bitbake, import_bb
from cmu610bsp.kasbuild import libsource
from conftest import Cli, edit

FIXTURE = Path(__file__).parent / "fixtures" / "buildsys"
RECIPE = "meta-phosphor/recipes-phosphor/{0}/{0}_git.bb"


def _repo(path: Path, files: dict[str, str]) -> str:
    """A git repository with one commit of `files`; its commit."""
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(path)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def _openbmc(path: Path, pins: dict[str, str]) -> Path:
    """An OpenBMC tree holding the components' recipe files as OpenBMC spells them."""
    for name, rev in pins.items():
        recipe = path / RECIPE.format(name)
        recipe.parent.mkdir(parents=True, exist_ok=True)
        recipe.write_text(f'SRCREV = "{rev}"\nPV = "git${{SRCPV}}"\n'
                          f'SRC_URI = "git://github.com/openbmc/{name};branch=main;protocol=https"\n')
    return path


def test_the_layer_makes_a_source_variant_and_the_firmware_waits_for_it(workspace: Path) -> None:
    conf = (workspace / "meta-cmu610/conf/layer.conf").read_text()
    assert 'BBCLASSEXTEND:append:pn-libpldm = " cmu610_zephyr_lib:zephyr"' in conf
    assert 'BBCLASSEXTEND:append:pn-libmctp = " cmu610_zephyr_lib:zephyr"' in conf
    line = yaml.safe_load((workspace / "configs/kas/littlebmc.yml").read_text())
    assert 'CMU610_BMC_COMPONENTS = "libpldm libmctp"' in line["local_conf_header"]["cmu610-line"]
    ws = wsmod.open_workspace(workspace)
    assert check_bitbake(ws).status == "ok"
    # the check is BitBake's parse of the variant: a class that shares nothing fails it
    edit(workspace / "meta-cmu610/classes/cmu610_zephyr_lib.bbclass",
         "addtask cmu610_share after do_patch before do_build\n", "")
    r = check_bitbake(ws)
    assert r.status == "failed" and "the variant does not share its source" in str(r.findings), r


def test_a_line_without_components_builds_none(workspace: Path) -> None:
    edit(workspace / "configs/products/littlebmc.yaml", "  openbmc: [libpldm, libmctp]\n", "  openbmc: []\n")
    from cmu610bsp import generate
    generate.generate(wsmod.open_workspace(workspace), force=True)
    line = yaml.safe_load((workspace / "configs/kas/littlebmc.yml").read_text())
    assert 'CMU610_BMC_COMPONENTS = ""' in line["local_conf_header"]["cmu610-line"]
    # the secure firmware's MCTP endpoint and PLDM responder still take both
    assert "pn-libpldm" in (workspace / "meta-cmu610/conf/layer.conf").read_text()


def test_a_checkout_holding_the_pin_stays_pinned(tmp_path: Path) -> None:
    src = tmp_path / "libpldm"
    head = _repo(src, {"zephyr/module.yml": "name: libpldm\n", "README": "x\n"})
    lines, pinned = libsource.checkout_lines("libpldm", src, _openbmc(tmp_path / "openbmc", {"libpldm": head}))
    assert pinned and lines == [f'CMU610_ZEPHYR_LIB_TREE:pn-cmu610-zephyr-lib-libpldm = "{src}"']
    other = "1" * 40
    lines, pinned = libsource.checkout_lines("libpldm", src, _openbmc(tmp_path / "other", {"libpldm": other}))
    assert not pinned and lines[1] == f'SRCREV:pn-cmu610-zephyr-lib-libpldm = "{head}"'


def test_a_source_that_is_not_a_checkout_of_the_component_is_refused(cli: Cli, workspace: Path,
                                                                      tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "zephyr").mkdir(parents=True)
    (plain / "zephyr/module.yml").write_text("name: libpldm\n")
    r = cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", "--source", f"libpldm={plain}",
            "--dry-run", cwd=workspace)
    assert r.returncode == 2 and f"--source libpldm={plain}: not a git checkout" in r.stderr, r.stderr
    mctp = tmp_path / "mctp"
    _repo(mctp, {"README": "not libmctp\n"})
    r = cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", "--source", f"libmctp={mctp}",
            "--dry-run", cwd=workspace)
    assert r.returncode == 2 and "not a checkout of libmctp's source (no core.c in it)" in r.stderr, r.stderr


def test_source_options_reach_the_run_and_are_reported_unpinned(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    pldm, mctp = tmp_path / "libpldm", tmp_path / "libmctp"
    _repo(pldm, {"zephyr/module.yml": "name: libpldm\n"})
    mctp_head = _repo(mctp, {"core.c": "int x;\n"})
    r = cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", "--source", f"libpldm={pldm}",
            "--source", f"libmctp={mctp}", "--dry-run", cwd=workspace)
    assert r.returncode == 0, r.stderr
    run = yaml.safe_load(r.stdout.partition("\n")[2])["local_conf_header"]["zz-cmu610bsp-run"]
    assert f'CMU610_ZEPHYR_LIB_TREE:pn-cmu610-zephyr-lib-libpldm = "{pldm}"' in run
    assert f'SRCREV:pn-cmu610-zephyr-lib-libmctp = "{mctp_head}"' in run  # the fixture tree pins nothing
    r = cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", "--source", f"libpldm={pldm}",
            "--source", f"libmctp={mctp}", cwd=workspace)
    assert r.returncode == 0 and f"libpldm (local checkout {pldm})" in r.stderr, r.stderr


def test_offline_without_a_source_is_refused_before_kas_runs(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    tree = _openbmc(tmp_path / "openbmc", {"libpldm": "2" * 40, "libmctp": "3" * 40})
    pldm = tmp_path / "libpldm"
    _repo(pldm, {"zephyr/module.yml": "name: libpldm\n"})
    r = cli("build", "littlebmc", "--offline", "--source", f"openbmc={tree}", "--source", f"libpldm={pldm}",
            cwd=workspace)
    assert r.returncode == 2, r.stderr
    assert "--offline: no source of libmctp to build the firmware with" in r.stderr and "--source libmctp=PATH" in r.stderr
    assert not (workspace / "build/littlebmc/cmu610bsp-build.log").exists() and not (workspace / "build/.kas").exists()
    # a clone of the recipe's repository holding its pin in the downloads is enough
    pin = _repo(workspace / "build/downloads/git2/github.com.openbmc.libmctp", {"core.c": "int x;\n"})
    _openbmc(tree, {"libmctp": pin})
    assert libsource.unfetchable(("libpldm", "libmctp"), {"libpldm": pldm}, tree, workspace / "build/downloads") == []


def test_devtool_modify_of_a_component_modifies_the_firmware_source(cli: Cli, workspace: Path) -> None:
    assert cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", cwd=workspace).returncode == 0
    r = cli("devtool", "modify", "libpldm", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and "sources/cmu610-zephyr-lib-libpldm" in r.stdout, r.stdout + r.stderr
    r = cli("devtool", "reset", "libpldm", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0 and "cmu610-zephyr-lib-libpldm" in r.stdout, r.stdout


def test_devtool_finish_of_a_component_keeps_openbmcs_linux_recipe_parsing(cli: Cli, workspace: Path) -> None:
    """devtool writes the variant's patches under ${THISDIR}/${PN} (the variant's name) into a
    bbappend that OpenBMC's Linux recipe reads too, where the patch is not found: a parse error
    (seen with the real devtool). The tool scopes them to the firmware's variant; sync keeps the
    bbappend and check still passes."""
    assert cli("build", "littlebmc", "--source", f"openbmc={FIXTURE}", cwd=workspace).returncode == 0
    assert cli("devtool", "modify", "libpldm", "--line", "littlebmc", cwd=workspace).returncode == 0
    r = cli("devtool", "finish", "libpldm", "--line", "littlebmc", cwd=workspace)
    assert r.returncode == 0, r.stdout + r.stderr
    append = workspace / "meta-cmu610/recipes-phosphor/libpldm/libpldm_%.bbappend"
    assert (append.parent / "cmu610-zephyr-lib-libpldm/0001-local.patch").is_file()
    assert append.read_text().endswith('FILESEXTRAPATHS:prepend := "${THISDIR}/cmu610-zephyr-lib-libpldm:"\n'
                                       'SRC_URI:remove:pn-libpldm = "file://0001-local.patch"\n'), append.read_text()
    assert cli("sync", cwd=workspace).returncode == 0 and append.is_file()
    ws = wsmod.open_workspace(workspace)
    assert check_bitbake(ws).status == "ok"
    # BitBake's parser: the Linux recipe drops the patch, the firmware's variant keeps it
    bb = import_bb()
    recipe = workspace / "libpldm_git.bb"   # OpenBMC's recipe stood in: the bbappend is what is tested
    recipe.write_text('SRC_URI = "git://github.com/openbmc/libpldm;branch=main;protocol=https"\n')
    for pn, wanted in (("libpldm", False), ("cmu610-zephyr-lib-libpldm", True)):
        d = bb.data.init()
        d.setVar("PN", pn)
        d.setVar("OVERRIDES", "pn-${PN}")
        d.setVar("__BBAPPEND", str(append))
        d.setVar("THISDIR", "${@os.path.dirname(d.getVar('FILE'))}")  # bitbake.conf's
        d = bb.parse.handle(str(recipe), d, False)[""]  # the recipe itself (no variants)
        assert ("file://0001-local.patch" in d.getVar("SRC_URI").split()) == wanted, (pn, d.getVar("SRC_URI"))
        if wanted:  # where BitBake's fetcher looks for it (FILESEXTRAPATHS, expanded when read)
            assert str(append.parent / "cmu610-zephyr-lib-libpldm") in d.getVar("FILESEXTRAPATHS"), d.getVar("FILESEXTRAPATHS")


def test_an_openbmc_tree_without_the_recipe_is_refused_before_kas_runs(cli: Cli, workspace: Path,
                                                                      tmp_path: Path) -> None:
    tree = _openbmc(tmp_path / "openbmc", {"libpldm": "2" * 40})   # no libmctp recipe in it
    r = cli("build", "littlebmc", "--source", f"openbmc={tree}", cwd=workspace)
    assert r.returncode == 2, r.stderr
    assert f"the OpenBMC tree {tree} has no recipe for libmctp" in r.stderr, r.stderr
    assert "configs/products/littlebmc.yaml" in r.stderr and not (workspace / "build/.kas").exists()
