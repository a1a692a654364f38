"""`cmu610bsp check`: every generated file past its real consumer, run where the consumer can run
here; a file a hand edit broke is that check's finding, and the other checks still run.

    result.py   CheckResult, and reading a generated file as its consumer does
    zephyr.py   dtc, Zephyr's schemas, kconfiglib
    yocto.py    BitBake's parser, oelint-adv, kas's schema, entity-manager's schema
"""

from __future__ import annotations

from collections.abc import Callable

from cmu610bsp.checks import yocto, zephyr
from cmu610bsp.checks.result import CheckResult
from cmu610bsp.workspace import Workspace

__all__ = ["ALL", "CheckResult"]

# Every check, in the order `check` runs and prints them.
ALL: dict[str, Callable[[Workspace], CheckResult]] = {**zephyr.CHECKS, **yocto.CHECKS}
