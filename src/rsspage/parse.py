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
from datetime import UTC, datetime, timedelta
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
    content = _escape_bare_ampersands(content)
    parsed = _parse_fast(content, headers, url)
    if parsed is None:
        repaired, headers = _repair_encoding(content, headers)
        if repaired is not content:
            content, parsed = repaired, _parse_fast(repaired, headers, url)
    return parsed if parsed is not None else _parse_with_feedparser(content, headers, url)


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
_BARE_AMPERSAND = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&(?!(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z_:][A-Za-z0-9_.:-]*);)",
    re.DOTALL,
)
_BARE_AMPERSAND_ANYWHERE = re.compile(
    rb"&(?!(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z_:][A-Za-z0-9_.:-]*);)"
)


def _escape_bare_ampersands(content: bytes) -> bytes:
    """Replace bare ``&`` (outside CDATA) by ``&amp;``; ASCII-compatible encodings only."""
    if content.startswith(_NON_UTF8_BOMS) or content[:4] in _WIDE_MARKERS:
        return content
    if b"&" not in content or not _BARE_AMPERSAND_ANYWHERE.search(content):
        return content  # the common case, found without walking the CDATA sections
    if not any(m.group(0) == b"&" for m in _BARE_AMPERSAND.finditer(content)):
        return content
    return _BARE_AMPERSAND.sub(lambda m: b"&amp;" if m.group(0) == b"&" else m.group(0), content)


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
    except (UnicodeDecodeError, LookupError):
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
    text = data.decode(encoding)
    if _XML_DECLARATION.search(text):
        return _XML_DECLARATION.sub(_UTF8_DECLARATION, text).encode("utf-8")
    return (_UTF8_DECLARATION + "\n" + text).encode("utf-8")


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
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

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?\s+(?:gmt|utc?|z|([+-])(\d{2})(\d{2}))",
    re.IGNORECASE,
)
_ISO8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime for a feed date, exactly as feedparser's date parser reads it.

    The two everyday forms (RFC 822 with a numeric or GMT zone, ISO 8601 with Z or ±hh:mm) are
    read here, ~30× faster; everything else goes to feedparser's own parser.
    """
    if not value:
        return None
    match = _RFC822.fullmatch(value) or _ISO8601.fullmatch(value)
    if match is not None:
        try:
            return _date_from_match(match)
        except (ValueError, OverflowError):
            pass  # impossible dates: feedparser's other handlers may still read something
    return _struct_to_datetime(_feedparser_parse_date(value))


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


def _xml_parser() -> etree.XMLParser:
    """A parser that never resolves entities, loads DTDs, touches the network or guesses."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


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
    root = etree.fromstring(data, _xml_parser())
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
    return ParsedFeed(*_rss_feed_meta(others), entries, parser="lxml-rss")


def _read_rdf(root: Any, url: str) -> ParsedFeed:
    items, others = _split_entries(root, "item")
    entries = tuple(_EntryReader(item, False, url).read() for item in items)
    channels = [child for child in others if _name(child) == "channel"]
    title, link = _rss_feed_meta(list(channels[0])) if channels else (None, None)
    return ParsedFeed(title, link, entries, parser="lxml-rss")


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
    link, the last id and the last date of each kind win.
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
        if is_content and self.content is None:
            self.content = text
        elif not is_content and self.summary is None:
            self.summary = text

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


def _parse_with_feedparser(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    # A stream, never bytes or str: feedparser would treat those as a file name or a URL.
    result = feedparser.parse(io.BytesIO(content), response_headers=dict(headers))
    entries = result.get("entries") or []
    feed = result.get("feed") or {}
    named = feed.get("title") or feed.get("link")
    if not result.get("version") and not entries and (result.get("bozo") or not named):
        problem = result.get("bozo_exception")
        reason = str(problem).splitlines()[0][:200] if problem else "no RSS, Atom or JSON Feed"
        raise ParseError(f"not a feed: {reason}")
    return ParsedFeed(
        title=feed.get("title") or None,
        link=feed.get("link") or None,
        entries=tuple(_feedparser_entry(entry, url) for entry in entries),
        parser="feedparser",
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


def _detail_html(detail: Mapping[str, Any] | None) -> str | None:
    if not detail or not detail.get("value"):
        return None
    value: str = detail["value"]
    return value if detail.get("type") in _HTML_TYPES else html.escape(value)


def _feedparser_entry(entry: Any, url: str) -> RawEntry:
    title_detail = entry.get("title_detail") or {}
    contents = entry.get("content") or []
    base = next(
        (d.get("base") for d in (*contents, entry.get("summary_detail"), title_detail) if d), None
    )
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    return RawEntry(
        guid=entry.get("id"),
        link=entry.get("link"),
        title=entry.get("title"),
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        # dict.get: FeedParserDict would fall back from updated to published.
        published=_struct_to_datetime(dict.get(entry, "published_parsed")),
        updated=_struct_to_datetime(dict.get(entry, "updated_parsed")),
        author=author or None,
        content_html=next((v for c in contents if (v := _detail_html(c))), None),
        summary_html=_detail_html(entry.get("summary_detail")),
        images=tuple(dict.fromkeys(_feedparser_images(entry))),
        categories=tuple(
            dict.fromkeys(t["term"].strip() for t in entry.get("tags") or [] if t.get("term"))
        ),
        base_url=base or url or None,
    )


def _feedparser_images(entry: Any) -> list[str]:
    images = [t["url"] for t in entry.get("media_thumbnail") or [] if t.get("url")]
    for media in entry.get("media_content") or []:
        if media.get("url") and (
            media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
        ):
            images.append(media["url"])
    for link in entry.get("links") or []:
        href = link.get("href") or ""
        if (
            link.get("rel") == "enclosure"
            and href
            and (str(link.get("type", "")).startswith("image/") or _IMAGE_URL.search(href))
        ):
            images.append(href)
    return images
