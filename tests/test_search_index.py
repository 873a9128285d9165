"""The search index of an archive restored into an empty store is built by its first search.

A restore (or an import) into an empty SQLite store leaves the FTS5 index out: restoring 100,000
articles spent 10.3 of its 28.9 s building it, and a CI runner that restores the archive on
every run to update and build never searches it. Real SQLite files; the CLI in a subprocess.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from conftest import run_cli
from rsspage.store import Store
from rsspage.store.db import DB_NAME, SEARCH_TRIGGERS, run_lock
from test_store import NOW, OK, SPEC, article


def fts_rows(state: Path) -> int:
    with sqlite3.connect(state / DB_NAME) as conn:
        return int(conn.execute("SELECT count(*) FROM articles_fts_docsize").fetchone()[0])


def triggers(state: Path) -> set[str]:
    with sqlite3.connect(state / DB_NAME) as conn:
        return {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'articles_a_'")}


def hits(store: Store, query: str) -> list[str]:
    return sorted(h.id for h in store.search(query, limit=100))


QUERIES = ("芯片", "小米发布", "chip number 4", "第3款芯片", "不存在的词", "number")


def test_a_restored_archive_is_searched_as_the_original(tmp_path: Path) -> None:
    with Store.open(tmp_path / "original") as original:
        original.save_feed(SPEC, OK, [article(n) for n in range(1, 40)], None, NOW)
        original.export(tmp_path / "all.jsonl.gz")
        expected = {q: hits(original, q) for q in QUERIES}
    restored = tmp_path / "restored"
    with Store.open(restored) as store:
        assert store.restore(tmp_path / "all.jsonl.gz").new == 39
        assert not store.search_index_ready()
        assert store.integrity_ok()
    assert fts_rows(restored) == 0 and triggers(restored) == set()
    with Store.open(restored) as store:
        # Updates go on without the index: changed, new and removed articles.
        store.save_feed(SPEC, OK, [article(2, title="华为发布新款手机 phone", content_hash="h2b"),
                                   article(77, published=NOW)], None,
                        NOW + timedelta(hours=1))
        store.prune(NOW - timedelta(hours=30), NOW + timedelta(hours=1))
        assert fts_rows(restored) == 0
        # Without it, a search reads every article: the same answers.
        unindexed = {q: hits(store, q) for q in (*QUERIES, "华为发布新款")}
        assert unindexed["华为发布新款"] == ["id2"] and not store.search_index_ready()
        # Built (by the first `rsspage search`) from the articles as they are now.
        store.build_search_index()
        assert {q: hits(store, q) for q in unindexed} == unindexed
        assert store.search_index_ready()
        assert triggers(restored) == set(SEARCH_TRIGGERS)
        assert fts_rows(restored) == len(list(store.articles()))
        assert hits(store, "第2款") == []
        found = hits(store, "小米发布")  # three characters or more: through the index
        assert "id77" in found and "id35" not in found and "id2" not in found
        # Kept in step again by its triggers.
        store.save_feed(SPEC, OK, [article(78, title="全新的测试标题 unique")], None,
                        NOW + timedelta(hours=2))
        assert hits(store, "全新的测试") == ["id78"]
        assert store.integrity_ok()
    # The same answers as a store that never left its index out.
    with Store.open(tmp_path / "again") as again:
        again.restore(tmp_path / "all.jsonl.gz")
        assert {q: hits(again, q) for q in QUERIES} == expected


def test_a_restore_over_an_archive_keeps_its_index(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        store.save_feed(SPEC, OK, [article(n) for n in range(1, 5)], None, NOW)
        store.export(tmp_path / "all.jsonl.gz")
        store.save_feed(SPEC, OK, [article(9)], None, NOW)
        assert store.restore(tmp_path / "all.jsonl.gz").new == 0
        assert store.search_index_ready()
        assert hits(store, "第9款") == ["id9"]
    assert triggers(state) == set(SEARCH_TRIGGERS)


def restored_by_the_cli(tmp_path: Path) -> Path:
    """The config of an archive of 5 articles that `rsspage restore` put into an empty state."""
    with Store.open(tmp_path / "original") as original:
        original.save_feed(SPEC, OK, [article(n) for n in range(1, 6)], None, NOW)
        original.export(tmp_path / "all.jsonl.gz")
    config = tmp_path / "rsspage.yml"
    config.write_text("routes: [/kkj/news]\noutput: {state: state}\n", encoding="utf-8")
    restored = run_cli("restore", "-c", str(config), str(tmp_path / "all.jsonl.gz"), cwd=tmp_path)
    assert restored.code == 0, restored.err
    return config


def test_the_cli_says_once_that_it_builds_the_index(tmp_path: Path) -> None:
    config = restored_by_the_cli(tmp_path)
    first = run_cli("search", "-c", str(config), "芯片", cwd=tmp_path)
    assert first.code == 0, first.err
    assert "building the search index" in first.err
    assert first.out.count("小米发布") == 5
    second = run_cli("search", "-c", str(config), "芯片", cwd=tmp_path)
    assert "building the search index" not in second.err
    assert second.out == first.out


def test_a_search_beside_another_run_reads_every_article(tmp_path: Path) -> None:
    config = restored_by_the_cli(tmp_path)
    # An update holds the archive (its run lock) for as long as building the index could take.
    with run_lock(tmp_path / "state"):
        busy = run_cli("search", "-c", str(config), "小米发布", cwd=tmp_path)
    assert busy.code == 0, busy.err
    assert "searching without the search index" in busy.err
    assert busy.out.count("小米发布") == 5
    assert triggers(tmp_path / "state") == set()  # still left out
    built = run_cli("search", "-c", str(config), "小米发布", cwd=tmp_path)
    assert "building the search index" in built.err
    assert built.out.count("小米发布") == 5 and triggers(tmp_path / "state") == set(SEARCH_TRIGGERS)
