"""`rsspage update` and `rsspage build` in GitHub Actions: the summary table (and an update's
failed feeds) go to ``$GITHUB_STEP_SUMMARY`` as Markdown, appended to what earlier steps
wrote."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run_cli, summary
from rsspage.console import PUBLISH_FAILED, Console, markdown_cell, markdown_summary, summary_rows
from rsspage.types import FeedOutcome, FetchStatus, OutputCounts, RunReport
from servers import RSS, LocalServer, feed, respond


def test_update_appends_a_markdown_summary_with_the_failed_feeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with LocalServer() as server:
        server.route("/good", feed(RSS))
        server.route("/bad|feed", respond(500, b"oops", content_type="text/plain"))
        config = {
            "feeds": [{"url": server.url("/good"), "category": "c", "source": "s", "channel": "ch"},
                      {"url": server.url("/bad|feed"), "category": "c", "source": "b",
                       "channel": "ch"}],
            "fetch": {"timeout": 2, "retries": 0},
            "output": {"state": "state", "site": None, "hexo": "posts"},
        }
        path = tmp_path / "rsspage.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        run = run_cli("update", "-c", str(path))
    assert run.code == 1, run.err + run.out

    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### rsspage update\n")  # appended, not replaced
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1].strip(" |")
            for line in text.splitlines() if line.startswith("| ") and " | " in line}
    assert rows["feeds ok"] == "1" and rows["feeds failed"] == "1"
    assert rows["new articles"] == "1"
    assert rows["hexo files written / removed"].startswith("1 / 0")
    failed = [line for line in text.splitlines() if "bad" in line]
    assert len(failed) == 1
    assert "/bad\\|feed" in failed[0] and "HTTP 500" in failed[0]
    assert failed[0].count(" | ") == 2  # three cells: the `|` in the key is escaped


def markdown_blocks(text: str) -> dict[str, dict[str, str]]:
    """The job summary's blocks by heading (``### rsspage build``), each as {row: value}."""
    blocks: dict[str, dict[str, str]] = {}
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("### "):
            rows = blocks.setdefault(line, {})
        elif (row := re.fullmatch(r"\| ([^|]+) \| ([^|]+) \|", line)) and row[1] != "---":
            rows[row[1]] = row[2]
    return blocks


def site_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "rsspage.yml"
    path.write_text(yaml.safe_dump({
        "site": {"title": "News", "host": "github-pages"},
        "feeds": [{"url": url, "category": "c", "source": "s", "channel": "ch"}],
        "fetch": {"timeout": 5, "retries": 0},
        "output": {"state": "state", "site": "public", "hexo": "posts"},
    }), encoding="utf-8")
    return path


def test_build_appends_its_own_summary(tmp_path: Path) -> None:
    job = tmp_path / "step_summary.md"
    job.write_text("earlier step\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(job)}
    with LocalServer() as server:
        config = site_config(tmp_path, server.route("/feed", feed(RSS)))
        assert run_cli("update", "-c", str(config), env=env).code == 0
    with (tmp_path / "public" / "video.bin").open("wb") as f:  # sparse: size, no disk
        f.truncate(880_000_000)
    (tmp_path / "public" / "robots.txt").unlink()  # written again by a full build

    run = run_cli("build", "--full", "-c", str(config), env=env)
    assert run.code == 0, run.err
    text = job.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### rsspage update\n")
    assert text.count("### rsspage build\n") == 1
    built = text.split("### rsspage build\n")[1]
    rows = markdown_blocks(text)["### rsspage build"]
    # What the build did, worded as update's summary words it, and nothing about feeds.
    assert list(rows) == ["hexo files written / removed", "site files written / removed",
                          "site size", "time"]
    terminal = summary(run.out)
    for name in ("hexo files written / removed", "site files written / removed", "site size"):
        assert rows[name] == terminal[name]
    assert rows["hexo files written / removed"] == "0 / 0"
    assert rows["site files written / removed"] == "1 / 0"
    assert "880 MB" in rows["site size"]
    assert rows["time"].endswith(" s")
    assert "> **Warning**: the site is 880 MB as the upload packs it, 8" in built
    assert "video.bin, is 880 MB, over the limit of GitHub Pages" in built
    assert built.count("> **Warning**") == 2 == run.err.count("warning: ")
    assert "Failed feeds" not in built and "younger" not in built


def test_build_after_a_lost_archive_says_the_files_are_kept(tmp_path: Path) -> None:
    job = tmp_path / "step_summary.md"
    with LocalServer() as server:
        config = site_config(tmp_path, server.route("/feed", feed(RSS)))
        assert run_cli("update", "-c", str(config)).code == 0
    shutil.rmtree(tmp_path / "state")  # in Actions: a state branch that was deleted

    run = run_cli("build", "-c", str(config), env={"GITHUB_STEP_SUMMARY": str(job)})
    assert run.code == 0, run.err
    text = job.read_text(encoding="utf-8")
    rows = markdown_blocks(text)["### rsspage build"]
    assert rows["hexo files written / removed"] == "0 / 0"  # its post stays
    assert "> **Warning**: the archive is younger than the output (hexo: 1, site: 1 published " \
        "articles are not in it); their files are kept." in text
    assert "rsspage restore" in text


def test_without_the_variable_no_summary_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    with LocalServer() as server:
        server.route("/good", feed(RSS))
        path = tmp_path / "rsspage.yml"
        path.write_text(yaml.safe_dump({"feeds": [server.url("/good")],
                                        "output": {"state": "state", "site": None}}))
        run = run_cli("update", "-c", str(path))
    assert run.code == 0, run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsspage.yml", "state"]


@pytest.mark.parametrize(("text", "cell"), [
    ("a | b", "a \\| b"),
    ("line one\nline two\r\nthree", "line one line two three"),
    ("<img src=x onerror=alert(1)> [x](http://e) **b** `c`",
     "\\<img src=x onerror=alert(1)\\> \\[x\\](http://e) \\*\\*b\\*\\* \\`c\\`"),
    ("中文标题_下划线", "中文标题\\_下划线"),
])
def test_feed_text_is_one_literal_cell(text: str, cell: str) -> None:
    assert markdown_cell(text) == cell


def test_long_feed_text_is_cut() -> None:
    assert len(markdown_cell("x" * 1000)) == 300


def test_a_younger_archive_is_a_warning_in_the_summary() -> None:
    report = RunReport(outcomes=(FeedOutcome("/a", FetchStatus.OK, new=1),), seconds=1.0,
                       published={"site": OutputCounts(written=3, removed=0, unknown=5)})
    text = markdown_summary(report)
    assert "| site files written / removed | 3 / 0 |" in text
    assert "archive is younger than the output (site: 5 " in text
    assert "Failed feeds" not in text


def test_the_terminal_and_the_job_summary_show_the_same_rows() -> None:
    report = RunReport(outcomes=(FeedOutcome("/a", FetchStatus.OK, new=2),
                                 FeedOutcome("/b", FetchStatus.NOT_MODIFIED)), seconds=2.5,
                       published={"hexo": OutputCounts(written=2, removed=1, unknown=0)})
    out = io.StringIO()
    Console(io.StringIO(), out).summary(report)
    markdown = markdown_summary(report)
    rows = summary_rows(report)
    assert [label for label, _ in rows][-2:] == ["hexo files written / removed", "time"]
    for label, value in rows:
        assert re.search(rf"^{re.escape(label)} +{re.escape(value)} *$", out.getvalue(), re.M)
        assert f"| {label} | {value} |" in markdown


@pytest.mark.parametrize("command", ["update", "build"])
def test_a_publish_failure_is_told_in_the_job_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Exit 1 like "some feeds failed", but the summary says what happened (the Update step of
    the workflow reads it to tell the two apart)."""
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("RSSHUB_KEY", "s3cret-value")
    (tmp_path / "public").write_text("a file where the site folder should be\n")
    with LocalServer() as server:
        server.route("/good", feed(RSS))
        path = tmp_path / "rsspage.yml"
        path.write_text(yaml.safe_dump({"feeds": [server.url("/good")],
                                        "output": {"state": "state", "site": "public"}}))
        run = run_cli(command, "-c", str(path))
    assert run.code == 1, run.err + run.out
    assert "could not write the output" in run.err
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(PUBLISH_FAILED + "\n")
    assert f"`rsspage {command}` failed while writing the outputs: cannot create output " \
        "folder" in text
    assert ("stored in the archive" in text) == (command == "update")
    assert "s3cret" not in text and "Failed feeds" not in text
