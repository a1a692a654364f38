"""Reading the user's files: the one text reader (a regular file of at most MAX_BYTES, UTF-8, or a
finding naming what is wrong) and the one YAML reader (syntax errors located, duplicate keys and
YAML 1.1-only scalars refused, alias expansion bounded); and the one edit of one, `with_key`: a
top-level key set with the rest of the text as written.

Every description and config file the tool reads comes through `read_text` or `read_yaml`, so a
Latin-1 byte in a comment, a UTF-16 file, a FIFO or a link to /dev/zero is a located user error
everywhere, never a crash or a hang.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from cmu610bsp import yaml11
from cmu610bsp.errors import BspError, Finding, field_path

# libyaml's loader when PyYAML has it: ten times faster on a rack of board files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Values an alias may add to one file beyond what is written in it. A board description uses a
# handful of anchors (shared thresholds); nine nested levels of nine aliases make 387 million.
MAX_ALIAS_VALUES = 10_000

# The largest file read: a real board description is under 10 KiB, a rack's workspace file a few
# KiB; 4 MiB is hundreds of times that, and libyaml reads it in well under a second.
MAX_BYTES = 4 * 1024 * 1024

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_text(path: Path) -> str:
    """The file's text; a missing, unreadable, non-regular, oversized or non-UTF-8 file is the
    user's to fix."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BspError(f"{path}: not UTF-8 text", [_encoding_finding(path, data, e.start)],
                       hint="save the file as UTF-8") from None


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_BYTES of them. Judged before it is opened (a device is
    never opened), opened without blocking (a FIFO swapped in meanwhile cannot hang the read),
    judged again on what was opened, and read no further than the cap (a growing file)."""
    try:
        _refuse_irregular(path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            _refuse_irregular(path, st.st_mode)
            if st.st_size > MAX_BYTES:
                _too_big(path, st.st_size)
            chunks, size = [], 0
            while chunk := os.read(fd, MAX_BYTES + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BYTES:
                    _too_big(path, size)
            return b"".join(chunks)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise BspError(f"{path}: file not found") from None
    except OSError as e:
        raise BspError(f"{path}: cannot read: {e.strerror}") from None


def _refuse_irregular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise BspError(f"{path}: not a regular file", [Finding(str(path), "(file)", f"is {kind}: "
                       "a description or configuration must be a regular file")])


def _too_big(path: Path, size: int) -> None:
    raise BspError(f"{path}: file too large", [Finding(str(path), "(file)", f"{size} bytes: more than the "
                   f"{MAX_BYTES} bytes ({MAX_BYTES // 2**20} MiB) a description or configuration may have")])


def _encoding_finding(path: Path, data: bytes, offset: int) -> Finding:
    if data.startswith(_UTF16_BOMS) or (len(data) > 1 and b"\0" in data[:2]):
        return Finding(str(path), "line 1, column 1", "the file is UTF-16 text, not UTF-8")
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return Finding(str(path), f"line {line}, column {column}",
                   f"byte {data[offset]:#04x} (offset {offset}) is not UTF-8")


def read_yaml(path: Path) -> Any:
    """Read one YAML document; a missing file, bad text or bad syntax is the user's to fix."""
    return parse_yaml(read_text(path), path)


def parse_yaml(text: str, path: Path) -> Any:
    """One YAML document's text as `read_yaml` reads a file (`path` names it in findings)."""
    try:
        bomb = _alias_bomb(text)
        if bomb is not None:
            raise BspError("invalid YAML", [Finding(str(path), *bomb)])
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            findings = [Finding(str(path), where, why) for where, why in _node_findings(node, ())]
            if findings:
                raise BspError("invalid YAML", findings)
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise BspError("invalid YAML", [syntax_finding(path, e)]) from None


def parse_plain(text: str, path: Path | str) -> Any:
    """YAML as the consumers of the generated files read it (Zephyr's and kas's PyYAML safe
    loader): a syntax error is located, nothing else is refused."""
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        raise BspError("invalid YAML", [syntax_finding(path, e)]) from None


def _alias_bomb(text: str) -> tuple[str, str] | None:
    """(where, why) when aliases would expand the document beyond MAX_ALIAS_VALUES values.

    Counted on the event stream, before anything is composed: every anchored collection's size
    with its own aliases expanded, and what each alias adds. Nothing downstream (validation,
    messages) ever sees more than the file plus that many values."""
    loader = _LOADER(text)
    try:
        sizes: dict[str, int] = {}
        stack: list[tuple[str | None, int]] = []
        added = 0
        while (event := loader.get_event()) is not None:
            size = 0
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append((event.anchor, 1))
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, sizes.get(event.anchor or "", 1)
                added += size
                if added > MAX_ALIAS_VALUES:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    return (f"line {line}",
                            f"alias *{event.anchor} expands to {size} values: aliases would add more than "
                            f"{MAX_ALIAS_VALUES} values to this file (nested aliases multiply)")
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1] = (stack[-1][0], stack[-1][1] + size)
        return None
    finally:
        loader.dispose()


def syntax_finding(path: Path | str, e: yaml.YAMLError) -> Finding:
    """Locate a syntax error where the user must look: an unclosed quote or bracket is only
    noticed at the end of the file, so name the line where it opened (libyaml's context)."""
    problem = getattr(e, "problem", None) or str(e)
    mark = getattr(e, "problem_mark", None)
    context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
    if mark is None:
        return Finding(str(path), "(syntax)", str(problem))
    if cmark is not None and context and "end of stream" in problem:
        return Finding(str(path), f"line {cmark.line + 1}", f"{context} that starts here: {problem} (line {mark.line + 1})")
    return Finding(str(path), f"line {mark.line + 1}", str(problem))


def _node_findings(node: yaml.Node | None, loc: tuple[int | str, ...],
                   seen: set[int] | None = None) -> list[tuple[str, str]]:
    """(field path, reason) for every key written twice in one mapping (YAML would keep only the
    last one, silently dropping what the first said) and every scalar YAML 1.1 and YAML 1.2 read
    differently (`yaml11.differs`). An aliased node is walked once."""
    out: list[tuple[str, str]] = []
    seen = set() if seen is None else seen
    if id(node) in seen:
        return out
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        why = yaml11.differs(node)
        if why:
            out.append((field_path(loc), why))
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                if name in first:
                    out.append((field_path((*loc, name)), f"duplicate key {name!r} (first at line {first[name]}, "
                                f"again at line {key.start_mark.line + 1}): the second would replace the first"))
                else:
                    first[name] = key.start_mark.line + 1
                why = yaml11.differs(key, "key")
                if why:
                    out.append((field_path((*loc, name)), why))
            out += _node_findings(value, (*loc, name if name is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _node_findings(item, (*loc, i), seen)
    return out


def with_key(text: str, key: str, value: str, comment: str = "", parent: str | None = None) -> str:
    """`text`, a YAML mapping the reader accepted, with `key` set to `value` (flow style YAML, or a
    block: lines indented by two, each after a line break: `yaml_value`'s) and everything else as
    written: comments, order, quoting. The key is top-level, or in the block mapping of the
    top-level key `parent` (`firmware` for firmware.kconfig), at its siblings' column. An absent
    key (or parent) is appended to its mapping, a top-level one after `comment` (a line of its own)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python loader: marks count characters
    if node is not None and not isinstance(node, yaml.MappingNode):
        raise BspError("cannot set a key: the document is not a mapping")
    if parent is None:
        return _set(text, node, key, value, comment)
    inner = _value_of(node, parent)
    if inner is None or _empty(inner):
        return _set(text, node, parent, f"\n  {key}{_colon(value)}{_indented(value, 2)}", comment)
    if not isinstance(inner, yaml.MappingNode) or inner.flow_style:
        raise BspError(f"cannot set {parent}.{key}: {parent} is not written as a block mapping",
                       hint=f"write {parent}: as indented lines, one key a line")
    return _nested(text, inner, key, value)


def _colon(value: str) -> str:
    return ":" if value.startswith("\n") else ": "


def _indented(value: str, by: int) -> str:
    """A block value's lines moved right by `by` columns (a flow value is one line: unchanged)."""
    return value.replace("\n", "\n" + " " * by) if value.startswith("\n") else value


def _empty(node: yaml.Node) -> bool:
    if isinstance(node, yaml.ScalarNode):
        return bool(node.tag.endswith(":null"))
    return isinstance(node, yaml.CollectionNode) and not node.value


def _value_of(node: yaml.Node | None, key: str) -> yaml.Node | None:
    for k, v in node.value if isinstance(node, yaml.MappingNode) else []:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _set(text: str, node: yaml.Node | None, key: str, value: str, comment: str) -> str:
    """A top-level key set in place, or appended after `comment`."""
    for k, v in node.value if node is not None else []:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return f"{text[:k.end_mark.index]}{_colon(value)}{value}{text[_end(v):]}"
    head = text if not text or text.endswith("\n") else text + "\n"
    return head + (f"# {comment}\n" if comment else "") + f"{key}{_colon(value)}{value}\n"


def _nested(text: str, mapping: yaml.MappingNode, key: str, value: str) -> str:
    """`key` set in a block mapping nested in the document, at its keys' column."""
    column = mapping.value[0][0].start_mark.column
    shifted = _indented(value, column)
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return f"{text[:k.end_mark.index]}{_colon(value)}{shifted}{text[_end(v):]}"
    at = _end(mapping)
    eol = text.find("\n", at)
    at = len(text) if eol < 0 else eol
    return f"{text[:at]}\n{' ' * column}{key}{_colon(value)}{shifted}{text[at:]}"


def yaml_value(value: object) -> str:
    """`value` as with_key takes it: a mapping as a block (lines indented by two, each after a
    line break), anything else in flow style on one line."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        block = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=_ONE_LINE)
        return "".join(f"\n  {line}" for line in block.splitlines())
    return yaml.safe_dump(value, default_flow_style=True, width=_ONE_LINE).removesuffix("\n...\n").strip()


_ONE_LINE = 1 << 30  # a value PyYAML would fold at 80 columns is written on one line


def _end(node: yaml.Node) -> int:
    """Where a value's text ends: a block collection's end mark is where the next key starts (past
    the comments between), so it ends where its last item does."""
    if isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        return _end(last[1] if isinstance(node, yaml.MappingNode) else last)
    return int(node.end_mark.index)
