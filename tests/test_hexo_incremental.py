"""Hexo posts cost what changed (issue 10): a build renders only the posts of new or changed
articles, and of posts that are not on disk as rsspage wrote them.

A real SQLite store and real output folders; what a build rendered is read from the WriteStats
that publish_hexo_posts returns (``rendered``: given to the writer; ``kept``: not rendered).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rsspage.config import Config, parse_config
from rsspage.errors import PublishError
from rsspage.publish import hexo
from rsspage.publish.hexo import post_inputs, publish_hexo, render_post
from rsspage.publish.outputs import publish_hexo_posts
from rsspage.publish.write_stats import WriteStats
from rsspage.publish.writer import OutputWriter
from rsspage.store import Store
from rsspage.types import Article, FeedSpec, FetchResult, FetchStatus

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SPEC = FeedSpec(key="https://example.com/feed", urls=("https://example.com/feed",),
                category="新媒体", source="快科技", channel="最新新闻")
OK = FetchResult(key=SPEC.key, status=FetchStatus.OK, url=SPEC.key, http_status=200)
MANIFEST = ".rsspage-manifest.json"
BUILD_RECORD = ".rsspage-build.json"


def article(n: int, content: str = "") -> Article:
    title, body = f"第{n}条新闻：小米发布新芯片", content or f"<p>正文 {n}</p>"
    return Article(
        id=f"id{n}", feed_key=SPEC.key, title=title, link=f"https://example.com/{n}.html",
        published=NOW - timedelta(hours=n), date_estimated=False, date_clamped=False,
        updated=None, author="", category=SPEC.category, source=SPEC.source,
        channel=SPEC.channel, content_html=body, text=body, image="",
        # As normalise does: the hash changes with the content and title.
        content_hash=hashlib.sha256(f"{title}\x1f{body}".encode()).hexdigest(),
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    text = (f"feeds:\n  - {{url: '{SPEC.key}', category: {SPEC.category}, "
            f"source: {SPEC.source}, channel: {SPEC.channel}}}\n"
            "output: {state: state, hexo: blog/source/_posts}\n")
    path = tmp_path / "rsspage.yml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def store_and_build(config: Config, *articles: Article, full: bool = False) -> WriteStats:
    with Store.open(config.output.state) as store:
        if articles:
            store.save_feed(SPEC, OK, articles, None, NOW)
        return publish_hexo_posts(config, store, full=full)


def hexo_root(config: Config) -> Path:
    assert config.output.hexo is not None
    return config.output.hexo


def posts(config: Config) -> dict[str, bytes]:
    root = hexo_root(config)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.md")}


def post_of(config: Config, n: int) -> Path:
    (path,) = hexo_root(config).rglob(f"第{n}条*.md")
    return path


def test_a_rebuild_without_change_renders_nothing(config: Config) -> None:
    stats = store_and_build(config, *map(article, range(1, 4)))
    assert (stats.rendered, stats.written, stats.kept) == (3, 3, 0)
    files = [*hexo_root(config).rglob("*.md"), hexo_root(config) / MANIFEST]
    mtimes = [p.stat().st_mtime_ns for p in files]
    stats = store_and_build(config)
    assert (stats.rendered, stats.written, stats.kept, stats.removed) == (0, 0, 3, 0)
    assert mtimes == [p.stat().st_mtime_ns for p in files]  # the manifest too
    # No journal; the record of the build (build_record.py) beside the manifest.
    assert sorted(p.name for p in hexo_root(config).glob(".*")) == [BUILD_RECORD, MANIFEST]


def test_new_articles_render_their_posts_only(config: Config) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    stats = store_and_build(config, article(4))
    assert (stats.rendered, stats.written, stats.kept) == (1, 1, 3)
    stats = store_and_build(config, *map(article, range(5, 15)))
    assert (stats.rendered, stats.written, stats.kept) == (10, 10, 4)
    assert len(posts(config)) == 14


def test_a_changed_article_renders_its_post_again(config: Config) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    stats = store_and_build(config, article(2, content="<p>更正后的正文</p>"))
    assert (stats.rendered, stats.written, stats.kept) == (1, 1, 2)
    assert "更正后的正文" in post_of(config, 2).read_text("utf-8")


def test_a_post_edited_by_hand_is_restored_even_at_the_same_size_and_mtime(
        config: Config) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    path = post_of(config, 2)
    original, st = path.read_bytes(), path.stat()
    edited = original.replace("正文 2".encode(), "正文 9".encode())
    assert len(edited) == len(original) and edited != original
    path.write_bytes(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # an editor that keeps the mtime
    # Nothing changed in the archive: the build is skipped (build_record.py) …
    assert store_and_build(config).rendered == 0 and path.read_bytes() == edited
    # … and `rsspage build --full` checks every file.
    stats = store_and_build(config, full=True)
    assert (stats.rendered, stats.written, stats.kept) == (1, 1, 2)
    assert path.read_bytes() == original


def test_a_deleted_post_is_written_again(config: Config) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    before = posts(config)
    post_of(config, 3).unlink()
    stats = store_and_build(config, full=True)
    assert (stats.rendered, stats.written, stats.kept) == (1, 1, 2)
    assert posts(config) == before


def test_a_format_bump_renders_every_post(config: Config,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    before = posts(config)
    monkeypatch.setattr(hexo, "POST_FORMAT", "hexo-next")
    stats = store_and_build(config)
    # Rendered again; the same text as before is not written again.
    assert (stats.rendered, stats.written, stats.kept) == (3, 0, 0)
    assert posts(config) == before
    assert store_and_build(config).rendered == 0


def test_touched_or_copied_posts_are_checked_by_their_hash_not_rendered(
        config: Config, tmp_path: Path) -> None:
    """What a fresh git checkout of the posts looks like: every mtime and ctime is new."""
    store_and_build(config, *map(article, range(1, 4)))
    for path in hexo_root(config).rglob("*.md"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert store_and_build(config).rendered == 0
    blog = hexo_root(config).parents[1]
    shutil.move(blog, tmp_path / "elsewhere")
    shutil.copytree(tmp_path / "elsewhere", blog)
    stats = store_and_build(config)
    assert (stats.rendered, stats.kept) == (0, 3)
    post_of(config, 1).write_text("edited", encoding="utf-8")
    assert store_and_build(config, full=True).rendered == 1  # the check is made on the copy


def test_a_manifest_without_inputs_renders_once_and_writes_nothing(config: Config) -> None:
    """The upgrade from a version that did not record what posts were rendered from."""
    store_and_build(config, *map(article, range(1, 4)))
    manifest = hexo_root(config) / MANIFEST
    body = json.loads(manifest.read_bytes())
    assert len(body.pop("inputs")) == 3
    manifest.write_text(json.dumps(body), encoding="utf-8")
    stats = store_and_build(config)
    assert (stats.rendered, stats.written) == (3, 0)
    assert store_and_build(config).rendered == 0


def test_a_removed_article_loses_its_post_and_the_others_keep_their_names(
        config: Config) -> None:
    store_and_build(config, *map(article, range(1, 4)))
    with Store.open(config.output.state) as store:
        names = store.published_names("hexo")
        assert store.prune(NOW - timedelta(hours=2, minutes=30), NOW) == 1  # article 3
        stats = publish_hexo_posts(config, store)
        assert (stats.rendered, stats.removed, stats.kept) == (0, 1, 2)
        assert store.published_names("hexo") == {i: names[i] for i in ("id1", "id2")}
    assert sorted(posts(config)) == sorted(names[i] for i in ("id1", "id2"))


def test_an_article_handed_to_another_feed_is_rendered_with_its_names(
        config: Config) -> None:
    """Forgetting a feed hands an article another feed also brought to that feed: its names
    change, its content_hash does not, and its post keeps its file name."""
    other = FeedSpec(key="https://other.example/feed", urls=("https://other.example/feed",),
                     category="科技", source="IT之家", channel="最新")
    store_and_build(config, article(1), article(2))
    with Store.open(config.output.state) as store:
        twin = replace(article(1), id="twin", feed_key=other.key)  # the same link: an alias
        store.save_feed(other, replace(OK, key=other.key, url=other.key), [twin], None, NOW)
        name = store.published_names("hexo")["id1"]
        assert store.forget_feed(SPEC.key, NOW) == (1, 1)
        stats = publish_hexo_posts(config, store)
    assert (stats.rendered, stats.written, stats.removed, stats.kept) == (1, 1, 1, 0)
    assert " - 科技\n - IT之家\n - 最新\n" in (hexo_root(config) / name).read_text("utf-8")


# -- publish_hexo itself ------------------------------------------------------------------------


class Loads:
    """An archive of ``articles`` for publish_hexo's ``load``, that records what it gave."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.articles = {a.id: a for a in articles}
        self.asked: list[str] = []

    def __call__(self, ids: Sequence[str]) -> dict[str, Article]:
        self.asked += ids
        return {i: self.articles[i] for i in ids if i in self.articles}


def publish(root: Path, articles: Sequence[Article], names: dict[str, str],
            loads: Loads) -> tuple[dict[str, str], WriteStats]:
    writer = OutputWriter(root)
    bare = [replace(a, content_html="") for a in articles]
    used = publish_hexo(bare, writer, names, load=loads)
    return used, writer.finish()


def test_content_is_loaded_only_for_the_posts_rendered(tmp_path: Path) -> None:
    articles = [article(n) for n in range(1, 6)]
    loads = Loads(articles)
    names, _ = publish(tmp_path / "out", articles, {}, loads)
    assert sorted(loads.asked) == sorted(a.id for a in articles)
    assert (tmp_path / "out" / names["id1"]).read_text("utf-8") == render_post(articles[0])
    loads = Loads([*articles, article(6)])
    publish(tmp_path / "out", [*articles, article(6)], names, loads)
    assert loads.asked == ["id6"]


def test_every_field_a_post_shows_is_in_its_inputs(tmp_path: Path) -> None:
    """A change the store makes without a new content_hash (a forgotten feed's articles take
    their new feed's names) renders the post again."""
    base = article(1)
    changes = dict(title="t", category="c", source="s", channel="h", image="https://i/x.jpg",
                   link="https://example.com/other", published=NOW)
    for field, value in changes.items():
        assert post_inputs(replace(base, **{field: value})) != post_inputs(base), field  # type: ignore[arg-type]
    assert post_inputs(replace(base, content_hash="other")) != post_inputs(base)
    assert post_inputs(replace(base, author="x", text="y", content_html="")) == post_inputs(base)
    loads = Loads([base])
    names, _ = publish(tmp_path / "out", [base], {}, loads)
    moved = replace(base, category="科技")
    loads = Loads([moved])
    _, stats = publish(tmp_path / "out", [moved], names, loads)
    assert (stats.rendered, stats.written) == (1, 1)
    assert "科技" in (tmp_path / "out" / names["id1"]).read_text("utf-8")


def test_an_article_changed_or_gone_before_its_post_is_rendered(tmp_path: Path) -> None:
    first, corrected = article(1), article(1, content="<p>更正</p>")
    names, _ = publish(tmp_path / "out", [first], {}, Loads([corrected]))  # changed meanwhile
    assert (tmp_path / "out" / names["id1"]).read_text("utf-8") == render_post(corrected)
    _, stats = publish(tmp_path / "out", [corrected], names, Loads([corrected]))
    assert stats.rendered == 0  # recorded as rendered from the article it was rendered from
    with pytest.raises(PublishError, match="id2 left the store"):
        publish(tmp_path / "out", [article(2)], names, Loads([]))
