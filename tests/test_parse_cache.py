"""The layer's parse-cache class: BitBake names its recipe parse cache by a hash of the
configuration that covers, per function of OE's Python library, the names it passes to
bb.build.exec_func (bb.codeparser.modulecode_deps[f][2]); BitBake fills that set only when it
parses the function's source, not when it reads the function from its code-parser cache, so the
second build of a fresh build directory parsed every recipe again. The class empties the set, as a
warm cache leaves it, where the same names are in the function's execs ([1]). The real effect
(one bb_cache.dat for three builds) is measured by the OpenBMC build tests and docs/build.md."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import yaml


def _handler_body(cls: Path) -> str:
    m = re.search(r"^python cmu610_parse_cache\(\) \{\n(.*?)^\}", cls.read_text(), re.S | re.M)
    assert m, "the class defines the handler"
    return m.group(1)


def test_every_build_inherits_the_class(workspace: Path) -> None:
    cls = workspace / "meta-cmu610/classes/cmu610_parse_cache.bbclass"
    text = cls.read_text()
    assert "addhandler cmu610_parse_cache" in text
    assert 'cmu610_parse_cache[eventmask] = "bb.event.ConfigParsed"' in text
    base = yaml.safe_load((workspace / "configs/kas/base.yml").read_text())
    assert 'INHERIT += "cmu610_parse_cache"' in base["local_conf_header"]["cmu610-base"]


def test_the_handler_empties_only_redundant_exec_func_names(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _handler_body(workspace / "meta-cmu610/classes/cmu610_parse_cache.bbclass")
    cold = {  # as BitBake leaves them after parsing the source (first build of a build directory)
        "oe.spdx_common.get_patched_src": [{"S"}, {"bb.note", "do_patch", "do_unpack"}, {"do_patch", "do_unpack"},
                                           {}, "h1", None],
        "oe.path.remove": [{"X"}, {"os.unlink"}, set(), {}, "h2", None],
        # a name not among the execs: not redundant, kept (never seen in BitBake; a guard)
        "oe.other.f": [set(), {"bb.note"}, {"do_thing"}, {}, "h3", None],
    }
    codeparser = types.ModuleType("bb.codeparser")
    codeparser.modulecode_deps = cold  # type: ignore[attr-defined]
    bb = types.ModuleType("bb")
    bb.codeparser = codeparser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bb", bb)
    monkeypatch.setitem(sys.modules, "bb.codeparser", codeparser)
    exec(compile("def handler(e):\n" + body, "cmu610_parse_cache", "exec"), ns := {})  # noqa: S102
    ns["handler"](None)
    assert cold["oe.spdx_common.get_patched_src"][2] == set()
    assert cold["oe.spdx_common.get_patched_src"][1] == {"bb.note", "do_patch", "do_unpack"}
    assert cold["oe.path.remove"][2] == set()
    assert cold["oe.other.f"][2] == {"do_thing"}
