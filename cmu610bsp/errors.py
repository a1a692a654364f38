"""Every way a command can fail that the user can act on: one root (`BspError`), caught at the
CLI edge, where its `exit_code` becomes the process's (2 bad input or failed check, 124 timeout).
Anything else escaping a command is a bug (exit 1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located: which file, which field (or check), and why."""

    file: str
    field: str
    reason: str

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
        lines = [self.message]
        lines += [f"  {f}" for f in self.findings]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


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
