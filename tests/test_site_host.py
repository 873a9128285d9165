"""A site that fits its host: the size report, the host limits (`site.host`) and the
precompressed copies (`site.precompress`).

End to end through the real CLI on feeds served from 127.0.0.1; the warnings also through the
pure :func:`~rsspage.publish.hosts.host_warnings`, with sizes no test folder could reach. A
sparse file stands in for a big site: it has a size, but no blocks on disk.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import brotli
import pytest
import yaml

from conftest import run_cli, summary
from records import read_manifest
from rsspage.config import SITE_HOSTS, SiteConfig, parse_config
from rsspage.errors import ConfigError
from rsspage.publish import hosts, precompress, search_index
from rsspage.publish.hosts import HostLimits, host_warnings
from rsspage.publish.precompress import PrecompressingWriter
from rsspage.publish.site_size import SiteSize, describe, human_bytes, measure
from servers import LocalServer, feed


def rss(count: int) -> bytes:
    items = "".join(f"<item><title>第{n}条新闻：芯片与半导体</title>"
                    f"<link>http://example.com/{n}</link><guid>{n}</guid>"
                    f"<description>&lt;p&gt;正文 {n}，关于工艺与设计。&lt;/p&gt;</description>"
                    f"<pubDate>Mon, 0{1 + n % 9} Jun 2026 0{n % 10}:00:00 GMT</pubDate></item>"
                    for n in range(count))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>测试频道</title><link>http://example.com/</link>{items}</channel></rss>\n"
            ).encode()


def write_config(folder: Path, url: str, **site: object) -> Path:
    config = {
        "site": {"title": "News", **site},
        "feeds": [{"url": url, "category": "科技", "source": "测试", "channel": "快讯"}],
        "fetch": {"timeout": 5, "retries": 0},
        "output": {"state": "state", "site": "public"},
    }
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def folder_size(root: Path) -> tuple[int, int]:
    """(bytes, files) of everything under ``root``, counted without rsspage's code."""
    sizes = [p.stat().st_size for p in root.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


def files_of(root: Path) -> dict[str, int]:
    """relpath → mtime_ns of every file under ``root``."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file()}


def test_update_and_build_report_the_size_of_the_whole_site(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = tmp_path / "job-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/feed", feed(rss(5))), host="github-pages")
        first = run_cli("update", "-c", str(config))
    assert first.code == 0, first.err + first.out
    site = tmp_path / "public"
    total, files = folder_size(site)
    expected = f"{human_bytes(total)} in {files:,} files"
    assert summary(first.out)["site size"] == expected
    assert f"| site size | {expected} |" in job.read_text(encoding="utf-8")
    assert "warning" not in first.err and "Traceback" not in first.err

    (site / "CNAME").write_text("news.example.org\n")  # a file of the user's counts too
    again = run_cli("build", "-c", str(config))
    assert again.code == 0, again.err
    total, files = folder_size(site)
    assert summary(again.out)["site size"] == f"{human_bytes(total)} in {files:,} files"


def test_a_site_near_and_over_its_hosts_limit_is_warned_of(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = tmp_path / "job-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/feed", feed(rss(3))), host="github-pages")
        assert run_cli("update", "-c", str(config)).code == 0
        big = tmp_path / "public" / "video.bin"
        with big.open("wb") as f:  # sparse: 880 MB of size, no disk
            f.truncate(880_000_000)
        near = run_cli("update", "-c", str(config))
        with big.open("r+b") as f:
            f.truncate(1_200_000_000)
        # Sizes are re-read for folders whose mtime moved (site_size.py): a file grown in place
        # is seen once its folder changes, which a build with nothing new to write may not do.
        os.utime(big.parent)
        over = run_cli("update", "-c", str(config))
    assert near.code == 0, near.err
    lines = [line for line in near.err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 2, near.err
    assert "the site is 880 MB as the upload packs it, 81 % of the limit of GitHub Pages (1 GiB)" \
        in lines[0]
    assert "keep fewer articles on the site" in lines[0] and "Fitting the host" in lines[0]
    assert "video.bin, is 880 MB, over the limit of GitHub Pages (100 MiB per file" in lines[1]
    assert "over the limit of GitHub Pages (1 GiB; 111 %): the host may refuse to publish it" \
        in over.err
    markdown = job.read_text(encoding="utf-8")
    assert markdown.count("> **Warning**: the site is") == 2  # near, then over
    assert "81 % of the limit of GitHub Pages" in markdown and "111 %" in markdown


def test_precompressed_copies_follow_their_files(tmp_path: Path) -> None:
    site = tmp_path / "public"
    with LocalServer() as server:
        url = server.route("/feed", feed(rss(4)))
        config = write_config(tmp_path, url, precompress="gzip")
        first = run_cli("update", "-c", str(config))
        assert first.code == 0, first.err
        texts = text_files(site)
        assert {"index.html", "robots.txt", "static/site.css", "feeds/subscriptions.opml"} \
            <= set(texts)
        for rel in texts:
            copy = site / (rel + ".gz")
            assert gzip.decompress(copy.read_bytes()) == (site / rel).read_bytes(), rel
        assert not list(site.rglob("*.pf_*.gz")) and not list(site.rglob("*.pagefind.gz"))
        assert not list(site.rglob("*.br"))  # not asked for
        owned = read_manifest(site)["files"]
        assert "index.html.gz" in owned
        files_before = folder_size(site)[1]

        before = files_of(site)
        assert run_cli("build", "-c", str(config)).code == 0
        assert files_of(site) == before  # nothing changed: no copy rewritten

        server.route("/feed", feed(rss(6)))  # two new articles
        assert run_cli("update", "--all", "-c", str(config)).code == 0
    after = files_of(site)
    assert after["index.html.gz"] != before["index.html.gz"]
    assert after["static/site.css.gz"] == before["static/site.css.gz"]
    for rel in text_files(site):
        assert gzip.decompress((site / (rel + ".gz")).read_bytes()) == (site / rel).read_bytes()

    write_config(tmp_path, url, precompress=False)
    off = run_cli("build", "-c", str(config))
    assert off.code == 0, off.err
    assert not list(site.rglob("*.gz"))  # pages, feeds, assets and Pagefind's scripts alike
    assert not any(k.endswith(".gz")
                   for k in read_manifest(site)["files"])
    assert folder_size(site)[1] < files_before

    write_config(tmp_path, url, precompress="gzip")
    on = run_cli("build", "-c", str(config))  # from the files on disk: nothing is rendered
    assert on.code == 0, on.err
    for rel in text_files(site):
        assert gzip.decompress((site / (rel + ".gz")).read_bytes()) == (site / rel).read_bytes()
    total, files = folder_size(site)
    assert summary(on.out)["site size"] == f"{human_bytes(total)} in {files:,} files"


def text_files(site: Path) -> list[str]:
    """The text files of the site (pages, feeds, assets, Pagefind's scripts), not rsspage's
    records of its files."""
    return sorted(str(p.relative_to(site)) for p in site.rglob("*")
                  if p.is_file() and precompress.is_text(p.name)
                  and not p.name.startswith(".rsspage-"))


def test_pagefinds_scripts_get_copies_when_search_is_built(tmp_path: Path) -> None:
    if not search_index.find_binary():
        pytest.skip("pagefind is not installed")
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/feed", feed(rss(3))), precompress="gzip")
        assert run_cli("update", "-c", str(config)).code == 0
    search = tmp_path / "public" / search_index.FOLDER
    scripts = list(search.rglob("pagefind.js"))  # where the bundles keep it is theirs to say
    assert scripts
    for script in scripts + list(search.rglob("pagefind-entry.json")):
        copy = script.with_name(script.name + ".gz")
        assert gzip.decompress(copy.read_bytes()) == script.read_bytes()
    assert not list(search.rglob("*.pf_*.gz")) and not list(search.rglob("*.pagefind.gz"))


def test_brotli_copies(tmp_path: Path) -> None:
    # brotli is in the test extras (pyproject.toml): the .br copies are always tested.
    assert precompress.usable(("br",)) == (("br",), [])
    writer = PrecompressingWriter(tmp_path, ("gzip", "br"))
    page = "<p>芯片</p>".encode() * 100
    writer.write("a/page.html", page)
    writer.write("a/image.png", b"\x89PNG")
    writer.finish()
    assert brotli.decompress((tmp_path / "a/page.html.br").read_bytes()) == page
    assert gzip.decompress((tmp_path / "a/page.html.gz").read_bytes()) == page
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "image.png", "page.html", "page.html.br", "page.html.gz"]


def test_without_brotli_the_build_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precompress, "_BROTLI", None)
    encodings, warnings = precompress.usable(("gzip", "br"))
    assert encodings == ("gzip",)
    assert warnings and "pip install brotli" in warnings[0]
    assert precompress.usable(("gzip",)) == (("gzip",), [])


def test_compressed_bytes_depend_only_on_the_content() -> None:
    data = b"<html>" + "新闻".encode() * 500 + b"</html>"
    first = precompress.compress(data, "gzip")
    assert first == precompress.compress(data, "gzip")
    assert first[4:8] == b"\0\0\0\0"  # no time in the gzip header
    assert first[3] & 0x08 == 0  # and no file name
    assert gzip.decompress(first) == data


def test_copies_stay_with_the_file_of_an_article_the_archive_does_not_know(
        tmp_path: Path) -> None:
    writer = PrecompressingWriter(tmp_path, ("gzip",))
    writer.write("a/x.html", b"<p>x</p>" * 50, article="x")
    writer.write("a/y.html", b"<p>y</p>" * 50, article="y")
    writer.finish()
    later = PrecompressingWriter(tmp_path, ("gzip",))
    stats = later.finish(keep_article=lambda article: article == "x")  # y was removed on purpose
    assert stats.kept_unknown == 1
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.html", "x.html.gz"]


def test_a_kept_page_gets_its_missing_copy_from_disk(tmp_path: Path) -> None:
    from rsspage.publish.writer import OutputWriter

    plain = OutputWriter(tmp_path)
    plain.write("index.html", b"<h1>hello</h1>" * 20)
    plain.finish()
    writer = PrecompressingWriter(tmp_path, ("gzip",))
    assert writer.keep("index.html")
    stats = writer.finish()
    assert stats.written == 1 and stats.removed == 0
    assert gzip.decompress((tmp_path / "index.html.gz").read_bytes()) == b"<h1>hello</h1>" * 20


#: A small site: pages in folders (one nested, one with a Chinese name), files at the root, a
#: picture (no copies).
PAGES = ["index.html", "robots.txt", "a/00/x.html", "a/00/y.html", "a/01/z.html",
         "c/财经/index.html", "c/财经/page/2.html", "static/site.css", "static/logo.png"]


def site_with_copies(root: Path, encodings: tuple[str, ...]) -> None:
    writer = PrecompressingWriter(root, encodings)
    for rel in PAGES:
        writer.write(rel, f"<p>{rel}</p>".encode() * 40)
    writer.finish().check()


def owned(root: Path) -> set[str]:
    return set(read_manifest(root)["files"])


def on_disk(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if not p.is_dir() and not p.name.startswith(".rsspage-")}


@pytest.fixture
def per_file_removals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the writer's own removal (one file at a time, by its full path) is asked to
    remove."""
    from rsspage.publish.writer import OutputWriter

    asked: list[str] = []
    target = OutputWriter._target

    def spy(self: OutputWriter, relpath: str) -> Path:
        asked.append(relpath)
        return target(self, relpath)

    monkeypatch.setattr(OutputWriter, "_target", spy)
    return asked


def test_dropping_an_encoding_removes_its_copies_folder_by_folder(
        tmp_path: Path, per_file_removals: list[str]) -> None:
    site_with_copies(tmp_path, ("gzip", "br"))
    texts = [rel for rel in PAGES if precompress.is_text(rel)]
    assert {rel + ".br" for rel in texts} <= on_disk(tmp_path)
    writer = PrecompressingWriter(tmp_path, ("gzip",))
    for rel in PAGES:
        assert writer.keep(rel)
    stats = writer.finish()
    assert stats.removed == len(texts) and not stats.not_removed
    expected = set(PAGES) | {rel + ".gz" for rel in texts}
    assert on_disk(tmp_path) == expected
    assert owned(tmp_path) == expected
    assert per_file_removals == []  # not one by one, by the writer


def test_turned_off_every_copy_goes_with_the_folders_left_empty(
        tmp_path: Path, per_file_removals: list[str]) -> None:
    site_with_copies(tmp_path, ("gzip", "br"))
    writer = PrecompressingWriter(tmp_path, ())  # precompress off
    kept = [rel for rel in PAGES if rel != "c/财经/page/2.html"]  # one page is gone
    for rel in kept:
        assert writer.keep(rel)
    stats = writer.finish()
    assert not stats.not_removed
    assert stats.removed == 1 + 2 * sum(map(precompress.is_text, PAGES))
    assert on_disk(tmp_path) == owned(tmp_path) == set(kept)
    assert not (tmp_path / "c/财经/page").exists()  # pruned
    assert per_file_removals == ["c/财经/page/2.html"]  # the page itself: the writer's way


def test_copies_gone_already_or_in_a_folder_gone_are_forgotten(tmp_path: Path) -> None:
    site_with_copies(tmp_path, ("gzip",))
    (tmp_path / "index.html.gz").unlink()
    shutil.rmtree(tmp_path / "a/01")
    writer = PrecompressingWriter(tmp_path, ())
    for rel in PAGES:
        if rel != "a/01/z.html":
            assert writer.keep(rel)
    stats = writer.finish()
    assert not stats.not_removed
    assert stats.removed == 1 + sum(map(precompress.is_text, PAGES))  # gone ones included
    assert owned(tmp_path) == on_disk(tmp_path) == set(PAGES) - {"a/01/z.html"}


def test_a_copy_that_is_no_longer_a_file_is_judged_by_the_writer(
        tmp_path: Path, per_file_removals: list[str]) -> None:
    site = tmp_path / "site"
    site_with_copies(site, ("gzip",))
    outside = tmp_path / "outside.txt"
    outside.write_text("not rsspage's")
    (site / "a/00/x.html.gz").unlink()
    (site / "a/00/x.html.gz").symlink_to(outside)  # leads out of the site
    (site / "a/00/y.html.gz").unlink()
    (site / "a/00/y.html.gz").mkdir()  # a folder where a copy was
    writer = PrecompressingWriter(site, ())
    for rel in PAGES:
        assert writer.keep(rel)
    stats = writer.finish()
    assert sorted(per_file_removals) == ["a/00/x.html.gz", "a/00/y.html.gz"]
    assert len(stats.not_removed) == 2
    assert "a/00/x.html.gz: leads outside the output folder" in stats.not_removed[0]
    assert stats.not_removed[1].startswith("a/00/y.html.gz: ")
    assert outside.read_text() == "not rsspage's"
    assert stats.removed == sum(map(precompress.is_text, PAGES)) - 2
    assert owned(site) == set(PAGES) | {"a/00/x.html.gz", "a/00/y.html.gz"}  # tried again


def test_a_copy_that_cannot_be_removed_stays_owned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site_with_copies(tmp_path, ("gzip",))
    unlink = os.unlink

    def refuse(path: str, *, dir_fd: int | None = None) -> None:
        if path == "y.html.gz":
            raise PermissionError(13, "Permission denied")
        unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(precompress.os, "unlink", refuse)
    writer = PrecompressingWriter(tmp_path, ())
    for rel in PAGES:
        assert writer.keep(rel)
    stats = writer.finish()
    assert stats.not_removed == ("a/00/y.html.gz: Permission denied",)
    assert owned(tmp_path) == on_disk(tmp_path) == set(PAGES) | {"a/00/y.html.gz"}


# --------------------------------------------------------------------------- measuring


@pytest.fixture
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the folder numbers are kept: outside the measured folder, as in the state."""
    return tmp_path_factory.mktemp("state") / "site-sizes.json"


def test_measure_sees_what_changed_since_its_last_measure(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "page.html").write_bytes(b"x" * 1000)
    (tmp_path / "index.html").write_bytes(b"y" * 10)
    first = measure(tmp_path, cache)
    assert (first.bytes, first.files) == (1010, 2)
    assert first.largest == "a/b/page.html" and first.largest_bytes == 1000
    assert first.fullest == "" and first.fullest_files == 1  # the first folder with the most
    assert cache.is_file()

    new = tmp_path / "a" / "b" / ".new"
    new.write_bytes(b"z" * 5000)
    os.replace(new, tmp_path / "a" / "b" / "page.html")  # as the writer replaces a file
    (tmp_path / "a" / "c").mkdir()
    (tmp_path / "a" / "c" / "other.css").write_bytes(b"c" * 7)
    (tmp_path / "a" / "c" / "more.css").write_bytes(b"c" * 7)
    second = measure(tmp_path, cache)
    assert (second.bytes, second.files) == (5024, 4)
    assert (second.fullest, second.fullest_files) == ("a/c", 2)

    shutil.rmtree(tmp_path / "a" / "b")
    third = measure(tmp_path, cache)
    assert (third.bytes, third.files) == (24, 3)


def test_a_folder_whose_mtime_did_not_move_is_not_read_again(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    page = folder / "page.html"
    page.write_bytes(b"x" * 100)
    hour_ago = time.time() - 3600
    os.utime(folder, (hour_ago, hour_ago))
    os.utime(tmp_path, (hour_ago, hour_ago))
    measure(tmp_path, cache)
    with page.open("ab") as f:  # grown in place: the folder's mtime stays
        f.write(b"y" * 50)
    assert measure(tmp_path, cache).largest_bytes == 100  # the numbers kept for the folder
    saved = cache.stat().st_mtime_ns
    assert measure(tmp_path, cache).largest_bytes == 100
    assert cache.stat().st_mtime_ns == saved  # nothing changed: the numbers are not saved again
    os.utime(folder, None)  # as any file created, replaced or deleted in it does
    assert measure(tmp_path, cache).largest_bytes == 150
    assert measure(tmp_path, cache).largest_bytes == 150  # changed just now: read again, not kept


def test_a_damaged_or_foreign_cache_costs_only_a_full_measure(tmp_path: Path,
                                                              cache: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "page.html").write_bytes(b"p" * 100)
    hour_ago = time.time() - 3600
    os.utime(tmp_path / "x", (hour_ago, hour_ago))
    measure(tmp_path, cache)
    mtime = (tmp_path / "x").stat().st_mtime_ns
    lies = {"version": 1, "folders": {"x": [mtime, 9, 9, 9, "lie", 9, []]}}
    for damage in (b"{", b'{"version": 1, "folders": {"x": [1, 2]}}',
                   b'{"version": 1, "folders": {"x": [1, 1, 1, 1, "", 0, ["../.."]]}}',
                   json.dumps({**lies, "root": "/another/site"}).encode()):
        cache.write_bytes(damage)
        size = measure(tmp_path, cache)
        assert (size.files, size.bytes, size.largest) == (1, 100, "x/page.html"), damage
    cache.write_bytes(json.dumps({**lies, "root": str(tmp_path)}).encode())
    assert measure(tmp_path, cache).largest == "x/lie"  # (the cache is trusted when it fits)


def test_git_folders_are_not_counted(tmp_path: Path, cache: Path) -> None:
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "objects" / "pack").write_bytes(b"g" * 10_000)
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "x.yml").write_bytes(b"w")
    (tmp_path / "index.html").write_bytes(b"i")
    size = measure(tmp_path, cache)
    assert (size.files, size.bytes) == (1, 1)


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar")
def test_the_tar_size_is_what_tar_writes(tmp_path: Path, cache: Path) -> None:
    site = tmp_path / "site"
    long_folder = site / "c" / ("半导体产业新闻" * 4) / ("最新消息" * 3)
    long_folder.mkdir(parents=True)
    (long_folder / "index.html").write_bytes(b"a" * 513)
    (site / "index.html").write_bytes(b"")
    (site / "x.json").write_bytes(b"{}" * 3000)
    (site / ".git").mkdir()
    (site / ".git" / "HEAD").write_bytes(b"ref")
    size = measure(site, cache)
    archive = tmp_path / "site.tar"
    # As actions/upload-pages-artifact packs the site.
    subprocess.run(["tar", "--dereference", "--hard-dereference", "--directory", str(site),
                    "-cf", str(archive), "--exclude=.git", "--exclude=.github", "."], check=True)
    assert size.tar_bytes == archive.stat().st_size


# --------------------------------------------------------------------------- the limits


def sized(**numbers: int) -> SiteSize:
    fields = {"bytes": 0, "files": 0, "tar_bytes": 0, **numbers}
    return SiteSize(**fields, largest="feeds/atom.xml", fullest="page")


def test_below_80_percent_nothing_is_said() -> None:
    limits = hosts.LIMITS["cloudflare-pages"]
    assert host_warnings(sized(files=15_999), limits) == []
    assert host_warnings(sized(files=10**9, tar_bytes=10**12), None) == []  # site.host: none


def test_at_80_percent_how_close_and_what_to_do() -> None:
    [line] = host_warnings(sized(files=16_000), hosts.LIMITS["cloudflare-pages"])
    assert line == ("the site has 16,000 files, 80 % of the limit of Cloudflare Pages' Free plan "
                    "(20,000 files): keep fewer articles on the site (README, \"Fitting the "
                    "host\") before it passes the limit")


def test_over_the_limit_it_says_so() -> None:
    [line] = host_warnings(sized(files=43_120), hosts.LIMITS["cloudflare-pages"])
    assert line.startswith("the site has 43,120 files, over the limit of Cloudflare Pages' Free "
                           "plan (20,000 files; 215 %): the host may refuse to publish it; keep "
                           "fewer articles on the site")


def test_every_kind_of_limit() -> None:
    tiny = HostLimits("Tiny host", tar_bytes=1000, files=10, file_bytes=100, folder_files=5)
    lines = host_warnings(sized(tar_bytes=2000, files=9, largest_bytes=90, fullest_files=6),
                          tiny)
    assert [line.split(",")[0] for line in lines] == [
        "the site is 2 kB as the upload packs it", "the site has 9 files",
        "its largest file", "its fullest folder"]
    assert "over the limit of Tiny host (1 kB; 200 %)" in lines[0]
    assert "90 % of the limit of Tiny host (10 files)" in lines[1]
    assert "feeds/atom.xml, is 90 B, 90 % of the limit of Tiny host (100 B per file)" in lines[2]
    assert "make that file smaller" in lines[2]
    assert "page, holds 6 files, over the limit of Tiny host (5 files per folder; 120 %)" \
        in lines[3]


def test_netlify_counts_files_per_folder() -> None:
    [line] = host_warnings(sized(files=300_000, tar_bytes=10**11, fullest_files=50_000),
                           hosts.LIMITS["netlify"])
    assert "its fullest folder, page, holds 50,000 files, 92 % of the limit of Netlify" in line


def test_every_host_but_none_has_limits() -> None:
    assert set(hosts.LIMITS) == set(SITE_HOSTS) - {"none"}


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1 kB"), (43_210, "43.2 kB"), (281_400_000, "281 MB"),
    (1_350_000_000, "1.35 GB"), (12_300_000_000, "12.3 GB"),
])
def test_sizes_in_words(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_describe() -> None:
    assert describe(sized(bytes=281_000_000, files=43_120)) == "281 MB in 43,120 files"
    assert describe(sized(bytes=10, files=1)) == "10 B in 1 file"


# --------------------------------------------------------------------------- config


def parse(site: str) -> SiteConfig:
    path = Path("/srv/news/rsspage.yml")
    return parse_config(f"site:\n{site}\nfeeds: [https://example.com/feed]\n", path).site


def test_defaults_and_each_value() -> None:
    default = parse("  title: x")
    assert default.host == "none" and default.precompress == ()
    for host in SITE_HOSTS:
        assert parse(f"  host: {host}").host == host
    assert parse("  host: null").host == "none"
    for word, encodings in [("false", ()), ("off", ()), ("gzip", ("gzip",)),
                            ("brotli", ("br",)), ("both", ("gzip", "br"))]:
        assert parse(f"  precompress: {word}").precompress == encodings


@pytest.mark.parametrize(("line", "message"), [
    ("  host: heroku", "site.host: expected one of github-pages, cloudflare-pages, netlify, none, "
                       "got 'heroku'"),
    ("  host: [github-pages]", "site.host: expected one of github-pages"),
    ("  precompress: true", "site.precompress: expected false, gzip, brotli or both (true does "
                            "not say which)"),
    ("  precompress: zstd", "site.precompress: expected false, gzip, brotli or both, got 'zstd'"),
    ("  precompress: [gzip]", "site.precompress: expected false, gzip"),
])
def test_bad_values_name_the_file_line_and_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(f"  title: x\n{line}")
    assert str(error.value).startswith("/srv/news/rsspage.yml:3: ")
    assert message in str(error.value)


def test_a_bad_value_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/feed", host="gitlab-pages")
    run = run_cli("build", "-c", str(config))
    assert run.code == 2
    assert "site.host: expected one of" in run.err and "Traceback" not in run.err
