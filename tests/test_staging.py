"""Files written by render workers into the staging folder and adopted by the writer (issue 10).

Real files in a real output folder; the workers' side is :class:`staging.Stager` in this
process or in a forked child, as in the render pool.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from rsspage.errors import PublishError
from rsspage.fileio import TMP_SUFFIX
from rsspage.publish import staging
from rsspage.publish.precompress import PrecompressingWriter
from rsspage.publish.writer import OutputWriter


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


def manifest(root: Path) -> dict[str, str]:
    files: dict[str, str] = json.loads((root / ".rsspage-manifest.json").read_text())["files"]
    return files


def staged_in_child(folder_fd: int, pages: dict[str, bytes]) -> list[staging.StagedFile]:
    """Stage ``pages`` from a forked process, as a render worker does."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read)
        stager = staging.Stager(folder_fd)
        out = [stager.write(rel, data) for rel, data in pages.items()]
        os.write(write, json.dumps([[s.name, s.size, s.digest] for s in out]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = json.loads(pipe.read())
    assert os.waitpid(pid, 0)[1] == 0
    return [staging.StagedFile(*item) for item in answer]


def test_adopted_files_are_put_in_place_with_their_digests(tmp_path: Path) -> None:
    pages = {"index.html": b"<p>home", "a/3f/x.html": "<p>新闻".encode(), "c/d/e.html": b""}
    writer = OutputWriter(tmp_path / "site")
    fd = writer.staging_folder()
    assert fd is not None and (tmp_path / "site" / staging.NAME).is_dir()
    for (rel, _), staged in zip(pages.items(), staged_in_child(fd, pages), strict=True):
        assert writer.adopt(rel, staged, article="id-" + rel if rel.startswith("a/") else None)
    # Nothing is in place before finish(): a failed build leaves the site as it was.
    assert not (tmp_path / "site" / "index.html").exists()
    stats = writer.finish()
    assert stats.written == 3
    site = tmp_path / "site"
    assert {k: v for k, v in files(site).items() if not k.startswith(".rsspage-")} == pages
    assert not (site / staging.NAME).exists()
    assert manifest(site) == {rel: hashlib.sha256(data).hexdigest() for rel, data in pages.items()}
    # The next build finds them unchanged: their temporaries are dropped, nothing is rewritten.
    again = OutputWriter(site)
    fd = again.staging_folder()
    assert fd is not None
    staged = staged_in_child(fd, pages)
    assert [again.adopt(rel, s) for rel, s in zip(pages, staged, strict=True)] == [False] * 3
    assert os.listdir(fd) == []
    assert again.finish().unchanged == 3
    assert not (site / staging.NAME).exists()


def test_an_adopted_file_obeys_the_writers_rules(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "theirs.html").write_text("not ours")
    writer = OutputWriter(site)
    fd = writer.staging_folder()
    assert fd is not None
    stager = staging.Stager(fd)
    with pytest.raises(PublishError, match="did not write"):
        writer.adopt("theirs.html", stager.write("theirs.html", b"x"))
    with pytest.raises(PublishError):
        writer.adopt("../escape.html", stager.write("../escape.html", b"x"))
    with pytest.raises(PublishError, match="reserved"):
        writer.adopt(f"{staging.NAME}/x.html", stager.write("x", b"x"))
    assert writer.adopt("ok.html", stager.write("ok.html", b"ok"))
    with pytest.raises(PublishError, match="twice"):
        writer.adopt("ok.html", stager.write("ok.html", b"again"))
    writer.finish()
    assert (site / "theirs.html").read_text() == "not ours"
    assert (site / "ok.html").read_bytes() == b"ok"
    assert not (tmp_path / "escape.html").exists() and not (site / staging.NAME).exists()


def test_an_aborted_build_drops_adopted_and_unadopted_temporaries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = OutputWriter(site)
    first.write("a.html", b"old")
    first.finish()
    writer = OutputWriter(site)
    fd = writer.staging_folder()
    assert fd is not None
    stager = staging.Stager(fd)
    writer.adopt("a.html", stager.write("a.html", b"new"))
    writer.adopt("b.html", stager.write("b.html", b"new"))
    stager.write("c.html", b"never adopted: the build failed first")
    writer.abort()
    assert files(site).keys() == {"a.html", ".rsspage-manifest.json"}
    assert (site / "a.html").read_bytes() == b"old"
    assert not (site / staging.NAME).exists()


def test_a_killed_builds_staging_folder_is_removed_by_the_next_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    leftover = site / staging.NAME
    leftover.mkdir(parents=True)
    (leftover / f"4242-0{TMP_SUFFIX}").write_bytes(b"half a page")
    # The next build renders nothing in workers (a few pages): it still removes the folder.
    writer = OutputWriter(site)
    writer.write("index.html", b"home")
    writer.finish()
    assert not leftover.exists()
    assert files(site).keys() == {"index.html", ".rsspage-manifest.json"}


def test_a_staging_folder_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("theirs")
    site = tmp_path / "site"
    site.mkdir()
    (site / staging.NAME).symlink_to(outside, target_is_directory=True)
    writer = OutputWriter(site)
    with pytest.raises(PublishError, match=staging.NAME):
        writer.staging_folder()
    writer.write("index.html", b"home")
    writer.finish()
    assert (outside / "keep.txt").read_text() == "theirs"


def test_writers_that_cannot_take_workers_files_have_no_staging_folder(tmp_path: Path) -> None:
    # Durable writes are fsync'ed by the writer; compressed copies need the bytes in hand.
    assert OutputWriter(tmp_path / "durable", durable=True).staging_folder() is None
    assert PrecompressingWriter(tmp_path / "gz", ["gzip"]).staging_folder() is None
    plain = PrecompressingWriter(tmp_path / "plain", [])
    fd = plain.staging_folder()
    assert fd is not None
    assert plain.adopt("x.html", staging.Stager(fd).write("x.html", b"x"))
    plain.finish()
    assert (tmp_path / "plain" / "x.html").read_bytes() == b"x"
    with pytest.raises(PublishError, match="no staging folder"):
        OutputWriter(tmp_path / "none").adopt("x.html", staging.StagedFile("1-0", 1, "00"))


def test_a_bind_mounted_folder_gets_a_copy(tmp_path: Path) -> None:
    # A folder on another mount: the rename from the staging folder fails (EXDEV), so the file
    # is copied there (a bind mount even has the same device number: only the rename tells).
    site = tmp_path / "site"
    (site / "a").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(elsewhere), str(site / "a")],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        writer = OutputWriter(site)
        fd = writer.staging_folder()
        assert fd is not None
        assert writer.adopt("a/b.html", staging.Stager(fd).write("a/b.html", "正文".encode()))
        assert writer.adopt("c.html", staging.Stager(fd).write("c.html", b"c"))
        writer.finish()
        assert (elsewhere / "b.html").read_text("utf-8") == "正文"
        assert (site / "c.html").read_bytes() == b"c"
        assert not (site / staging.NAME).exists()
        assert [p.name for p in elsewhere.iterdir()] == ["b.html"]  # no temporary left
    finally:
        subprocess.run(["umount", str(site / "a")], check=True)


def test_what_is_left_in_the_staging_folder_goes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    leftover = site / staging.NAME / "sub" / "deeper"
    leftover.mkdir(parents=True)
    (leftover / "x").write_text("x")
    before = len(os.listdir("/proc/self/fd"))
    writer = OutputWriter(site)
    fd = writer.staging_folder()
    assert fd is not None and os.listdir(fd) == []
    writer.adopt("x.html", staging.Stager(fd).write("x.html", b"x"))
    writer.finish()
    assert not (site / staging.NAME).exists() and (site / "x.html").read_bytes() == b"x"
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_file_with_the_staging_folders_name_is_named_in_the_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / staging.NAME).write_text("someone's")
    before = len(os.listdir("/proc/self/fd"))
    writer = OutputWriter(site)
    with pytest.raises(PublishError, match="remove it"):
        writer.staging_folder()
    writer.abort()
    assert (site / staging.NAME).read_text() == "someone's"
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("renamed", [0, 1, 2])
def test_a_build_killed_while_it_puts_adopted_files_in_place_leaves_them_ours(
        tmp_path: Path, renamed: int) -> None:
    """New paths adopted from workers are journaled in one write, just before finish() renames
    them: killed after ``renamed`` of three renames, the files in place are the next build's
    to rewrite (never "a file rsspage did not write"), and nothing else is left."""
    site = tmp_path / "site"
    pages = {"index.html": b"home", "a/3f/x.html": "新闻".encode(), "c/d/e.html": b"e"}
    pid = os.fork()
    if pid == 0:  # the build, killed at its rename number ``renamed``
        try:
            writer = OutputWriter(site)
            fd = writer.staging_folder()
            assert fd is not None
            stager = staging.Stager(fd)
            for rel, data in pages.items():
                writer.adopt(rel, stager.write(rel, data))
            journal = site / ".rsspage-manifest.json.journal"
            assert not journal.exists() or journal.read_text() == ""  # not one write per page
            done = [0]
            real_replace = os.replace

            def replace(*args: object, **kwargs: object) -> None:
                if done[0] == renamed:
                    assert json_lines(journal) == set(pages)  # all before the first rename
                    os.kill(os.getpid(), 9)
                done[0] += 1
                real_replace(*args, **kwargs)  # type: ignore[arg-type]

            os.replace = replace  # type: ignore[assignment]
            writer.finish()
        finally:
            os._exit(3)
    assert os.waitpid(pid, 0)[1] == 9  # killed, not failed (an assertion exits with 3)
    placed = {rel for rel in pages if (site / rel).exists()}
    assert len(placed) == renamed
    writer = OutputWriter(site)
    for rel in pages:
        assert writer.write(rel, b"again " + pages[rel])
    writer.finish()
    assert {k: v for k, v in files(site).items() if not k.startswith(".rsspage-")} == {
        rel: b"again " + data for rel, data in pages.items()}


def json_lines(path: Path) -> set[str]:
    return {json.loads(line) for line in path.read_text("utf-8").splitlines() if line}


def test_a_build_killed_before_it_puts_adopted_files_in_place_leaves_no_folder(
        tmp_path: Path) -> None:
    """A worker's page for a new folder, adopted, then the build is killed before finish():
    the folder was never made (finish() makes it, once the path is journaled), and the next
    build leaves nothing of it."""
    site = tmp_path / "site"
    pid = os.fork()
    if pid == 0:
        try:
            writer = OutputWriter(site)
            fd = writer.staging_folder()
            assert fd is not None
            writer.adopt("c/new/deep/page.html",
                         staging.Stager(fd).write("c/new/deep/page.html", b"x"))
            assert not (site / "c").exists()
            os.kill(os.getpid(), 9)
        finally:
            os._exit(3)
    assert os.waitpid(pid, 0)[1] == 9
    writer = OutputWriter(site)
    writer.write("index.html", b"home")
    writer.finish()
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*")) == [
        ".rsspage-manifest.json", "index.html"]
