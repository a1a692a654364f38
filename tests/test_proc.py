"""The one subprocess wrapper, on real child processes."""

from __future__ import annotations

import sys
import time

import pytest

from cmu610bsp import proc


def test_stream_hands_over_every_line_without_waiting_for_more_output() -> None:
    """Lines printed together, then a pause: each must reach on_line during the pause (a
    buffered readline after select() held them back until the child printed again)."""
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    child = "import sys, time; sys.stdout.write('a\\nb\\u00e9\\nc\\n'); sys.stdout.flush(); time.sleep(3); print('d', end='')"
    rc = proc.stream([sys.executable, "-c", child], lambda line: seen.append((time.monotonic() - start, line)))
    assert rc == 0
    assert [line for _, line in seen] == ["a", "b\u00e9", "c", "d"]
    assert seen[2][0] < 2.5 < seen[3][0]


def test_stream_timeout_kills_the_child() -> None:
    lines: list[str] = []
    start = time.monotonic()
    with pytest.raises(proc.Timeout):
        proc.stream([sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)"], lines.append, timeout=1.5)
    assert lines == ["up"] and time.monotonic() - start < 10
