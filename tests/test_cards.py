"""A listing's cards are rendered once per build, article and layout (fragments.Cards).

Each article is on four listings (home, category, source, channel) at four depths; its card
is rendered once with a stand-in for the relative ``root`` that each page replaces. Real site
builds of test_site's articles: the pages must be those of cards rendered on every page.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from rsspage.errors import PublishError
from rsspage.publish import fragments
from rsspage.publish.site_model import ArticleView, article_path
from test_render_pool import tree
from test_site import ARTICLES, make_article, make_site, select


@pytest.fixture(autouse=True)
def no_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages only: Pagefind's bundles differ from build to build, and take time."""
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))


def test_a_card_is_rendered_once_and_links_right_at_every_depth(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: Counter[tuple[str, str]] = Counter()
    render = fragments.Cards._render

    def counted(cards: fragments.Cards, missing: dict[tuple[str, str], ArticleView],
                layout: str) -> None:
        rendered.update((view.article.id, layout) for view in missing.values())
        render(cards, missing, layout)

    monkeypatch.setattr(fragments.Cards, "_render", counted)
    site = make_site(tmp_path)
    site.build()
    # Every article is on its home, category, source and channel listings: one card each
    # for each layout they have (a page of articles without pictures is a list).
    assert max(rendered.values()) == 1
    assert {id for id, _ in rendered} == {a.id for a in ARTICLES}
    assert len(rendered) < 1.5 * len(ARTICLES)
    article = ARTICLES[-1]  # the newest: on the first page of each of its listings
    page = site.page(article_path(article.id))
    # Home, category, source (the crumbs) and channel (the meta line), relative to a/xx/.
    hrefs = [a.get("href") for a in select(page, "nav.crumbs a") + select(page, "p.meta a")]
    listings = list(dict.fromkeys(unquote(h.removeprefix("../../")) for h in hrefs))
    assert len(listings) == 4 and listings[0] == "index.html"
    for listing in listings:
        depth = listing.count("/")
        links = [a.get("href") for a in select(site.page(listing), ".cards h2 a")]
        assert "../" * depth + article_path(article.id) in links, listing
    for rel, data in tree(site.root).items():
        if rel.endswith(".html"):
            assert b"\x00" not in data, rel  # no stand-in left anywhere


def test_the_pages_do_not_depend_on_what_the_cards_cache_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "whole").mkdir()
    (tmp_path / "tiny").mkdir()
    whole = make_site(tmp_path / "whole")
    whole.build()
    monkeypatch.setattr(fragments.Cards.__init__, "__defaults__", (1,))  # keeps one card
    tiny = make_site(tmp_path / "tiny")
    tiny.build()
    assert tree(whole.root) == tree(tiny.root)


def test_a_title_like_the_stand_in_is_shown_as_it_is(tmp_path: Path) -> None:
    odd = make_article(99, title="root \x00root\x00 ../ & <b>粗</b> {{ root }}")
    site = make_site(tmp_path)
    site.build([*ARTICLES[:5], odd])
    home = (site.root / "index.html").read_text("utf-8")
    assert "root \x00root\x00 ../ &amp; &lt;b&gt;粗&lt;/b&gt; {{ root }}" in home
    links = [a.get("href") for a in select(site.page("index.html"), ".cards h2 a")]
    assert len(links) == 5 and all(link.startswith("a/") for link in links)
    assert article_path(odd.id) in links


def test_a_users_cards_template_is_used_and_checked(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_cards.html").write_text(
        '{% for v in items %}<li class="mine"><a href="{{ root }}{{ v.path }}">'
        "{{ v.article.title }}</a></li>{{ end }}{% endfor %}", encoding="utf-8")
    site.build()
    home = site.page("index.html")
    assert len(select(home, "li.mine")) == 5
    assert select(home, "li.mine a")[0].get("href") == article_path(ARTICLES[-1].id)
    for wrong in ("{% for v in items %}<li>{{ v.article.title }}</li>{% endfor %}",
                  # Each card's end before it: every card would go to the next article.
                  "{% for v in items %}{{ end }}<li>{{ v.article.title }}</li>{% endfor %}",
                  # A heading outside the loop would stick to one card on other pages.
                  "<h2>卡片</h2>{% for v in items %}<li>{{ v.path }}</li>{{ end }}{% endfor %}"):
        (templates / "_cards.html").write_text(wrong, encoding="utf-8")
        with pytest.raises(PublishError, match=r"_cards\.html must write \{\{ end \}\}"):
            site.build()
    (templates / "_cards.html").write_text(
        "{% for v in items %}\n<li>{{ v.path }</li>{{ end }}{% endfor %}", encoding="utf-8")
    with pytest.raises(PublishError, match=r"template _cards\.html \(line 2\)"):
        site.build()
