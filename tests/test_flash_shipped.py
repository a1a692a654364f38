"""flash.py and mcuimage.py are shipped into the layer as they are: BitBake's flash recipe runs the
very files the tool tests (files/cmu610_flash.py, files/cmu610_mcuimage.py), so they need nothing
from cmu610bsp but each other, and the tool turns their error into the user's."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from cmu610bsp import flash, flash_layout, mcuimage, render, resources, workspace
from cmu610bsp.errors import BspError
from cmu610bsp.model import load_board, load_soc
from cmu610bsp.project import Project
from conftest import REPO

FILES = "meta-cmu610/recipes-bsp/cmu610-flash/files"


@pytest.mark.parametrize(("module", "shipped"), [(flash, "cmu610_flash.py"), (mcuimage, "cmu610_mcuimage.py")])
def test_the_layer_carries_the_packers_modules_byte_for_byte(project: Project, module: object, shipped: str) -> None:
    source = Path(str(getattr(module, "__file__", ""))).read_bytes()
    assert (REPO / FILES / shipped).read_bytes() == source
    assert render.render(project)[f"{FILES}/{shipped}"].encode() == source


def _imports(module: object) -> set[str]:
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_the_packers_modules_import_the_standard_library_imgtool_and_each_other_only() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    # flash.py: mcuimage from cmu610bsp here, as its neighbour cmu610_mcuimage in the layer
    assert _imports(flash) <= stdlib | {"cmu610bsp", "cmu610_mcuimage"}, _imports(flash)
    assert _imports(mcuimage) <= stdlib | {"imgtool", "cryptography"}, _imports(mcuimage)


def test_the_tool_turns_a_packing_error_into_the_users() -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    with pytest.raises(BspError, match=rf"^{board.name}: the flash image cannot be packed: secure-fw: no image given "
                                       r"for the secure domain \(have: extra\)$"):
        flash_layout.pack(board, soc, {"extra": flash.Image(b"x", 0, 0, 0)}, boot=b"", key="unused.pem")


@pytest.fixture
def project() -> Project:
    return workspace.load_project(workspace.open_workspace(REPO))
