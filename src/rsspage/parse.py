"""Feed parsing: response bytes + headers → ParsedFeed (RSS 0.9x/1.0/2.0, Atom, JSON Feed).

No I/O happens here. Three paths, tried in this order:

1. **JSON Feed** (1.0/1.1) when the body starts with ``{`` or the type says JSON: read by hand.
2. **Fast path** (``lxml-rss`` / ``lxml-atom``) for well-formed RSS 2.0, RSS 1.0 and Atom 1.0:
   lxml builds the tree (never resolving entities or loading DTDs) and each entry is read the
   way feedparser's strict parser would read it: same title, link, id and dates. The fast path
   gives up (``_Unsure``) on anything it does not reproduce exactly (DTDs, xml:base,
   Content-Location, inline XHTML, odd nesting, unknown roots, encodings it cannot vouch for).
3. **feedparser** — the robust reference, ~40× slower on RSSHub output (benchmarks/README.md)
   — for everything else, given the bytes (wrapped in a stream, so that it never opens files
   or URLs) and the response headers.

Before any of that, a body in an undeclared (or wrongly declared) CJK encoding — GBK, Big5,
Shift_JIS, EUC-JP, EUC-KR — is recognised and transcoded to UTF-8, which feedparser alone
would turn into mojibake.

Hostile documents stay cheap: entities are never expanded nor loaded, elements nested deeper
than 2,048 are a ParseError, and every pattern that looks at a whole document runs in linear
time (tests/test_hostile_feeds.py and the "hostile input" tests of tests/test_parse.py).
"""

from __future__ import annotations

import codecs
import contextlib
import html
import html.entities
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import feedparser
from feedparser.datetimes import _parse_date as _feedparser_parse_date
from feedparser.mixin import _FeedParserMixin
from lxml import etree

from .errors import ParseError
from .types import ParsedFeed, RawEntry

__all__ = ["parse_date", "parse_feed"]

_ATOM_NS = "http://www.w3.org/2005/Atom"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp)(?:[?#]|$)", re.IGNORECASE)


def parse_feed(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one response body; ``headers`` have lower-case names, ``url`` is the feed's URL.

    Raises ParseError when the bytes hold no feed.
    """
    first = _FIRST_CHARACTER.match(content, 3 if content.startswith(codecs.BOM_UTF8) else 0)
    if first is None:
        raise ParseError("empty response")
    if first.group(1) == b"{" or (_is_json_type(headers) and first.group(1) != b"<"):
        return _parse_json_feed(content, url)
    if _HTML_START.match(content):
        raise ParseError("not a feed: looks like an HTML page")
    content = _escape_bare_ampersands(_declaration_on_its_own_line(content))
    parsed = _parse_fast(content, headers, url)
    if parsed is None:
        repaired, headers = _repair_encoding(content, headers)
        if repaired is not content:
            content, parsed = repaired, _parse_fast(repaired, headers, url)
    if parsed is not None:
        return parsed
    if _nested_too_deep(content):
        raise ParseError(f"not a feed: elements nested more than {_MAX_XML_DEPTH} levels deep")
    return _parse_with_feedparser(content, headers, url)


# ---------------------------------------------------------------------------------------------
# Sniffing and character encodings

_FIRST_CHARACTER = re.compile(rb"\s*(\S)")
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
    re.IGNORECASE | re.DOTALL,
)
# The same pattern feedparser uses, so both see the same declared encoding.
_XML_ENCODING = re.compile(rb"""^<\?.*encoding=['"](.*?)['"].*\?>""")
_FIRST_XML_ENCODING = re.compile(rb"""<\?.*?encoding=['"](.*?)['"]""")
_XML_DECLARATION = re.compile(r"^<\?xml[^>]*?>")
_UTF8_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
_NON_UTF8_BOMS = (
    codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE
)  # fmt: skip
# "<?" in UTF-16/32 without a BOM, and in EBCDIC: encodings the fast path leaves to feedparser.
_WIDE_MARKERS = (
    b"\x00\x3c\x00\x3f", b"\x3c\x00\x3f\x00", b"\x00\x00\x00\x3c", b"\x3c\x00\x00\x00",
)  # fmt: skip
_EBCDIC_MARKER = b"\x4c\x6f\xa7\x94"


# A bare "&" is never well-formed XML; feedparser's fallback parser then reads "?a=1&copy=2" as
# "?a=1©=2" and "&from=" as "&from;=". Escaping it first keeps URLs exactly as written.
# (HTML's "&#X41;" counts as a reference: feedparser reads it as "A".)
_BARE_AMPERSAND_ANYWHERE = re.compile(
    rb"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z_:][A-Za-z0-9_.:-]*);)"
)


def _escape_bare_ampersands(content: bytes) -> bytes:
    """Replace bare ``&`` (outside CDATA) by ``&amp;``; ASCII-compatible encodings only."""
    if content.startswith(_NON_UTF8_BOMS) or content[:4] in _WIDE_MARKERS:
        return content
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


_WIDE_CODECS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (b"\x00\x00\x00\x3c", "utf-32-be"), (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"), (b"\x3c\x00\x3f\x00", "utf-16-le"),
)  # fmt: skip


def _declaration_on_its_own_line(content: bytes) -> bytes:
    """The document with a line break after its XML declaration when that line holds another
    "encoding=" (or, without a declaration's end, before the second "encoding=").

    feedparser finds the declared encoding with ``^<\\?.*encoding=['"](.*?)['"].*\\?>`` on the
    first line, which backtracks in cubic time over a line full of "encoding=" (1,000 of them
    took a second; 10,000 would take an hour). Alone on its line, the declaration is read in
    linear time, and says what the XML specification says it does.
    """
    for mark, codec in _WIDE_CODECS:
        if content.startswith(mark):  # feedparser looks after decoding: do the same
            bom = mark if mark in _NON_UTF8_BOMS else b""
            try:
                text = content[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                return content
            fixed = _split_first_line(text.encode("utf-8"))
            return content if fixed is None else bom + fixed.decode("utf-8").encode(codec)
    return _split_first_line(content) or content


def _split_first_line(data: bytes) -> bytes | None:
    """``data`` (UTF-8 or another ASCII superset) with its declaration split off, or None."""
    start = 3 if data.startswith(codecs.BOM_UTF8) else 0
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    if data.count(b"encoding=", start, end) < 2:
        return None
    cut = data.find(b"?>", start, end) + 2
    if cut < 2:  # no declaration ends on this line: break it before the second "encoding="
        cut = data.find(b"encoding=", data.find(b"encoding=", start, end) + 9, end)
    return data[:cut] + b"\n" + data[cut:]


def _xml_encoding(data: bytes) -> str:
    """The encoding declared in the XML declaration, lower-cased, as feedparser finds it.

    feedparser's pattern is greedy: on a document written on one line it backtracks over the
    whole line (~75 µs for 70 kB) and takes the last "encoding=" there. The same answer, found
    from the front; the pattern itself only runs when a second "encoding=" is on that line.
    """
    end = data.find(b"\n")
    end = len(data) if end < 0 else end
    first = _FIRST_XML_ENCODING.match(data, 0, end)
    if first is None or data.find(b"?>", first.end(), end) < 0:
        return ""
    if data.find(b"encoding=", first.end(), end) >= 0:
        match = _XML_ENCODING.match(data, 0, end)
        first = match if match is not None else first
    return first.group(1).decode("utf-8", "replace").lower()


def _is_json_type(headers: Mapping[str, str]) -> bool:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype in ("application/json", "application/feed+json")


def _content_type(headers: Mapping[str, str]) -> tuple[str, str]:
    """(media type, charset) of the Content-Type header, parsed as feedparser parses it."""
    chunks = headers.get("content-type", "").split(";")
    charset = ""
    for chunk in chunks[1:]:
        key, _, value = chunk.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    return chunks[0].strip(), charset


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError, ValueError):  # ValueError: NUL in the name
        return False
    return True


def _repair_encoding(content: bytes, headers: Mapping[str, str]) -> tuple[bytes, Mapping[str, str]]:
    """Transcode a CJK body whose encoding is undeclared or wrong to UTF-8; else change nothing."""
    if content.startswith((codecs.BOM_UTF8, *_NON_UTF8_BOMS)) or content[:4] in _WIDE_MARKERS:
        return content, headers
    declared = [_content_type(headers)[1], _xml_encoding(content)]
    if any(_decodes(content, d) for d in [d for d in declared if d] or ["utf-8"]):
        return content, headers
    encoding = _detect_cjk(content)
    if encoding is None:
        return content, headers
    text = content.decode(encoding)
    if _XML_DECLARATION.match(text):
        text = _XML_DECLARATION.sub(_UTF8_DECLARATION, text, count=1)
    else:
        text = _UTF8_DECLARATION + "\n" + text
    fixed = dict(headers)
    media = _content_type(headers)[0]
    if media:  # its charset was wrong or missing; the body now says utf-8
        fixed["content-type"] = media
    return text.encode("utf-8"), fixed


# Per candidate codec, the characters that make up a good share of any ordinary text in its
# language: the most frequent hanzi (simplified, traditional), kana, the most frequent hangul.
# Text decoded with the wrong CJK codec is a scatter of rare characters and scores near zero.
_FREQUENT_SIMPLIFIED = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地以说时要就出也得里后自之子年生着发会可下对能而过家"
    "十用当天那学都好还多没经么所新日本月分成同三方主行面工业现动部开高实于定民将"
)
_FREQUENT_TRADITIONAL = frozenset(
    "的一是不了在人有我他這個們中來上大為和國地以說時要就出也得裡後自之子年生著發會可下對能而過家"
    "十用當天那學都好還多沒經麼所新日本月分成同三方主行面工業現動部開高實於定民將"
)
_KANA = frozenset(chr(c) for c in range(0x3041, 0x30FF))
_FREQUENT_HANGUL = frozenset(
    "이다는의에가을고하한지로서기사도리자대어니수를있습일은시인해보게정부것들내나그주"
)
_CJK_CANDIDATES: tuple[tuple[str, frozenset[str]], ...] = (
    ("gb18030", _FREQUENT_SIMPLIFIED),
    ("big5", _FREQUENT_TRADITIONAL),
    ("shift_jis", _KANA),
    ("euc_jp", _KANA),
    ("euc_kr", _FREQUENT_HANGUL),
)


def _detect_cjk(data: bytes) -> str | None:
    """The CJK codec under which ``data`` reads as ordinary text, or None."""
    best, best_score = None, 0.05  # below this share of telltale characters, don't guess
    for encoding, telltale in _CJK_CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        wide = [c for c in text[:50_000] if ord(c) > 0x7F]
        score = sum(c in telltale for c in wide) / len(wide) if wide else 0.0
        if score > best_score:
            best, best_score = encoding, score
    return best


def _bytes_for_lxml(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The document as feedparser would decode it, as bytes lxml reads the same way.

    Follows feedparser's RFC 3023 rules (HTTP charset, XML declaration, BOM, then utf-8,
    windows-1252, iso-8859-2); raises _Unsure where its choice depends on chardet or on
    UTF-16/32, which the fast path leaves alone.
    """
    data, bom = content, ""
    if data.startswith(codecs.BOM_UTF8):
        data, bom = data[3:], "utf-8"
    elif data.startswith(_NON_UTF8_BOMS) or data[:4] in (*_WIDE_MARKERS, _EBCDIC_MARKER):
        raise _Unsure("wide or EBCDIC encoding")
    xml_encoding = _xml_encoding(data)
    candidates = [_rfc3023_encoding(headers, xml_encoding), xml_encoding, bom]
    if getattr(feedparser.encodings, "lazy_chardet_encoding", None) is not None:
        candidates.append("<chardet>")
    candidates += ["utf-8", "windows-1252", "iso-8859-2"]
    for encoding in candidates:
        encoding = "gb18030" if encoding.lower() == "gb2312" else encoding
        if encoding == "<chardet>":
            raise _Unsure("feedparser would ask chardet")
        # UTF-8 is not decoded here: libxml2 rejects invalid UTF-8 just as Python does, and
        # then the whole document goes to feedparser.
        if encoding and (encoding.lower() in ("utf-8", "utf8") or _decodes(data, encoding)):
            break
    else:
        raise _Unsure("no encoding fits")
    if _is_utf8(encoding) and _is_utf8(xml_encoding or "utf-8"):
        return data
    if encoding not in (_content_type(headers)[1], xml_encoding) and not data.isascii():
        # A guess (Latin-1 and the like) that feedparser then repairs field by field.
        raise _Unsure("undeclared single-byte encoding")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:  # a UTF-8 charset that the bytes belie
        raise _Unsure("bytes not in the declared encoding") from e
    if _XML_DECLARATION.search(text):
        return _XML_DECLARATION.sub(_UTF8_DECLARATION, text).encode("utf-8")
    return (_UTF8_DECLARATION + "\n" + text).encode("utf-8")


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except (LookupError, ValueError):
        return False


def _rfc3023_encoding(headers: Mapping[str, str], xml_encoding: str) -> str:
    media, charset = _content_type(headers)
    xml_types = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
    if media in xml_types or (media.startswith("application/") and media.endswith("+xml")):
        return charset or xml_encoding or "utf-8"
    if media.startswith("text/"):
        return charset or "us-ascii"
    if headers and "content-type" not in headers:
        return xml_encoding or "iso-8859-1"
    return xml_encoding or "utf-8"


# ---------------------------------------------------------------------------------------------
# Dates

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m.lower(): i for i, m in enumerate(_MONTH_NAMES, 1)}
_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?\s+(?:gmt|utc?|z|([+-])(\d{2})(\d{2}))",
    re.IGNORECASE,
)
_ISO8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


#: No date in any form is longer; longer text is no date (and costs feedparser's parsers time).
_LONGEST_DATE = 200


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime for a feed date, as feedparser's date parser reads it, and more.

    The two everyday forms (RFC 822 with a numeric or GMT zone, ISO 8601 with Z or ±hh:mm) are
    read here, ~30× faster; so are the forms feedparser misreads (see _wild_date). Everything
    else goes to feedparser's own parser, and what it cannot read either to _loose_rfc822.
    """
    if not value or len(value) > _LONGEST_DATE:
        return None
    match = _RFC822.fullmatch(value) or _ISO8601.fullmatch(value)
    if match is not None:
        try:
            return _date_from_match(match)
        except (ValueError, OverflowError):
            pass  # impossible dates: feedparser's other handlers may still read something
    value = value.strip()
    wild = _wild_date(value)
    if wild is not _NOT_WILD:
        return wild
    parsed = _struct_to_datetime(_feedparser_parse_date(value))
    return parsed if parsed is not None else _loose_rfc822(value, UTC)


# Dates as Chinese sites and odd generators write them. feedparser reads none of these right:
# "2022年07月21日 17:22" and "2022/07/21" become the first of the *current* month of 2022, Unix
# times the year 1659, Chinese month names nothing. Without a zone, dates written with Chinese
# characters are China time (UTC+8: the sites that write them are there); others are UTC, as
# feedparser takes ISO 8601 dates without a zone.
_CHINA = timezone(timedelta(hours=8))
_NOT_WILD = datetime.min  # a sentinel: not one of the wild forms, ask feedparser
_CJK_DATE_CHARACTER = re.compile("[年月日时時分秒星期周]")
_CN_MONTH = re.compile(r"(十[一二]?|[一二三四五六七八九])月|(\d{1,2})月")
_CN_WEEKDAY = re.compile("(?:星期|周|週|禮拜|礼拜)[一二三四五六日天],?")
_CN_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZONE = r"\s*(?:([zZ]|GMT|UTC|UT)?\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?)"
_NUMERIC_DATE = re.compile(
    r"(\d{4})\s*[./年]\s*(\d{1,2})\s*[./月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s*|[Tt])(\d{1,2})\s*[:：时時点點]\s*(\d{1,2})\s*分?"
    r"(?:\s*[:：]?\s*(\d{1,2})(?:\.\d+)?\s*秒?)?)?" + _ZONE
)
# A year followed by anything but ISO 8601's "-": feedparser would make up the rest.
_YEAR_THEN_OTHER = re.compile(r"\d{4}(?:\s*[./年]|\s+\d)")
_UNIX_TIME = re.compile(r"(\d{9,10})(?:\.\d+)?|(\d{12,13})")
_LOOSE_RFC822 = re.compile(
    r"(?:[a-z]+\.?,?\s*)?(\d{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4}),?\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?" + _ZONE,
    re.IGNORECASE,
)


def _wild_date(value: str) -> datetime | None:
    """The date of one of the forms feedparser misreads; _NOT_WILD for any other form."""
    unix = _UNIX_TIME.fullmatch(value)
    if unix is not None:
        seconds, millis = unix.groups()
        return datetime.fromtimestamp(int(seconds) if seconds else int(millis) / 1000, UTC)
    chinese = _CJK_DATE_CHARACTER.search(value) is not None
    if not chinese and not _YEAR_THEN_OTHER.match(value):
        return _NOT_WILD
    default = _CHINA if chinese else UTC
    numeric = _NUMERIC_DATE.fullmatch(value)
    if numeric is not None:
        year, month, day, hour, minute, second = numeric.groups()[:6]
        return _aware(
            (year, month, day, hour or 0, minute or 0, second or 0), numeric.groups()[6:], default
        )
    if chinese:
        english = _CN_MONTH.sub(_english_month, _CN_WEEKDAY.sub("", value)).strip(" ,")
        return _loose_rfc822(english, default)
    return None


def _english_month(match: re.Match[str]) -> str:
    chinese, digits = match.groups()
    if digits:
        number = int(digits)
    elif chinese.startswith("十"):  # 十月, 十一月, 十二月
        number = 10 + _CN_NUMERALS.get(chinese[1:], 0)
    else:
        number = _CN_NUMERALS[chinese]
    return f" {_MONTH_NAMES[number - 1]} " if 1 <= number <= 12 else match.group(0)


def _loose_rfc822(value: str, default: tzinfo) -> datetime | None:
    """RFC 822 without a zone or with "GMT+8": forms feedparser gives up on."""
    match = _LOOSE_RFC822.fullmatch(value)
    if match is None:
        return None
    day, mon, year, hour, minute, second = match.groups()[:6]
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    return _aware((year, month, day, hour, minute, second or 0), match.groups()[6:], default)


def _aware(
    fields: tuple[str | int, ...], zone: tuple[str | None, ...], default: tzinfo
) -> datetime | None:
    """A UTC datetime from (year … second) and a _ZONE match; None if impossible."""
    name, sign, hours, minutes = zone
    try:
        if sign is not None:
            offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
            tz: tzinfo = timezone(-offset if sign == "-" else offset)
        else:
            tz = UTC if name else default
        year, month, day, hour, minute, second = (int(f) for f in fields)
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _date_from_match(match: re.Match[str]) -> datetime:
    if match.re is _RFC822:
        day, mon, year, hour, minute, second, sign, tzh, tzm = match.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            raise ValueError(mon)
    else:
        year, mon, day, hour, minute, second, sign, tzh, tzm = match.groups()
        month = int(mon)
    stamp = datetime(
        int(year), month, int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
    )
    if sign is None:  # GMT, UTC, Z
        return stamp
    offset = timedelta(hours=int(tzh), minutes=int(tzm))
    return stamp + offset if sign == "-" else stamp - offset


# ---------------------------------------------------------------------------------------------
# Fast path (lxml)


class _Unsure(Exception):
    """The fast path cannot promise feedparser's result for this document."""


def _xml_parser(huge_text: bool = False) -> etree.XMLParser:
    """A parser that never resolves entities, loads DTDs, touches the network or guesses.

    ``huge_text`` lifts libxml2's 10 MB cap on one text node (and its other size limits), for
    documents that failed on that cap alone; entities stay unexpanded either way.
    """
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge_text,
        recover=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


# libxml2's messages for a text or CDATA node over its 10 MB cap (not for excessive depth).
_TOO_LONG = re.compile(r"Text node too long|CData section too big")


def _parse_xml(data: bytes) -> Any:
    try:
        return etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as e:
        # A long description (a feed within fetch.max_bytes) is no reason to hand the document
        # to feedparser, which takes ~1 s per MB on it; excessive depth still is.
        if not _TOO_LONG.search(str(e)):
            raise
    return etree.fromstring(data, _xml_parser(huge_text=True))


# Anything that moves feedparser's base URI: it reads xml:base and any attribute named "base".
_HAS_BASE_ATTRIBUTE = etree.XPath("boolean(//@*[translate(local-name(), 'BASE', 'base') = 'base'])")
# DTDs (and so entities) in the prolog.
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)

# feedparser's own namespace → prefix table, so elements get the names feedparser gives them.
_FP_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}


def _fp_name(tag: str, prefix: str | None) -> str:
    """feedparser's handler name for an element: ``title``, ``dc_date``, ``content_encoded``…"""
    namespace, _, local = tag.rpartition("}")
    local = local.lower()
    if not namespace:
        return local
    uri = namespace[1:].lower()
    known = "" if "backend.userland.com/rss" in uri else _FP_NAMESPACES.get(uri)
    # For namespaces it does not know, feedparser goes by the prefix the document uses.
    known = known if known is not None else (prefix or "")
    return f"{known}_{local}" if known else local


# tag → feedparser name, for tags whose name does not depend on the document's prefix.
_NAMES: dict[str, str] = {}


def _name(element: Any) -> str:
    """_fp_name of an element, memoised (the same tags recur in every entry)."""
    tag = element.tag
    name = _NAMES.get(tag)
    if name is not None:
        return name
    if not isinstance(tag, str):
        return ""
    name = _fp_name(tag, element.prefix)
    if len(_NAMES) < 4096 and _fp_name(tag, None) == _fp_name(tag, "_"):
        _NAMES[tag] = name
    return name


def _parse_fast(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed | None:
    """The feed read by lxml, or None when feedparser must read it."""
    try:
        return _read_with_lxml(content, headers, url)
    except (_Unsure, etree.XMLSyntaxError):
        return None


def _read_with_lxml(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed | None:
    if "content-location" in headers or _DTD.search(content, 0, 4096):
        return None
    data = _bytes_for_lxml(content, headers)
    root = _parse_xml(data)
    if root.getroottree().docinfo.internalDTD is not None or _HAS_BASE_ATTRIBUTE(root):
        return None
    if root.tag == "rss":
        return _read_rss(root, url)
    if root.tag == f"{{{_RDF_NS}}}RDF":
        return _read_rdf(root, url)
    if root.tag == f"{{{_ATOM_NS}}}feed":
        return _read_atom(root, url)
    return None


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _name(child) == name]


def _check_no_stray_entries(elements: Iterable[Any]) -> None:
    """feedparser starts an entry at every item/entry element, wherever it is.

    Called on everything outside the entries; inside them _EntryReader admits nested elements
    only in author, media:group and source elements, and checks those itself.
    """
    for element in elements:
        if any(_name(el) in ("item", "entry") for el in element.iter()):
            raise _Unsure("item or entry element outside its usual place")


def _split_entries(parent: Any, entry_name: str) -> tuple[list[Any], list[Any]]:
    """(the entry children of parent, the others), checking the others hold no entries."""
    entries: list[Any] = []
    others: list[Any] = []
    for child in parent:
        (entries if _name(child) == entry_name else others).append(child)
    _check_no_stray_entries(others)
    return entries, others


def _read_rss(root: Any, url: str) -> ParsedFeed:
    channels = [child for child in root if isinstance(child.tag, str)]
    if len(channels) != 1 or _name(channels[0]) != "channel":
        raise _Unsure("rss root without exactly one channel")
    items, others = _split_entries(channels[0], "item")
    entries = tuple(_EntryReader(item, False, url).read() for item in items)
    ttls = [el.text for el in others if _name(el) == "ttl"]
    return ParsedFeed(*_rss_feed_meta(others), entries, parser="lxml-rss",
                      ttl=_ttl(ttls[0] if ttls else None))


def _read_rdf(root: Any, url: str) -> ParsedFeed:
    items, others = _split_entries(root, "item")
    entries = tuple(_EntryReader(item, False, url).read() for item in items)
    channels = [child for child in others if _name(child) == "channel"]
    title, link = _rss_feed_meta(list(channels[0])) if channels else (None, None)
    return ParsedFeed(title, link, entries, parser="lxml-rss")


def _ttl(text: object) -> int | None:
    """RSS ``<ttl>``: whole minutes; anything else (or 0) says nothing."""
    value = str(text or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) < 10**7 else None


def _rss_feed_meta(elements: list[Any]) -> tuple[str | None, str | None]:
    """Title and link among a channel's elements."""
    titles = [el for el in elements if _name(el) == "title"]
    links = [el for el in elements if _name(el) == "link"]
    title = (titles[0].text or "").strip() if titles else None
    link = (links[0].text or "").strip() if links and "href" not in links[0].attrib else None
    return title or None, link or None


def _read_atom(root: Any, url: str) -> ParsedFeed:
    entries, _ = _split_entries(root, "entry")
    parsed = tuple(_EntryReader(entry, True, url).read() for entry in entries)
    titles = _children(root, "title")
    title = (titles[0].text or "").strip() if titles and len(titles[0]) == 0 else None
    link = next(
        (
            el.get("href")
            for el in _children(root, "link")
            if el.get("rel", "alternate") == "alternate" and el.get("href")
        ),
        None,
    )
    return ParsedFeed(title or None, link, parsed, parser="lxml-atom")


# The text clean-ups feedparser applies to every value it pops (feedparser.mixin.pop).
_URI_FIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")
_CP1252 = {
    c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if _decodes(bytes([c]), "cp1252")
}
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")


def _fp_fixup(text: str) -> str:
    """feedparser's repair of UTF-8 read as Latin-1, and of windows-1252 control characters."""
    if text.isascii():
        return text
    if _BEYOND_LATIN1.search(text) is None:  # a cheap test instead of a costly exception
        with contextlib.suppress(UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_CP1252) if _C1_CONTROLS.search(text) else text


def _fix_uri(text: str) -> str:
    return _URI_FIXER.sub(r"\1\3", text) if ":///" in text else text


# feedparser.mixin.looks_like_html, for the RSS titles that "may or may not" be HTML.
_CLOSE_TAG = re.compile(r"</(\w+)>")
_ANY_ENTITY = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_NAMED_ENTITY = re.compile(r"&(\w+);")
_HTML_ELEMENTS = frozenset(
    feedparser.sanitizer._HTMLSanitizer.acceptable_elements  # the list looks_like_html uses
)


def _looks_like_html(text: str) -> bool:
    if "<" not in text and "&" not in text:
        return False
    if not (_CLOSE_TAG.search(text) or _ANY_ENTITY.search(text)):
        return False
    if any(t.lower() not in _HTML_ELEMENTS for t in _TAG_NAME.findall(text)):
        return False
    return all(e in html.entities.entitydefs for e in _NAMED_ENTITY.findall(text))


def _leaf_text(element: Any) -> str:
    """Text of an element that must have no child elements (inline markup → _Unsure)."""
    if len(element):
        raise _Unsure("markup inside a text element")
    return element.text or ""


def _fp_value(element: Any) -> str:
    return _fp_fixup(_leaf_text(element).strip())


def _attrs(element: Any) -> dict[str, str]:
    """Attributes under feedparser's names: lower-cased, namespaced ones left out."""
    out: dict[str, str] = {}
    if not element.keys():  # most elements have none; .keys() is the cheapest look
        return out
    for key, value in element.attrib.items():
        if not key.startswith("{"):
            key = key.lower()
            out[key] = value.lower() if key in ("rel", "type") else value
    return out


def _content_type_of(attrs: Mapping[str, str], default: str) -> str:
    ctype = attrs.get("type", default)
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(ctype, ctype)


_PUBLISHED = frozenset({"published", "issued", "pubdate", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_AUTHORS = frozenset({"author", "dc_creator", "dc_author", "itunes_author", "managingeditor"})
_SUMMARIES = frozenset({"description", "summary", "dc_description", "abstract", "itunes_summary"})
_CONTENTS = frozenset({"content_encoded", "fullitem", "content"})
_CATEGORIES = frozenset({"category", "dc_subject"})
_PERSON_PARTS = frozenset({"name", "email", "uri", "url", "homepage"})
# Elements that switch feedparser into states the fast path does not mirror.
_UNSURE = frozenset(
    {"item", "entry", "channel", "feed", "rss", "image", "textinput", "media_title", "body",
     "xhtml_body"}
)  # fmt: skip


class _EntryReader:
    """Reads one ``<item>``/``<entry>`` as feedparser's strict parser would, or raises _Unsure.

    Repeated elements are resolved in feedparser's order: the first non-empty title wins (until
    a ``<source>``), the last link element wins and a permalink guid only fills in a missing
    link, the last id and the last date of each kind win, the first content wins, and of the
    summaries the second becomes the content when there is none yet, the others replace it.
    """

    # Class-level defaults: an entry sets only the fields it has.
    title: str | None = None
    title_is_html = False
    title_locked = False
    link: str | None = None
    guid: str | None = None
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    content: str | None = None
    has_content = False
    summary: str | None = None

    def __init__(self, element: Any, atom: bool, base_url: str) -> None:
        self.element, self.atom, self.base_url = element, atom, base_url
        self.images: list[str] = []
        self.categories: list[str] = []

    def read(self) -> RawEntry:
        if self.element.keys():
            self._read_item_attributes()
        handlers, other = _HANDLERS, _EntryReader._other
        for child in self.element:
            name = _name(child)
            if name:
                handlers.get(name, other)(self, child, name)
        return RawEntry(
            guid=self.guid,
            link=self.link,
            title=self.title,
            title_is_html=self.title_is_html,
            published=parse_date(self.published),
            updated=parse_date(self.updated),
            author=self.author,
            content_html=self.content,
            summary_html=self.summary,
            images=tuple(dict.fromkeys(self.images)),
            categories=tuple(dict.fromkeys(self.categories)),
            base_url=self.base_url or None,
        )

    def _read_item_attributes(self) -> None:
        for key, value in self.element.attrib.items():
            if key == f"{{{_RDF_NS}}}about":
                self.guid = value
            elif key.rpartition("}")[2].lower() in ("lastmod", "href"):
                raise _Unsure("CDF item attributes")

    def _title(self, child: Any, name: str) -> None:
        attrs = _attrs(child)
        ctype = _content_type_of(attrs, "text/plain") if attrs else "text/plain"
        if attrs and (len(attrs) > 1 or "type" not in attrs or not self.atom):
            raise _Unsure("title attributes")
        if ctype not in ("text/plain", "text/html"):
            raise _Unsure("title type")
        value = _fp_value(child)
        if self.title_locked:
            return
        self.title = value
        self.title_is_html = ctype == "text/html" or (not self.atom and _looks_like_html(value))
        self.title_locked = bool(value)

    def _link(self, child: Any, name: str) -> None:
        attrs = _attrs(child)
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs["href"] = href
        href = attrs.get("href")
        if href is None:
            value = _fix_uri(_fp_value(child))
            if "&" in value:
                value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
            self.link = value
            return
        if len(child):
            raise _Unsure("link with children")
        rel = attrs.get("rel", "alternate")
        default_type = "application/atom+xml" if rel == "self" else "text/html"
        ctype = _content_type_of(attrs, default_type)
        if ctype == "xhtml":
            ctype = "application/xhtml+xml"
        if rel == "alternate" and ctype in _HTML_TYPES:
            self.link = _fix_uri(href)
        elif rel == "enclosure" and (ctype.startswith("image/") or _IMAGE_URL.search(href)):
            self.images.append(href)

    def _guid(self, child: Any, name: str) -> None:
        is_link = _attrs(child).get("ispermalink", "true") == "true"
        value = _leaf_text(child).strip()
        self.guid = _fp_fixup(_fix_uri(value) if is_link else value)
        if is_link and self.link is None:
            self.link = self.guid

    def _date(self, child: Any, name: str) -> None:
        if name in _PUBLISHED:
            self.published = _fp_value(child)
        else:
            self.updated = _fp_value(child)

    def _author(self, child: Any, name: str) -> None:
        if len(child):
            parts = {_name(part): (part.text or "").strip() for part in _person(child)}
            value = parts.get("name") or parts.get("email") or ""
        else:
            value = _person_name(_fp_value(child))
        if value and self.author is None:
            self.author = value

    def _contributor(self, child: Any, name: str) -> None:
        _person(child)

    def _body(self, child: Any, name: str) -> None:
        attrs = _attrs(child)
        is_content = name in _CONTENTS
        if "src" in attrs or "mode" in attrs:
            raise _Unsure("out-of-line or encoded content")
        default = "text/plain" if self.atom or name in ("content", "summary") else "text/html"
        ctype = _content_type_of(attrs, default)
        # Bodies skip feedparser's text repairs: they cost a scan of the whole text, and the
        # documents that need them (Latin-1 by default) go to feedparser anyway.
        text = _leaf_text(child).strip()
        if ctype == "text/plain" and (self.atom or not _looks_like_html(text)):
            text = html.escape(text)
        elif ctype not in ("text/plain", "text/html"):
            raise _Unsure("content type")
        if is_content:
            if self.content is None:
                self.content = text
            self.has_content = True
        elif self.summary is not None and not self.has_content:
            # feedparser: a second summary before any content is the content.
            self.content, self.has_content = text, True
        else:
            self.summary = text  # the last one wins

    def _category(self, child: Any, name: str) -> None:
        term = _leaf_text(child)
        term = child.get("term") or term
        if term.strip():
            self.categories.append(term.strip())

    def _media(self, child: Any, name: str) -> None:
        if name == "media_group":
            for part in child:
                part_name = _name(part)
                if part_name and (not part_name.startswith("media_") or part_name in _UNSURE):
                    raise _Unsure("unusual media:group")
                if part_name:
                    self._media(part, part_name)
            return
        if len(child):
            raise _Unsure("nested media element")
        attrs = _attrs(child)
        url = attrs.get("url", attrs.get("href", ""))
        is_image = (
            name == "media_thumbnail"
            or attrs.get("medium") == "image"
            or attrs.get("type", "").startswith("image/")
            or (name in ("enclosure", "media_content") and _IMAGE_URL.search(url) is not None)
        )
        if url and is_image:
            self.images.append(url)

    def _source(self, child: Any, name: str) -> None:
        # feedparser forgets the title it has seen once a <source> starts.
        self.title_locked = False
        _check_no_stray_entries([child])

    def _other(self, child: Any, name: str) -> None:
        if name in _UNSURE:
            raise _Unsure(f"<{name}> inside an entry")
        if any(isinstance(part.tag, str) for part in child):
            raise _Unsure(f"nested elements in <{name}>")


def _person(element: Any) -> list[Any]:
    parts = [part for part in element if isinstance(part.tag, str)]
    for part in parts:
        if _name(part) not in _PERSON_PARTS or len(part):
            raise _Unsure("unusual author element")
    return parts


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _person_name(text: str) -> str:
    """``jo@example.com (Jo)`` → ``Jo``; plain names stay as they are."""
    if "@" not in text:
        return text
    name = _EMAIL.sub("", text).replace("()", "").replace("<>", "").strip(" ()<>")
    return name or text


_Handler = Callable[[_EntryReader, Any, str], None]
_HANDLERS: dict[str, _Handler] = {
    "title": _EntryReader._title,
    "dc_title": _EntryReader._title,
    "link": _EntryReader._link,
    "guid": _EntryReader._guid,
    "id": _EntryReader._guid,
    "source": _EntryReader._source,
    "contributor": _EntryReader._contributor,
    "enclosure": _EntryReader._media,
    "media_thumbnail": _EntryReader._media,
    "media_content": _EntryReader._media,
    "media_group": _EntryReader._media,
    **{name: _EntryReader._date for name in _PUBLISHED | _UPDATED},
    **{name: _EntryReader._author for name in _AUTHORS},
    **{name: _EntryReader._body for name in _SUMMARIES | _CONTENTS},
    **{name: _EntryReader._category for name in _CATEGORIES},
}


# ---------------------------------------------------------------------------------------------
# JSON Feed


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"not a feed: invalid JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("not a feed: JSON without a JSON Feed item list")
    if not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("not a feed: JSON without a JSON Feed version")
    entries = tuple(_json_entry(item, url) for item in doc["items"] if isinstance(item, dict))
    return ParsedFeed(
        title=_json_str(doc.get("title")),
        link=_json_str(doc.get("home_page_url")),
        entries=entries,
        parser="json",
    )


def _json_str(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value else None


def _json_entry(item: dict[str, Any], url: str) -> RawEntry:
    text = _json_str(item.get("content_text"))
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    author = next(
        (_json_str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None
    )
    images = [_json_str(item.get("image")), _json_str(item.get("banner_image"))]
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith(
            "image/"
        ):
            images.append(_json_str(attachment.get("url")))
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    return RawEntry(
        guid=_json_str(item.get("id")),
        link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
        title=_json_str(item.get("title")),
        title_is_html=False,
        published=parse_date(_json_str(item.get("date_published"))),
        updated=parse_date(_json_str(item.get("date_modified"))),
        author=author,
        content_html=_json_str(item.get("content_html")) or (html.escape(text) if text else None),
        summary_html=html.escape(s) if (s := _json_str(item.get("summary"))) else None,
        images=tuple(dict.fromkeys(i for i in images if i)),
        categories=tuple(str(t) for t in tags if isinstance(t, str | int)),
        base_url=url or None,
    )


# ---------------------------------------------------------------------------------------------
# feedparser


#: Deeper than this (libxml2's limit with XML_PARSE_HUGE) no feed goes: feedparser would take
#: ~8 s on 100,000 nested elements, and longer the deeper they go.
_MAX_XML_DEPTH = 2048


def _nested_too_deep(content: bytes) -> bool:
    """Whether libxml2, reading as far as it can, finds elements nested beyond _MAX_XML_DEPTH."""
    parser = etree.XMLParser(
        recover=True, huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False
    )
    with contextlib.suppress(etree.XMLSyntaxError):
        etree.fromstring(content, parser)
    return any("Excessive depth" in error.message for error in parser.error_log)


# Character references to no character (surrogates, beyond U+10FFFF, absurdly long numbers):
# feedparser's loose parser crashes on them with UnicodeEncodeError or ValueError.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _no_bad_character_references(content: bytes) -> bytes:
    """``content`` with references to no character replaced by U+FFFD's."""
    if b"&#" not in content:
        return content
    return _CHARACTER_REFERENCE.sub(_valid_reference, content)


def _valid_reference(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    digits = (hexadecimal or decimal).lstrip(b"0")
    code = int(digits or b"0", 16 if hexadecimal else 10) if len(digits) <= 8 else -1
    if code < 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group(0)


def _parse_with_feedparser(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    content = _no_bad_character_references(content)
    try:
        # A stream, never bytes or str: feedparser would treat those as a file name or a URL.
        result = feedparser.parse(io.BytesIO(content), response_headers=dict(headers))
    except Exception as e:  # feedparser's loose parser on bytes nobody foresaw
        raise ParseError(f"not a feed: unreadable ({type(e).__name__})") from e
    entries = result.get("entries") or []
    feed = result.get("feed") or {}
    named = _text(feed, "title") or _text(feed, "link")
    if not result.get("version") and not entries and (result.get("bozo") or not named):
        lines = str(result.get("bozo_exception") or "").strip().splitlines()
        reason = lines[0][:200] if lines else "no RSS, Atom or JSON Feed"
        raise ParseError(f"not a feed: {reason}")
    return ParsedFeed(
        title=_text(feed, "title") or None,
        link=_text(feed, "link") or None,
        entries=tuple(_feedparser_entry(entry, url) for entry in entries),
        parser="feedparser",
        ttl=_ttl(feed.get("ttl")),
    )


def _struct_to_datetime(value: Any) -> datetime | None:
    """A UTC time.struct_time (what feedparser gives) as an aware datetime."""
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _feedparser_link(entry: Any) -> str | None:
    """The entry's link; an alternate one rather than the enclosure feedparser 6.0 may pick.

    (Atom 0.3 links without href: feedparser 6.0 keeps the last one whatever its rel; its own
    later test suite expects the alternate one.)
    """
    link = _text(entry, "link")
    links = _dicts(entry, "links")
    if not any(x.get("href") == link and x.get("rel", "alternate") != "alternate" for x in links):
        return link
    return next((x["href"] for x in links if x.get("rel") == "alternate" and x.get("href")), link)


def _feedparser_date(entry: Any, key: str) -> datetime | None:
    """The entry's date, read by parse_date from the text when feedparser kept it."""
    # dict.get: FeedParserDict would fall back from updated to published.
    text = dict.get(entry, key)
    if isinstance(text, str) and text.strip():
        return parse_date(text)
    return _struct_to_datetime(dict.get(entry, f"{key}_parsed"))


def _detail_html(detail: Mapping[str, Any] | None) -> str | None:
    if not detail or not detail.get("value"):
        return None
    value: str = detail["value"]
    return value if detail.get("type") in _HTML_TYPES else html.escape(value)


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def _dict(entry: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, Mapping) else {}


def _dicts(entry: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """feedparser's list of records under ``key`` — which an element of the same name (an
    ``<links>`` in the feed, say) turns into a plain string."""
    value = entry.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _feedparser_entry(entry: Any, url: str) -> RawEntry:
    title_detail = _dict(entry, "title_detail")
    contents = _dicts(entry, "content")
    details = (*contents, _dict(entry, "summary_detail"), title_detail)
    base = next((d.get("base") for d in details if d.get("base")), None)
    author = _dict(entry, "author_detail").get("name") or _text(entry, "author")
    return RawEntry(
        guid=_text(entry, "id"),
        link=_feedparser_link(entry),
        title=_text(entry, "title"),
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        published=_feedparser_date(entry, "published"),
        updated=_feedparser_date(entry, "updated"),
        author=author if isinstance(author, str) and author else None,
        content_html=next((v for c in contents if (v := _detail_html(c))), None),
        summary_html=_detail_html(_dict(entry, "summary_detail")),
        images=tuple(dict.fromkeys(_feedparser_images(entry))),
        categories=tuple(dict.fromkeys(
            t["term"].strip() for t in _dicts(entry, "tags") if isinstance(t.get("term"), str)
            and t["term"].strip()
        )),
        base_url=base if isinstance(base, str) and base else url or None,
    )


def _feedparser_images(entry: Any) -> list[str]:
    images = [t["url"] for t in _dicts(entry, "media_thumbnail") if isinstance(t.get("url"), str)]
    for media in _dicts(entry, "media_content"):
        if media.get("url") and (
            media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
        ):
            images.append(str(media["url"]))
    for link in _dicts(entry, "links"):
        href = str(link.get("href") or "")
        if (
            link.get("rel") == "enclosure"
            and href
            and (str(link.get("type", "")).startswith("image/") or _IMAGE_URL.search(href))
        ):
            images.append(href)
    return images
