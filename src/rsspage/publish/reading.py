"""What a reader is told about an article's text: the card's summary and the reading time.

Both work on CJK text without spaces. A summary never repeats the title: many feeds (快讯
above all) put the title again at the start of the text, sometimes with other spacing,
brackets or punctuation, so the title is matched on letters and digits only (after NFKC and
case folding) and what follows it is shown, or nothing when too little of it is left.
"""

from __future__ import annotations

import math
import re
import unicodedata

from markupsafe import Markup, escape

#: Below this many letters or digits, what is left after the title says nothing ("。", "(图)").
MIN_MEANINGFUL = 6
#: Reading speeds: CJK characters and words of other scripts per minute (silent reading of
#: Chinese is commonly put at 300-500 characters a minute; English at 200-250 words).
CJK_PER_MINUTE = 400
WORDS_PER_MINUTE = 230

#: Runs of CJK characters: counted by their lengths, a list of runs is ~10x shorter than one of
#: characters (punctuation breaks them), and reading_minutes runs for every article page.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


def _key(char: str) -> str:
    """A character as compared with the title: NFKC, case-folded, "" unless a letter or a
    digit (spaces, punctuation and symbols of every width do not count)."""
    if char.isascii():  # the common cases first: this runs for every card of a build
        return char.lower() if char.isalnum() else ""
    if "\u4e00" <= char <= "\u9fff":
        return char
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(c for c in folded if c.isalnum())


class _KeyTable(dict[int, str]):
    """:func:`_key` of each character met so far, by code point, for ``str.translate``: a
    build compares the title and text of every article (~9 µs an article, 0.18 s of a full
    build at 20,000, before anything can render). Feed text could hold every code point, and
    ``watch`` keeps the table for good: past _KEYS_HELD characters the rest are not kept."""

    def __missing__(self, code: int) -> str:
        key = _key(chr(code))
        if len(self) < _KEYS_HELD:  # the CJK ideographs and more: ~30,000 in common use
            self[code] = key
        return key


_KEYS_HELD = 65_536


_KEYS = _KeyTable()


def _keys(text: str) -> str:
    return text.translate(_KEYS)


def strip_title(title: str, text: str) -> str:
    """``text`` without a leading copy of ``title`` (compared on letters and digits only),
    and without the punctuation and spaces that followed it; ``text`` as it is otherwise."""
    wanted = _keys(title)
    if not wanted:
        return text
    seen = ""
    for end, char in enumerate(text):
        seen += _KEYS[ord(char)]
        if not wanted.startswith(seen):
            return text
        if seen == wanted:
            rest = text[end + 1:]
            if len(wanted) < MIN_MEANINGFUL and rest[:1] and _key(rest[0]):
                return text  # a short title that only begins the sentence ("苹果" / "苹果公司")
            return _lstrip_marks(rest)
    return ""  # the text is (a part of) the title and nothing else


def _lstrip_marks(text: str) -> str:
    """``text`` from its first letter or digit, or from an opening bracket or quote."""
    for start, char in enumerate(text):
        if _key(char) or unicodedata.category(char) in ("Ps", "Pi"):
            return text[start:]
    return ""


def card_summary(title: str, text: str, limit: int) -> str:
    """The summary a card shows: ``text`` after any leading copy of the title, at most
    ``limit`` characters (cut with an ellipsis), or "" when it would only repeat the title."""
    rest = strip_title(title, text.strip())
    if not _meaningful(rest) or (len(rest) <= 2 * len(title) and _keys(rest) == _keys(title)):
        return ""  # nothing, or the title again (a second copy, in other words' spacing)
    if len(rest) <= limit:
        return rest
    return rest[:limit].rstrip() + "…"


def _meaningful(text: str) -> bool:
    """Whether ``text`` has at least :data:`MIN_MEANINGFUL` letters or digits (stops there:
    this runs for every card of a build)."""
    letters = 0
    for char in text:
        letters += char.isalnum()
        if letters >= MIN_MEANINGFUL:
            return True
    return False


def reading_minutes(text: str) -> int:
    """Minutes to read ``text`` (at least 1): CJK characters and other words counted apart."""
    cjk = sum(map(len, _CJK_RUN.findall(text)))
    words = len(_WORD.findall(text))
    return max(1, math.ceil(cjk / CJK_PER_MINUTE + words / WORDS_PER_MINUTE))


#: Full-width closing brackets and quotes: their glyph carries half an em of blank after it, so
#: "快科技（原驱动之家） › 最新新闻" showed a stray gap before the separator.
_CLOSERS = "）」』》〉】〕〗〙〛”’"


def tight_end(name: str) -> Markup:
    """``name`` as HTML, a full-width closing bracket at its end set half-width (the font's
    ``halt`` feature, site.css ``.halt``) so that the separator after it does not float away."""
    if name and name[-1] in _CLOSERS:
        return Markup(f'{escape(name[:-1])}<span class="halt">{escape(name[-1])}</span>')
    return escape(name)
