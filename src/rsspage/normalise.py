"""Normalising: the entries of one parsed feed → clean Articles.

Here, and only here, feed HTML is sanitised. Each Article gets a stable id, a plain-text title
that is never empty (from its text or link when the feed gives none), an absolute http(s) link,
aware UTC dates (estimated or clamped when the feed's are missing or in the future), the names
it is filed under and a hash of everything publishing depends on. An entry with no title, link,
text or picture (a truncated item, one with only geo or media metadata) is no article: it is
counted and skipped.

A clamped date is the time of the run, so it is left out of the hash, like an estimated one;
the feed's own date goes in instead, and the store keeps the date first given (issue 11).

Enclosures (issue 12): the media files of an entry are cleaned by :func:`rsspage.media.
clean_enclosures` (absolute http(s) URLs only, one per URL, at most a few); pictures among them
are only candidates for the head image, as before. They are published (players, our feeds'
enclosures), so they join the hash, after the other fields and only when there are any: the
hash of an article without any is what it always was. An entry with only an enclosure is an
article. Two entries of one document with the same id are one article: the first, with the
enclosures of both (RSSHub's ``/test/multimedia`` repeats an item to add its video).

Names: a spec with ``names_from_feed`` (no catalog entry, no configured names) is filed under
the feed's own title as its source (cut to MAX_NAME_BYTES) — or the host of the feed's site,
or of the feed's own URL, when the feed has no title — and under the spec's channel, or that
same name again when the spec has none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

from .media import clean_enclosures, hash_key, merge_enclosures
from .sanitise import (
    first_image,
    html_to_text,
    sanitise_html,
    sanitised_html_to_text,
    truncate_utf8,
)
from .types import MAX_NAME_BYTES, Article, Enclosure, FeedSpec, ParsedFeed, RawEntry

__all__ = ["UNTITLED", "Normalised", "content_hash", "normalise_counted", "normalise_feed"]

#: Title of an entry that has neither a title nor any text to make one from.
UNTITLED = "无标题"
#: How many characters of the text make a title when the entry has none.
_TITLE_FROM_TEXT = 40
#: Dates further ahead than this are treated as wrong and replaced by the time of the run.
_FUTURE_SLACK = timedelta(days=1)
_ID_HEX = 20


@dataclass(frozen=True, slots=True)
class Normalised:
    """The articles of one parsed feed, and how many of its entries were empty."""

    articles: list[Article]
    #: Entries with no title, link, text or picture: skipped, never published.
    empty: int


def normalise_feed(spec: FeedSpec, parsed: ParsedFeed, now: datetime) -> list[Article]:
    """The articles of :func:`normalise_counted`."""
    return normalise_counted(spec, parsed, now).articles


def normalise_counted(spec: FeedSpec, parsed: ParsedFeed, now: datetime) -> Normalised:
    """The first ``spec.items_per_feed`` entries of ``parsed`` that are not empty, as Articles
    in document order, and the number of empty entries met on the way.

    ``now`` is the time of the run (a naive one is taken as UTC); ``items_per_feed`` ≤ 0 keeps
    every entry. An entry whose id repeats an earlier one in the same document is dropped.
    """
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    limit = spec.items_per_feed if spec.items_per_feed > 0 else len(parsed.entries)
    source, channel = _names(spec, parsed)
    articles: dict[str, Article] = {}
    taken = empty = 0
    for entry in parsed.entries:
        if taken == limit:
            break
        article = _article(spec, entry, source, channel, now)
        if article is None:
            empty += 1
            continue
        taken += 1
        first = articles.setdefault(article.id, article)
        if first is not article and article.enclosures:
            articles[article.id] = _with_enclosures(first, article.enclosures)
    return Normalised(list(articles.values()), empty)


def _with_enclosures(article: Article, more: tuple[Enclosure, ...]) -> Article:
    """``article`` with the enclosures of another copy of it (same id) added."""
    merged = merge_enclosures(article.enclosures, more)
    if merged == article.enclosures:
        return article
    article = replace(article, enclosures=merged)
    return replace(article, content_hash=content_hash(article))


def _names(spec: FeedSpec, parsed: ParsedFeed) -> tuple[str, str]:
    """(source, channel): those the config or the catalog gave, the rest from the feed: its
    title (held to the config's limit: names become folders), else its host."""
    if not spec.names_from_feed:
        return spec.source, spec.channel
    title = truncate_utf8(html_to_text(parsed.title or ""), MAX_NAME_BYTES).rstrip()
    source = (spec.source or title or _host(parsed.link)
              or _host(spec.urls[0] if spec.urls else None) or spec.key)
    return source, spec.channel or title or source


def _host(url: str | None) -> str:
    try:
        return urlsplit(url or "").hostname or ""
    except ValueError:  # a malformed IPv6 host in a feed's <link>
        return ""


def _article(spec: FeedSpec, entry: RawEntry, source: str, channel: str,
             now: datetime) -> Article | None:
    """The entry as an Article; None when it has no title, link, text or picture."""
    base = entry.base_url
    content = sanitise_html(entry.content_html or entry.summary_html or "", base)
    text = sanitised_html_to_text(content)
    link = _absolute_http(entry.link, base)
    image = _image(content, entry, base)
    enclosures = clean_enclosures(entry.enclosures, base) if entry.enclosures else ()
    own_title = _own_title(entry)
    if not (own_title or link or text or image or enclosures):
        return None
    title = own_title or _title_from(text, link)
    published, estimated, clamped = _published(entry, now)
    author = " ".join((entry.author or "").split())
    feed_date = entry.published or entry.updated
    date_key = "" if estimated else f"clamped {feed_date}" if clamped else published.isoformat()
    fields = (
        title, link, date_key, author, spec.category, source, channel, content, image,
    )  # fmt: skip
    return Article(
        id=article_id(spec.key, entry),
        feed_key=spec.key,
        title=title,
        link=link,
        published=published,
        date_estimated=estimated,
        date_clamped=clamped,
        updated=entry.updated,
        author=author,
        category=spec.category,
        source=source,
        channel=channel,
        content_html=content,
        text=text,
        image=image,
        content_hash=_hash(fields, enclosures),
        clamped_from=feed_date if clamped else None,
        tags=tuple(entry.categories),
        enclosures=enclosures,
    )


def _hash(fields: tuple[str, ...], enclosures: tuple[Enclosure, ...]) -> str:
    text = "\x1f".join(fields)
    if enclosures:
        text += "\x1f" + hash_key(enclosures)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(article: Article) -> str:
    """The ``content_hash`` normalise gives ``article`` (for a stage that changes an article
    after normalise: its content, its enclosures)."""
    date_key = ("" if article.date_estimated else f"clamped {article.clamped_from}"
                if article.date_clamped else article.published.isoformat())
    fields = (article.title, article.link, date_key, article.author, article.category,
              article.source, article.channel, article.content_html, article.image)
    return _hash(fields, article.enclosures)


def article_id(feed_key: str, entry: RawEntry) -> str:
    """Hash of the feed key and the entry's identity as the feed states it.

    Raw values, not resolved ones, so that the id survives a switch of RSSHub instance.
    """
    if entry.guid and entry.guid.strip():
        identity = "guid\x00" + entry.guid.strip()
    elif entry.link and entry.link.strip():
        identity = "link\x00" + entry.link.strip()
    else:
        # Without a date the title alone must do: "now" would give a new id on every run.
        date = entry.published or entry.updated
        identity = f"title\x00{entry.title or ''}\x00{date.isoformat() if date else ''}"
    digest = hashlib.sha256(f"{feed_key}\x00{identity}".encode()).hexdigest()
    return digest[:_ID_HEX]


def _own_title(entry: RawEntry) -> str:
    raw = entry.title or ""
    return html_to_text(raw) if entry.title_is_html else " ".join(raw.split())


def _title_from(text: str, link: str) -> str:
    """A title for an entry without one: the start of its text, else its link."""
    if not text:
        return link or UNTITLED
    if len(text) <= _TITLE_FROM_TEXT:
        return text
    cut = text[:_TITLE_FROM_TEXT]
    if " " in cut and cut.isascii():  # cut Latin text at a word boundary, CJK anywhere
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def _absolute_http(url: str | None, base: str | None) -> str:
    url = (url or "").strip()
    if url.startswith(("http://", "https://")):
        return url  # already absolute: urljoin would only cost time
    if not url:
        return ""
    try:
        absolute = urljoin(base, url) if base else url
    except ValueError:
        return ""
    return absolute if absolute.startswith(("http://", "https://")) else ""


def _published(entry: RawEntry, now: datetime) -> tuple[datetime, bool, bool]:
    """(published, date_estimated, date_clamped)."""
    date = entry.published or entry.updated
    if date is None:
        return now, True, False
    if date > now + _FUTURE_SLACK:
        return now, False, True
    return date, False, False


def _image(content: str, entry: RawEntry, base: str | None) -> str:
    candidates = [first_image(content), *entry.images]
    for candidate in candidates:
        url = _absolute_http(candidate, base)
        if url:
            return url
    return ""
