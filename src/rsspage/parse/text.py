"""Text repairs that every parse path (fast, JSON Feed, feedparser) applies to what it read.

- C1 control characters (U+0080-U+009F) are windows-1252 punctuation in practice: a reference
  such as ``&#146;`` or a byte 0x92 in text read as ISO-8859-1 means ``’``. feedparser maps them
  in every value it keeps; this does the same for every field, bodies included.
- No other control character is kept (tab, line feed and carriage return are text).
- UTF-8 read as windows-1252 and written out again (``â€¦`` for ``…``) is undone by ftfy, only
  when the text holds such a pair (one regex search; ftfy runs on next to nothing) and ftfy
  finds the repair unambiguous: only a repair of the whole text is taken.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import ftfy

from ..sanitise import without_controls
from ..types import ParsedFeed, RawEntry
from .encoding import CP1252_C1

__all__ = ["EVERY_REPAIR", "Repairs", "repair_feed", "repair_text", "repairs_for"]

_C1 = re.compile("[\x80-\x9f]")
# A UTF-8 lead byte read as windows-1252 or Latin-1 (Â-ô), then a continuation byte so read:
# the mark of double-encoded UTF-8. Ordinary text in any language rarely has such a pair.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
# Only ftfy's whole-text repair (encode as windows-1252 or Latin-1, decode as UTF-8, taken when
# its badness measure drops): its piecewise repairs (a lone "Â " read as a no-break space, say)
# also "fix" text read in the wrong legacy encoding, which is no double encoding.
_FTFY = ftfy.TextFixerConfig(restore_byte_a0=False, decode_inconsistent_utf8=False,
                             replace_lossy_sequences=False)


@dataclass(frozen=True, slots=True)
class Repairs:
    """Which repairs a document's text may need."""

    c1: bool = True
    controls: bool = True
    mojibake: bool = True


EVERY_REPAIR = Repairs()


def repair_text(text: str | None, repairs: Repairs = EVERY_REPAIR) -> str | None:
    """``text`` with C1 controls read as windows-1252, double-encoded UTF-8 undone, and no
    control characters."""
    if not text:
        return text
    if not text.isascii():
        if repairs.c1 and _C1.search(text):
            text = text.translate(CP1252_C1)
        if repairs.mojibake and _MOJIBAKE.search(text):
            text = ftfy.fix_encoding(text, _FTFY)
    return without_controls(text) if repairs.controls else text


# What may still need a repair in a UTF-8 document that lxml reads, after repairs.py mapped its
# C1 characters: DEL or one of the five C1 characters windows-1252 leaves unassigned (lxml
# refuses the other controls, raw or as references: XML 1.0 forbids them), and _MOJIBAKE's
# pairs as UTF-8 bytes.
_LEFT_RAW_C1 = re.compile(rb"\xc2[\x81\x8d\x8f\x90\x9d]")
_LEFT_REFERENCE = re.compile(
    rb"&#(?:0*(?:127|129|141|143|144|157)|[xX]0*(?:7[fF]|81|8[dDfF]|90|9[dD]));"
)
_MOJIBAKE_BYTES = re.compile(
    rb"\xc3[\x82-\xb4](?:\xc2[\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xc6\x92|\xcb[\x86\x9c]"
    rb"|\xe2\x80[\x93\x94\x98-\x9e\xa0-\xa2\xa6\xb0\xb9\xba]|\xe2\x82\xac|\xe2\x84\xa2)"
)


def repairs_for(document: bytes) -> Repairs | None:
    """The repairs the text lxml reads from ``document`` (UTF-8) may need; None: none.

    Byte searches over the document (memchr first) instead of regexes over every field, which
    cost ~20 ns a character of CJK text: a third of the fast path's time.
    """
    controls = (
        b"\x7f" in document
        or (b"\xc2" in document and _LEFT_RAW_C1.search(document) is not None)
        or (b"&" in document and b"&#" in document
            and _LEFT_REFERENCE.search(document) is not None)
    )
    mojibake = b"\xc3" in document and _MOJIBAKE_BYTES.search(document) is not None
    return Repairs(c1=False, controls=True, mojibake=mojibake) if controls or mojibake else None


def repair_feed(parsed: ParsedFeed, repairs: Repairs = EVERY_REPAIR) -> ParsedFeed:
    """``parsed`` with repair_text applied to its title and to each entry's text fields (ids
    and URLs stay as written: ids must not change, and URLs are checked where they are used)."""
    return dataclasses.replace(
        parsed, title=repair_text(parsed.title, repairs),
        entries=tuple(_repair_entry(entry, repairs) for entry in parsed.entries),
    )  # fmt: skip


def _repair_entry(entry: RawEntry, repairs: Repairs) -> RawEntry:
    fields = (entry.title, entry.author, entry.content_html, entry.summary_html)
    title, author, content, summary = repaired = tuple(repair_text(f, repairs) for f in fields)
    categories = tuple(repair_text(c, repairs) or "" for c in entry.categories)
    if repaired == fields and categories == entry.categories:
        return entry  # the common case: no new record
    return dataclasses.replace(entry, title=title, author=author, content_html=content,
                               summary_html=summary, categories=categories)
