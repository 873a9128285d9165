"""The archive's change log and mark, and builds skipped when nothing changed (issue 10).

Real SQLite stores and real output folders; the site is built through ``publish_all``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import run_cli
from rsspage.config import Config, parse_config
from rsspage.errors import PublishError
from rsspage.publish import build_record, manifest
from rsspage.publish.outputs import publish_all, publish_hexo_posts, publish_site
from rsspage.store import Store
from rsspage.types import Article
from test_hexo_incremental import NOW, OK, SPEC, article


def make_config(folder: Path, title: str = "新闻", *, site: str = "",
                outputs: str = "hexo: blog/source/_posts, site: site") -> Config:
    """A config of SPEC's feed; ``site``: the site's settings (else its ``title``)."""
    text = (f"feeds:\n  - {{url: '{SPEC.key}', category: {SPEC.category}, "
            f"source: {SPEC.source}, channel: {SPEC.channel}}}\n"
            f"site: {{{site or f'title: {title}'}}}\n"
            f"output: {{state: state, {outputs}}}\n")
    path = folder / "rsspage.yml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


def store(config: Config, *articles: Article) -> None:
    with Store.open(config.output.state) as s:
        s.save_feed(SPEC, OK, articles, None, NOW)


def publish(config: Config, full: bool = False) -> dict[str, tuple[int, int, int]]:
    """(written, kept, removed) per output, as ``publish_all`` builds them."""
    with Store.open(config.output.state) as s:
        stats = {"hexo": publish_hexo_posts(config, s, full=full),
                 "site": publish_site(config, s, NOW, full=full)}
        publish_all(config, s, NOW)  # nothing more to do: skipped
    return {name: (c.written, c.kept, c.removed) for name, c in stats.items()}


def tree(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file()}


def test_every_change_moves_the_mark_and_nothing_else_does(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        start = s.mark()
        assert start.seq == 0 and len(start.archive) == 32
        s.save_feed(SPEC, OK, [article(1), article(2)], None, NOW)
        assert s.mark().seq == 2
        s.save_feed(SPEC, OK, [article(1), article(2)], None, NOW)  # the same again
        assert s.mark().seq == 2
        s.save_feed(SPEC, OK, [article(2, "<p>corrected</p>")], None, NOW)
        assert s.mark().seq == 3
        assert s.prune(NOW - timedelta(minutes=90), NOW) == 1
        assert s.mark() == replace(start, seq=4)
        assert s.trim_changes(4) == 4 and s.mark().seq == 4  # the mark outlives its log
    with Store.open(tmp_path / "other") as other:
        assert other.mark().archive != start.archive


def test_a_restore_into_an_empty_state_is_the_same_archive(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as s:
        s.save_feed(SPEC, OK, [article(1), article(2)], None, NOW)
        original = s.mark()
        s.export(tmp_path / "all.jsonl.gz")
        s.export_parts(tmp_path / "parts")
    for export in ("all.jsonl.gz", "parts"):
        with Store.open(tmp_path / f"fresh-{export}") as fresh:
            fresh.restore(tmp_path / export)
            assert fresh.mark() == original
            fresh.save_feed(SPEC, OK, [article(3)], None, NOW)  # and goes on from there
            assert fresh.mark() == replace(original, seq=original.seq + 1)
    with Store.open(tmp_path / "b") as other:  # an archive of its own: merged, not adopted
        other.save_feed(SPEC, OK, [article(7)], None, NOW)
        own = other.mark().archive
        other.restore(tmp_path / "all.jsonl.gz")
        assert other.mark().archive == own and other.mark().seq == 3


def test_a_build_with_nothing_new_touches_nothing(config: Config) -> None:
    store(config, *map(article, range(1, 6)))
    first = publish(config)
    assert first["site"][0] > 0 and first["hexo"][0] == 5
    assert config.output.site is not None and config.output.hexo is not None
    before = {"site": tree(config.output.site), "hexo": tree(config.output.hexo)}
    again = publish(config)
    assert again == {"hexo": (0, 5, 0), "site": (0, first["site"][0], 0)}
    assert before == {"site": tree(config.output.site), "hexo": tree(config.output.hexo)}
    store(config, article(6))
    assert publish(config)["hexo"] == (1, 5, 0)


def test_any_other_input_makes_a_real_build(config: Config, tmp_path: Path) -> None:
    store(config, *map(article, range(1, 4)))
    publish(config)
    assert publish(config)["site"][0] == 0
    renamed = make_config(tmp_path, title="另一个标题")
    assert publish(renamed)["site"][0] > 0  # every page shows the title
    assert publish(renamed)["site"][0] == 0
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "404.html").write_text("<p>gone</p>", encoding="utf-8")
    assert publish(renamed)["site"][0] == 1


def test_what_a_skipped_build_cannot_see_is_checked_by_a_full_one(config: Config) -> None:
    store(config, *map(article, range(1, 4)))
    publish(config)
    assert config.output.site is not None
    page = next((config.output.site / "a").rglob("*.html"))
    page.unlink()
    assert publish(config)["site"][0] == 0 and not page.exists()
    assert publish(config, full=True)["site"][0] == 1 and page.exists()


@pytest.mark.parametrize("damage", ["journal", "manifest", "record", "no record"])
def test_an_interrupted_build_or_a_changed_manifest_is_never_skipped(
        config: Config, damage: str) -> None:
    store(config, *map(article, range(1, 4)))
    publish(config)
    site = config.output.site
    assert site is not None
    page = next((site / "a").rglob("*.html"))
    page.unlink()  # only a build that checks the files writes it again
    records = manifest.path_of(site)
    assert records.name == manifest.DB_NAME
    if damage == "journal":  # a build was killed: it may have replaced files
        manifest.journal_of(records).write_text('"a/x.html"\n', "utf-8")
    elif damage == "manifest":  # another copy of the files (a checkout, a cache)
        st = records.stat()
        with contextlib.closing(sqlite3.connect(records)) as db:
            db.execute("PRAGMA user_version = 7")  # its bytes change, not what it says
        # The same size and time (a copy that kept them): the file change counter tells.
        assert records.stat().st_size == st.st_size
        os.utime(records, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif damage == "record":
        (site / build_record.NAME).write_text("{oops", "utf-8")
    else:
        (site / build_record.NAME).unlink()
    assert publish(config)["site"][0] >= 1 and page.exists()
    assert publish(config)["site"][0] == 0  # recorded again


def test_a_failed_build_forgets_the_record(config: Config, tmp_path: Path) -> None:
    store(config, *map(article, range(1, 4)))
    publish(config)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "article.html").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(Exception, match="template"):
        publish(config)
    assert config.output.site is not None
    assert not (config.output.site / build_record.NAME).exists()
    (templates / "article.html").unlink()
    assert publish(config)["site"][1] > 0  # a real build: it checked (and kept) the files


def test_build_full_on_the_command_line(config: Config) -> None:
    store(config, *map(article, range(1, 4)))
    assert run_cli("build", "-c", str(config.path)).code == 0
    assert config.output.site is not None
    page = next((config.output.site / "a").rglob("*.html"))
    page.unlink()
    run = run_cli("build", "-c", str(config.path))
    assert run.code == 0 and not page.exists()
    assert "site files written / removed  0 / 0" in run.out
    run = run_cli("build", "--full", "-c", str(config.path))
    assert run.code == 0 and page.exists(), run.out + run.err
    assert "site files written / removed  1 / 0" in run.out


def test_a_failed_search_index_is_mended_by_the_next_build(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    store(config, *map(article, range(1, 4)))
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", shutil.which("false") or "/bin/false")
    publish(config)  # the pages are built; Pagefind fails
    assert config.output.site is not None
    assert not (config.output.site / build_record.NAME).exists()
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    with Store.open(config.output.state) as s:
        stats = publish_site(config, s, NOW)  # not skipped: the index is built now
    assert (config.output.site / build_record.NAME).exists() and stats.kept > 0
    assert list((config.output.site / "pagefind").rglob("pagefind-entry.json"))


@pytest.mark.parametrize("damage", ["empty", "first leaf", "inner page", "not sqlite"])
def test_damaged_page_hashes_cost_one_full_build(
        config: Config, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    """They are not fsync'ed (a power cut may damage them) and only save work: a build that
    cannot read them builds every page, and writes them anew."""
    store(config, *map(article, range(1, 120)))
    publish(config)
    site = config.output.site
    assert site is not None
    pages = site / manifest.DB_PAGES
    before = tree(site)
    whole = pages.read_bytes()
    if damage == "empty":
        pages.write_bytes(b"")
    elif damage == "not sqlite":
        pages.write_bytes(b"not a database" * 400)
    else:  # SQLite's header whole: the file opens; the first read fails, or a later one
        pages.write_bytes(_damaged_page(pages, whole, first=damage == "first leaf"))
    store(config, article(120))
    caplog.set_level("WARNING", logger="rsspage")
    assert publish(config)["site"][0] >= 1
    kept = {p for p in before if not p.startswith("pagefind/")}  # shards: replaced by new ones
    assert set(tree(site)) >= kept
    read = manifest.load_pages(site)
    assert read is not None and len(read) > 120 and not manifest.pages_failed(read)
    manifest.close_pages(read)
    assert ("page hashes" in caplog.text) == (damage == "inner page"), caplog.text


def _damaged_page(path: Path, whole: bytes, *, first: bool) -> bytes:
    """``whole`` (the file at ``path``) with one page of the table overwritten: one that
    load_pages() reads (``first``), or one only a later read meets."""
    for start in range(len(whole) - 4096, 4096, -4096):
        data = whole[:start] + b"\xa5" * 4096 + whole[start + 4096:]
        path.write_bytes(data)
        read = manifest.load_pages(path.parent)
        try:
            if (read is None) == first and (first or _fails(read)):
                return data
        finally:
            manifest.close_pages(read)
    raise AssertionError("no such page")


def _fails(read: object) -> bool:
    try:
        dict(read.items())  # type: ignore[attr-defined]
    except PublishError:
        return True
    return False
