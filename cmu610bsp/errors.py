"""Every way a command can fail that the user can act on: one root (`BspError`), caught at the
CLI edge, where its `exit_code` becomes the process's (2 bad input or failed check, 124 timeout).
Anything else escaping a command is a bug (exit 1)."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SHOWN_CHARS = 80     # of a value the user wrote, echoed into a reason
MAX_FIELD = 200      # a field path (an unknown key is the user's text too)
MAX_REASON = 600     # a whole reason: a backstop behind `shown`
MAX_FINDINGS = 50    # printed; the rest are counted


def shown(value: object) -> str:
    """A value the user wrote, as a reason quotes it: its repr, cut to about SHOWN_CHARS with its
    size when longer (a megabyte of input is never echoed whole)."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(value)} characters)"
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring, short.maxother = 2, 8, 8, 40, 40
    text = short.repr(value)
    size = f" ({len(value)} items)" if isinstance(value, (list, dict, tuple, set)) else ""
    return text if len(text) <= SHOWN_CHARS and "..." not in text else f"{text[:SHOWN_CHARS]}...{size}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def field_path(loc: tuple[int | str, ...]) -> str:
    """('sensors', 3, 'address') -> 'sensors[3].address'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located: which file, which field (or check), and why. A field or reason
    longer than a reader can use is cut (with its length) when the finding is made."""

    file: str
    field: str
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", _cut(self.field, MAX_FIELD))
        object.__setattr__(self, "reason", _cut(self.reason, MAX_REASON))

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "field": self.field, "reason": self.reason}


class BspError(Exception):
    """Bad input: the user can fix it, so no traceback (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, findings: list[Finding] | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.findings = sorted(findings or [])
        self.hint = hint

    def __str__(self) -> str:
        lines = [self.message, *listing(self.findings, "  ")]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


def listing(findings: Iterable[Finding], indent: str) -> list[str]:
    """The findings as printed: the first MAX_FINDINGS, then how many more there are."""
    items = list(findings)
    lines = [f"{indent}{f}" for f in items[:MAX_FINDINGS]]
    if len(items) > MAX_FINDINGS:
        lines.append(f"{indent}... and {len(items) - MAX_FINDINGS} more")
    return lines


class CheckFailed(BspError):
    """A check ran and said no (consumer checks, `sync --check`, a smoke test, doctor); what it
    found has been reported already, this only carries the verdict (exit 2)."""


class ChildFailed(BspError):
    """A program we ran (kas, devtool, BitBake's hash server) failed; its exit code travels with
    the error, as kas's CommandExecError does (exit 2)."""

    def __init__(self, argv: list[str] | tuple[str, ...], returncode: int, hint: str | None = None):
        import shlex

        super().__init__(f"{shlex.join(argv)} failed (exit {returncode})", hint=hint)
        self.argv = tuple(argv)
        self.returncode = returncode


class Timeout(BspError):
    """A deadline the user set (or a child's) ran out; what ran has been stopped (exit 124)."""

    exit_code = 124


class WriteFailed(BspError):
    """A file the command must write cannot be (a read-only workspace or cache, permissions, a
    full disk): the path and the system's reason, and what was left as it was (exit 2)."""

    def __init__(self, path: Path | str, error: OSError, outcome: str):
        where = error.filename or path
        super().__init__(f"cannot write {where}: {error.strerror or error}; {outcome}")
        self.path = str(where)
