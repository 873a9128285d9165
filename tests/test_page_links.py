"""An article page whose links to its neighbours alone changed gets new links in the bytes
written last, not a whole render (publish/page_links.py): the page must be the one a whole
render gives, and anything not as rsspage wrote it is rendered whole."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rsspage.config import Config
from rsspage.fileio import TMP_SUFFIX
from rsspage.publish import page_links, search_index
from rsspage.publish.outputs import publish_site
from rsspage.publish.site_model import article_path
from rsspage.store import Store
from test_site_delta import FEEDS, NOW, STEPS, Archive, files, make_article, make_config

CHANNEL = FEEDS[0]


@pytest.fixture
def relinks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each page offered for new links, and whether it got them (Pagefind left out: the
    search shards are not what this is about)."""
    monkeypatch.setattr(search_index, "find_binary", lambda: None)
    seen: list[tuple[str, bool]] = []
    real = page_links.relink

    def spying(env: Any, page: Any, writer: Any, root: str) -> bytes | None:
        data = real(env, page, writer, root)
        seen.append((page.path, data is not None))
        return data
    monkeypatch.setattr(page_links, "relink", spying)
    return seen


def fresh(config: Config, archive: Archive) -> dict[str, bytes]:
    """The site built whole into an empty folder."""
    assert config.output.site is not None
    shutil.rmtree(config.output.site, ignore_errors=True)
    with Store.open(archive.state) as s:
        publish_site(config, s, NOW)
    return files(config.output.site)


def build(config: Config, archive: Archive) -> dict[str, bytes]:
    assert config.output.site is not None
    with Store.open(archive.state) as s:
        publish_site(config, s, NOW)
    return files(config.output.site)


def three_in_a_channel(tmp_path: Path) -> tuple[Config, Config, Archive]:
    a, b = (make_config(tmp_path, name) for name in ("a", "b"))
    archive = Archive(a.output.state, 1)
    archive.save(*(make_article(n, CHANNEL, NOW - timedelta(hours=10 - 2 * n))
                   for n in (1, 2, 3)))
    archive.next = 3
    return a, b, archive


def test_a_late_article_relinks_its_neighbours(tmp_path: Path,
                                               relinks: list[tuple[str, bool]]) -> None:
    a, b, archive = three_in_a_channel(tmp_path)
    build(a, archive)
    assert relinks == []  # the first build renders every page whole
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))  # between 2 and 3
    got = build(a, archive)
    neighbours = {article_path("id0002"), article_path("id0003")}
    assert {path for path, done in relinks if done} == neighbours
    assert got == fresh(b, archive)
    older = got[article_path("id0003")].decode()
    assert 'rel="prev" href="../../a/' in older and "第4条新闻" in older


def test_a_neighbour_page_changed_by_hand_is_rendered_whole(
        tmp_path: Path, relinks: list[tuple[str, bool]]) -> None:
    a, b, archive = three_in_a_channel(tmp_path)
    build(a, archive)
    assert a.output.site is not None
    edited = a.output.site / article_path("id0002")
    edited.write_bytes(edited.read_bytes().replace(b"<!--pn-->", b"<!--pn--><p>mine</p>"))
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))
    got = build(a, archive)
    assert (article_path("id0002"), False) in relinks
    assert (article_path("id0003"), True) in relinks
    assert got == fresh(b, archive)


def test_templates_without_the_marks_render_whole(tmp_path: Path,
                                                  relinks: list[tuple[str, bool]]) -> None:
    a, b, archive = three_in_a_channel(tmp_path)
    theirs = tmp_path / "templates"
    theirs.mkdir()
    package = Path(page_links.__file__).parent / "templates" / "article.html"
    (theirs / "article.html").write_text(
        package.read_text("utf-8").replace("<!--pn-->", "").replace("<!--/pn-->", ""), "utf-8")
    build(a, archive)
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))
    got = build(a, archive)
    assert relinks == []
    assert got == fresh(b, archive)
    assert b"<!--pn-->" not in got[article_path("id0003")]


@pytest.mark.parametrize("override", ["article", "base"])
def test_a_template_of_the_users_keeps_pages_rendered_whole(
        tmp_path: Path, relinks: list[tuple[str, bool]], override: str) -> None:
    """Links of its own between the marks, or ``older`` used outside them (a ``<link>`` in
    the head): a splice would leave them stale, so no page made with them is relinked."""
    a, b, archive = three_in_a_channel(tmp_path)
    theirs = tmp_path / "templates"
    theirs.mkdir()
    package = Path(page_links.__file__).parent / "templates"
    if override == "article":
        text = (package / "article.html").read_text("utf-8").replace(
            '{% include "_prevnext.html" %}',
            '{% if older %}<a href="{{ root }}{{ older.path }}">{{ older.article.title }}</a>'
            '{% endif %}')
    else:
        text = (package / "base.html").read_text("utf-8").replace(
            "{% block head %}", '{% if view is defined and older %}<link rel="prev" '
            'href="{{ root }}{{ older.path }}">{% endif %}{% block head %}')
    (theirs / f"{override}.html").write_text(text, "utf-8")
    build(a, archive)
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))
    got = build(a, archive)
    assert relinks == []
    assert got == fresh(b, archive)
    assert "第4条新闻" in got[article_path("id0003")].decode() if override == "article" \
        else 'rel="prev"' in got[article_path("id0003")].decode()


def test_relinked_pages_get_their_compressed_copies(tmp_path: Path,
                                                    relinks: list[tuple[str, bool]]) -> None:
    a, b = (make_config(tmp_path, name, ", precompress: gzip") for name in ("a", "b"))
    archive = Archive(a.output.state, 1)
    archive.save(*(make_article(n, CHANNEL, NOW - timedelta(hours=10 - 2 * n))
                   for n in (1, 2, 3)))
    build(a, archive)
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))
    got = build(a, archive)
    assert sum(done for _, done in relinks) == 2
    assert article_path("id0003") + ".gz" in got
    assert got == fresh(b, archive)


def test_a_build_failing_after_its_pages_leaves_the_site_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feeds and the sitemap are written while the search may still run (with Pagefind
    when it is installed): their failure drops the staged pages and the new search shards."""
    from rsspage.errors import PublishError
    from rsspage.publish import site_output
    a, _, archive = three_in_a_channel(tmp_path)
    before = build(a, archive)

    def failing(*args: Any, **kwargs: Any) -> dict[str, str]:
        raise PublishError("disk full")
    monkeypatch.setattr(site_output, "write_feeds", failing)
    archive.save(make_article(4, CHANNEL, NOW - timedelta(hours=5)))
    with pytest.raises(PublishError, match="disk full"), Store.open(archive.state) as s:
        publish_site(a, s, NOW)
    assert a.output.site is not None
    assert files(a.output.site) == before
    assert not [p for p in a.output.site.rglob("*") if p.name.endswith(TMP_SUFFIX)]


@pytest.mark.parametrize("seed", [1, 2])
def test_relinked_pages_equal_pages_rendered_into_an_empty_folder(
        tmp_path: Path, relinks: list[tuple[str, bool]], seed: int) -> None:
    """The random steps of tests/test_site_delta.py (late articles, edits, moves, prunes,
    clusters), each built from the changes and compared with a site built whole into an
    empty folder (a build into a folder it built before would relink too)."""
    a, b = (make_config(tmp_path, name) for name in ("a", "b"))
    archive = Archive(a.output.state, seed)
    archive.new(40, newest=False)
    archive.new(10, newest=True)
    for name, step in [("first", lambda _: None), *STEPS]:
        step(archive)
        got, want = build(a, archive), fresh(b, archive)
        assert sorted(got) == sorted(want), name
        assert [p for p in want if got[p] != want[p]] == [], name
    assert sum(done for _, done in relinks) > 20


@pytest.mark.parametrize("page", [
    b"<p>a</p>", b"<!--pn-->x", b"x<!--/pn--><!--pn-->", b"<!--pn--><!--pn--><!--/pn-->",
    b"<!--pn-->a<!--/pn-->b<!--/pn-->"])
def test_a_page_without_its_marks_once_in_order_is_not_relinked(page: bytes) -> None:
    assert page_links.relinked(page, "<nav></nav>") is None


def test_links_go_between_the_marks() -> None:
    old = b"<main><!--pn--><nav>old</nav>\n<!--/pn-->\n</main>"
    assert page_links.relinked(old, "<nav>新</nav>\n") == \
        "<main><!--pn--><nav>新</nav>\n<!--/pn-->\n</main>".encode()
    assert page_links.relinked(old, "") == b"<main><!--pn--><!--/pn-->\n</main>"
