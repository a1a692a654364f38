"""The one user-facing error type, caught at the CLI edge (exit code 2)."""

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
    """Bad input or a failed check: the user can fix it, so no traceback (exit 2)."""

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
