"""Repairs to a UTF-8 document before any parser reads it, each for a way a parser would
misread it (or feedparser take too long over it)."""

from __future__ import annotations

import re

from .encoding import CP1252_C1

__all__ = ["c1_as_windows_1252", "declaration_on_its_own_line", "escape_bare_ampersands"]

# C1 control characters (U+0080-U+009F) raw in UTF-8, or as references: "&#146;", "&#x92;".
_RAW_C1 = re.compile(rb"\xc2([\x80-\x9f])")
_C1_REFERENCE = re.compile(rb"&#(?:0*(1(?:2[89]|[3-5][0-9]))|[xX]0*([89][0-9a-fA-F]));")

# A bare "&" is never well-formed XML; feedparser's fallback parser then reads "?a=1&copy=2" as
# "?a=1©=2" and "&from=" as "&from;=". Escaping it first keeps URLs exactly as written.
# (HTML's "&#X41;" counts as a reference: feedparser reads it as "A".)
_BARE_AMPERSAND_ANYWHERE = re.compile(
    rb"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z_:][A-Za-z0-9_.:-]*);)"
)


def escape_bare_ampersands(content: bytes) -> bytes:
    """Replace bare ``&`` (outside CDATA) by ``&amp;``, in a UTF-8 document."""
    if b"&" not in content or not _BARE_AMPERSAND_ANYWHERE.search(content):
        return content  # the common case, found without walking the CDATA sections
    # By hand, not with one regex: "<!\[CDATA\[.*?\]\]>" would rescan the rest of the document
    # from every unclosed "<![CDATA[" (quadratic: 20,000 of them took 10 s).
    pieces: list[bytes] = []
    done = 0
    while (start := content.find(b"<![CDATA[", done)) >= 0:
        end = content.find(b"]]>", start + 9)
        if end < 0:
            break  # nothing closes a CDATA section from here on
        pieces += (_BARE_AMPERSAND_ANYWHERE.sub(b"&amp;", content[done:start]),
                   content[start : end + 3])  # fmt: skip
        done = end + 3
    pieces.append(_BARE_AMPERSAND_ANYWHERE.sub(b"&amp;", content[done:]))
    escaped = b"".join(pieces)
    return content if escaped == content else escaped



def declaration_on_its_own_line(data: bytes) -> bytes:
    """``data`` with a line break after its XML declaration when that line holds another
    "encoding=" (or, without a declaration's end, before the second "encoding=").

    feedparser finds the declared encoding with ``^<\\?.*encoding=['"](.*?)['"].*\\?>`` on the
    first line, which backtracks in cubic time over a line full of "encoding=" (1,000 of them
    took a second; 10,000 would take an hour). Alone on its line, the declaration is read in
    linear time, and says what the XML specification says it does.
    """
    end = data.find(b"\n")
    end = len(data) if end < 0 else end
    if data.count(b"encoding=", 0, end) < 2:
        return data
    cut = data.find(b"?>", 0, end) + 2
    if cut < 2:  # no declaration ends on this line: break it before the second "encoding="
        cut = data.find(b"encoding=", data.find(b"encoding=", 0, end) + 9, end)
    return data[:cut] + b"\n" + data[cut:]


def c1_as_windows_1252(document: bytes) -> bytes:
    """A UTF-8 ``document`` with its C1 control characters, raw or as references, replaced by
    the windows-1252 characters they stand for in practice (``&#146;`` is ``’``, ``&#133;``
    ``…``), as feedparser maps them, and before any parser strips U+0085 as white space (which
    lost every title's trailing "…"). The five bytes windows-1252 leaves unassigned stay (and
    go with the other control characters, parse/text.py).
    """
    if b"\xc2" in document:  # memchr first; the pattern only where a C1 may be
        document = _RAW_C1.sub(_raw_c1, document)
    if b"&" in document and b"&#" in document:
        document = _C1_REFERENCE.sub(_referenced_c1, document)
    return document


def _raw_c1(match: re.Match[bytes]) -> bytes:
    character = CP1252_C1.get(match.group(1)[0])
    return character.encode("utf-8") if character else match.group(0)


def _referenced_c1(match: re.Match[bytes]) -> bytes:
    decimal, hexadecimal = match.groups()
    character = CP1252_C1.get(int(decimal) if decimal else int(hexadecimal, 16))
    return f"&#{ord(character)};".encode() if character else match.group(0)
