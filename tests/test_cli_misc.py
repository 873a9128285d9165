"""The smaller CLI commands: --version, catalog list/search, progress on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import run_cli
from rsspage import __version__
from servers import LocalServer, respond


def test_version() -> None:
    run = run_cli("--version")
    assert run.code == 0
    assert run.out.strip() == f"rsspage {__version__}"


#: Prints the modules of the fetching and parsing stages, and the site's templates, that an
#: rsspage command (the real CLI's main, in this fresh interpreter) loaded.
_LOADED = """
import sys
from rsspage.cli import main
code = main(sys.argv[1:])
heavy = ("httpx", "feedparser", "ftfy", "rsspage.fetch", "rsspage.parse", "jinja2")
print(code, *sorted(m for m in heavy if m in sys.modules))
"""


def loaded_by(*args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1].split()  # after what the command printed


def test_commands_load_only_the_stages_they_use(tmp_path: Path) -> None:
    # `rsspage build` (a scheduled job's second step, and serve's rebuilds) and `status` start
    # in ~0.4 s instead of ~0.65 s, ~10 MB smaller, without the fetching and parsing stages.
    config = tmp_path / "rsspage.yml"
    config.write_text(f"feeds: [http://127.0.0.1:9/feed.xml]\noutput: {{state: {tmp_path / 's'}, "
                      f"site: {tmp_path / 'site'}, hexo: null}}\n", encoding="utf-8")
    assert loaded_by("build", "-c", str(config)) == ["0", "jinja2"]  # the site's templates
    assert (tmp_path / "site" / "index.html").is_file()
    assert loaded_by("status", "-c", str(config)) == ["0"]
    assert loaded_by("search", "-c", str(config), "芯片") == ["0"]
    # and update still has what it needs
    assert {"httpx", "rsspage.fetch", "rsspage.parse"} <= set(loaded_by("update", "-c", str(config)))


def test_catalog_search_and_list_are_cjk_aware(shared_fixtures: Path) -> None:
    docs = str(shared_fixtures / "rsshub-docs-2021")
    found = run_cli("catalog", "--catalog", docs, "search", "快科技")
    assert found.code == 0, found.err
    assert "/kkj/news" in found.out and "最新新闻" in found.out
    both = run_cli("catalog", "--catalog", docs, "search", "快科技", "最新")
    assert "/kkj/news" in both.out and "/kkj/bens" not in both.out
    listed = run_cli("catalog", "--catalog", docs, "list", "--category", "编程")
    assert listed.code == 0
    lines = listed.out.splitlines()[2:]
    assert len(lines) > 50 and all(line.startswith("编程") for line in lines)
    english = run_cli("catalog", "--catalog", docs, "search", "github")
    assert "/github/" in english.out


def test_catalog_without_any_catalog_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "rsspage.yml"
    config.write_text("rsshub: {catalog: []}\nfeeds: [http://127.0.0.1:9/feed.xml]\n",
                      encoding="utf-8")
    run = run_cli("catalog", "-c", str(config), "list")
    assert run.code == 2
    assert "no catalog configured" in run.err and "Traceback" not in run.err


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    rss = b'<rss version="2.0"><channel><title>t</title><item><title>a</title><link>http://example.com/a</link></item></channel></rss>'
    with LocalServer() as server:
        server.route("/a", respond(200, rss))
        server.route("/b", respond(200, rss.replace(b"/a<", b"/b<")))
        config = tmp_path / "rsspage.yml"
        config.write_text(
            f"feeds:\n  - {{url: {server.url('/a')}, category: c, source: s, channel: a}}\n"
            f"  - {{url: {server.url('/b')}, category: c, source: s, channel: b}}\n"
            "output: {hexo: null, site: null}\n", encoding="utf-8")
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "rsspage.cli", "update", "-c", str(config)],
            stdin=follower, stdout=follower, stderr=follower, env=os.environ.copy(),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "fetching [" in screen and "2/2" in screen and "\r" in screen
    assert "fetched " not in screen  # plain log lines are for non-terminals
    assert "new articles" in screen
