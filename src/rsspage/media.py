"""Enclosures (podcast audio, video, attachments): reading their numbers, cleaning them, telling
what kind of media each is. Pure functions, shared by the parsers, normalise and publishing.

Feed text is hostile: a length or a duration that is not a plain, sane number is unknown (None),
never an error; a type that is not ``type/subtype`` is unknown (``""``); a URL that is not
absolute http(s) after resolving it (``javascript:``, ``data:``, relative without a base) is
dropped with its enclosure. At most :data:`MAX_ENCLOSURES` are kept per entry.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from .types import Enclosure

__all__ = [
    "MAX_DURATION", "MAX_ENCLOSURES", "MAX_LENGTH", "MEDIA_KINDS", "clean_enclosures",
    "clean_type", "enclosures_from_json", "enclosures_to_json", "hash_key", "media_kind",
    "merge_enclosures", "parse_duration", "parse_length",
]

#: Enclosures kept per entry: a podcast has one, a media:group a few renditions; a feed with
#: hundreds (hostile or broken) would bloat every page and feed of the article.
MAX_ENCLOSURES = 8
#: Larger sizes (1 TiB) are taken as wrong: unknown.
MAX_LENGTH = 1 << 40
#: Longer playing times (7 days) are taken as wrong: unknown.
MAX_DURATION = 7 * 24 * 3600
#: Longest URL kept (browsers and servers refuse longer ones anyway).
MAX_URL = 4096
#: The kinds of media a page plays.
MEDIA_KINDS = ("audio", "video")

_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
#: Types that say nothing of the file: feedparser gives ``text/html`` to an Atom enclosure
#: link without a type; the others are "some bytes".
_NO_TYPE = frozenset({"application/octet-stream", "binary/octet-stream", "text/html",
                      "application/unknown", "application/x-unknown-content-type"})
#: Types outside ``audio/`` and ``video/`` that are audio or video all the same.
_OTHER_MEDIA = {"application/ogg": "audio", "application/x-mpegurl": "video",
                "application/vnd.apple.mpegurl": "video", "application/dash+xml": "video"}
#: A fixed table, not :mod:`mimetypes` (which reads the machine's /etc/mime.types).
_BY_EXTENSION = {
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "m4b": "audio/mp4", "aac": "audio/aac",
    "oga": "audio/ogg", "ogg": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav",
    "flac": "audio/flac", "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm",
    "ogv": "video/ogg", "mov": "video/quicktime", "m3u8": "application/vnd.apple.mpegurl",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "webp": "image/webp", "avif": "image/avif",
}
_CLOCK = re.compile(r"(\d{1,7}):([0-5]?\d)(?::([0-5]?\d))?(?:\.\d{1,6})?", re.ASCII)
_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,6})?", re.ASCII)
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def parse_length(value: object) -> int | None:
    """A size in bytes from a feed (``"12345"``, ``12345``); None for ``0``, a negative or
    non-numeric value, or one over :data:`MAX_LENGTH`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        text = value.strip()
        if len(text) > 15:  # far beyond MAX_LENGTH: no int() of a megabyte of digits
            return None
        number = int(text)
    else:
        return None
    return number if 0 < number <= MAX_LENGTH else None


def parse_duration(value: object) -> int | None:
    """Seconds from ``itunes:duration`` and its kin: ``H:MM:SS``, ``MM:SS``, seconds (also with
    a fraction, or a JSON number); None for anything else, for 0 and for over
    :data:`MAX_DURATION`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -MAX_DURATION <= value <= MAX_DURATION:
        return None  # float() of a huge JSON number overflows
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_text(value.strip())
    else:
        return None
    if not math.isfinite(seconds) or seconds < 0.5 or seconds > MAX_DURATION:
        return None
    return round(seconds)


def _duration_text(text: str) -> float:
    if _SECONDS.fullmatch(text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock is None:
        return math.nan
    first, second, third = clock.groups()
    if third is None:  # MM:SS
        return int(first) * 60 + int(second)
    return int(first) * 3600 + int(second) * 60 + int(third)


def clean_type(value: object) -> str:
    """``type/subtype`` in lower case without parameters; ``""`` when it is none or says
    nothing about the file (``application/octet-stream``)."""
    if not isinstance(value, str):
        return ""
    text = value.partition(";")[0].strip().lower()
    return text if _MIME.fullmatch(text) and text not in _NO_TYPE else ""


def _extension(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    last = path.rpartition("/")[2]
    return last.rpartition(".")[2].lower() if "." in last else ""


def media_kind(enclosure: Enclosure) -> str:
    """``audio``, ``video``, ``image`` or ``""``: by its type, else the feed's ``medium``, else
    its URL's extension; an untyped file with a playing time (a podcast's ``itunes:duration``)
    is taken as audio (an ``<audio>`` element plays a video's sound too)."""
    kind = _kind_of_type(enclosure.type)
    if kind:
        return kind
    if enclosure.type:
        return ""  # typed, and neither audio, video nor a picture (a PDF, say)
    if enclosure.medium in ("audio", "video", "image"):
        return enclosure.medium
    kind = _kind_of_type(_BY_EXTENSION.get(_extension(enclosure.url), ""))
    if kind:
        return kind
    return "audio" if enclosure.duration else ""


def _kind_of_type(mime: str) -> str:
    major = mime.partition("/")[0]
    if major in ("audio", "video", "image"):
        return major
    return _OTHER_MEDIA.get(mime, "")


def _absolute_url(url: str, base: str | None) -> str:
    """``url`` resolved against ``base``, when the result is an http(s) URL of sane length
    without control characters (spaces are percent-encoded); else ``""``."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        return ""
    url = url.replace(" ", "%20")
    if _CONTROL_OR_SPACE.search(url):
        return ""
    if not url.lower().startswith(("http://", "https://")):
        try:
            url = urljoin(base, url) if base else url
        except ValueError:
            return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


def clean_enclosures(raw: Iterable[Enclosure], base: str | None, *,
                     images: bool = False) -> tuple[Enclosure, ...]:
    """The enclosures worth keeping, in order: absolute http(s) URLs, known types (else one
    from the URL's extension), ``medium`` decided (:func:`media_kind`); one per URL (what a
    later one of the same URL adds fills the gaps of the first: an ``<enclosure>``'s length and
    a ``media:content``'s duration); pictures only when ``images``; at most
    :data:`MAX_ENCLOSURES`."""
    kept: dict[str, Enclosure] = {}
    for enclosure in raw:
        url = _absolute_url(enclosure.url, base)
        if not url:
            continue
        mime = clean_type(enclosure.type) or _BY_EXTENSION.get(_extension(url), "")
        length, duration = parse_length(enclosure.length), parse_duration(enclosure.duration)
        medium = enclosure.medium if enclosure.medium in ("audio", "video", "image") else ""
        clean = Enclosure(url, mime, length, duration, medium)
        clean = replace(clean, medium=media_kind(clean))
        first = kept.get(url)
        if first is not None:
            kept[url] = _filled(first, clean)
        elif len(kept) < MAX_ENCLOSURES and (images or clean.medium != "image"):
            kept[url] = clean
    return tuple(kept.values())


def _filled(first: Enclosure, later: Enclosure) -> Enclosure:
    """``first`` with what it lacks taken from ``later`` (same URL)."""
    if (first.type or not later.type) and (first.length or not later.length) and (
            first.duration or not later.duration):
        return first
    filled = Enclosure(first.url, first.type or later.type, first.length or later.length,
                       first.duration or later.duration, first.medium)
    return replace(filled, medium=media_kind(filled) if not first.type else first.medium)


def merge_enclosures(first: Iterable[Enclosure],
                     later: Iterable[Enclosure]) -> tuple[Enclosure, ...]:
    """Clean enclosures of two copies of one entry, as one list (:func:`clean_enclosures`'s
    rules: one per URL, gaps filled, at most :data:`MAX_ENCLOSURES`)."""
    kept: dict[str, Enclosure] = {}
    for enclosure in (*first, *later):
        old = kept.get(enclosure.url)
        if old is not None:
            kept[enclosure.url] = _filled(old, enclosure)
        elif len(kept) < MAX_ENCLOSURES:
            kept[enclosure.url] = enclosure
    return tuple(kept.values())


def hash_key(enclosures: Iterable[Enclosure]) -> str:
    """The enclosures as one string, for an article's ``content_hash``."""
    return "\x1e".join(
        f"{e.url}\x1d{e.type}\x1d{e.length or ''}\x1d{e.duration or ''}\x1d{e.medium}"
        for e in enclosures)


def enclosures_to_json(enclosures: tuple[Enclosure, ...]) -> str:
    """As the store keeps them (its ``enclosures`` column, schema 13): a JSON list, each with
    ``url`` and only the fields that are known; ``""`` for none."""
    if not enclosures:
        return ""
    return json.dumps([{k: v for k, v in (("url", e.url), ("type", e.type), ("length", e.length),
                                          ("duration", e.duration), ("medium", e.medium)) if v}
                       for e in enclosures], ensure_ascii=False)


def enclosures_from_json(text: str) -> tuple[Enclosure, ...]:
    """:func:`enclosures_to_json`'s text read back, checked again as feed text would be (a
    restore may bring it from anywhere); unreadable: none."""
    if not text:
        return ()
    try:
        items = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(items, list):
        return ()
    return clean_enclosures((Enclosure(str(d["url"]), str(d.get("type") or ""), d.get("length"),
                                       d.get("duration"), str(d.get("medium") or ""))
                             for d in items if isinstance(d, dict) and "url" in d),
                            None, images=True)
