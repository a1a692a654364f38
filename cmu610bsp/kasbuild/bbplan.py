"""BitBake's side of `build --plan`: run by path inside `kas shell` (BitBake's library on
PYTHONPATH), not imported by cmu610bsp. It asks the BitBake server for the targets' task graph
(tinfoil, the command `bitbake -g` uses), with CMU610_PLAN set so that the layer's handler
(meta-cmu610/classes/cmu610_plan.bbclass) adds each task's hashes, stamps and shared-state
lookup, and writes those facts as JSON to OUT. Which tasks would run is worked out by
cmu610bsp.kasbuild.plan from that file.

usage: python3 bbplan.py OUT TARGET...
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from typing import Any

_MASK = ["bb.event.MetadataEvent", "bb.event.NoProvider", "bb.command.CommandCompleted",
         "bb.command.CommandFailed", "bb.command.CommandExit", "logging.LogRecord"]


def _facts(tinfoil: Any, targets: list[str]) -> dict[str, Any]:
    import bb.command
    import bb.event

    tinfoil.set_event_mask(_MASK)
    tinfoil.run_command("setVariable", "CMU610_PLAN", "1")
    if not tinfoil.run_command("generateDepTreeEvent", targets, "do_build"):
        raise RuntimeError("BitBake did not start generateDepTreeEvent")
    facts: dict[str, Any] | None = None
    while True:
        event = tinfoil.wait_event(timeout=1)
        if event is None:
            continue
        if isinstance(event, bb.event.MetadataEvent) and event.type == "cmu610-plan":
            facts = event._localdata
        elif isinstance(event, bb.event.NoProvider):
            raise RuntimeError(f"nothing provides {event._item}" + (f": {event._reasons}" if event._reasons else ""))
        elif isinstance(event, (bb.command.CommandFailed, bb.command.CommandExit)):
            raise RuntimeError(f"BitBake: {getattr(event, 'error', '') or event}")
        elif isinstance(event, bb.command.CommandCompleted):
            break
        elif isinstance(event, logging.LogRecord) and event.levelno >= logging.WARNING:
            print(f"{event.levelname}: {event.getMessage()}", file=sys.stderr, flush=True)
    if facts is None:
        raise RuntimeError("the layer's plan handler sent nothing: is meta-cmu610/classes/cmu610_plan.bbclass "
                           "INHERITed (configs/kas/base.yml)?")
    return facts


def _bitbake_lib() -> None:
    """BitBake's library as `bitbake` itself finds it (the real path of the `bitbake` on PATH):
    the server derives BITBAKEPATH from it, and a different path (a symlinked tree) would change
    the configuration's hash and cost a full parse of every recipe."""
    found = shutil.which("bitbake")
    if not found:
        raise RuntimeError("no `bitbake` on PATH in kas's shell")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(found))), "lib"))


def main(argv: list[str]) -> int:
    _bitbake_lib()
    import bb.tinfoil

    out, targets = argv[0], argv[1:]
    with bb.tinfoil.Tinfoil() as tinfoil:
        tinfoil.prepare(config_only=False)
        try:
            facts = _facts(tinfoil, targets)
        finally:
            tinfoil.run_command("setVariable", "CMU610_PLAN", "")
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(facts, fh, sort_keys=True)
    os.replace(tmp, out)
    print(f"cmu610bsp plan: {len(facts['tasks'])} tasks written to {out}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as e:
        print(f"ERROR: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
