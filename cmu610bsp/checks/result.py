"""What every check of the generated files returns, and how they read those files.

Each check returns a `CheckResult`: ok, failed (with findings) or skipped (with the reason).
A skipped check is never counted as passed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmu610bsp import layout
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.workspace import Workspace
from cmu610bsp.yamlio import parse_plain, read_text


@dataclass
class CheckResult:
    name: str
    status: str  # "ok" | "failed" | "skipped"
    findings: list[Finding] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "findings": [f.as_dict() for f in self.findings]}


def result(name: str, findings: list[Finding], detail: str) -> CheckResult:
    return CheckResult(name, "failed" if findings else "ok", findings, detail)


def read_generated(path: Path, root: Path | None = None, kind: str = "yaml") -> Any:
    """A generated file (or a schema a check reads) as its consumer reads it, YAML or JSON. One
    that a hand edit or a full disk broke (unreadable, not UTF-8, bad syntax, NaN in JSON) is a
    BspError with one finding naming it (workspace-relative under `root`): the check that reads it
    fails with that finding and the others still run."""
    shown = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)
    try:
        text = read_text(path)
        if kind == "json":
            return json.loads(text, parse_constant=_not_json)
        return parse_plain(text, shown)
    except BspError as e:
        raise BspError(e.message, [Finding(shown, f.field, f.reason) for f in e.findings]
                       or [Finding(shown, "(file)", e.message.removeprefix(f"{path}: "))]) from None
    except json.JSONDecodeError as e:
        raise BspError("invalid JSON", [Finding(shown, f"line {e.lineno}", e.msg)]) from None
    except ValueError as e:
        raise BspError("invalid JSON", [Finding(shown, "(json)", str(e))]) from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number (RFC 8259): entity-manager's parser refuses it")


def generated(ws: Workspace, suffix: str = "", name: str = "") -> list[Path]:
    root = ws.root / layout.LAYER
    return sorted(p for p in root.rglob(f"*{suffix}") if p.is_file() and (not name or p.name == name))
