"""How text is written into each target language of the generated files: one function per
target, used by the renderer as Jinja filters (render.py). Each returns text that the target's
own parser reads back as exactly the value given, adding nothing.

The grammars (text.py) keep out what none of these can write: line breaks everywhere, and `${`
in BitBake, which expands it in every string and has no escape for it.
"""

from __future__ import annotations

import json
import re

import yaml

# What some target takes as the end of a line: such a character in a comment or a line of
# text would start a new line of the file.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _one_line(value: object) -> str:
    text = str(value)
    if _LINE_BREAK.search(text):
        raise ValueError(f"a line break in {text!r} would add a line to a generated file")
    return text


def line(value: object) -> str:
    """Text on one line (a `#` comment, a line of a text file): no line break, and no backslash
    at its end, which continues the line onto the next in BitBake, Kconfig and C."""
    text = _one_line(value)
    if text.endswith("\\"):
        raise ValueError(f"a backslash at the end of {text!r} would join it to the next line")
    return text


def c_comment(value: object) -> str:
    """Text inside a /* */ comment (devicetrees, which cpp reads first): one line, and no `*/`
    that would end the comment early."""
    return line(value).replace("*/", "* /")


def bitbake(value: object, before: str = "") -> str:
    """A quoted BitBake string of `before` (BitBake text of the template's own, expanded) and the
    value (never expanded). BitBake has no escape character: the value is taken as it is between
    the quotes, but a line with exactly three quotes of one kind is no assignment. So double
    quotes, unless the text has exactly one `"`; then single quotes, unless it also has exactly
    one `'` (no BitBake string holds that: the grammar refuses it)."""
    value = _one_line(value)
    if "${" in value or (before.endswith("$") and value.startswith("{")):
        raise ValueError("'${' is expanded by BitBake")
    text = before + value
    if text.count('"') != 1:
        return f'"{text}"'
    if text.count("'") != 1:
        return f"'{text}'"
    raise ValueError("exactly one \" and exactly one ' cannot be quoted in a BitBake string")


def _c_string(value: object) -> str:
    return '"' + _one_line(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dts(value: object) -> str:
    """A quoted devicetree string (dtc's escapes: backslash and double quote)."""
    return _c_string(value)


def kconfig(value: object) -> str:
    """A quoted Kconfig string value of a configuration fragment (kconfiglib's escapes, the same)."""
    return _c_string(value)


def sh(value: object) -> str:
    """A POSIX shell word that is the text, expanding nothing: single quotes ('\\'' for a quote)."""
    return "'" + _one_line(value).replace("'", "'\\''") + "'"


def _yaml(value: object, style: str | None) -> str:
    text = yaml.safe_dump(value, default_style=style, default_flow_style=True, allow_unicode=True,
                          width=float("inf"), sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...")


def yaml_value(value: object) -> str:
    """A YAML flow value, written by PyYAML (plain when that reads back the same, else quoted)."""
    return _yaml(value, None)


def yaml_single(value: object) -> str:
    """A YAML single-quoted scalar, written by PyYAML."""
    return _yaml(value, "'")


def yaml_double(value: object) -> str:
    """A YAML double-quoted scalar, written by PyYAML."""
    return _yaml(value, '"')


def json_pretty(value: object) -> str:
    """allow_nan=False: NaN and Infinity are not JSON; the model refuses them, this is the second line."""
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False)


# Markdown's inline syntax: emphasis, code, links, raw HTML, entities, table cells, strikethrough.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|&~])")


def markdown(value: object) -> str:
    """Text as Markdown shows it literally, in a paragraph or a table cell."""
    return _MARKDOWN.sub(r"\\\1", _one_line(value))
