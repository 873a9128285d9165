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

import ftfy

from ..sanitise import without_controls
from ..types import ParsedFeed, RawEntry
from .encoding import CP1252_C1

__all__ = ["repair_feed", "repair_text"]

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


def repair_text(text: str | None) -> str | None:
    """``text`` with C1 controls read as windows-1252, double-encoded UTF-8 undone, and no
    control characters."""
    if not text:
        return text
    if not text.isascii():
        if _C1.search(text):
            text = text.translate(CP1252_C1)
        if _MOJIBAKE.search(text):
            text = ftfy.fix_encoding(text, _FTFY)
    return without_controls(text)


def may_need_repair(document: bytes) -> bool:
    """Whether the text lxml reads from ``document`` (UTF-8) may be changed by repair_text.

    A few byte searches (memchr) instead of regexes over every field, which cost the fast path
    a third of its speed on CJK text. lxml refuses the other control characters, raw or as
    references (XML 1.0 forbids them), so only C1 characters and DEL (raw: C2 80-9F, 7F; or as
    references) and the lead of double-encoded UTF-8 (Â-ô: C3 82-B4) are looked for.
    """
    if b"\xc2" in document or b"\xc3" in document or b"\x7f" in document:
        return True
    return b"&" in document and b"&#" in document  # memchr first: memmem is ~50x slower


def repair_feed(parsed: ParsedFeed) -> ParsedFeed:
    """``parsed`` with repair_text applied to its title and to each entry's text fields (ids
    and URLs stay as written: ids must not change, and URLs are checked where they are used)."""
    return dataclasses.replace(
        parsed, title=repair_text(parsed.title),
        entries=tuple(_repair_entry(entry) for entry in parsed.entries),
    )  # fmt: skip


def _repair_entry(entry: RawEntry) -> RawEntry:
    fields = (entry.title, entry.author, entry.content_html, entry.summary_html)
    title, author, content, summary = repaired = tuple(map(repair_text, fields))
    categories = tuple(repair_text(c) or "" for c in entry.categories)
    if repaired == fields and categories == entry.categories:
        return entry  # the common case: no new record
    return dataclasses.replace(entry, title=title, author=author, content_html=content,
                               summary_html=summary, categories=categories)
