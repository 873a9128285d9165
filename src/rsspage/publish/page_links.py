"""An article page whose links to its neighbours alone changed is not rendered again.

An article that arrives late (a feed added with last week's items, one catching up after an
outage, a corrected date) changes the "older" and "newer" links of the articles on either side
of it in its channel. 2,000 articles interleaved with an archive of 100,000 touched ~2,800 such
pages, each loaded from the store with its whole content and rendered whole for one line of
links: 45 % of the pages that update wrote. Their digest keeps the links apart
(:attr:`~rsspage.publish.site_pages.Page.links`), and ``article.html`` puts the links between
two marks; when only the links changed, the links are rendered alone (``_prevnext.html``) and
put between the marks of the bytes rsspage wrote last. Those bytes are read through the
writer, which returns them only while they are what its manifest's sha256 says it wrote: a
page changed by hand, or a template of the user's without the marks, is rendered whole. The
result is the page a whole render gives (tests/test_site_delta.py compares them byte for byte).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import jinja2.meta

from rsspage.publish.site_pages import TEMPLATES, Page
from rsspage.publish.writer import OutputWriter

START = b"<!--pn-->"
END = b"<!--/pn-->"
TEMPLATE = "_prevnext.html"
#: Between a page's key and its links' hash (in no version, template name or hash).
_LINKS = "\x1e"


def page_key(version: str, page: Page) -> str:
    """What ``page`` is rendered from, as the site's page hashes keep it: its links last."""
    key = f"{version}:{page.template}:{page.digest}"
    return f"{key}{_LINKS}{page.links}" if page.links else key


def links_only(page: Page, previous: str | None, key: str) -> bool:
    """Whether the page's ``previous`` key differs from ``key`` in the links alone."""
    return (bool(page.links) and previous is not None and previous != key
            and previous.rpartition(_LINKS)[0] == key.rpartition(_LINKS)[0])


def relinkable(env: jinja2.Environment, template: str = "article.html") -> bool:
    """Whether pages of ``template`` may be relinked: every template it is made of (extended,
    included) is the package's. One of the user's may use ``older``/``newer`` outside the
    marks, or put other links between them, which a splice would leave stale."""
    loader = env.loader
    assert loader is not None
    seen: set[str] = set()
    todo = [template]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            source, filename, _ = loader.get_source(env, name)
        except jinja2.TemplateNotFound:
            return False
        if filename is None or Path(filename).parent != TEMPLATES:
            return False
        todo += [n for n in jinja2.meta.find_referenced_templates(env.parse(source)) if n]
    return True


def relinked(previous: bytes, links: str) -> bytes | None:
    """``previous`` with ``links`` between its marks; None unless each mark is there once, in
    order (feed HTML holds no comments: the sanitiser drops them, and titles are escaped)."""
    start, end = previous.find(START), previous.find(END)
    if previous.count(START) != 1 or previous.count(END) != 1 or end < start:
        return None
    return previous[:start + len(START)] + links.encode("utf-8") + previous[end:]


def relink(env: jinja2.Environment, page: Page, writer: OutputWriter, root: str) -> bytes | None:
    """``page`` with new links, in the bytes written last; None when it must be rendered whole
    (its file is not as written, or has no marks)."""
    previous = writer.read_owned(page.path)
    if previous is None:
        return None
    try:
        links = env.get_template(TEMPLATE).render(page.context, root=root)
    except jinja2.TemplateError:
        return None  # rendered whole, which reports the template's error as it should
    return relinked(previous, links)
