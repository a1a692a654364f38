"""The Kconfig side of `cmu610bsp config`: run by Zephyr's build as a Kconfig frontend (the
EXTRA_KCONFIG_TARGETS hook: Zephyr's Kconfig environment set, the Kconfig root as argv[1]) with
Zephyr's own kconfiglib, the one its menuconfig uses.

It reads a request (JSON, path in $CMU610_KCONFIG_REQUEST): the fragments the build merged
(`current`), the same with the description's settings left out (`fragments`, the baseline: the
board's defconfig, the application's prj.conf, the line's name and features) and the assignments
to make (`set`), or none (null) after menuconfig. The target configuration is the build's
.config as menuconfig saved it ($KCONFIG_CONFIG), or the current fragments with the assignments
made, each checked: a symbol this configuration has, with a prompt, a value of its type that
takes effect. It writes (JSON, to
the request's `result`) the fewest assignments that turn the baseline into the target, typed
(bool, int, hex as "0x..", string), or the refused assignments. Standard library and Zephyr's
kconfiglib only: it runs in Zephyr's build, not in cmu610bsp.
"""

import json
import os
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.join(os.environ["ZEPHYR_BASE"], "scripts", "kconfig"))
import kconfiglib  # noqa: E402

PREFIX = os.environ.get("CONFIG_", "CONFIG_")


def values(kconf: Any) -> dict[str, str]:
    return {s.name: s.str_value for s in kconf.unique_defined_syms}


def settable(sym: Any) -> bool:
    return any(node.prompt for node in sym.nodes)


def load_baseline(kconf: Any, fragments: list[str], assign: dict[str, str]) -> dict[str, str]:
    kconf.load_config(fragments[0])
    for frag in fragments[1:]:
        kconf.load_config(frag, replace=False)
    for name, value in assign.items():
        kconf.syms[name].set_value(value)
    return values(kconf)


def refusals(kconf: Any, sets: dict[str, str]) -> list[tuple[str, str]]:
    """Make the assignments on the loaded target, together (one may enable another's); why each
    that is refused is refused."""
    out, syms = [], {}
    for name in sets:
        sym = kconf.syms.get(name[len(PREFIX):]) if name.startswith(PREFIX) else None
        if sym is None or not sym.nodes:
            out.append((name, "not a Kconfig symbol of this configuration"))
        elif not settable(sym):
            out.append((name, "has no prompt: other options set it, not an assignment"))
        else:
            syms[name] = sym
    if out:
        return out
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as frag:
        frag.writelines(f"{name}={text}\n" for name, text in sets.items())
    before = len(kconf.warnings)
    try:
        kconf.load_config(frag.name, replace=False)
    finally:
        os.unlink(frag.name)
    warnings = [w for w in kconf.warnings[before:] if "assigned more than once" not in w]
    for name, sym in syms.items():
        said = [w.split(": ", 1)[-1].strip() for w in warnings if f"{name}" in w or f" {sym.name} " in w]
        if said:
            out.append((name, "; ".join(said)))
        elif sym.str_value != (sym.user_value if isinstance(sym.user_value, str) else kconfiglib.TRI_TO_STR[sym.user_value]):
            out.append((name, f"does not take {sets[name]}: {why_not(sym)} (value now {sym.str_value or 'unset'})"))
    return out


def why_not(sym: Any) -> str:
    """Why an assignment did not take: unmet dependencies, else another option selects it."""
    if kconfiglib.expr_value(sym.direct_dep) == 0:
        return f"it depends on {kconfiglib.expr_str(sym.direct_dep)}"
    if kconfiglib.expr_value(sym.rev_dep):
        return f"it is selected by {kconfiglib.expr_str(sym.rev_dep)}"
    return f"its range or visibility ({kconfiglib.expr_str(sym.direct_dep)}) does not allow it"


def typed(sym: Any, value: str) -> bool | int | str:
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return value == "y"
    if sym.orig_type is kconfiglib.INT:
        return int(value)
    if sym.orig_type is kconfiglib.HEX:
        return value if value.lower().startswith("0x") else "0x" + value
    return value


def minimal(kconf: Any, fragments: list[str], target: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The fewest assignments (each to a symbol with a prompt, visible where it is made) that
    turn the baseline into `target`: added one at a time in Kconfig's order, then pruned."""
    assign: dict[str, str] = {}
    for _ in range(len(target)):
        now = load_baseline(kconf, fragments, assign)
        differ = [s for s in kconf.unique_defined_syms
                  if now[s.name] != target[s.name] and s.name not in assign and settable(s) and s.visibility]
        if not differ:
            break
        assign[differ[0].name] = target[differ[0].name]
    for name in list(assign):
        trial = {k: v for k, v in assign.items() if k != name}
        if load_baseline(kconf, fragments, trial) == target:
            assign = trial
    left = load_baseline(kconf, fragments, assign)
    unmet = sorted(PREFIX + n for n in target if left[n] != target[n])
    return {PREFIX + n: typed(kconf.syms[n], v) for n, v in sorted(assign.items())}, unmet


def main() -> None:
    with open(os.environ["CMU610_KCONFIG_REQUEST"]) as f:
        request = json.load(f)
    kconf = kconfiglib.Kconfig(sys.argv[1], warn_to_stderr=False, suppress_traceback=True)
    kconf.warn_assign_override = kconf.warn_assign_redun = False
    if request["set"] is None:  # menuconfig's: .config as it saved it
        kconf.load_config(os.environ["KCONFIG_CONFIG"])
    else:  # the description's fragments, then the assignments: defaults follow what they change
        load_baseline(kconf, request["current"], {})
    result: dict[str, Any] = {"errors": refusals(kconf, request["set"] or {})}
    if not result["errors"]:
        target = values(kconf)
        result["settings"], result["unmet"] = minimal(kconf, request["fragments"], target)
    with open(request["result"], "w") as out:
        json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
