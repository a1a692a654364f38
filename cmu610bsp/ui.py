"""Console output: rich on a terminal, plain text otherwise, JSON when asked."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def status(message: str) -> AbstractContextManager[object]:
    """A spinner on a terminal; nothing when output is piped (CI logs stay clean)."""
    if err.is_terminal:
        return err.status(message)
    return nullcontext()


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
