"""Hexo posts: one Markdown file per article, in the exact format of DESIGN.md "Hexo post format".

Front matter, seven keys in this order and nothing else::

    title: '…'          single-quoted, an inner ' doubled
    categories:         [category, source, channel] as " - item" lines (plain when safe)
    headimg: '…'        article.image, '' when none
    author: …           the source (plain when safe)
    comments: false
    date: Thu, 21 Jul 2022 17:22:55 GMT
    thumbnail: '…'      same as headimg

Values are the article's strings with one change, :func:`hexo_text`: ``<`` and ``>`` become the
full-width ``＜`` ``＞`` (they read the same). Hexo and its themes print title, categories and
author as raw HTML (core ``list_categories``, volantis' ``<%- post.title %>``), so a feed title
such as ``<img src=x onerror=…>`` (plain text to us) would run in every page of the blog.
``headimg``/``thumbnail`` are URLs: quotes, angle brackets, backticks and spaces in them are
percent-encoded (volantis prints headimg raw inside ``data-bg='…'``).

Single quotes cannot carry every string: a line break would fold into a space, and YAML forbids
control characters, U+FFFE/U+FFFF and lone surrogates outright. A value holding any of those
(or a tab, U+0085, U+2028, U+2029 or U+FEFF, which YAML 1.1 and 1.2 parsers read differently)
is written as a double-quoted scalar with escapes instead, so every value reads back exactly in
PyYAML (YAML 1.1) and js-yaml (Hexo). Every value stays on one line, so no line of the front
matter can ever be Hexo's closing ``---``.

Body: ``<div>``, the sanitised HTML, ``</div>``, then a link to the original. Hexo must not
interpret feed text, so in the body only:

- ``{`` and ``}`` become ``&#123;`` and ``&#125;`` (Nunjucks tags, ``{% raw %}``, comments);
- runs of three or more ``\\``` or ``~`` become character references (Hexo's code-fence filter
  runs before Markdown and would turn them into highlighted code blocks);
- there is no blank line: hexo-renderer-marked ends an HTML block at a blank line and reads the
  rest as Markdown. Blank lines are dropped outside ``<pre>``; inside it the line break before a
  blank line becomes ``&#10;``, which renders the same.

All of these are replaced by character references, which browsers decode in text and in
attribute values alike, so the page shows exactly the sanitised HTML.

File names: ``<category>/<source>/<channel>/<title>.md``, each segment made safe by
:func:`rsspage.publish.names.safe_segment`. When a name is taken, a suffix derived from the
article id (`` -a1b2c3``) is added, so a build that is re-run after a crash picks the same name.
A name, once assigned, is kept for good (the store remembers it), even if the title changes.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from email.utils import format_datetime
from urllib.parse import quote

import yaml

from rsspage.errors import PublishError
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.writer import OutputWriter
from rsspage.types import UNCATEGORISED, Article

#: Longest file name, in bytes of UTF-8, including the suffix and ".md".
MAX_FILE_NAME_BYTES = 200
_SUFFIX = ".md"
#: Hex digits of the id-derived suffix tried in turn when a name is taken.
_SUFFIX_LENGTHS = (6, 10, 16, 64)

_FENCE = re.compile(r"`{3,}|~{3,}")
_PRE = re.compile(r"(<pre\b.*?(?:</pre\s*>|\Z))", re.IGNORECASE | re.DOTALL)
_BLANK_LINE_OUTSIDE_PRE = re.compile(r"\n[ \t]*(?=\n)")
_BREAK_BEFORE_BLANK_LINE = re.compile(r"\n(?=[ \t]*\n)")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: White space and controls have no place in a URL; percent-encoding them keeps it one line.
_UNSAFE_IN_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
#: Plain words that YAML 1.1 or 1.2 read as booleans or null (compared lower-cased).
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null"])


def render_post(article: Article) -> str:
    """The whole text of the article's Hexo post (UTF-8, LF line endings, final newline)."""
    return _front_matter(article) + "\n" + _body(article) + "\n"


def post_path(article: Article, is_free: Callable[[str], bool]) -> str:
    """A new relpath ``<category>/<source>/<channel>/<name>.md`` for which ``is_free`` holds."""
    folder = "/".join(
        (
            safe_segment(article.category, MAX_FILE_NAME_BYTES, fallback=UNCATEGORISED),
            safe_segment(article.source, MAX_FILE_NAME_BYTES),
            safe_segment(article.channel, MAX_FILE_NAME_BYTES),
        )
    )
    for suffix in _suffixes(article.id):
        stem = safe_segment(article.title, MAX_FILE_NAME_BYTES - len(suffix) - len(_SUFFIX))
        candidate = f"{folder}/{stem}{suffix}{_SUFFIX}"
        if is_free(candidate):
            return candidate
    raise AssertionError("unreachable: _suffixes() never ends")


def publish_hexo(
    articles: Iterable[Article], writer: OutputWriter, names: Mapping[str, str]
) -> dict[str, str]:
    """Write a post for every article; return the relpath of each, by article id.

    ``names`` holds the relpaths assigned in earlier runs (article id → relpath); those are kept.
    Give every article that should have a post: ``writer.finish()`` removes the others' posts
    (but for those it is told to keep).
    """
    # Every name the store holds stays reserved, also for articles not in this batch, so a name
    # never passes to another article; the order of the articles then only decides which of
    # two new articles with the same title gets the plain name.
    reserved = {clash_key(rel) for rel in names.values()}

    def is_free(relpath: str) -> bool:
        return clash_key(relpath) not in reserved and writer.is_free(relpath)

    used: dict[str, str] = {}
    for article in articles:  # one pass: the articles may come straight from the store
        if article.id in used:
            raise PublishError(f"article {article.id} given twice")
        relpath = names.get(article.id) or post_path(article, is_free)
        used[article.id] = relpath
        writer.write(relpath, render_post(article).encode("utf-8"), article=article.id)
    return used


# -- front matter -----------------------------------------------------------------------------


_INERT = str.maketrans({"<": "＜", ">": "＞"})
_URL_UNSAFE = {ch: quote(ch) for ch in "'\"<>` "}


def hexo_text(text: str) -> str:
    """A title or name as written for Hexo: no ``<``/``>`` that a theme could print as a tag."""
    return text.translate(_INERT)


def hexo_url(url: str) -> str:
    """An image URL as written for Hexo: nothing that can leave a quoted HTML attribute."""
    return "".join(_URL_UNSAFE.get(ch, ch) for ch in url)


def _front_matter(article: Article) -> str:
    published = article.published
    if published.tzinfo is None:  # Article promises aware UTC; never guess another zone
        published = published.replace(tzinfo=UTC)
    image = quote_yaml(hexo_url(article.image))
    source = hexo_text(article.source)
    lines = [
        "---",
        f"title: {quote_yaml(hexo_text(article.title))}",
        "categories: ",
        *(f" - {plain_or_quoted_yaml(hexo_text(name))}"
          for name in (article.category, article.source, article.channel)),
        f"headimg: {image}",
        f"author: {plain_or_quoted_yaml(source)}",
        "comments: false",
        f"date: {format_datetime(published.astimezone(UTC), usegmt=True)}",
        f"thumbnail: {image}",
        "---",
    ]
    return "\n".join(lines) + "\n"


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


# -- body ---------------------------------------------------------------------------------------


def _body(article: Article) -> str:
    content = article.content_html.replace("\r\n", "\n").replace("\r", "\n")
    body = f"<div>\n{content}\n</div>{_source_link(article.link)}"
    body = body.replace("{", "&#123;").replace("}", "&#125;")
    body = _FENCE.sub(lambda m: _char_refs(m.group()), body)
    body = body.replace("\u2028", "&#8232;").replace("\u2029", "&#8233;")
    body = _SURROGATE.sub("\ufffd", body)  # not encodable as UTF-8
    return "".join(
        _BREAK_BEFORE_BLANK_LINE.sub("&#10;", part) if i % 2 else
        _BLANK_LINE_OUTSIDE_PRE.sub("", part)
        for i, part in enumerate(_PRE.split(body))
    )


def _source_link(link: str) -> str:
    """The link to the original, on its own line; empty unless the link is http(s)."""
    if not link.lower().startswith(("http://", "https://")):
        return ""  # never publish a javascript: or relative link as "read the original"
    href = html.escape(_UNSAFE_IN_URL.sub(lambda m: quote(m.group()), link), quote=True)
    return (f'\n<p class="rsspage-source"><a href="{href}" target="_blank" '
            f'rel="noopener noreferrer">阅读原文</a></p>')


def _char_refs(text: str) -> str:
    return "".join(f"&#{ord(ch)};" for ch in text)


# -- names --------------------------------------------------------------------------------------


def _suffixes(article_id: str) -> Iterable[str]:
    """``""``, then ever longer id-derived suffixes, then numbered ones: never exhausted."""
    digest = hashlib.sha256(article_id.encode("utf-8", "surrogatepass")).hexdigest()
    yield ""
    for length in _SUFFIX_LENGTHS:
        yield f" -{digest[:length]}"
    n = 2
    while True:
        yield f" -{digest[:16]}-{n}"
        n += 1
