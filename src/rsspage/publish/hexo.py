"""Hexo posts: one Markdown file per article, in the exact format of DESIGN.md "Hexo post format".

Front matter, seven keys in this order and nothing else::

    title: '…'          single-quoted, an inner ' doubled
    categories:         [category, source, channel] as " - item" lines (plain when safe)
    headimg: '…'        article.image, '' when none
    author: …           the source (plain when safe)
    comments: false
    date: 2022-07-22 01:22:55    see "Dates" below
    thumbnail: '…'      same as headimg

Values are the article's strings with one change, :func:`hexo_text`: ``< > " '`` become the
full-width ``＜ ＞ ＂ ＇`` (they read the same). Hexo and its themes print title, categories and
author as raw HTML (core ``list_categories``, volantis' ``<%- post.title %>``), so a feed title
such as ``<img src=x onerror=…>`` (plain text to us) would run in every page of the blog; and
inside quoted attributes (volantis' share links ``title="<%- post.title %>"``,
``href='<%- url_for(post.path) %>'``) a quote ends the value: ``y" onmouseover="alert(2)``
would add an event handler, ``Brightline's plan`` (in the title, hence in the file name and the
permalink) would cut every link to the post short. File and folder names are made from the
same look-alike text.
``headimg``/``thumbnail`` are URLs: quotes, angle brackets, backticks and spaces in them are
percent-encoded (volantis prints headimg raw inside ``data-bg='…'``).

Single quotes cannot carry every string: a line break would fold into a space, and YAML forbids
control characters, U+FFFE/U+FFFF and lone surrogates outright. A value holding any of those
(or a tab, U+0085, U+2028, U+2029 or U+FEFF, which YAML 1.1 and 1.2 parsers read differently)
is written as a double-quoted scalar with escapes instead, so every value reads back exactly in
PyYAML (YAML 1.1) and js-yaml (Hexo). Every value stays on one line, so no line of the front
matter can ever be Hexo's closing ``---``.

Body: ``<div>``, the sanitised HTML, ``</div>``, the article's players (issue 12: an
``<audio>``/``<video controls preload="none">`` and a download link for each enclosure, from
:func:`rsspage.publish.players.player_html`; in the body rather than the front matter because
every theme shows the body's HTML as it is, and none knows a key for media), then a link to
the original. Hexo must not interpret feed text, so in the body only:

- ``{`` and ``}`` become ``&#123;`` and ``&#125;`` (Nunjucks tags, ``{% raw %}``, comments);
- runs of three or more ``\\``` or ``~`` become character references (Hexo's code-fence filter
  runs before Markdown and would turn them into highlighted code blocks);
- there is no blank line: hexo-renderer-marked ends an HTML block at a blank line and reads the
  rest as Markdown. Blank lines are dropped outside ``<pre>``; inside it the line break before a
  blank line becomes ``&#10;``, which renders the same.

All of these are replaced by character references, which browsers decode in text and in
attribute values alike, so the page shows exactly the sanitised HTML.

Dates: see :mod:`rsspage.publish.hexo_dates` (wall-clock time in the blog's zone).

File names: ``<category>/<source>/<channel>/<title>.md``, each segment made safe by
:func:`rsspage.publish.names.safe_segment`. When a name is taken, a suffix derived from the
article id (`` -a1b2c3``) is added, so a build that is re-run after a crash picks the same name.
A name, once assigned, is kept for good (the store remembers it), even if the title changes.

Incremental builds: the manifest records, beside each post's sha256, a digest of everything the
post is rendered from (:func:`post_inputs`, with :data:`POST_FORMAT`). A post whose digest is
unchanged and whose file is intact on disk (:class:`DiskCheck`) is kept without being rendered;
only the others are rendered, and only their articles' content is loaded. So a build without
change renders nothing and N new or changed articles render N posts.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from rsspage.errors import PublishError
from rsspage.publish.hexo_dates import (
    AUTO_DATES,
    SEED_DATES,
    SEED_DATES_SETTING,
    DateForm,
    date_form,
)
from rsspage.publish.hexo_yaml import plain_or_quoted_yaml
from rsspage.publish.hexo_yaml import quote_yaml as quote_yaml
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.players import player_html
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
#: Bump whenever render_post writes something else for the same article (format, escaping,
#: names of keys, a PyYAML that quotes otherwise): every post is then rendered again.
POST_FORMAT = "hexo-2"

def post_format(dates: DateForm) -> str:
    """:data:`POST_FORMAT` with the date form: posts are rendered again when either changes."""
    return f"{POST_FORMAT};date={dates.zone or SEED_DATES_SETTING}"


#: Posts rendered per batch, as the articles are read: their content is loaded for the batch
#: only, and the first posts are staged a few milliseconds into a build.
_BATCH = 100
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC

#: The whole articles (with their content) of the ids asked for that are in the archive, by id.
LoadArticles = Callable[[Sequence[str]], Mapping[str, Article]]


def render_post(article: Article, dates: DateForm | None = None) -> str:
    """The whole text of the article's Hexo post (UTF-8, LF line endings, final newline).

    ``dates`` says how the ``date`` is written; by default the seed's RFC 1123 text."""
    return _front_matter(article, dates or SEED_DATES) + "\n" + _body(article) + "\n"


def post_path(article: Article, is_free: Callable[[str], bool]) -> str:
    """A new relpath ``<category>/<source>/<channel>/<name>.md`` for which ``is_free`` holds."""
    folder = "/".join(
        (
            safe_segment(_name_text(article.category), MAX_FILE_NAME_BYTES,
                         fallback=UNCATEGORISED),
            safe_segment(_name_text(article.source), MAX_FILE_NAME_BYTES),
            safe_segment(_name_text(article.channel), MAX_FILE_NAME_BYTES),
        )
    )
    title = _name_text(article.title)
    for suffix in _suffixes(article.id):
        stem = safe_segment(title, MAX_FILE_NAME_BYTES - len(suffix) - len(_SUFFIX))
        candidate = f"{folder}/{stem}{suffix}{_SUFFIX}"
        if is_free(candidate):
            return candidate
    raise AssertionError("unreachable: _suffixes() never ends")


class _Post(NamedTuple):
    """A post to render in this build."""

    article_id: str
    relpath: str
    #: The file on disk is not what rsspage wrote: rewrite it even if the render is the same.
    rewrite: bool
    #: The article as given, when it came with its content (no ``load``).
    article: Article | None


def publish_hexo(
    articles: Iterable[Article], writer: OutputWriter, names: Mapping[str, str], *,
    load: LoadArticles | None = None, check: DiskCheck | None = None,
    dates: DateForm | None = None,
) -> dict[str, str]:
    """Give every article its post; return the relpath of each, by article id.

    ``names`` holds the relpaths assigned in earlier runs (article id → relpath); those are kept.
    Give every article that should have a post: ``writer.finish()`` removes the others' posts
    (but for those it is told to keep). A post rendered from the same inputs and intact on disk
    (``check``; by default each post is hashed) is kept; the others are rendered. With
    ``load``, ``articles`` may come without their content (``Store.articles(content=False)``):
    the articles of the posts to render are loaded whole, a batch at a time, so a full build
    never holds them all. ``dates`` defaults to :func:`date_form` ``("auto", writer.root)``.
    """
    dates = dates or date_form(AUTO_DATES, writer.root)
    new_names = _NewNames(names, writer)
    check = check or DiskCheck(writer.root)
    used: dict[str, str] = {}
    batch: list[_Post] = []
    for article in articles:  # one pass: the articles may come straight from the store
        if article.id in used:
            raise PublishError(f"article {article.id} given twice")
        relpath = names.get(article.id) or new_names.pick(article)
        used[article.id] = relpath
        intact = check.intact(relpath, writer.digest(relpath))
        if not (intact and _kept(article, relpath, writer, dates)):
            batch.append(_Post(article.id, relpath, not intact, None if load else article))
            if len(batch) == _BATCH:
                _render(batch, writer, load, check, dates)
                batch = []
    _render(batch, writer, load, check, dates)
    return used


class _NewNames:
    """Names for the articles that have none yet.

    Every name the store holds stays reserved, also for articles not in this batch, so a name
    never passes to another article; the order of the articles then only decides which of two
    new articles with the same title gets the plain name.
    """

    def __init__(self, names: Mapping[str, str], writer: OutputWriter) -> None:
        self._names = names
        self._writer = writer
        #: Clash keys of the names taken; made at the first new article (20,000 of them cost
        #: ~0.05 s, a build that has no new article does without).
        self._reserved: set[str] | None = None

    def pick(self, article: Article) -> str:
        if self._reserved is None:
            self._reserved = {clash_key(rel) for rel in self._names.values()}
        reserved = self._reserved
        relpath = post_path(article, lambda rel: clash_key(rel) not in reserved
                            and self._writer.is_free(rel))
        reserved.add(clash_key(relpath))  # written later: no other article may take it
        return relpath


def _kept(article: Article, relpath: str, writer: OutputWriter, dates: DateForm) -> bool:
    """Keep the intact post of ``article`` if it was rendered from what it would be now."""
    inputs = post_inputs(article, dates)
    if writer.inputs(relpath) != inputs or not writer.keep(relpath, article=article.id):
        return False
    writer.set_inputs(relpath, inputs)
    return True


def _render(batch: Sequence[_Post], writer: OutputWriter, load: LoadArticles | None,
            check: DiskCheck, dates: DateForm) -> None:
    loaded = load([post.article_id for post in batch]) if load and batch else {}
    for post in batch:
        article = post.article or loaded.get(post.article_id)
        if article is None:  # rendering it empty would record its post as up to date
            raise PublishError(f"article {post.article_id} left the store during the build")
        if post.rewrite:
            writer.changed_on_disk(post.relpath)
        text = render_post(article, dates)
        writer.write(post.relpath, text.encode("utf-8"), article=article.id)
        # Of the article as rendered: a change since it was first read is rendered now.
        writer.set_inputs(post.relpath, post_inputs(article, dates))
        check.written(post.relpath)


def post_inputs(article: Article, dates: DateForm | None = None) -> str:
    """A digest of everything :func:`render_post` reads of ``article``, and the format.

    ``content_hash`` stands for the content: normalise derives it from the content, and the
    store writes both together. The fields it also covers are named all the same, since the
    store changes some of them alone (a forgotten feed's articles take their new feed's names).
    """
    fields = (post_format(dates or SEED_DATES), article.title, article.category, article.source,
              article.channel, article.image, article.link, article.published.isoformat(),
              article.content_hash)
    # repr: unambiguous whatever the fields hold; ASCII escapes for what UTF-8 cannot encode.
    return hashlib.blake2b(repr(fields).encode("utf-8"), digest_size=16).hexdigest()


class DiskCheck:
    """Whether posts on disk are still the files rsspage wrote, without reading them all.

    A post is intact when its size, mtime and ctime are those ``seen`` after the build that
    last wrote or checked it (they describe one machine's copy of the files: kept in the
    state, not with the files, where a fresh checkout would change them all). When they differ
    (a first build here, a git checkout, a touched file) the file is read and its sha256
    compared with the manifest's. So a post edited by hand is rendered again even at the same
    size, also when the editor restored its mtime: nothing sets a ctime back.
    """

    def __init__(self, root: Path, seen: Mapping[str, str] | None = None) -> None:
        self._prefix = str(root) + os.sep
        self._seen = seen or {}
        #: relpath → what this build saw of it, for the next build (see :meth:`seen_after`).
        self._now: dict[str, str] = {}
        self._written: list[str] = []

    def intact(self, relpath: str, digest: str) -> bool:
        """Whether the file at ``relpath`` holds what has sha256 ``digest`` ("": unknown)."""
        if not digest:
            return False
        path = self._prefix + relpath
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode):
            return False  # a link or folder put there: the writer replaces or refuses it
        record = _disk_record(st, digest)
        if self._seen.get(relpath) != record and not _holds(path, st, digest):
            return False
        self._now[relpath] = record
        return True

    def written(self, relpath: str) -> None:
        """``relpath`` was given to the writer: look at it once it is in place."""
        self._written.append(relpath)

    def seen_after(self, writer: OutputWriter) -> dict[str, str]:
        """What the next build compares with (call after ``writer.finish()``)."""
        for relpath in self._written:
            try:
                st = os.lstat(self._prefix + relpath)
            except OSError:
                continue  # gone meanwhile: the next build hashes or rewrites it
            self._now[relpath] = _disk_record(st, writer.digest(relpath))
        return self._now


def _disk_record(st: os.stat_result, digest: str) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{digest}"


def _holds(path: str, st: os.stat_result, digest: str) -> bool:
    """Whether the file ``st`` describes, still unchanged, has sha256 ``digest``."""
    try:
        with open(os.open(path, _READ_FLAGS), "rb") as file:
            now = os.fstat(file.fileno())
            if not os.path.samestat(st, now) or _disk_record(now, "") != _disk_record(st, ""):
                return False  # replaced or changed since lstat: the record would not fit
            return hashlib.file_digest(file, "sha256").hexdigest() == digest
    except OSError:
        return False


# -- front matter -----------------------------------------------------------------------------


#: Full-width look-alikes of what a theme printing text raw would read as markup: ``< >`` open
#: tags, ``" '`` end the quoted attributes themes print titles and permalinks into.
_INERT = str.maketrans({"<": "＜", ">": "＞", '"': "＂", "'": "＇"})
_URL_UNSAFE = {ch: quote(ch) for ch in "'\"<>` "}


def hexo_text(text: str) -> str:
    """A title or name as written for Hexo: nothing a theme printing it raw reads as markup."""
    return text.translate(_INERT)


def _name_text(text: str) -> str:
    """A title or name as it goes into a file name, hence the permalink, which themes print raw
    into ``href='…'``: as :func:`hexo_text`, and ``&`` too (``&amp;`` would read as ``&``)."""
    return hexo_text(text).replace("&", "＆")


def hexo_url(url: str) -> str:
    """An image URL as written for Hexo: nothing that can leave a quoted HTML attribute."""
    return "".join(_URL_UNSAFE.get(ch, ch) for ch in url)


def _front_matter(article: Article, dates: DateForm) -> str:
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
        f"date: {dates.text(article.published)}",
        f"thumbnail: {image}",
        "---",
    ]
    return "\n".join(lines) + "\n"


# -- body ---------------------------------------------------------------------------------------


def _body(article: Article) -> str:
    content = article.content_html.replace("\r\n", "\n").replace("\r", "\n")
    players = player_html(article)
    players = f"\n{players}" if players else ""
    body = f"<div>\n{content}\n</div>{players}{_source_link(article.link)}"
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
