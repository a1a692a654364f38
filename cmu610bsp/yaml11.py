"""Scalars that YAML 1.1 (PyYAML, libyaml: the reader of the descriptions) and YAML 1.2 (the
current YAML, and most other tools' reader) read differently: `010` is 8 to one and 10 to the
other, `1:12` is 72 or text, `yes` is true or text, a date is a date or text. A description must
not depend on which one reads it, so the reader refuses them and says what to write instead.

Only plain (unquoted) scalars with no explicit tag are judged: quoted text is text to both.
The YAML 1.2 forms are its core schema's (yaml.org/spec/1.2.2, 10.3.2).
"""

from __future__ import annotations

import re

import yaml

_TAG = "tag:yaml.org,2002:"
_BOOLS_12 = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
# what YAML 1.1 reads a plain int as, most specific first (PyYAML's int resolver, form by form)
_INT_11_FORMS = (
    (re.compile(r"[-+]?0b[0-1_]+"), "binary"),
    (re.compile(r"[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+"), "base 60"),
    (re.compile(r"[-+]?0x[0-9a-fA-F_]+"), "hexadecimal"),
    (re.compile(r"[-+]?0[0-7_]+"), "octal"),
)
_STR = _TAG + "str"
_NUMBER_STARTS = frozenset("+-.0123456789")
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def differs(node: yaml.ScalarNode, role: str = "") -> str | None:
    """Why YAML 1.1 and 1.2 read this scalar (a value, or the `role` "key") differently, and what
    to write instead; None when they agree."""
    text, tag = node.value, node.tag
    if node.style or (tag == _STR and text[:1] not in _NUMBER_STARTS):
        return None  # quoted or a block scalar (text to both), or text that cannot be a number: the fast way
    why = _why(text, tag)
    if not why or tag != _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)):  # type: ignore[no-untyped-call]
        return None  # they agree, or an explicit tag says what it is
    line = f"line {node.start_mark.line + 1}: " if node.start_mark else ""
    return f"{line}{role}{' ' if role else ''}{why}"


def _why(text: str, tag: str) -> str | None:
    quoted = f"or '{text}' in quotes if text is meant"
    if tag == _TAG + "bool":
        if text in _BOOLS_12:
            return None
        value = str(text.lower() in ("yes", "on")).lower()
        return f"{text} is {value} to YAML 1.1 but text to YAML 1.2: write {value}, {quoted}"
    if tag == _TAG + "int":
        return _int_why(text, quoted)
    if tag == _TAG + "float":
        if "_" not in text and ":" not in text:
            return None
        number = _CONSTRUCTOR.construct_yaml_float(yaml.ScalarNode(tag, text))
        form = "base 60" if ":" in text else "with '_' separators"
        return f"{text} is {number!r} to YAML 1.1 ({form}) but text to YAML 1.2: write {number!r}, {quoted}"
    if tag == _TAG + "timestamp":
        return f"{text} is a date to YAML 1.1 but text to YAML 1.2: write '{text}' in quotes"
    if tag == _STR and (_INT_12.fullmatch(text) or _FLOAT_12.fullmatch(text)):
        return (f"{text} is text to YAML 1.1 but a number to YAML 1.2: write it as YAML 1.1 reads numbers "
                f"(8, 0x8, 1.5, 1.0e+3), or '{text}' in quotes if text is meant")
    return None


def _int_why(text: str, quoted: str) -> str | None:
    value = _CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode(_TAG + "int", text))
    if "_" not in text and re.fullmatch(r"[-+]?(0|[1-9][0-9]*)|0x[0-9a-fA-F]+", text):
        return None
    form = next((name for pattern, name in _INT_11_FORMS if pattern.fullmatch(text)), "decimal")
    if "_" in text:
        form += " with '_' separators"
    if _INT_12.fullmatch(text) and "_" not in text:
        other = str(int(text, 16) if text.startswith("0x") else int(text, 8) if text.startswith("0o") else int(text, 10))
    else:
        other = "text"
    instead = f"{value} (or {value:#x})" if value >= 0 else str(value)
    if other == str(value):  # 07: the same number to both, but the next edit (010, 08) is not
        return (f"{text} is {form} to YAML 1.1 and decimal to YAML 1.2 ({value} to both here, but 010 is 8 to "
                f"one and 10 to the other): write {instead}, {quoted}")
    return f"{text} is {value} to YAML 1.1 ({form}) but {other} to YAML 1.2: write {instead}, {quoted}"
