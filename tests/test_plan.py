"""`build --plan`'s arithmetic (cmu610bsp.kasbuild.plan), in-process on task graphs shaped like
BitBake's: what runs, what shared state restores, what a current stamp or a restored task above
makes unnecessary. The same rule against BitBake's own dry run on the OpenBMC tree is
tests/test_openbmc_build.py::test_plan_counts_match_bitbake_dry_run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmu610bsp.errors import BspError
from cmu610bsp.kasbuild import plan


def _task(pn: str, task: str, deps: list[str], *, setscene: bool = False, noexec: bool = False,
          current: bool = False, sstate: str | None = None, equivalent: bool = False) -> tuple[str, dict[str, Any]]:
    return f"/l/{pn}.bb:{task}", {"pn": pn, "task": task, "mc": "", "deps": [f"/l/{d}" for d in deps],
                                  "setscene": setscene, "noexec": noexec, "nostamp": False, "current": current,
                                  "hash": "a" * 8, "unihash": ("b" if equivalent else "a") * 8, "sstate": sstate}


def _graph(**over: dict[str, Any]) -> dict[str, Any]:
    """zlib and busybox (fetch → compile → populate_sysroot/package_write, both with setscene),
    busybox needing zlib's sysroot, an image's rootfs needing both packages, do_build on top."""
    spec = [
        ("zlib", "do_fetch", [], {}),
        ("zlib", "do_compile", ["zlib.bb:do_fetch"], {}),
        ("zlib", "do_populate_sysroot", ["zlib.bb:do_compile"], {"setscene": True}),
        ("zlib", "do_package_write_ipk", ["zlib.bb:do_compile"], {"setscene": True}),
        ("busybox", "do_fetch", [], {}),
        ("busybox", "do_compile", ["busybox.bb:do_fetch", "zlib.bb:do_populate_sysroot"], {}),
        ("busybox", "do_package_write_ipk", ["busybox.bb:do_compile"], {"setscene": True}),
        ("image", "do_rootfs", ["zlib.bb:do_package_write_ipk", "busybox.bb:do_package_write_ipk"], {}),
        ("image", "do_image_complete", ["image.bb:do_rootfs"], {"setscene": True}),
        ("image", "do_build", ["image.bb:do_image_complete"], {"noexec": True}),
    ]
    tasks = {}
    for pn, task, deps, kw in spec:
        kw = {**kw, **over.get(f"{pn}:{task}", {})}
        tid, info = _task(pn, task, deps, **kw)
        tasks[tid] = info
    return {"tasks": tasks}


def test_nothing_in_shared_state_runs_everything() -> None:
    p = plan.compute(_graph())
    assert (p.total, p.run, p.noexec, p.restored, p.current, p.not_needed) == (10, 10, 1, 0, 0, 0)
    assert p.not_rerun == 0 and "zlib:do_compile" in p.would_run


def test_a_restored_image_needs_nothing_below_it() -> None:
    p = plan.compute(_graph(**{"image:do_image_complete": {"sstate": "local"}}))
    assert (p.run, p.restored_local, p.not_needed) == (1, 1, 8)
    assert p.would_run == ("image:do_build",)


def test_restored_packages_still_build_the_rootfs() -> None:
    """busybox's package is restored; zlib's is not, so zlib compiles; zlib's sysroot (needed
    only through busybox's compile, which is not needed) is not restored."""
    p = plan.compute(_graph(**{"busybox:do_package_write_ipk": {"sstate": "mirror", "equivalent": True}}))
    assert p.restored_mirror == 1 and p.restored_local == 0 and p.restored_equivalent == 1
    assert set(p.would_run) == {"image:do_build", "image:do_image_complete", "image:do_rootfs",
                                "zlib:do_package_write_ipk", "zlib:do_compile", "zlib:do_fetch"}
    assert p.not_needed == 3  # busybox's fetch and compile, zlib's sysroot
    by = {r.pn: r for r in p.recipes}
    assert (by["busybox"].restored, by["busybox"].run, by["busybox"].tasks) == (1, 0, 3)


def test_a_needed_setscene_task_is_restored_below_a_task_that_runs() -> None:
    p = plan.compute(_graph(**{"zlib:do_populate_sysroot": {"sstate": "local"}}))
    assert "busybox:do_compile" in p.would_run and "zlib:do_populate_sysroot" not in p.would_run
    assert p.restored == 1 and "zlib:do_compile" in p.would_run  # still needed for zlib's package


def test_current_stamps_are_done_and_setscene_ones_cover_what_is_below() -> None:
    p = plan.compute(_graph(**{"image:do_image_complete": {"current": True}}))
    assert (p.run, p.current, p.not_needed) == (1, 1, 8)
    # a real task with a current stamp is skipped, its dependencies are still looked at
    p = plan.compute(_graph(**{"image:do_rootfs": {"current": True}}))
    assert p.current == 1 and "image:do_rootfs" not in p.would_run and "zlib:do_compile" in p.would_run


def test_a_noexec_setscene_task_is_done_without_shared_state() -> None:
    p = plan.compute(_graph(**{"image:do_image_complete": {"noexec": True}}))
    assert p.current == 1 and p.run == 1


def test_as_dict_is_what_json_carries() -> None:
    d = plan.compute(_graph()).as_dict()
    assert d["restored"] == 0 and d["total"] == 10 and d["recipes"][0] == {
        "pn": "busybox", "tasks": 3, "run": 3, "restored": 0, "current": 0}
    json.dumps(d)


def test_unreadable_facts_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "plan-tasks.json"
    bad.write_text('{"tasks": {"x": {}}}')
    with pytest.raises(BspError, match=r"plan-tasks\.json: not the task facts of a plan"):
        plan.load(bad)
    with pytest.raises(BspError, match=r"plan-tasks\.json"):
        plan.load(tmp_path / "missing" / "plan-tasks.json")
