"""OutputWriter: paths stay inside the root, only our files are touched, writes are atomic."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from records import read_manifest_at
from rsspage.errors import PublishError
from rsspage.publish import folders as folders_module
from rsspage.publish import manifest as manifests
from rsspage.publish.write_stats import WriteStats
from rsspage.publish.writer import OutputWriter

#: The manifest's form in this test: JSON (Hexo's) or SQLite (the site's).
FORM = {"suffix": ".json"}


@pytest.fixture(autouse=True, params=[".json", ".sqlite"])
def manifest_form(request: pytest.FixtureRequest) -> Iterator[str]:
    FORM["suffix"] = request.param
    yield request.param
    FORM["suffix"] = ".json"


def state_manifest(tmp_path: Path) -> Path:
    return tmp_path / "state" / f"manifest{FORM['suffix']}"


def read_state_manifest(tmp_path: Path) -> dict[str, dict[str, str]]:
    return read_manifest_at(state_manifest(tmp_path))


def make(tmp_path: Path) -> OutputWriter:
    return OutputWriter(tmp_path / "out", state_manifest(tmp_path))


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "relpath",
    ["../x", "a/../../x", "/etc/passwd", "", "a//b", "./a", "a/.", "a\\..\\x", "a\0b", "..", "a/"],
)
def test_paths_that_could_escape_are_refused(tmp_path: Path, relpath: str) -> None:
    writer = make(tmp_path)
    with pytest.raises(PublishError):
        writer.write(relpath, b"x")
    with pytest.raises(PublishError):
        writer.is_free(relpath)
    assert not (tmp_path / "x").exists()


def test_symlinks_pointing_outside_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.md").write_text("theirs")
    writer = make(tmp_path)
    (writer.root / "link").symlink_to(outside, target_is_directory=True)
    (writer.root / "evil.md").symlink_to(outside / "victim.md")
    for relpath in ("link/new.md", "link/victim.md", "evil.md"):
        with pytest.raises(PublishError, match="outside"):
            writer.write(relpath, b"ours")
    assert (outside / "victim.md").read_text() == "theirs"
    assert [p.name for p in outside.iterdir()] == ["victim.md"]


def test_the_same_path_twice_in_one_build_is_refused(tmp_path: Path) -> None:
    writer = make(tmp_path)
    assert writer.write("a/b.md", b"1")
    with pytest.raises(PublishError, match="twice"):
        writer.write("a/b.md", b"2")
    # A case-insensitive or NFD twin would be the same file on Windows or macOS.
    with pytest.raises(PublishError, match="twice"):
        writer.write("A/B.md", b"3")
    writer.write("e\u0301.md", b"nfd")
    with pytest.raises(PublishError, match="twice"):
        writer.write("\u00e9.md", b"nfc")
    writer.finish()
    assert (writer.root / "a" / "b.md").read_bytes() == b"1"


def test_is_free_sees_claimed_owned_and_foreign_paths(tmp_path: Path) -> None:
    writer = make(tmp_path)
    (writer.root / "theirs.md").write_text("user file")
    writer.write("ours.md", b"x")
    writer.finish()
    writer = make(tmp_path)
    assert not writer.is_free("theirs.md")  # exists, not ours
    assert writer.is_free("ours.md")  # ours, not yet written in this build
    assert not writer.is_free("OURS.md")  # another spelling of an owned file
    assert writer.is_free("new/新闻.md")
    writer.write("new/新闻.md", b"y")
    assert not writer.is_free("new/新闻.md")
    assert not writer.is_free("NEW/新闻.md")


def test_a_file_we_did_not_write_is_never_overwritten_or_deleted(tmp_path: Path) -> None:
    writer = make(tmp_path)
    (writer.root / "sub").mkdir()
    (writer.root / "sub" / "user.md").write_text("user file")
    with pytest.raises(PublishError, match="did not write"):
        writer.write("sub/user.md", b"ours")
    writer.write("sub/ours.md", b"ours")
    assert writer.finish() == WriteStats(written=1, unchanged=0, removed=0)
    stats = make(tmp_path).finish()  # nothing written: only our file goes
    assert stats.removed == 1
    assert listing(writer.root) == {"sub/user.md"}
    assert (writer.root / "sub" / "user.md").read_text() == "user file"


def test_unchanged_content_is_not_rewritten(tmp_path: Path) -> None:
    writer = make(tmp_path)
    assert writer.write("a/b.md", b"same")
    writer.finish()
    target = writer.root / "a" / "b.md"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    writer = make(tmp_path)
    assert writer.write("a/b.md", b"same") is False
    assert writer.write("a/c.md", b"new") is True
    assert writer.finish() == WriteStats(written=1, unchanged=1, removed=0)
    assert target.stat().st_mtime_ns == 1_000_000_000
    writer = make(tmp_path)
    assert writer.write("a/b.md", b"changed") is True
    writer.finish()
    assert target.read_bytes() == b"changed"


def test_a_missing_or_resized_owned_file_is_rewritten(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("a.md", b"content")
    writer.write("b.md", b"content")
    writer.finish()
    (writer.root / "a.md").unlink()
    (writer.root / "b.md").write_bytes(b"edited by hand")
    writer = make(tmp_path)
    assert writer.write("a.md", b"content") is True
    assert writer.write("b.md", b"content") is True
    writer.finish()
    assert (writer.root / "a.md").read_bytes() == (writer.root / "b.md").read_bytes() == b"content"


def test_stale_owned_files_are_removed_and_empty_folders_pruned(tmp_path: Path) -> None:
    writer = make(tmp_path)
    for rel in ("keep/a.md", "gone/deep/b.md", "gone/c.md", "mixed/d.md"):
        writer.write(rel, rel.encode())
    writer.finish()
    (writer.root / "mixed" / "user.txt").write_text("user")
    writer = make(tmp_path)
    writer.write("keep/a.md", b"keep/a.md")
    assert writer.finish() == WriteStats(written=0, unchanged=1, removed=3)
    assert listing(writer.root) == {"keep/a.md", "mixed/user.txt"}
    assert not (writer.root / "gone").exists()
    assert writer.root.exists()
    assert list(read_state_manifest(tmp_path)["files"]) == ["keep/a.md"]


def test_a_stale_spelling_twin_is_removed_unless_it_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make(tmp_path)
    writer.write("a.md", b"old")
    writer.write("b.md", b"old")
    writer.finish()
    writer = make(tmp_path)
    writer.write("A.md", b"new")  # a distinct file here (case-sensitive), the same on macOS
    writer.write("B.md", b"new")
    commit = writer._commit_staged

    def commit_on_a_case_insensitive_disk() -> None:
        commit()
        (writer.root / "b.md").unlink()
        os.link(writer.root / "B.md", writer.root / "b.md")  # what such a disk shows

    monkeypatch.setattr(writer, "_commit_staged", commit_on_a_case_insensitive_disk)
    assert writer.finish().removed == 1
    assert listing(writer.root) == {"A.md", "B.md", "b.md"}
    assert (writer.root / "B.md").read_bytes() == b"new"
    assert not make(tmp_path).owns("b.md")


def test_finish_without_removal_keeps_stale_files_owned(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("old.md", b"x")
    writer.finish()
    assert make(tmp_path).finish(remove_stale=False).removed == 0
    writer = make(tmp_path)
    assert writer.owns("old.md")
    assert writer.finish().removed == 1


def test_journal_recovers_files_of_an_interrupted_build(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("done.md", b"1")
    writer.finish()
    crashed = make(tmp_path)
    crashed.write("new/a.md", b"a")
    crashed.write("new/b.md", b"b")
    # No finish(): as if the process was killed. A temporary file may be left behind too.
    (crashed.root / "new" / ".a.md.x1y2.rsspage-tmp").write_bytes(b"partial")
    journal = manifests.journal_of(state_manifest(tmp_path))
    assert journal.exists()
    with journal.open("a") as f:
        f.write('"new/cut-off')  # an entry the kill cut in half is ignored
    recovered = make(tmp_path)
    assert recovered.owns("new/a.md") and recovered.owns("new/b.md") and recovered.owns("done.md")
    assert not recovered.owns("new/cut-off")
    assert recovered.is_free("new/a.md")
    assert recovered.write("new/a.md", b"a") is True  # digest unknown: rewritten once
    assert recovered.finish().removed == 2  # done.md and new/b.md were not written this time
    assert listing(recovered.root) == {"new/a.md"}
    assert not journal.exists()
    assert make(tmp_path).owns("new/a.md")


def test_a_killed_build_leaves_a_consistent_state(tmp_path: Path) -> None:
    """SIGKILL a real process mid-build; the next build completes the job."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from rsspage.publish.writer import OutputWriter
        w = OutputWriter(Path({str(tmp_path / 'out')!r}), Path({str(tmp_path / 'm.json')!r}))
        for i in range(50):
            w.write(f"d/{{i}}.md", b"x" * 1000)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    assert all(writer.owns(f"d/{i}.md") for i in range(50))
    for i in range(25):
        writer.write(f"d/{i}.md", b"x" * 1000)
    assert writer.finish().removed == 25
    assert len(listing(tmp_path / "out")) == 25


def test_an_aborted_build_leaves_the_previous_output_as_it_was(tmp_path: Path) -> None:
    """Writes are staged: a build that fails half way changes no file."""
    writer = make(tmp_path)
    writer.write("a.md", b"old a")
    writer.write("b.md", b"old b")
    writer.finish()
    writer = make(tmp_path)
    assert writer.write("a.md", b"new a")
    assert writer.write("sub/c.md", b"new c")
    assert (writer.root / "a.md").read_bytes() == b"old a"  # staged, not yet in place
    writer.abort()
    assert listing(writer.root) == {"a.md", "b.md"}  # the empty folder sub/ aside
    assert (writer.root / "a.md").read_bytes() == b"old a"
    with pytest.raises(PublishError, match="finished"):
        writer.write("d.md", b"d")
    again = make(tmp_path)
    assert not again.owns("sub/c.md")  # never created: a file put there later is not ours
    again.write("a.md", b"new a")
    again.finish()
    assert listing(again.root) == {"a.md"}
    assert (again.root / "a.md").read_bytes() == b"new a"


def test_a_dropped_writer_changes_nothing(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("a.md", b"old")
    writer.finish()
    writer = make(tmp_path)
    writer.write("a.md", b"new")
    del writer
    assert listing(tmp_path / "out") == {"a.md"}
    assert (tmp_path / "out" / "a.md").read_bytes() == b"old"


def test_write_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """A real write error (the file size limit, as root-proof as ENOSPC) → PublishError."""
    writer = make(tmp_path)
    writer.write("post.md", b"old")
    writer.finish()
    script = textwrap.dedent(
        f"""
        import resource, signal
        from pathlib import Path
        from rsspage.errors import PublishError
        from rsspage.publish.writer import OutputWriter
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        w = OutputWriter(Path({str(tmp_path / 'out')!r}),
                         Path({str(state_manifest(tmp_path))!r}))
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            w.write("post.md", b"n" * 100_000)
        except PublishError as e:
            print("PublishError:", e)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert "PublishError: cannot write post.md" in proc.stdout, proc.stderr
    assert (writer.root / "post.md").read_bytes() == b"old"
    assert listing(writer.root) == {"post.md"}


def test_os_error_becomes_publish_error(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("a.md", b"x")
    writer.finish()
    (writer.root / "a.md").unlink()
    (writer.root / "a.md").mkdir()  # our path is now a folder: replacing it fails
    (writer.root / "blocker").write_text("a file where a folder is needed")
    writer = make(tmp_path)
    with pytest.raises(PublishError, match=r"cannot write a\.md") as info:
        writer.write("a.md", b"y")
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(PublishError, match="did not write"):
        writer.write("blocker", b"y")
    with pytest.raises(PublishError, match=r"cannot write blocker/x\.md"):
        writer.write("blocker/x.md", b"y")
    assert listing(writer.root) == {"blocker"}
    assert not any(p.name.endswith(".rsspage-tmp") for p in writer.root.rglob("*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_gives_publish_error(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("ro/a.md", b"old")
    writer.finish()
    (writer.root / "ro").chmod(0o555)
    try:
        with pytest.raises(PublishError, match="cannot write"):
            make(tmp_path).write("ro/a.md", b"new")
        assert (writer.root / "ro" / "a.md").read_bytes() == b"old"
    finally:
        (writer.root / "ro").chmod(0o755)


def test_damaged_manifest_stops_instead_of_guessing(tmp_path: Path) -> None:
    manifest = state_manifest(tmp_path)
    manifest.parent.mkdir()
    manifest.write_text("{not json} " * 100)
    with pytest.raises(PublishError, match="damaged"):
        make(tmp_path)


def test_manifest_values_that_are_not_strings_are_read_as_strings(tmp_path: Path) -> None:
    """A manifest edited by hand (a digest written as a number) is still read; one of strings
    only is used as orjson parsed it (no copy of 56,000 entries)."""
    path = tmp_path / manifests.NAME
    path.write_text(json.dumps({"version": 2, "files": {"a.md": 12, "b.md": "ab"},
                                "articles": {"a.md": "x1"}}))
    loaded = manifests.load(path)
    assert loaded.files == {"a.md": "12", "b.md": "ab"} and loaded.articles == {"a.md": "x1"}
    (tmp_path / manifests.PAGES_NAME).write_text(json.dumps({"version": 1,
                                                             "pages": {"a.html": 7}}))
    assert manifests.load_pages(tmp_path) == {"a.html": "7"}


def test_a_finished_writer_refuses_more_work(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.finish()
    with pytest.raises(PublishError, match="finished"):
        writer.write("a.md", b"x")


def test_files_are_readable_by_others(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.write("a.md", b"x")
    writer.finish()
    mask = os.umask(0o022)
    os.umask(mask)
    assert (writer.root / "a.md").stat().st_mode & 0o777 == 0o666 & ~mask


def test_keep_counts_an_unchanged_file_without_rewriting_it(tmp_path: Path) -> None:
    root, manifest = tmp_path / "out", tmp_path / "state" / "m.json"
    first = OutputWriter(root, manifest)
    first.write("a/page.html", b"<p>1</p>")
    first.write("b.html", b"b")
    first.finish()
    mtime = (root / "a" / "page.html").stat().st_mtime_ns
    second = OutputWriter(root, manifest)
    assert second.keep("a/page.html")
    assert not second.keep("never-written.html")
    stats = second.finish()
    assert (stats.written, stats.unchanged, stats.removed) == (0, 1, 1)
    assert (root / "a" / "page.html").stat().st_mtime_ns == mtime
    assert not (root / "b.html").exists()
    (root / "a" / "page.html").unlink()
    assert not OutputWriter(root, manifest).keep("a/page.html")  # gone: caller must write it


# -- open folders: checked once per build, never followed out of the root ----------------------


def open_fds() -> set[str]:
    gc.collect()  # writers other tests dropped close their descriptors now, not mid-test
    return set(os.listdir("/proc/self/fd"))


def test_a_folder_swapped_for_a_symlink_mid_build_is_not_followed(tmp_path: Path) -> None:
    """A folder checked and opened earlier in the build stays the folder that was checked."""
    outside = tmp_path / "outside"
    outside.mkdir()
    writer = make(tmp_path)
    writer.write("moved/a.html", b"a")
    writer.write("gone/a.html", b"a")
    # Swap both folders for links to outside: one renamed away, one deleted (with the file
    # staged in it).
    (writer.root / "moved").rename(writer.root / "elsewhere")
    (writer.root / "moved").symlink_to(outside, target_is_directory=True)
    shutil.rmtree(writer.root / "gone")
    (writer.root / "gone").symlink_to(outside, target_is_directory=True)
    writer.write("moved/b.html", b"b")  # staged in the folder that was checked
    with pytest.raises(PublishError, match=r"cannot write gone/b\.html"):
        writer.write("gone/b.html", b"b")  # its folder no longer exists
    with pytest.raises(PublishError, match=r"cannot write gone/a\.html"):
        writer.finish()  # the staged file went with its folder: the build fails whole
    assert list(outside.iterdir()) == []
    # Files are put in place in the order written: a.html was, before the failure; the rest
    # were dropped, and no temporary is left.
    assert listing(writer.root / "elsewhere") == {"a.html"}
    # The next build checks afresh: the links lead outside. (The files the failed build never
    # created are not rsspage's: a.html put outside later is neither written nor removed.)
    (outside / "a.html").write_text("theirs")
    again = make(tmp_path)
    assert not again.owns("gone/a.html")
    with pytest.raises(PublishError, match="outside"):
        again.write("moved/c.html", b"c")
    again.finish()
    assert [p.name for p in outside.iterdir()] == ["a.html"]
    assert (outside / "a.html").read_text() == "theirs"


def test_a_stale_file_behind_a_link_to_outside_is_not_removed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    writer = make(tmp_path)
    writer.write("d/a.html", b"ours")
    writer.finish()
    shutil.rmtree(writer.root / "d")
    (writer.root / "d").symlink_to(outside, target_is_directory=True)
    (outside / "a.html").write_text("theirs")
    again = make(tmp_path)
    again.write("b.html", b"new")
    stats = again.finish()  # the new file is in place all the same
    assert (again.root / "b.html").read_bytes() == b"new"
    with pytest.raises(PublishError, match=r"could not remove: d/a\.html: .*outside"):
        stats.check()
    assert (outside / "a.html").read_text() == "theirs"
    assert make(tmp_path).owns("d/a.html")  # still ours: the next build tries again


def test_a_symlinked_folder_inside_the_root_is_followed(tmp_path: Path) -> None:
    writer = make(tmp_path)
    (writer.root / "real").mkdir()
    (writer.root / "alias").symlink_to(writer.root / "real", target_is_directory=True)
    (writer.root / "page.html").symlink_to(writer.root / "real")  # a link we may not replace
    assert writer.write("alias/x.html", b"x")
    with pytest.raises(PublishError, match="did not write"):
        writer.write("page.html", b"p")
    writer.finish()
    assert (writer.root / "real" / "x.html").read_bytes() == b"x"
    assert (writer.root / "alias").is_symlink()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_many_folders_are_written_without_leaking_descriptors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folders_module, "_OPEN_FOLDERS", 64)  # fewer than the folders below
    before = open_fds()
    writer = make(tmp_path)
    paths = [f"f{i % 150}/s{i % 4}/{i}.html" for i in range(600)]  # 450 folders, interleaved
    for path in paths:
        writer.write(path, path.encode())
    assert len(open_fds() - before) <= 64 + 1  # the folders kept open, and the journal
    assert writer.finish().written == 600
    assert open_fds() == before
    assert all((writer.root / p).read_bytes() == p.encode() for p in paths)
    abandoned = make(tmp_path)  # a build that failed half-way is dropped without finish()
    abandoned.write("f1/s1/1.html", b"new")
    del abandoned
    assert open_fds() == before


def test_the_journal_entry_is_written_before_the_file(tmp_path: Path) -> None:
    writer = make(tmp_path)
    journal = manifests.journal_of(state_manifest(tmp_path))
    writer.write("a/新.html", b"x")
    # Unbuffered: another process (the next build after a kill) already sees it.
    assert journal.read_text("utf-8") == '"a/新.html"\n'
    writer.write("a/新.html".replace("新", "旧"), b"y")
    assert journal.read_text("utf-8").splitlines() == ['"a/新.html"', '"a/旧.html"']


def test_a_cut_off_journal_entry_does_not_swallow_the_next(tmp_path: Path) -> None:
    journal = manifests.journal_of(state_manifest(tmp_path))
    journal.parent.mkdir()
    journal.write_text('"first.html"\n"cut-o')  # a kill in the middle of an entry
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "first.html").write_text("from the killed build")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from rsspage.publish.writer import OutputWriter
        w = OutputWriter(Path({str(tmp_path / 'out')!r}),
                         Path({str(state_manifest(tmp_path))!r}))
        w.write("second.html", b"2")
        os.kill(os.getpid(), signal.SIGKILL)  # killed again, before finish()
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    recovered = make(tmp_path)
    assert recovered.owns("first.html") and recovered.owns("second.html")
    assert not recovered.owns("cut-o")
    assert recovered.finish().removed == 2


def test_long_cjk_names_fit_their_temporary_files(tmp_path: Path) -> None:
    """A 250-byte name is legal; its temporary file must not exceed NAME_MAX (255) either."""
    name = "新" * 82 + ".html"  # 246 + 5 bytes
    writer = make(tmp_path)
    assert writer.write(f"c/{name}", b"x")
    writer.finish()
    writer = make(tmp_path)
    assert writer.write(f"c/{name}", b"changed")
    writer.finish()
    assert listing(writer.root) == {f"c/{name}"}
    assert (writer.root / "c" / name).read_bytes() == b"changed"


def test_durable_writes_and_rewrites(tmp_path: Path) -> None:
    root, manifest = tmp_path / "out", tmp_path / "state" / "m.json"
    writer = OutputWriter(root, manifest, durable=True)
    assert writer.write("a/b.html", b"1") and writer.write("c.html", b"2")
    writer.finish()
    writer = OutputWriter(root, manifest, durable=True)
    assert writer.write("a/b.html", b"changed")
    assert writer.finish() == WriteStats(written=1, unchanged=0, removed=1)
    assert listing(root) == {"a/b.html"}
    assert (root / "a" / "b.html").read_bytes() == b"changed"


@pytest.mark.parametrize("manifest_form", [".json"], indirect=True)  # SQLite has its journal
def test_a_manifest_copy_left_by_a_kill_is_swept(tmp_path: Path, manifest_form: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    leftovers = [state / ".manifest.json.k1ll3d_x", state / ".manifest.json.123.rsspage-tmp"]
    for leftover in leftovers:
        leftover.write_text('{"version": 1, "files": {"a')  # cut off while being saved
    (state / "other.json").write_text("{}")
    writer = make(tmp_path)
    writer.write("a.html", b"a")
    writer.finish()
    assert sorted(p.name for p in state.iterdir()) == ["manifest.json", "other.json"]
    assert make(tmp_path).owns("a.html")


def run_killed(tmp_path: Path, body: str) -> None:
    """Run ``body`` with a writer ``w`` on the test's folders in a process that SIGKILLs
    itself (``body`` decides when)."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from rsspage.publish.writer import OutputWriter
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        w = OutputWriter(Path({str(tmp_path / 'out')!r}),
                         Path({str(state_manifest(tmp_path))!r}))
        """
    ) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.parametrize("manifest_form", [".sqlite"], indirect=True)
def test_a_kill_while_the_json_manifest_moves_into_sqlite_loses_no_ownership(
        tmp_path: Path, manifest_form: str) -> None:
    """The first build with a SQLite manifest reads the JSON one (the site's until 0.9) and
    writes the new file whole before the old goes: killed as it puts it in place, the next
    build reads the JSON manifest again, with its journal."""
    out = tmp_path / "out"
    old = OutputWriter(out)  # the JSON manifest in the folder, as the last version kept it
    old.write("a.html", b"a")
    old.finish()
    run_killed(tmp_path, """
        w.write("a.html", b"a")
        w.write("b.html", b"b")
        put = os.replace
        os.replace = lambda a, b, **kw: die() if str(b).endswith(".sqlite") else put(a, b, **kw)
        w.finish()
    """)
    assert not state_manifest(tmp_path).exists()
    writer = make(tmp_path)
    assert writer.owns("a.html") and writer.owns("b.html")  # b: from the journal
    assert writer.write("b.html", b"b") and not writer.write("a.html", b"a")
    writer.finish()
    assert not (out / manifests.NAME).exists() and not list(tmp_path.glob("state/.*"))
    assert read_state_manifest(tmp_path)["files"].keys() == {"a.html", "b.html"}


def test_a_kill_while_files_are_put_in_place_is_completed_by_the_next_build(
    tmp_path: Path,
) -> None:
    """Killed after the first of two files was replaced: the manifest still vouches for the old
    content of both, but the journal marks them unknown, so a build that wants the old content
    back rewrites them (it would otherwise keep the killed build's version)."""
    writer = make(tmp_path)
    writer.write("a.html", b"v0")
    writer.write("b.html", b"v0")
    writer.finish()
    run_killed(tmp_path, """
        w.write("a.html", b"v1")
        w.write("b.html", b"v1")
        replace = os.replace
        def replace_then_die(*args, **kwargs):
            replace(*args, **kwargs)
            die()
        os.replace = replace_then_die
        w.finish()
        """)
    assert (tmp_path / "out" / "a.html").read_bytes() == b"v1"
    assert (tmp_path / "out" / "b.html").read_bytes() == b"v0"
    recovered = make(tmp_path)
    assert not recovered.keep("a.html")
    assert recovered.write("a.html", b"v0") and recovered.write("b.html", b"v0")
    recovered.finish()
    assert listing(tmp_path / "out") == {"a.html", "b.html"}
    assert (tmp_path / "out" / "a.html").read_bytes() == b"v0"


def test_temporaries_of_a_killed_build_are_swept_where_nothing_is_written_now(
    tmp_path: Path,
) -> None:
    run_killed(tmp_path, """
        w.write("gone/y.html", b"y")
        die()
        """)
    assert any(p.name.endswith(".rsspage-tmp") for p in (tmp_path / "out" / "gone").iterdir())
    recovered = make(tmp_path)
    recovered.write("x.html", b"x")
    recovered.finish()
    assert not (tmp_path / "out" / "gone").exists()
    assert listing(tmp_path / "out") == {"x.html"}


# -- the records in the output folder -------------------------------------------------------------


@pytest.mark.parametrize("relpath", [".rsspage-manifest.json", ".rsspage-manifest.json.journal",
                                     ".rsspage-pages.json", ".rsspage-anything"])
def test_rsspage_records_cannot_be_written_as_output(tmp_path: Path, relpath: str) -> None:
    writer = OutputWriter(tmp_path / "out")
    with pytest.raises(PublishError, match="reserved"):
        writer.write(relpath, b"x")
    with pytest.raises(PublishError, match="reserved"):
        writer.keep(relpath)


def test_the_manifest_lives_in_the_output_with_article_ids(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out")
    writer.write("p/a.md", b"a", article="id-a")
    writer.write("index.html", b"i")
    writer.finish()
    body = json.loads((tmp_path / "out" / ".rsspage-manifest.json").read_text("utf-8"))
    assert body["version"] == 2 and set(body["files"]) == {"p/a.md", "index.html"}
    assert body["articles"] == {"p/a.md": "id-a"}
    assert OutputWriter(tmp_path / "out").article_paths() == {"id-a": "p/a.md"}


def test_files_of_unknown_articles_are_kept_and_others_removed(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out")
    for name in ("known", "unknown", "gone"):
        writer.write(f"{name}.md", name.encode(), article=name)
    writer.write("page.html", b"p")
    writer.finish()
    writer = OutputWriter(tmp_path / "out")
    stats = writer.finish(keep_article=lambda article: article == "unknown")
    assert (stats.removed, stats.kept_unknown) == (3, 1)
    assert listing(tmp_path / "out") == {"unknown.md", ".rsspage-manifest.json"}
    assert OutputWriter(tmp_path / "out").article_paths() == {"unknown": "unknown.md"}


def test_a_legacy_manifest_and_journal_move_into_the_output(tmp_path: Path) -> None:
    out, legacy = tmp_path / "out", tmp_path / "state" / "hexo-manifest.json"
    old = OutputWriter(out, legacy)  # what rsspage 0.1 did: the manifest in the state folder
    old.write("a.md", b"a")
    old.finish()
    old = OutputWriter(out, legacy)
    old.write("b.md", b"b")  # killed before finish(): b.md is only in the legacy journal
    old._commit_staged()
    old.close()
    assert legacy.with_name("hexo-manifest.json.journal").exists()
    writer = OutputWriter(out, legacy_manifest=legacy)
    assert writer.owns("a.md") and writer.owns("b.md")
    writer.write("a.md", b"a")
    writer.finish()  # b.md: known as ours, so removed as stale rather than left as a stranger
    assert not legacy.exists() and not legacy.with_name("hexo-manifest.json.journal").exists()
    assert listing(out) == {"a.md", ".rsspage-manifest.json"}


def test_a_late_abort_after_finish_changes_nothing(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out")
    writer.write("new.md", b"n")
    writer.finish()
    before = listing(tmp_path / "out")
    following = OutputWriter(tmp_path / "out")
    following.write("new.md", b"changed")  # a later build in the same process: its journal
    # (empty so far: nothing new) marks a build in progress
    writer.abort()  # what __del__ of the first writer does when it is collected late
    assert listing(tmp_path / "out") >= before
    assert (tmp_path / "out" / ".rsspage-manifest.json.journal").exists()
    following.finish()
    assert listing(tmp_path / "out") == {"new.md", ".rsspage-manifest.json"}
    assert (tmp_path / "out" / "new.md").read_bytes() == b"changed"


def test_keep_others_removes_only_what_it_is_told_with_its_copies(tmp_path: Path) -> None:
    """A build of only what changed: every other file stays unread, but the removed ones, their
    compressed copies, and files a killed build left with an unknown digest."""
    from rsspage.publish.precompress import PrecompressingWriter

    root = tmp_path / "out"
    first = PrecompressingWriter(root, ["gzip"])
    for name in ("a/1.html", "a/2.html", "b/3.html", "feed.xml", "x.png"):
        first.write(name, name.encode() * 50)
    first.finish()
    (root / ".rsspage-manifest.json.journal").write_text('"a/2.html"\n', "utf-8")
    second = PrecompressingWriter(root, ["gzip"])
    second.write("a/1.html", b"changed")
    second.keep_others({"b/3.html", "x.png"})
    stats = second.finish()
    assert (stats.written, stats.removed) == (2, 5)  # a/1.html and its copy
    assert stats.kept == 2 and stats.unchanged == 2  # feed.xml and its copy
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == [".rsspage-manifest.json", "a/1.html", "a/1.html.gz", "feed.xml",
                    "feed.xml.gz"]


def test_spellings_owned_twice_are_found_and_one_stays(tmp_path: Path) -> None:
    """Two spellings of one clash key owned at once (an earlier build on a case-sensitive
    disk): both are seen whichever is loaded first, and a build of only what changed keeps one
    (the first in order) and removes the other."""
    for first, second in (("a.md", "A.md"), ("A.md", "a.md")):
        root = tmp_path / first
        writer = make(root)
        writer.write(first, b"1")
        writer.finish(remove_stale=False)
        writer = make(root)
        assert not writer.is_free(second)  # another spelling of an owned file
        writer.write("c.md", b"c")
        writer.finish(remove_stale=False)
        # Written under the other spelling by a build that knew no better (an older version).
        (writer.root / second).write_bytes(b"2")
        records = manifests.load(state_manifest(root))
        records.files[second] = hashlib.sha256(b"2").hexdigest()
        manifests.save(state_manifest(root), records)
        records.close()
        writer = make(root)
        assert not writer.is_free("a.MD") and writer.is_free("b.md")
        writer.keep_others(set())
        stats = writer.finish()
        assert stats.removed == 1 and stats.kept == 2
        assert listing(writer.root) == {"A.md", "c.md"}


def test_read_owned_gives_back_only_the_bytes_rsspage_wrote(tmp_path: Path) -> None:
    """What page_links.py splices into: never a file changed since, a FIFO (the open must not
    block), a link out of the folder, or a file rsspage did not write."""
    root = tmp_path / "out"
    writer = OutputWriter(root)
    writer.write("a/x.html", b"one")
    writer.write("a/y.html", b"two")
    writer.finish()
    (root / "a" / "z.html").write_bytes(b"theirs")
    writer = OutputWriter(root)
    assert writer.read_owned("a/x.html") == b"one"
    assert writer.read_owned("a/z.html") is None
    (root / "a" / "x.html").write_bytes(b"changed")
    assert writer.read_owned("a/x.html") is None
    (root / "a" / "x.html").unlink()
    os.mkfifo(root / "a" / "x.html")
    assert writer.read_owned("a/x.html") is None
    (tmp_path / "outside.html").write_bytes(b"two")
    (root / "a" / "y.html").unlink()
    (root / "a" / "y.html").symlink_to(tmp_path / "outside.html")
    assert writer.read_owned("a/y.html") is None
    writer.abort()


@pytest.mark.parametrize("manifest_form", [".sqlite"], indirect=True)
def test_a_full_build_reads_a_sqlite_manifest_whole_and_saves_it_whole(
        tmp_path: Path, manifest_form: str) -> None:
    writer = make(tmp_path)
    for rel in ("a.html", "b.html", "c/d.html"):
        writer.write(rel, rel.encode(), article=rel[0])
    writer.finish()
    inode = state_manifest(tmp_path).stat().st_ino
    whole = OutputWriter(tmp_path / "out", state_manifest(tmp_path), whole=True)
    assert whole.owns("c/d.html") and not whole.write("a.html", b"a.html", article="a")
    assert whole.keep("b.html") and whole.write("e.html", b"e")
    assert whole.finish() == WriteStats(written=1, unchanged=2, removed=1, kept=1)
    assert state_manifest(tmp_path).stat().st_ino != inode  # a new file, put in place
    assert read_state_manifest(tmp_path) == {
        "files": {rel: hashlib.sha256(rel.encode()).hexdigest() if rel != "e.html" else
                  hashlib.sha256(b"e").hexdigest() for rel in ("a.html", "b.html", "e.html")},
        "articles": {"a.html": "a"}, "inputs": {}}
    assert listing(tmp_path / "out") == {"a.html", "b.html", "e.html"}
