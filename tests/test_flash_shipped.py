"""flash.py is shipped into the layer as it is: BitBake's flash recipe runs the very file the tool
tests (files/cmu610_flash.py), so it needs nothing from cmu610bsp, and the tool turns its error
into the user's."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from cmu610bsp import flash, flash_layout, render, resources, workspace
from cmu610bsp.errors import BspError
from cmu610bsp.model import load_board, load_soc
from cmu610bsp.project import Project
from conftest import REPO

SHIPPED = "meta-cmu610/recipes-bsp/cmu610-flash/files/cmu610_flash.py"


def test_the_layer_carries_flash_py_byte_for_byte(project: Project) -> None:
    source = Path(flash.__file__).read_bytes()
    assert (REPO / SHIPPED).read_bytes() == source
    assert render.render(project)[SHIPPED].encode() == source


def test_flash_py_imports_the_standard_library_only() -> None:
    tree = ast.parse(Path(flash.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names and names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_the_tool_turns_a_packing_error_into_the_users() -> None:
    board, soc = load_board(resources.builtin_board()), load_soc(resources.builtin_soc())
    with pytest.raises(BspError, match=rf"^{board.name}: the flash image cannot be packed: secure-fw: no image given "
                                       r"for the secure domain \(have: extra\)$"):
        flash_layout.pack(board, soc, {"extra": flash.Image(b"x", 0, 0, 0)}, boot=b"")


@pytest.fixture
def project() -> Project:
    return workspace.load_project(workspace.open_workspace(REPO))
