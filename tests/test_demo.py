"""`rsspage demo`: the offline end-to-end run a new user sees first, and real Hexo on its posts."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from conftest import CliRun, run_cli
from hexo_harness import hexo_generate


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
    assert seconds < 15
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
