"""`rsspage demo`: the offline end-to-end run a new user sees first, and real Hexo on its posts."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from conftest import CliRun, run_cli
from hexo_harness import hexo_generate
from rsspage.config import load_config
from rsspage.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliRun, float]:
    target = tmp_path_factory.mktemp("demo") / "rsspage-demo"
    started = time.monotonic()
    run = run_cli("demo", str(target), timeout=60)
    return target, run, time.monotonic() - started


def front_matter(post: Path) -> dict[str, object]:
    head = post.read_text(encoding="utf-8").split("\n---\n", 1)[0]
    meta = yaml.safe_load(head.removeprefix("---\n"))
    assert isinstance(meta, dict)
    return meta


def test_demo_runs_offline_fast_and_says_where_the_output_is(demo: tuple[Path, CliRun, float]) -> None:
    target, run, seconds = demo
    assert run.code == 0, run.err + run.out
    print(f"rsspage demo took {seconds:.1f} s")  # a time, not an assertion: machines get busy
    assert "Traceback" not in run.err + run.out
    assert str(target / "rsspage.yml") in run.out
    assert str(target / "hexo" / "source" / "_posts") in run.out
    assert "new articles" in run.out


def test_demo_posts_cover_sources_categories_and_pictures(demo: tuple[Path, CliRun, float]) -> None:
    target, _, _ = demo
    posts = sorted((target / "hexo" / "source" / "_posts").rglob("*.md"))
    assert len(posts) >= 160
    metas = [front_matter(p) for p in posts]
    chains = {tuple(m["categories"]) for m in metas}  # type: ignore[arg-type]
    assert len({c[0] for c in chains}) >= 3
    assert len({c[1] for c in chains}) >= 8
    assert sum(1 for m in metas if m["headimg"]) >= 150
    for post, meta in zip(posts, metas, strict=True):
        assert post.relative_to(target / "hexo" / "source" / "_posts").parts[:3] == tuple(meta["categories"])  # type: ignore[arg-type]
        body = post.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        assert "<script" not in body.lower() and "onclick" not in body.lower()
        assert "{" not in body and "}" not in body


def test_demo_files_each_kind_of_feed_under_its_view(demo: tuple[Path, CliRun, float]) -> None:
    """The views of issue 13 all appear in the demo: the catalog's RSSHub ``view`` is kept
    with each feed, a 快讯 feed is text only, the podcast's episodes keep their audio."""
    target, _, _ = demo
    with Store.open(load_config(target / "rsspage.yml").output.state) as store:
        names = store.feed_names()
        articles = {key: list(store.articles_by_id(i for i, _, _ in store.feed_articles(key))
                              .values()) for key in names}
    filed = {key: (n.category, n.source, n.channel, n.view) for key, n in names.items()}
    assert filed["/demo-kr/newsflashes"] == ("新媒体", "创投快报", "快讯", None)
    assert filed["/demo-photo/gallery"] == ("图片", "光影图集", "每日图集", "pictures")
    assert filed["/demo-social/timeline"] == ("社交媒体", "微光社区", "本站时间线", "social")
    assert filed["/demo-podcast/episodes"] == ("音视频", "声波漫谈", "节目更新", "audio")
    assert filed["/demo-video/uploads"] == ("音视频", "影像工坊", "最新投稿", "videos")
    assert [len(articles[k]) for k in ("/demo-kr/newsflashes", "/demo-photo/gallery",
                                       "/demo-social/timeline", "/demo-podcast/episodes")] == [
        12, 10, 14, 8]
    assert not any(a.image or "<img" in a.content_html for a in articles["/demo-kr/newsflashes"])
    assert all(a.image for a in articles["/demo-photo/gallery"])
    social = articles["/demo-social/timeline"]
    assert len({a.author for a in social}) >= 5 and 0 < sum(bool(a.image) for a in social) < 14
    for episode in articles["/demo-podcast/episodes"]:
        (audio,) = episode.enclosures
        assert audio.type == "audio/wav" and audio.duration and audio.duration > 1800
        assert audio.length and audio.url.endswith(".wav") and episode.image
    # Every other feed is an ordinary one: no view in the catalog.
    # A video channel's uploads: a poster (the cover) each, no media file (as RSSHub's video
    # routes give them); every other feed is an ordinary one: no view in the catalog.
    assert all(a.image and not a.enclosures for a in articles["/demo-video/uploads"])
    others = {k for k, v in filed.items() if v[3] is not None}
    assert others == {"/demo-photo/gallery", "/demo-social/timeline", "/demo-podcast/episodes",
                      "/demo-video/uploads"}


def test_second_demo_run_changes_nothing(demo: tuple[Path, CliRun, float]) -> None:
    target, _, _ = demo
    before = {p: p.stat().st_mtime_ns for p in (target / "hexo" / "source" / "_posts").rglob("*.md")}
    again = run_cli("demo", str(target), timeout=60)
    assert again.code == 0, again.err + again.out
    assert "new articles" in again.out
    after = {p: p.stat().st_mtime_ns for p in (target / "hexo" / "source" / "_posts").rglob("*.md")}
    assert after == before


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH: cannot install Hexo")
def test_real_hexo_reads_every_demo_post(demo: tuple[Path, CliRun, float], tmp_path: Path) -> None:
    target, _, _ = demo
    result = hexo_generate(target / "hexo" / "source" / "_posts", tmp_path / "site")
    assert result.returncode == 0, result.output
    assert result.problem_lines() == []
    posts = sorted((target / "hexo" / "source" / "_posts").rglob("*.md"))
    assert len(result.posts) == len(posts)
    for post in posts:
        meta = front_matter(post)
        seen = result.posts[post.relative_to(target / "hexo" / "source" / "_posts").as_posix()]
        assert seen.title == meta["title"]
        assert list(seen.categories) == meta["categories"]
        assert seen.date.strftime("%a, %d %b %Y %H:%M:%S GMT") == meta["date"]


@pytest.mark.slow
def test_the_demo_podcast_plays_in_a_browser(tmp_path: Path) -> None:
    """An episode's page has a player for the demo server's WAV, which Chromium loads and
    plays to its end (valid file, right type, byte ranges) with nothing in the browser's log;
    each new feed has its listing page."""
    from browser import Browser, chromium_or_skip, dump
    from rsspage.demo.server import serve_demo, write_demo_config
    from rsspage.publish.site_model import article_path
    from rsspage.serve import serving

    with serve_demo(0) as feeds:
        config = write_demo_config(tmp_path, feeds)
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.err
        with Store.open(load_config(config).output.state) as store:
            (episode,) = [i for i, title, _ in store.feed_articles("/demo-podcast/episodes")
                          if title.startswith("第 48 期")]
        with serving(tmp_path / "public", 0, rebuild=None, watch=None) as url, \
                Browser(chromium_or_skip(), shots=tmp_path, allowed=[url, feeds]) as browser:
            for listing in ("c/新媒体/创投快报", "c/图片/光影图集", "c/社交媒体/微光社区",
                            "c/音视频/声波漫谈", "c/音视频/影像工坊"):
                assert (tmp_path / "public" / listing / "index.html").is_file(), listing
            tab = browser.open(url + article_path(episode))
            assert tab.page.locator("audio source").get_attribute("src") == (
                feeds + "/media/podcast-48.wav")
            outcome = tab.page.evaluate("""() => new Promise((done) => {
                const player = document.querySelector("audio");
                player.addEventListener("error", () => done(["error", player.error.code]));
                player.addEventListener("ended", () => done(["ended", player.duration]));
                player.muted = true;
                player.play().catch((e) => done(["refused", String(e)]));
            })""")
            assert outcome == ["ended", 3], outcome
            assert tab.log.problems() == [], dump(tab.log)
            tab.close()
