"""The board's firmware as rendered, in-process: the firmware and inventory nodes of each domain's
tree (dtc compiles them), the applications and each line's Kconfig fragment, and the generated
smoke spec against the text the firmware prints. Building and booting it is tests/test_zephyr.py."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cmu610bsp import __version__, firmware, names, qemu, render, resources, smoke, smoke_jobs, smoke_spec
from cmu610bsp.errors import BspError
from cmu610bsp.model import Product, load_board
from cmu610bsp.project import Project, load_project
from cmu610bsp.yamlio import read_yaml

REPO = Path(__file__).resolve().parent.parent
Z = "meta-cmu610/zephyr"
BOARDS = ("cmu610-evb", "cmu610-sled", "cmu610-gpu-tray")
needs_dtc = pytest.mark.skipif(not (shutil.which("dtc") and shutil.which("cpp")), reason="dtc/cpp not installed")


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


def _with_board(project: Project, name: str) -> Project:
    return dataclasses.replace(project, boards=(load_board(resources.builtin_board(name)),))


def _dts(files: dict[str, str], tmp: Path, path: str) -> str:
    """`path` of the rendered files through cpp and dtc, back as source: what Zephyr's tools see."""
    for rel, text in files.items():
        if rel.startswith(Z):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)
    z = tmp / Z
    pre = subprocess.run(["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P",
                          f"-I{z}/dts/riscv", f"-I{z}/dts", str(tmp / path)], capture_output=True, text=True, check=True)
    r = subprocess.run(["dtc", "-I", "dts", "-O", "dts", "-o", "-", "-"], input=pre.stdout, capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout


def _node(dts: str, name: str) -> str:
    m = re.search(rf"\n(\t+)(?:\w+: )?{name} {{\n.*?\n\1}};", dts, re.S)
    assert m, f"no node {name}"
    return m.group(0)


def _printed(items: list[firmware.InventoryItem]) -> str:
    """What the BMC firmware's `inventory` prints (bmc/src/inventory.c's formats), as the console
    log shows it: the shell ends lines with \r\n, the pty adds a \r."""
    fans = sum(i.fan for i in items)
    lines = ["uart:~$ inventory"] + [f"{i.name:<16} {i.bus:<6} {i.address:<14} {i.kind}" for i in items]
    lines.append(f"inventory: {len(items)} entries ({len(items) - fans} sensors, {fans} fans)")
    return "\r\r\n".join(lines) + "\r\r\nuart:~$ "


@needs_dtc
@pytest.mark.parametrize("name", BOARDS)
@pytest.mark.parametrize("twin", [False, True])
def test_each_domain_tree_says_what_its_firmware_prints(project: Project, tmp_path: Path, name: str, twin: bool) -> None:
    p = _with_board(project, name)
    board = p.boards[0]
    files = render.render(p)
    zb = names.zephyr_board(board.name, twin)
    for domain in firmware.APPS:
        dom = getattr(board.domains, domain)
        dts = _dts(files, tmp_path, f"{Z}/boards/{board.vendor}/{zb}/{zb}_cmu610_cpu{dom.hart}.dts")
        fw = _node(dts, "firmware")
        assert f'board = "{board.name}";' in fw and f'domain = "{domain}";' in fw
        assert re.search(rf"hart = <0x0*{dom.hart:x}>;", fw)
        assert "devices = " + ", ".join(f'"{d}"' for d in dom.peripherals) + ";" in fw
        if domain == "secure":
            assert "inventory {" not in dts  # the sensors are the BMC domain's
            continue
        inventory = _node(dts, "inventory")
        items = re.findall(r'item-name = "([^"]+)";', inventory)
        assert items == [s.name for s in board.sensors] + [f.name for f in board.fans]
        assert inventory.count("fan;") == len(board.fans)


def test_bindings_declare_every_property_the_trees_use(project: Project) -> None:
    files = render.render(project)
    fw = read_yaml_text(files[f"{Z}/dts/bindings/firmware/cmu,cmu610-firmware.yaml"])
    inv = read_yaml_text(files[f"{Z}/dts/bindings/firmware/cmu,cmu610-inventory.yaml"])
    assert set(fw["properties"]) == {"soc", "board", "domain", "hart", "product-lines", "devices"}
    assert set(inv["child-binding"]["properties"]) == {"item-name", "bus", "address", "kind", "fan"}
    dts = files[f"{Z}/boards/cmu/cmu610_evb_qemu/cmu610_evb_qemu_cmu610_cpu1.dts"]
    used = set(re.findall(r"^\t\t\t([a-z-]+)[ ;]", dts.split("cmu610_inventory: inventory")[1].split("\n\t};")[0], re.M))
    assert used == set(inv["child-binding"]["properties"])


def read_yaml_text(text: str) -> dict[str, object]:
    import yaml

    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_apps_carry_no_board_data(project: Project) -> None:
    """The apps' C sources are the same for every board: what they print comes from the tree.
    (The boot stage's config header, beside the flash recipe, is the board's data by design.)"""
    rendered = [{k: v for k, v in render.render(_with_board(project, b)).items()
                 if k.startswith(f"{Z}/apps/") and k.endswith((".c", ".h"))} for b in BOARDS]
    assert rendered[0] == rendered[1] == rendered[2]
    shipped = [f"{app}/{s}" for app, sources in firmware.APP_SOURCES.items() for s in sources]
    assert sorted(rendered[0]) == sorted(f"{Z}/apps/{s}" for s in [*shipped, *firmware.COMMON_SOURCES])
    assert f"{Z}/apps/bmc/src/sensors.c" in rendered[0] and f"{Z}/apps/secure/src/pldm_responder.c" in rendered[0]
    for text in rendered[0].values():
        assert not re.search(r"cmu610-evb|i2c0|inlet|littlebmc|bigbmc", text)


def test_the_secure_firmware_is_the_same_for_every_line(project: Project) -> None:
    """What builds the secure image (its app and hart 0's trees) does not change with the lines'
    firmware settings: BitBake can share one image between the lines."""
    def secure(p: Project) -> dict[str, str]:
        return {k: v for k, v in render.render(p).items() if f"{Z}/apps/secure/" in k or k.endswith("_cpu0.dts")}

    changed = tuple(p.model_copy(update={"firmware": p.firmware.model_copy(update={"features": ["other"]})})
                    for p in project.products)
    assert secure(project) == secure(dataclasses.replace(project, products=changed))


def test_each_line_has_its_fragment(project: Project) -> None:
    files = render.render(project)
    little = files[f"{Z}/apps/bmc/littlebmc.conf"].splitlines()
    assert 'CONFIG_CMU610_PRODUCT_LINE="littlebmc"' in little
    assert 'CONFIG_CMU610_FEATURES="inventory sensors"' in little
    assert "CONFIG_SHELL_HISTORY=n" in little
    big = files[f"{Z}/apps/bmc/bigbmc.conf"].splitlines()
    assert 'CONFIG_CMU610_PRODUCT_LINE="bigbmc"' in big and "CONFIG_SHELL_HISTORY_BUFFER=1024" in big
    assert "CONFIG_CMU610_FEATURE_FAN_CONTROL=y" in big and "CONFIG_CMU610_FEATURE_FAN_CONTROL=y" not in little
    kconfig = files[f"{Z}/apps/bmc/Kconfig"]
    for symbol, _ in firmware.features(project.products):
        assert f"\nconfig {symbol}\n\tbool" in kconfig
    assert files[f"{Z}/apps/bmc/VERSION"] == files[f"{Z}/apps/secure/VERSION"]
    assert ".".join(re.findall(r"= (\d+)", files[f"{Z}/apps/bmc/VERSION"])[:3]) == __version__


def test_line_fragments_load_in_kconfig(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kconfiglib takes the application's Kconfig and each line's fragment without a warning
    (Zephyr's own Kconfig stood in for by the symbols the product files set)."""
    import kconfiglib

    files = render.render(project)
    app = tmp_path / "bmc"
    app.mkdir()
    (app / "Kconfig").write_text(files[f"{Z}/apps/bmc/Kconfig"])
    (app / "Kconfig.zephyr").write_text('config SHELL_HISTORY\n\tbool "h"\nconfig SHELL_HISTORY_BUFFER\n\tint "b"\n')
    for p in project.products:
        (app / f"{p.name}.conf").write_text(files[f"{Z}/apps/bmc/{p.name}.conf"])
        monkeypatch.setenv("srctree", str(app))  # where `source "Kconfig.zephyr"` is looked up
        kconf = kconfiglib.Kconfig(str(app / "Kconfig"), warn_to_stderr=False)
        kconf.load_config(str(app / f"{p.name}.conf"))
        assert kconf.warnings == [], kconf.warnings
        assert kconf.syms["CMU610_PRODUCT_LINE"].str_value == p.name


@pytest.mark.parametrize("name", BOARDS)
def test_smoke_spec_matches_exactly_the_description(project: Project, tmp_path: Path, name: str) -> None:
    p = _with_board(project, name)
    board = p.boards[0]
    files = render.render(p)
    items = firmware.inventory(board, p.soc, p.catalog)
    assert len(items) == len(board.sensors) + len(board.fans)
    for line in board.product_lines:
        path = tmp_path / f"{line}.yaml"
        path.write_text(files[f"{Z}/smoke/{board.name}/{line}.yaml"])
        versions = smoke_jobs.image_versions(qemu.Images(), smoke.placeholders(smoke.read_spec(path)))  # ELFs booted
        spec = smoke.load_spec(path, {"board": board.name, "line": line, "zephyr_board": names.zephyr_board(board.name, True),
                                      **versions})
        product = next(x for x in p.products if x.name == line)
        _check_spec(spec, board.name, items, product)


def _check_spec(spec: smoke.Spec, board: str, items: list[firmware.InventoryItem], product: Product) -> None:
    secure = f"cmu610 secure firmware {__version__}: board {board}, domain secure, hart 0"
    bmc = f"cmu610 bmc firmware {__version__}: board {board}, domain bmc, hart 1, line {product.name}"
    assert re.search(spec.cores["cpu0"].markers[0].pattern, secure)
    assert re.search(spec.cores["cpu1"].markers[0].pattern, bmc)
    assert not re.search(spec.cores["cpu1"].markers[0].pattern, bmc.replace(product.name, "other"))
    assert re.search(spec.cores["cpu1"].markers[1].pattern, "features: " + " ".join(product.firmware.features))
    assert spec.prompt and re.search(spec.prompt, "uart:~$ ")
    cmd = spec.commands[0]
    assert cmd.send == "inventory"
    assert re.search(cmd.expect, _printed(items))
    if items:
        # one entry less, one more, or two swapped: the reply no longer matches
        assert not re.search(cmd.expect, _printed(items[1:]))
        assert not re.search(cmd.expect, _printed([*items, items[0]]))
        if len(items) > 1:
            assert not re.search(cmd.expect, _printed([items[1], items[0], *items[2:]]))
    assert all(re.search(n, t) for n, t in zip(spec.never, smoke_spec.NEVER, strict=True))


def test_spec_with_one_sensor_removed_fails_on_the_count(project: Project) -> None:
    board = project.boards[0]
    fewer = board.model_copy(update={"sensors": board.sensors[1:]})
    product = project.products[0]
    spec = smoke_spec.smoke_spec(fewer, project.soc, project.catalog, product, __version__).commands[0]
    assert not re.search(spec.expect, _printed(firmware.inventory(board, project.soc, project.catalog)))
    assert re.search(spec.expect, _printed(firmware.inventory(fewer, project.soc, project.catalog)))


def test_qemu_smoke_takes_the_generated_spec(tmp_path: Path) -> None:
    from cmu610bsp import smoke_jobs

    gen = tmp_path / Z / "smoke" / "b" / "littlebmc.yaml"
    gen.parent.mkdir(parents=True)
    gen.write_text("x")
    assert smoke_jobs.spec_path(tmp_path, "b", "littlebmc", None) == gen
    own = tmp_path / "configs" / "smoke" / "littlebmc.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("x")
    assert smoke_jobs.spec_path(tmp_path, "b", "littlebmc", None) == own  # a hand-written spec wins
    with pytest.raises(BspError, match="no smoke spec for b/bigbmc"):
        smoke_jobs.spec_path(tmp_path, "b", "bigbmc", None)


@pytest.mark.parametrize(("firmware_yaml", "message"), [
    ({"kconfig": {"CONFIG_CMU610_PRODUCT_LINE": "x"}}, "CONFIG_CMU610_PRODUCT_LINE: CONFIG_CMU610_* is set from"),
    ({"kconfig": {"SHELL": True}}, "String should match pattern"),
    ({"features": ["a", "a"]}, "listed twice: a"),
])
def test_product_firmware_is_checked(tmp_path: Path, firmware_yaml: dict[str, object], message: str) -> None:
    from cmu610bsp.model import load_product

    data = read_yaml(REPO / "configs/products/littlebmc.yaml")
    assert isinstance(data, dict)
    path = tmp_path / "littlebmc.yaml"
    import yaml

    path.write_text(yaml.safe_dump({**data, "firmware": firmware_yaml}))
    with pytest.raises(BspError) as e:
        load_product(path)
    assert any(f.field.startswith("firmware.") and message in f.reason for f in e.value.findings), e.value.findings
