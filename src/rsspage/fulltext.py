"""Full text for summary-only feeds (``full_text: true``): the enrich stage.

For the new articles of such feeds (the store says which stories it has never seen), the
article's page is fetched (:mod:`rsspage.fetch_pages`: the fetch stage's limits, per-host slots
and robots.txt), decoded as the parser decodes feeds (:mod:`rsspage.parse.encoding`, with the
page's ``<meta charset>`` in the place of an XML declaration), its main content extracted by
trafilatura, then sanitised like any content (:func:`rsspage.sanitise.sanitise_html`, relative
URLs against the page's own URL). The page's text replaces the feed's only when it is
meaningfully longer (:func:`longer`): a feed that gives whole articles already keeps its own.

A page that cannot give a text (refused by robots.txt or for its address, an HTTP error, a
timeout, too large, not HTML, nothing extracted, the run's extraction time spent) leaves the
article as the feed gave it, and is counted (and tried once more on the feed's next run: the
pipeline keeps :attr:`FeedText.failed_ids`); nothing here fails a feed.

Extraction is bounded: trafilatura is given at most :data:`EXTRACT_MAX_CHARS` of a page's HTML
(cut where a tag starts), all pages of a run share :data:`EXTRACT_SECONDS`, and each page's body
is let go once its text is extracted.

Articles already in the archive are not fetched again; a feed's next copy of one of them (still
the summary) takes the stored page text over (:func:`keep_stored`), under the same content hash
as the first time, so the store sees no change and does not put the summary back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from rsspage.fetch import FetchOptions, HostGate
from rsspage.fetch_pages import PageRequest, PageResult, fetch_pages, page_options
from rsspage.parse.encoding import choose_encoding, content_type, decode, head_text
from rsspage.parse.sniff import is_html_page
from rsspage.sanitise import first_image, html_to_text, sanitise_html, sanitised_html_to_text
from rsspage.types import Article, FeedSpec

__all__ = ["FeedText", "Wanted", "extract", "full_text", "keep_stored", "longer"]

log = logging.getLogger("rsspage")

#: The page's text replaces the feed's when it is half as long again and this many characters
#: longer (a one-line summary against an article; not a feed's whole text against the same text
#: with a caption or two more).
_RATIO = 1.5
_GAIN = 50
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: <meta charset="gbk"> or <meta http-equiv="Content-Type" content="text/html; charset=gbk">,
#: looked for where browsers look (the first 1024 bytes: WHATWG's prescan).
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_PRESCAN = 1024
_LEADING_H1 = re.compile(r"^\s*<h1>(.*?)</h1>\s*", re.DOTALL)
#: trafilatura's HTML output is a whole document; the content is what its body holds.
_WRAPPER = re.compile(r"^\s*<html>\s*<body>|</body>\s*</html>\s*$")
#: Most decoded HTML of a page trafilatura is given: a news page is ~100 KB to 1 MB, and a
#: 5 MB page took it 8 to 14 s. What is past it is cut off, at the start of a tag.
EXTRACT_MAX_CHARS = 1_500_000
#: Seconds the extraction of all pages of a run may take together; the pages left then keep
#: their summary (counted as failed).
EXTRACT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Wanted:
    """One feed's articles, and which of them want their page."""

    spec: FeedSpec
    articles: Sequence[Article]
    #: Ids of the articles whose page is fetched (new to the archive, not hidden).
    new: Collection[str]
    #: The archive's copies of the other articles (for :func:`keep_stored`), by id.
    stored: Mapping[str, Article] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FeedText:
    """A feed's articles after the enrich stage, and what its pages gave."""

    articles: list[Article]
    #: New articles given their page's text / whose page gave none (they keep the summary).
    fetched: int = 0
    failed: int = 0
    #: Ids of the articles whose page gave no text.
    failed_ids: frozenset[str] = frozenset()


def full_text(feeds: Sequence[Wanted], options: FetchOptions,
              gate: HostGate | None = None) -> list[FeedText]:
    """Every feed's articles with the page text of its new ones: all pages of all feeds are
    fetched in one concurrent pass (each URL once), then extracted one by one. ``gate``: the
    hosts' limits shared with other fetch workers."""
    requests: dict[str, PageRequest] = {}
    for wanted in feeds:
        for article in wanted.articles:
            if article.id in wanted.new and article.link:
                requests.setdefault(article.link, _request(wanted.spec, article.link))
    started = time.monotonic()
    pages = fetch_pages(list(requests.values()), page_options(options), gate)
    log.info("full text: %d pages fetched in %.2f s", len(pages), time.monotonic() - started)
    texts = _texts(pages)
    return [_feed_text(wanted, texts) for wanted in feeds]


def _texts(pages: list[PageResult]) -> dict[str, _Text | str]:
    """Each page's text (or why none), by URL, within the run's :data:`EXTRACT_SECONDS`; the
    list is emptied as it goes, so that each body is let go once extracted."""
    texts: dict[str, _Text | str] = {}
    deadline = time.monotonic() + EXTRACT_SECONDS
    pages.reverse()
    while pages:
        page = pages.pop()
        if time.monotonic() >= deadline and page.error is None:
            texts[page.url] = f"not extracted within the run's {EXTRACT_SECONDS:g} s"
            continue
        texts[page.url] = _page_text(page)
        del page
    return texts


def _request(spec: FeedSpec, url: str) -> PageRequest:
    """The page's request: the feed's User-Agent, and the headers its config gives only when
    the page is on the feed's own host (a cookie for the RSSHub instance is not the site's).
    A route's pages are the web's, whatever host its instance is on: they must be on public
    addresses (no feed URL); a feed's, when the feed's host is (fetch_pages.py)."""
    own_host = bool(spec.urls) and _host(spec.urls[0]) == _host(url)
    feed_url = spec.urls[0] if spec.urls and not spec.key.startswith("/") else ""
    return PageRequest(url, spec.user_agent, spec.headers if own_host else (), feed_url)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class _Text:
    """A page's main content, sanitised (relative URLs resolved against the page's)."""

    html: str


def _page_text(page: PageResult) -> _Text | str:
    """The page's main content, or why there is none."""
    if page.error is not None:
        return page.error
    try:
        html = extract(page.content, page.headers, page.final_url)
    except Exception as e:  # a bug in the extractor must cost one page, not the run
        log.exception("full text: extracting %s", page.final_url)
        return f"extraction failed ({type(e).__name__})"
    if html is None:
        return "not an HTML page" if not _is_html(page.content, page.headers) else "no text found"
    return _Text(sanitise_html(html, page.final_url))


def _feed_text(wanted: Wanted, texts: Mapping[str, _Text | str]) -> FeedText:
    articles, fetched, failed = [], 0, set()
    for article in wanted.articles:
        if article.id not in wanted.new:
            articles.append(keep_stored(article, wanted.stored.get(article.id)))
            continue
        found = texts.get(article.link, "no link to fetch")
        if isinstance(found, str):
            log.info("full text: %s: %s; the feed's text is kept", article.link, found)
            failed.add(article.id)
            articles.append(article)
            continue
        content = _without_title(found.html, article.title)
        text = sanitised_html_to_text(content)
        if longer(text, article.text):
            article = _with_content(article, content, text)
            fetched += 1
        articles.append(article)
    return FeedText(articles, fetched, len(failed), frozenset(failed))


def keep_stored(fresh: Article, stored: Article | None) -> Article:
    """The feed's copy of an article already in the archive, with the page text the archive
    keeps for it (when it has one: much longer than the feed's); the content hash is the one it
    was stored under, so an unchanged summary changes nothing."""
    if stored is None or not longer(stored.text, fresh.text):
        return fresh
    return _with_content(fresh, stored.content_html, stored.text)


def longer(text: str, than: str) -> bool:
    """Whether ``text`` is meaningfully longer than ``than`` (see _RATIO, _GAIN)."""
    return len(text) >= len(than) * _RATIO and len(text) - len(than) >= _GAIN


def _with_content(article: Article, content: str, text: str) -> Article:
    """``article`` with the page's content; its hash is the feed's hash and that content, so
    the feed's next copy with the stored text hashes the same, and a changed feed copy (a new
    title) still changes it."""
    image = article.image or first_image(content) or ""
    digest = hashlib.sha256("\x1f".join((article.content_hash, "full text", content, image))
                            .encode("utf-8")).hexdigest()
    return replace(article, content_html=content, text=text, image=image, content_hash=digest)


def _without_title(content: str, title: str) -> str:
    """The content without a leading ``<h1>`` that repeats the article's title (the page's
    headline: the site shows the title above the content already)."""
    match = _LEADING_H1.match(content)
    if match and html_to_text(match.group(1)) == " ".join(title.split()):
        return content[match.end():]
    return content


def extract(content: bytes, headers: Mapping[str, str], url: str) -> str | None:
    """The main content of an HTML page as HTML (unsanitised), or None: not HTML, or nothing
    that reads as an article. Navigation, comments, ads, related links and footers are left
    out (trafilatura's precision setting)."""
    if not _is_html(content, headers):
        return None
    encoding = choose_encoding(content, _with_meta_charset(content, headers))
    html = _bounded(decode(content[encoding.skip:], encoding.encoding))
    extracted = _trafilatura().extract(
        html, url=url, output_format="html", include_comments=False, include_images=True,
        include_links=True, include_tables=True, favor_precision=True, deduplicate=False)
    if not extracted:
        return None
    body = _WRAPPER.sub("", extracted)
    return body if body.strip() else None


def _bounded(html: str) -> str:
    """At most :data:`EXTRACT_MAX_CHARS` of ``html``, cut where a tag starts (the parser closes
    what is left open)."""
    if len(html) <= EXTRACT_MAX_CHARS:
        return html
    cut = html.rfind("<", 0, EXTRACT_MAX_CHARS)
    return html[:cut if cut > 0 else EXTRACT_MAX_CHARS]


def _trafilatura() -> Any:
    # Imported when a page is extracted: it costs ~0.3 s, which runs without full text skip.
    import trafilatura

    return trafilatura


def _is_html(content: bytes, headers: Mapping[str, str]) -> bool:
    media = content_type(headers)[0].lower()
    if media in _HTML_TYPES:
        return True
    generic = media in ("", "application/octet-stream", "text/plain")
    return generic and is_html_page(head_text(content), {"content-type": "text/html"})


def _with_meta_charset(content: bytes, headers: Mapping[str, str]) -> Mapping[str, str]:
    """The headers, with the page's ``<meta charset>`` as their charset when HTTP names none:
    the place an HTML page declares its encoding, where a feed has its XML declaration."""
    media, charset = content_type(headers)
    if charset:
        return headers
    meta = _META_CHARSET.search(content[:_PRESCAN])
    if meta is None:
        return headers
    label = meta.group(1).decode("ascii", "replace")
    return {**headers, "content-type": f"{media or 'text/html'}; charset={label}"}
