"""The grammars of the text a description carries into generated files.

Every `str` field of the models (model.py, project.py) declares what it may hold: a tight pattern
(`Field(pattern=...)`, an enumeration), or one of the grammars below, marked with a `Grammar` so a
test finds every field and what it admits (docs/text-fields.md has the table). Text that passes a
grammar is then written by the renderer with each target's own escaping (escape.py); what no
escaping can make safe (a line break, BitBake's `${`, a `\\`) the grammar refuses at load, naming
the file and the field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from cmu610bsp import escape
from cmu610bsp.errors import shown

MAX_TEXT = 200       # a name, a label, a description
MAX_KCONFIG = 1000   # a Kconfig string value
MAX_PATH = 1000      # a toolchain directory or a URL


@dataclass(frozen=True)
class Grammar:
    """The name of a field's grammar, carried in its type (`Annotated[str, Grammar(...), ...]`)."""

    name: str


# Unicode general categories never written: controls (line breaks, tab, NUL, escape sequences),
# format characters (bidirectional overrides, zero-width joiners), line and paragraph separators,
# surrogates, private-use and unassigned code points.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def printable(value: str, limit: int) -> str:
    """One line of printable characters, 1 to `limit` of them."""
    if not value:
        raise ValueError("is empty")
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long: at most {limit}")
    bad = next((c for c in value if unicodedata.category(c) in _UNPRINTABLE), None)
    if bad is not None:
        raise ValueError(f"{shown(value)} holds U+{ord(bad):04X} ({unicodedata.name(bad, 'a control character')}):"
                         " one line of printable characters")
    return value


def check_text(value: str) -> str:
    """A name, a label or a description: printable, one line, no backslash (the escape and
    line-continuation character of most targets), no `${` (BitBake expands it in every string
    and has no escape for it), and writable as one BitBake string."""
    printable(value, MAX_TEXT)
    if value != value.strip():
        raise ValueError(f"{shown(value)} starts or ends with a space")
    if "\\" in value:
        raise ValueError(f"{shown(value)} holds a backslash: not allowed in a name or description")
    if "${" in value:
        raise ValueError(f"{shown(value)} holds '${{': BitBake would expand it (a variable or Python code)")
    try:
        escape.bitbake(value)
    except ValueError as e:
        raise ValueError(f"{shown(value)}: {e}") from None
    return value


def check_kconfig_text(value: str) -> str:
    """A Kconfig string value: printable and one line (escape.kconfig writes quotes and
    backslashes; a configuration file expands nothing)."""
    return printable(value, MAX_KCONFIG)


# scheme://rest, where rest has only what a URL needs and no target treats specially: no quote,
# space, `$`, `;` (a BitBake SRC_URI parameter), backslash, backtick, braces or brackets.
URL_SCHEMES = ("https", "http", "ssh", "git", "file")
_URL_RE = re.compile(r"(?P<scheme>[a-z]+)://(?P<rest>[A-Za-z0-9/][A-Za-z0-9._~:/?&=+,%@-]*)")


def check_url(value: str) -> str:
    printable(value, MAX_PATH)
    m = _URL_RE.fullmatch(value)
    if not m:
        raise ValueError(f"{shown(value)} is not a URL of letters, digits and . _ ~ : / ? & = + , % @ -"
                         f" (scheme://host/path; {', '.join(URL_SCHEMES)})")
    if m.group("scheme") not in URL_SCHEMES:
        raise ValueError(f"{shown(value)}: scheme {m.group('scheme')!r} is not one of {', '.join(URL_SCHEMES)}")
    return value


_NAME_PART = r"[A-Za-z0-9._+-]+"


def check_abs_path(value: str) -> str:
    """A toolchain directory: BitBake's shell tasks and toolchain.env use it, so only characters
    no shell or BitBake treats specially."""
    printable(value, MAX_PATH)
    if not re.fullmatch(r"/[A-Za-z0-9._+/-]*", value):
        raise ValueError(f"{shown(value)} is not an absolute path of letters, digits and . _ + - /"
                         " (move or link the directory to such a path)")
    return value


def check_rel_path(value: str) -> str:
    """A directory below another (the toolchain cache, a sysroot): relative, no `.` or `..`."""
    printable(value, MAX_PATH)
    parts = value.split("/")
    if not all(re.fullmatch(_NAME_PART, p) and p not in (".", "..") for p in parts):
        raise ValueError(f"{shown(value)} is not a relative path of names of letters, digits and . _ + -"
                         " (no '.' or '..')")
    return value


Text = Annotated[str, Grammar("text"), AfterValidator(check_text)]
Url = Annotated[str, Grammar("url"), AfterValidator(check_url)]
AbsPath = Annotated[str, Grammar("abs-path"), AfterValidator(check_abs_path)]
RelPath = Annotated[str, Grammar("rel-path"), AfterValidator(check_rel_path)]
# Identifiers: a core, a QEMU machine, a -mcpu value, an entity-manager type, a devicetree
# compatible or property name, a cross-compiler prefix, a checksum. Nothing to escape anywhere.
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
Compatible = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9,._+-]{0,127}$")]
DtProperty = Annotated[str, Field(pattern=r"^#?[A-Za-z0-9][A-Za-z0-9,._+-]{0,63}$")]
Prefix = Annotated[str, Field(pattern=r"^[A-Za-z0-9._+-]{0,64}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
