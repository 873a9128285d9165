"""Append entries to the ``routes:`` / ``feeds:`` lists of ``rsspage.yml``, keeping the rest.

The user's file is never re-serialised: ruamel.yaml (a round-trip parser) only tells where each
list and its last item are, and renders the new entries as one flow mapping per line
(``- {url: ..., category: ...}``, quoted where YAML needs it); those lines are inserted as text,
so every other byte — comments, key order, blank lines, quoting, line endings — stays as it was.
A missing list is added at the end of the file; an empty one (``routes:``, ``routes: []``) gets
its first block items under its key.

The result is checked with :func:`rsspage.config.parse_config` before anything is written, then
written atomically (temp file + ``os.replace``) and read back with
:func:`rsspage.config.load_config`; if that fails, the original bytes are put back.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from rsspage.config import Config, load_config, parse_config
from rsspage.errors import ConfigError
from rsspage.fileio import replace_file

__all__ = ["append_entries", "render_entry"]

#: The lists this module appends to, and the key every entry of each must have.
LISTS = {"routes": "path", "feeds": "url"}
_DASH = re.compile(r"^([ \t]*)-[ \t]")


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.width = 100_000  # one entry, one line
    y.allow_unicode = True
    return y


def render_entry(entry: Mapping[str, str]) -> str:
    """``- {path: /x, category: 科技}`` (no newline): one flow mapping, quoted as YAML needs."""
    item = CommentedMap(entry)
    item.fa.set_flow_style()
    seq = CommentedSeq([item])
    out = io.StringIO()
    _yaml().dump(seq, out)
    text = out.getvalue().rstrip("\n")
    if "\n" in text:  # never: width is huge and names hold no line breaks
        raise ValueError(f"entry does not fit one line: {entry!r}")
    return text


def append_entries(path: Path, additions: Mapping[str, Sequence[Mapping[str, str]]]) -> Config:
    """Append ``additions`` ({"routes": [...], "feeds": [...]}) to the config file at ``path``.

    Returns the config as read back from the written file. Raises ConfigError (and leaves the
    file as it was) when the file cannot be edited or the result would not be a valid config.
    """
    path = path.absolute()
    try:
        original = path.read_bytes()
    except OSError as e:
        raise ConfigError(str(path), None, "", f"cannot read config: {e}") from e
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), None, "", f"not UTF-8: {e}") from e
    before = parse_config(text, path)  # a broken config is reported as it is, untouched
    new_text = insert_entries(text, additions, str(path))
    expected = {
        "routes": len(before.routes) + len(additions.get("routes", ())),
        "feeds": len(before.feeds) + len(additions.get("feeds", ())),
    }
    try:
        after = parse_config(new_text, path)
    except ConfigError as e:
        raise ConfigError(str(path), None, "", f"the edited config would be invalid ({e}); "
                          "nothing was changed") from e
    if {"routes": len(after.routes), "feeds": len(after.feeds)} != expected:
        raise ConfigError(str(path), None, "", "could not append to routes/feeds in this "
                          "layout; nothing was changed (add the entries by hand)")
    _write_atomic(path, new_text.encode("utf-8"))
    try:
        return load_config(path)
    except ConfigError:
        _write_atomic(path, original)
        raise


def insert_entries(text: str, additions: Mapping[str, Sequence[Mapping[str, str]]],
                   file: str = "rsspage.yml") -> str:
    """The config text with the entries inserted (see the module docstring)."""
    for key in LISTS:
        entries = additions.get(key, ())
        if entries:
            text = _insert_list(text, key, [render_entry(e) for e in entries], file)
    return text


def _insert_list(text: str, key: str, rendered: list[str], file: str) -> str:
    try:
        root: Any = _yaml().load(text)
    except YAMLError as e:
        raise ConfigError(file, None, "", f"invalid YAML: {e}") from e
    if not isinstance(root, CommentedMap):
        raise ConfigError(file, None, "", "the config is not a mapping of keys")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    if key not in root:
        block = [f"{key}:{newline}"] + [f"  {r}{newline}" for r in rendered]
        sep = [newline] if lines and lines[-1].strip() else []
        return "".join(lines + sep + block)
    value = root[key]
    key_line, _ = root.lc.key(key)
    if isinstance(value, CommentedSeq) and len(value) and not value.fa.flow_style():
        last_line = value.lc.item(len(value) - 1)[0]
        match = _DASH.match(lines[last_line]) if last_line < len(lines) else None
        indent = match.group(1) if match else "  "
        end = _section_end(root, key, key_line, len(lines))
        while end > last_line + 1 and _blank_or_comment(lines[end - 1]):
            end -= 1
        return "".join(lines[:end] + [f"{indent}{r}{newline}" for r in rendered] + lines[end:])
    if value is None or (isinstance(value, CommentedSeq) and not len(value)):
        # `routes:` or `routes: []` (with or without a comment): block items under the key
        head = re.sub(r"^(\s*" + re.escape(key) + r"\s*:)\s*(\[\s*\])?", r"\1", lines[key_line])
        if head.strip() == lines[key_line].strip() and value is not None and "[" in head:
            raise ConfigError(file, key_line + 1, key, "an empty list spread over several "
                              "lines; write it as `[]` or a block list to import into it")
        if not head.endswith(("\n", "\r")):
            head += newline
        items = [f"  {r}{newline}" for r in rendered]
        return "".join([*lines[:key_line], head, *items, *lines[key_line + 1:]])
    raise ConfigError(file, key_line + 1, key, "a flow list ([...]) cannot be appended to "
                      "without rewriting it; write it as a block list (one `- item` a line)")


def _section_end(root: CommentedMap, key: str, key_line: int, total: int) -> int:
    """The line of the next top-level key after ``key`` (or the end of the file)."""
    later = [root.lc.key(k)[0] for k in root if k != key and root.lc.key(k)[0] > key_line]
    return min(later, default=total)


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _write_atomic(path: Path, data: bytes) -> None:
    replace_file(path, data)
