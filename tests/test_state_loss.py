"""The archive survives a lost state folder, and moves whole: export, restore, retire, forget.

Everything runs through the CLI against feeds served on 127.0.0.1, with real SQLite files.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from records import read_manifest, read_pages
from rsspage.publish import build_record, manifest
from rsspage.store import Store
from rsspage.store.db import DB_NAME
from servers import LocalServer, feed

BASE = 1_780_000_000  # 2026-05-28: fixed dates, so nothing depends on when the test runs
MANIFEST = ".rsspage-manifest.json"


def rss(feed_no: int, items: range, month_step: int = 0) -> bytes:
    entries = []
    for j in items:
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                              time.gmtime(BASE + j * 3600 + j * month_step * 86400 * 31))
        entries.append(
            f"<item><title>第{feed_no}源 文章{j}：同名</title>"
            f"<link>http://example.com/{feed_no}/{j}</link><guid>g-{feed_no}-{j}</guid>"
            f"<pubDate>{stamp}</pubDate><description><![CDATA[<p>正文 {feed_no}-{j}</p>]]>"
            "</description></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>源 {feed_no}</title><link>http://example.com/{feed_no}</link>"
            f"<description>d</description>{''.join(entries)}</channel></rss>").encode()


def write_config(folder: Path, server: LocalServer, feeds: list[int], **output: object) -> Path:
    config = {
        "site": {"title": "归档", "url": "https://news.example.com/"},
        "feeds": [{"url": server.url(f"/f/{i}"), "category": "分类", "source": f"来源{i}",
                   "channel": "全部"} for i in feeds],
        "fetch": {"retries": 0},
        "output": {"state": "state", "hexo": "hexo", "site": "site", **output},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def posts(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.md")}


def article_pages(site: Path) -> set[str]:
    return {p.name.removesuffix(".html") for p in (site / "a").rglob("*.html")}


def stored_ids(state: Path) -> set[str]:
    with Store.open(state) as store:
        return {a.id for a in store.articles(content=False)}


def serve(server: LocalServer, feeds: dict[int, range], month_step: int = 0) -> None:
    for i, items in feeds.items():
        server.route(f"/f/{i}", feed(rss(i, items, month_step)))


def cli(*args: str) -> str:
    run = run_cli(*args)
    assert run.code == 0, run.out + run.err
    assert "Traceback" not in run.out + run.err
    return run.out + run.err


# --------------------------------------------------------------------------- a lost state


def test_a_lost_state_adopts_its_files_keeps_names_and_loses_nothing(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 6), 1: range(0, 6)})
        config = write_config(tmp_path, server, [0, 1])
        cli("update", "-c", str(config))
        hexo, site, state = tmp_path / "hexo", tmp_path / "site", tmp_path / "state"
        first_posts, first_pages = posts(hexo), article_pages(site)
        assert len(first_posts) == len(first_pages) == 12
        assert (hexo / MANIFEST).is_file() and (site / manifest.DB_NAME).is_file()
        cli("export", "-c", str(config), str(tmp_path / "before.jsonl.gz"))

        shutil.rmtree(state)  # the cache was evicted: a fresh machine
        serve(server, {0: range(3, 9), 1: range(3, 9)})  # 3 known items fell off each feed
        out = cli("update", "-c", str(config))
        assert "younger than the output" in out and "hexo: 6" in out and "site: 6" in out
        assert "rsspage restore" in out
        # The same articles arrived again under their old names: no post twice.
        assert first_posts <= posts(hexo)
        assert len(posts(hexo)) == 12 + 6
        # The pages of the 6 articles the new store does not know are still there.
        assert first_pages <= article_pages(site)
        assert len(stored_ids(state)) == 12
        assert "younger than the output" in cli("status", "-c", str(config))

        # Rebuilding from the younger store again deletes nothing.
        cli("build", "-c", str(config))
        assert len(posts(hexo)) == 18 and first_pages <= article_pages(site)

        out = cli("restore", "-c", str(config), str(tmp_path / "before.jsonl.gz"))
        assert "6 new" in out
        cli("build", "-c", str(config))
        assert "younger" not in cli("status", "-c", str(config))
        assert len(posts(hexo)) == 18 == len(stored_ids(state)) == len(article_pages(site))


def test_a_restored_state_with_the_cached_site_builds_incrementally(tmp_path: Path) -> None:
    """The GitHub workflow's case: the state comes back from an export on a new machine, the
    site from a cache. The page hashes travel with the site, so nothing is built again."""
    with LocalServer() as server:
        serve(server, {0: range(0, 5)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        site = tmp_path / "site"
        shard = site / "pagefind" / "1"
        assert shard.is_dir() and (site / manifest.DB_PAGES).is_file()
        before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
        shard_inode = shard.stat().st_ino
        cli("export", "-c", str(config), str(tmp_path / "all.jsonl.gz"))
        shutil.rmtree(tmp_path / "state")
        cli("restore", "-c", str(config), str(tmp_path / "all.jsonl.gz"))
        out = cli("build", "-c", str(config))
        assert "site files written / removed  0 / 0" in out and "younger" not in out
        assert shard.stat().st_ino == shard_inode  # the search shard was not built again
        assert before == {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
        # Without the cached site, its hashes are gone with it: a full build, nothing kept stale.
        shutil.rmtree(site)
        cli("build", "-c", str(config))
        assert len(article_pages(site)) == 5 and (site / "pagefind" / "1").is_dir()


def test_a_state_from_an_older_version_moves_its_manifest_into_the_output(
        tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        # What rsspage 0.1 left: manifests (without article ids) in the state folder.
        for output in ("hexo", "site"):
            body = read_manifest(tmp_path / output)
            legacy = {"version": 1, "files": body["files"]}
            (tmp_path / "state" / f"{output}-manifest.json").write_text(json.dumps(legacy))
            manifest.path_of(tmp_path / output).unlink()
        cli("build", "-c", str(config))
        for output in ("hexo", "site"):
            assert not (tmp_path / "state" / f"{output}-manifest.json").exists()
        assert json.loads((tmp_path / "hexo" / MANIFEST).read_text("utf-8"))["version"] == 2
        assert read_manifest(tmp_path / "site")["articles"]  # the article ids, learnt again
        assert not (tmp_path / "site" / MANIFEST).exists()
        assert len(posts(tmp_path / "hexo")) == 3


def test_a_site_from_the_last_version_moves_its_records_into_sqlite(tmp_path: Path) -> None:
    """The site's manifest and page hashes were JSON files until 0.9: the first build reads
    them (the files stay rsspage's, nothing is rendered again) and keeps them in SQLite."""
    with LocalServer() as server:
        serve(server, {0: range(0, 4)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        site = tmp_path / "site"
        body, pages = read_manifest(site), read_pages(site)
        assert body["files"] and pages
        (site / MANIFEST).write_text(json.dumps({"version": 2, **body}), "utf-8")
        (site / manifest.PAGES_NAME).write_text(json.dumps({"version": 1, "pages": pages}))
        for name in (manifest.DB_NAME, manifest.DB_PAGES):
            (site / name).unlink()
        # The last build's record, as that version wrote it: of the JSON manifest.
        record = json.loads((site / build_record.NAME).read_bytes())
        record["manifest"] = build_record.manifest_stamp(site)
        (site / build_record.NAME).write_text(json.dumps(record), "utf-8")
        before = {p: p.stat().st_mtime_ns for p in (site / "a").rglob("*.html")}
        serve(server, {0: range(0, 5)})  # one new article: a build of the change
        out = cli("update", "--all", "-c", str(config))
        assert re.search(r"new articles +1\b", out), out
        assert not (site / MANIFEST).exists() and not (site / manifest.PAGES_NAME).exists()
        owned = read_manifest(site)
        assert {p for p in body["files"] if (site / p).exists()} <= owned["files"].keys()
        assert len(article_pages(site)) == 5
        assert sum(rel.startswith("a/") for rel in owned["articles"]) == 5
        # The other articles' pages were kept as they were, from the page hashes read.
        changed = [p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime]
        assert len(changed) <= 1, changed  # the page of the new one's neighbour
        assert len(read_pages(site) or {}) > len(pages)


def test_pruned_articles_lose_their_files_but_unknown_ones_keep_theirs(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 4)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        shutil.rmtree(tmp_path / "state")
        serve(server, {0: range(2, 4)})
        cli("update", "-c", str(config))
        assert len(posts(tmp_path / "hexo")) == 4  # two of them unknown to the new store
        text = config.read_text("utf-8") + "limits: {keep_days: 1}\n"  # all dated in 2026-05
        config.write_text(text, "utf-8")
        cli("update", "--all", "-c", str(config))
        assert stored_ids(tmp_path / "state") == set()
        # The two pruned on purpose are gone; the two the store never knew are kept.
        assert len(posts(tmp_path / "hexo")) == 2
        assert len(article_pages(tmp_path / "site")) == 2


# --------------------------------------------------------------------------- export, restore


def dump(state: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the archive's tables, in order (page hashes are derived data)."""
    conn = sqlite3.connect(state / DB_NAME)
    try:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in ("feeds", "articles", "aliases", "published_names",
                              "gone_articles")}
    finally:
        conn.close()


def test_export_then_restore_gives_the_same_archive_and_twice_changes_nothing(
        tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 5), 1: range(0, 5)})
        server.route("/f/2", feed(rss(0, range(0, 2))))  # the same links: aliases
        config = write_config(tmp_path, server, [0, 1, 2])
        cli("update", "-c", str(config))
        with Store.open(tmp_path / "state") as store:  # hidden by filter rules: they travel
            hidden = [a.id for a in store.articles(content=False)][:3]
            assert store.set_hidden(hidden, True, datetime.now(UTC)) == 3
        cli("export", "-c", str(config), str(tmp_path / "all.jsonl.gz"))
        with gzip.open(tmp_path / "all.jsonl.gz", "rt", encoding="utf-8") as lines:
            kinds = [json.loads(line)["type"] for line in lines]
        assert kinds[0] == "rsspage-export" and kinds.count("article") == 10
        assert kinds.count("feed") == 3

        other = write_config(tmp_path / "elsewhere", server, [0, 1, 2])
        out = cli("restore", "-c", str(other), str(tmp_path / "all.jsonl.gz"))
        assert "10 new" in out
        assert dump(tmp_path / "elsewhere" / "state") == dump(tmp_path / "state")
        out = cli("restore", "-c", str(other), str(tmp_path / "all.jsonl.gz"))
        assert "0 new, 0 updated, 10 already there" in out
        assert dump(tmp_path / "elsewhere" / "state") == dump(tmp_path / "state")
        with Store.open(tmp_path / "elsewhere" / "state") as store:
            assert store.integrity_ok()
            assert sorted(a.id for a, gone in store.archive() if gone) == sorted(hidden)
            assert [h.title for h in store.search("正文", 3)]  # the search index came along


def test_parts_by_month_are_rewritten_only_when_they_change(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3)}, month_step=1)  # one article a month
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        parts = tmp_path / "parts"
        cli("export", "-c", str(config), "--parts", str(parts))
        names = sorted(p.name for p in parts.iterdir())
        assert names[0] == "articles-2026-05.jsonl.gz" and len(names) == 4
        assert names[-1] == "feeds.jsonl.gz"
        before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
                  for p in parts.iterdir()}
        out = cli("export", "-c", str(config), "--parts", str(parts))
        assert "0 parts written, 4 unchanged" in out
        assert before == {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
                          for p in parts.iterdir()}
        serve(server, {0: range(0, 4)}, month_step=1)  # one more, in a month of its own
        cli("update", "--all", "-c", str(config))
        out = cli("export", "-c", str(config), "--parts", str(parts))
        assert "2 parts written, 3 unchanged" in out  # the new month and feeds.jsonl.gz
        for name in names[:3]:
            assert (parts / name).read_bytes() == before[name][2]
        fresh = write_config(tmp_path / "fresh", server, [0])
        assert "4 new" in cli("restore", "-c", str(fresh), str(parts))


@pytest.mark.parametrize("damage", ["truncated", "not-json", "not-an-export"])
def test_a_damaged_export_restores_nothing(tmp_path: Path, damage: str) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        export = tmp_path / "all.jsonl.gz"
        cli("export", "-c", str(config), str(export))
        data = gzip.decompress(export.read_bytes())
        if damage == "truncated":
            export.write_bytes(gzip.compress(data)[:-30])
        elif damage == "not-json":
            export.write_bytes(gzip.compress(data + b"{oops\n"))
        else:
            export.write_bytes(gzip.compress(b'{"type": "something else"}\n' + data))
        other = write_config(tmp_path / "other", server, [0])
        run = run_cli("restore", "-c", str(other), str(export))
        assert run.code == 2, run.out + run.err
        assert "nothing was restored" in run.err or "not an rsspage export" in run.err
        assert "Traceback" not in run.err
        assert stored_ids(tmp_path / "other" / "state") == set()


# --------------------------------------------------------------------------- retire, forget


def test_a_feed_removed_from_the_config_is_retired_then_forgotten_on_purpose(
        tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3), 1: range(0, 2)})
        config = write_config(tmp_path, server, [0, 1])
        cli("update", "-c", str(config))
        write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        gone_feed = server.url("/f/1")
        status = cli("status", "-c", str(config))
        assert "retired" in status.split(gone_feed)[0]  # listed under the retired heading
        health = (tmp_path / "site" / "health.html").read_text("utf-8")
        assert 'id="retired"' in health and health.index(gone_feed) > health.index('id="retired"')
        assert gone_feed not in (tmp_path / "site" / "feeds" / "subscriptions.opml").read_text()
        assert len(posts(tmp_path / "hexo")) == 5  # retired, not deleted

        unknown = run_cli("forget", "-c", str(config), gone_feed + "x")
        assert unknown.code == 2 and "did you mean" in unknown.err and gone_feed in unknown.err

        shown = cli("forget", "-c", str(config), gone_feed)
        assert "2 articles, 4 published files" in shown and "nothing deleted" in shown
        assert len(posts(tmp_path / "hexo")) == 5
        cli("forget", "-c", str(config), gone_feed, "--yes")
        assert len(posts(tmp_path / "hexo")) == 3 and len(article_pages(tmp_path / "site")) == 3
        assert gone_feed not in cli("status", "-c", str(config))
        assert len(stored_ids(tmp_path / "state")) == 3


def test_forget_keeps_the_articles_another_feed_brought_too(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3)})
        server.route("/f/1", feed(rss(0, range(2, 4))))  # item 2 too: the same link
        config = write_config(tmp_path, server, [0, 1])
        cli("update", "-c", str(config))
        assert len(stored_ids(tmp_path / "state")) == 4  # item 2 once, feed 1 an alias of it
        shown = cli("forget", "-c", str(config), server.url("/f/0"))
        assert "2 articles, 4 published files" in shown
        assert "1 articles other feeds brought too" in shown
        out = cli("forget", "-c", str(config), server.url("/f/0"), "--yes")
        assert "1 kept with the other feeds" in out
        with Store.open(tmp_path / "state") as store:
            kept = store.feed_articles(server.url("/f/1"))
            assert [title for _, title, _ in kept] == ["第0源 文章2：同名", "第0源 文章3：同名"]
            assert {a.source for a in store.articles()} == {"来源1"}  # filed under its feed now
        assert len(posts(tmp_path / "hexo")) == 2 and len(article_pages(tmp_path / "site")) == 2


def test_restore_respects_removals_and_newer_rows(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 3), 1: range(0, 2)})
        config = write_config(tmp_path, server, [0, 1])
        cli("update", "-c", str(config))
        old = tmp_path / "old.jsonl.gz"
        cli("export", "-c", str(config), str(old))
        # After the export: feed 1 is forgotten on purpose, one article of feed 0 changes.
        write_config(tmp_path, server, [0])
        cli("forget", "-c", str(config), server.url("/f/1"), "--yes")
        server.route("/f/0", feed(rss(0, range(0, 3)).replace("正文 0-1".encode(), b"corrected")))
        cli("update", "--all", "-c", str(config))
        new = tmp_path / "new.jsonl.gz"
        cli("export", "-c", str(config), str(new))

        out = cli("restore", "-c", str(config), str(old))  # the older copy changes nothing
        assert "0 new, 0 updated, 3 already there" in out and "2 articles stay removed" in out
        assert len(posts(tmp_path / "hexo")) == 3
        with Store.open(tmp_path / "state") as store:
            assert "corrected" in " ".join(a.content_html for a in store.articles())

        other = write_config(tmp_path / "other", server, [0, 1])
        cli("restore", "-c", str(other), str(old))
        out = cli("restore", "-c", str(other), str(new))  # newer: the change and the removal
        assert "1 updated" in out and "2 articles stay removed" in out
        assert dump(tmp_path / "other" / "state")["articles"] == dump(tmp_path / "state")["articles"]


def test_status_reads_a_damaged_manifest_as_a_warning(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve(server, {0: range(0, 2)})
        config = write_config(tmp_path, server, [0])
        cli("update", "-c", str(config))
        (tmp_path / "hexo" / MANIFEST).write_text("{oops", "utf-8")
        run = run_cli("status", "-c", str(config))
        assert run.code == 0 and "warning" in run.err and "damaged" in run.err
        assert "Traceback" not in run.err
        build = run_cli("build", "-c", str(config))  # writing over it is refused, clearly
        assert build.code == 1 and "move it away to start over" in build.err
