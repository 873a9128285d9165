"""YAML scalars for Hexo's front matter: every value on one line, reading back exactly in
PyYAML (YAML 1.1) and js-yaml (Hexo); see :mod:`rsspage.publish.hexo`."""

from __future__ import annotations

import functools

import yaml

__all__ = ["plain_or_quoted_yaml", "quote_yaml"]

#: Plain words that YAML 1.1 or 1.2 read as booleans or null (compared lower-cased).
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null"])


def quote_yaml(text: str) -> str:
    """``text`` as a one-line YAML scalar: single-quoted, or double-quoted when it must be."""
    if all(_single_quotable(ch) for ch in text):
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(_double_quoted_char(ch) for ch in text) + '"'


def plain_or_quoted_yaml(text: str) -> str:
    """``text`` as a plain YAML scalar when that reads back as the same string, else quoted."""
    return text if _plain_safe(text) else quote_yaml(text)


def _single_quotable(ch: str) -> bool:
    """Printable in YAML 1.1 and 1.2 alike, and not a line break in either."""
    cp = ord(ch)
    return (
        0x20 <= cp <= 0x7E
        or (0xA0 <= cp <= 0xFFFD and not 0xD800 <= cp <= 0xDFFF
            and cp not in (0x2028, 0x2029, 0xFEFF))
        or cp >= 0x10000
    )


_DOUBLE_QUOTED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _double_quoted_char(ch: str) -> str:
    if ch in _DOUBLE_QUOTED_ESCAPES:
        return _DOUBLE_QUOTED_ESCAPES[ch]
    if _single_quotable(ch):
        return ch
    cp = ord(ch)
    if cp <= 0xFF:
        return f"\\x{cp:02X}"
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"


@functools.lru_cache(maxsize=4096)  # a few hundred distinct names recur in every post
def _plain_safe(text: str) -> bool:
    # Conservative: start with a letter, contain only letters, digits, spaces and harmless
    # punctuation, be no YAML keyword; then check that PyYAML agrees.
    if not text or not text[0].isalpha() or text != text.strip(" "):
        return False
    if text.lower() in _YAML_WORDS or "  " in text:
        return False
    if not all(_plain_char(ch) for ch in text):
        return False
    try:
        loaded: object = yaml.safe_load(f"k: {text}")
    except yaml.YAMLError:
        return False
    return loaded == {"k": text}


def _plain_char(ch: str) -> bool:
    if ord(ch) <= 0x7F:
        return ch.isalnum() or ch in " -_.()"
    return _single_quotable(ch) and not ch.isspace()
