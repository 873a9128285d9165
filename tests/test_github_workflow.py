"""The workflow `rsspage init --github` writes, run without GitHub.

A small runner plays GitHub's part: each run starts from a fresh clone of a local bare repository
(standing in for the repository on GitHub) in an empty workspace, as a hosted runner does, so the
archive comes back only from the state branch. The shell steps run with bash and GitHub's
variables (GITHUB_WORKSPACE, GITHUB_ENV, GITHUB_STEP_SUMMARY, RUNNER_TEMP …); the `uses:` steps
are simulated: checkout clones, the cache keeps the site folder between runs, the Pages upload
hands over the folder it names. Feeds come from a local HTTP server and change between runs.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli
from rsspage.publish.site_model import article_path
from rsspage.scaffold import WORKFLOW
from rsspage.store.db import DB_NAME
from servers import Exchange, LocalServer

#: The venv running the tests; its `rsspage` is the one under test.
VENV_BIN = Path(sys.executable).parent
GIT_ID = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


# -- the feeds -----------------------------------------------------------------------------------

def rss(*items: tuple[int, str]) -> bytes:
    """A feed of articles (number, RFC 822 date); an article's text never changes."""
    body = "".join(
        f"<item><title>文章 {n}</title><link>https://example.com/{n}</link><guid>{n}</guid>"
        f"<pubDate>{date}</pubDate><description>&lt;p&gt;第 {n} 篇&lt;/p&gt;</description></item>"
        for n, date in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.com/</link><description>d</description>{body}"
            f"</channel></rss>").encode()


JAN1, JAN2, JAN3 = (1, "Fri, 10 Jan 2025 08:00:00 GMT"), (2, "Sat, 11 Jan 2025 08:00:00 GMT"), \
    (101, "Sun, 12 Jan 2025 08:00:00 GMT")
FEB1, FEB2, FEB3 = (3, "Mon, 10 Feb 2025 08:00:00 GMT"), (4, "Tue, 11 Feb 2025 08:00:00 GMT"), \
    (102, "Wed, 12 Feb 2025 08:00:00 GMT")
MAR1 = (5, "Mon, 10 Mar 2025 08:00:00 GMT")
FAILS = b""  # the feed answers 500 in that run

#: What /a and /b serve in each run: articles leave the feeds, /b fails once; none is lost.
RUNS: list[dict[str, bytes]] = [
    {"/a": rss(JAN1, JAN2), "/b": rss(JAN3)},
    {"/a": rss(JAN2, FEB1), "/b": FAILS},
    {"/a": rss(FEB1, FEB2), "/b": rss(JAN3, FEB3)},
    {"/a": rss(FEB2, MAR1), "/b": rss(FEB3)},
]


# -- GitHub, played locally ----------------------------------------------------------------------

@dataclass
class Run:
    """What one workflow run left behind."""

    logs: list[str]
    summary: str
    #: The folder actions/upload-pages-artifact was given (a copy).
    artifact: Path
    #: The step that failed (the job stops there, as on GitHub); None when all went through.
    failed: str | None = None
    #: Whether job `deploy` ran (it deploys the artifact).
    deployed: bool = False


@dataclass
class GitHub:
    tmp: Path
    remote: Path
    workflow: dict[Any, Any]
    #: What actions/cache holds between runs (the site folder), when it holds anything.
    cache: Path
    runs: int = 0
    #: Called with the workspace right after the checkout (to break something on purpose).
    after_checkout: Callable[[Path], None] | None = None
    home: Path = field(init=False)
    ended: float = 0.0

    def __post_init__(self) -> None:
        self.home = self.tmp / "home"  # no ~/.gitconfig: the workflow must bring its identity
        self.home.mkdir()

    def run(self) -> Run:
        # The hour between two runs, shortened: the test's feeds are due every second.
        time.sleep(max(0.0, self.ended + 1.1 - time.monotonic()))
        self.runs += 1
        folder = self.tmp / f"run{self.runs}"
        workspace, temp = folder / "workspace", folder / "temp"
        temp.mkdir(parents=True)
        files = {name: folder / name for name in ("summary.md", "output", "env")}
        for path in files.values():
            path.touch()
        env = {
            # `pip install "$RSSPAGE_SPEC"` is not run: the venv's rsspage (the code under test)
            # comes first on the PATH instead.
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home), "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_STEP_SUMMARY": str(files["summary.md"]), "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_ENV": str(files["env"]), "RUNNER_TEMP": str(temp),
            "GITHUB_RUN_ID": str(1000 + self.runs), "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_REF_NAME": "main", "PYTHONWARNINGS": "ignore",
        }
        env |= {k: str(v) for k, v in self.workflow["env"].items()}
        job = self.workflow["jobs"]["update"]
        env |= {k: str(v) for k, v in job.get("env", {}).items()}
        logs: list[str] = []
        artifact = folder / "artifact"
        result = Run(logs, "", artifact)
        outputs: dict[str, dict[str, str]] = {}  # step id → its outputs
        for step in job["steps"]:
            if "if" in step and not self._condition(step["if"], env):
                continue
            if "uses" in step:
                outputs[step.get("id", "")] = self._uses(step, env, workspace, artifact)
            elif step.get("id") != "install":  # the PATH above stands in for the install step
                log, ok = self._shell(step, env, workspace, folder)
                logs.append(log)
                if not ok:
                    result.failed = step["name"]
                    break
                env |= dict(line.split("=", 1) for line in
                            files["env"].read_text(encoding="utf-8").splitlines() if "=" in line)
        result.summary = files["summary.md"].read_text(encoding="utf-8")
        self.ended = time.monotonic()
        deploy = self.workflow["jobs"]["deploy"]
        # deploy-pages takes the artifact: the job runs when the site was uploaded (even if a
        # later step failed the update job).
        assert deploy["needs"] == "update"
        job_outputs = {name: re.sub(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}",
                                    lambda m: outputs.get(m[1], {}).get(m[2], ""), value)
                       for name, value in job.get("outputs", {}).items()}
        condition = re.fullmatch(r"\$\{\{ !cancelled\(\) && needs\.update\.outputs\.(\w+) "
                                 r"!= '' \}\}", deploy["if"])
        assert condition, f"the test does not know how to evaluate `if: {deploy['if']}`"
        result.deployed = job_outputs[condition[1]] != ""
        assert result.deployed == artifact.is_dir()
        return result

    def _shell(self, step: dict[str, Any], env: dict[str, str], workspace: Path,
               folder: Path) -> tuple[str, bool]:
        script = folder / "step.sh"
        script.write_text(self._expand(step["run"], env), encoding="utf-8")
        step_env = env | {k: self._expand(str(v), env) for k, v in step.get("env", {}).items()}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-e", str(script)], cwd=workspace,
                              env=step_env, capture_output=True, text=True, timeout=300,
                              check=False)
        return f"--- {step['name']} ({done.returncode})\n{done.stdout}{done.stderr}", \
            done.returncode == 0

    def _uses(self, step: dict[str, Any], env: dict[str, str], workspace: Path,
              artifact: Path) -> dict[str, str]:
        """Play the action; returns its outputs."""
        action = step["uses"].split("@")[0]
        path = workspace / self._expand(step.get("with", {}).get("path", ""), env)
        if action == "actions/checkout":  # a shallow clone, as actions/checkout makes
            git("clone", "-q", "--depth", "1", "--branch", "main", self.remote.as_uri(),
                str(workspace))
            if self.after_checkout:
                self.after_checkout(workspace)
        elif action == "actions/cache/restore":
            if self.cache.is_dir():
                shutil.copytree(self.cache, path)
        elif action == "actions/cache/save":
            shutil.rmtree(self.cache, ignore_errors=True)
            shutil.copytree(path, self.cache)
        elif action == "actions/upload-pages-artifact":
            assert path.is_dir() and not any(p.is_symlink() for p in path.rglob("*"))
            shutil.copytree(path, artifact)
            return {"artifact_id": "4242"}
        elif action not in ("actions/setup-python", "actions/configure-pages"):
            pytest.fail(f"the test does not know how to play {action}")
        return {}

    @staticmethod
    def _expand(text: str, env: dict[str, str]) -> str:
        """``${{ env.X }}``, ``${{ github.run_id }}``: the few expressions the steps use."""
        known = {"github.run_id": env["GITHUB_RUN_ID"],
                 "github.run_attempt": env["GITHUB_RUN_ATTEMPT"]}
        known |= {f"env.{k}": v for k, v in env.items()}
        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: known[m.group(1)], text)

    @staticmethod
    def _condition(condition: str, env: dict[str, str]) -> bool:
        match = re.fullmatch(r"env\.(\w+) != ''", condition.strip())
        assert match, f"the test does not know how to evaluate `if: {condition}`"
        return env.get(match.group(1), "") != ""


# -- what the remote holds -----------------------------------------------------------------------

@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A local bare repository standing in for the GitHub remote."""
    path = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(path))
    return path


def branch_archive(remote: Path, tmp: Path) -> dict[str, str]:
    """The state branch's archive restored into a fresh state: {article id: link}."""
    parts = tmp / "parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    tar = subprocess.run(["git", "--git-dir", str(remote), "archive", "rsspage-state"],
                         capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(parts)], input=tar, check=True)
    state = tmp / "checker"
    shutil.rmtree(state, ignore_errors=True)
    config = tmp / "checker.yml"
    config.write_text(yaml.safe_dump({"feeds": ["http://127.0.0.1:9/unused"],
                                      "output": {"state": "checker", "site": None}}))
    run = run_cli("restore", "-c", str(config), str(parts / "archive"))
    assert run.code == 0, run.err
    with sqlite3.connect(state / DB_NAME) as db:
        return dict(db.execute("SELECT id, link FROM articles"))


def links(*numbers: int) -> set[str]:
    return {f"https://example.com/{n}" for n in numbers}


def site_written(summary: str) -> int:
    found = re.search(r"^\| site files written / removed \| (\d+) / \d+ \|$", summary, re.M)
    assert found, summary
    return int(found.group(1))


# -- the test ------------------------------------------------------------------------------------

def test_workflow_runs_keep_the_archive_on_its_branch_and_publish_every_article(
        tmp_path: Path, remote: Path) -> None:
    serving = {"run": 0}

    def answer(exchange: Exchange) -> None:
        body = RUNS[serving["run"]][exchange.route_path]
        if body is FAILS:
            exchange.respond(500, b"down", {"Content-Type": "text/plain"})
        else:
            exchange.respond(200, body, {"Content-Type": "application/rss+xml"})

    with LocalServer() as server:
        server.route("/a", answer)
        server.route("/b", answer)
        github = seed(tmp_path, remote, server)
        runs = []
        for n in range(4):
            serving["run"] = n
            if n == 3:  # the cache was evicted: the site is rebuilt from the archive alone
                shutil.rmtree(github.cache)
            runs.append(github.run())
            assert runs[-1].failed is None, "".join(runs[-1].logs)
            expected = [links(1, 2, 101), links(1, 2, 101, 3),
                        links(1, 2, 101, 3, 4, 102), links(1, 2, 101, 3, 4, 102, 5)][n]
            archive = branch_archive(remote, tmp_path / f"check{n}")
            # The archive grows and keeps articles that have left the feeds.
            assert set(archive.values()) == expected, f"run {n + 1}"
            # The site that would be deployed has a page for every article of the archive.
            for article_id in archive:
                assert (runs[-1].artifact / article_path(article_id)).is_file(), f"run {n + 1}"
            # The state branch is one commit, whatever the number of runs.
            assert git("--git-dir", str(remote), "rev-list", "--count", "rsspage-state") == "1"

    # Run 2: /b failed. Published all the same, and said so in the log and the job summary.
    assert "::warning" in "".join(runs[1].logs)
    failed = [line for line in runs[1].summary.splitlines() if "/b" in line]
    assert failed and "HTTP 500" in failed[0]
    # The cached site makes later runs write only what changed; without it, all is written.
    assert site_written(runs[2].summary) < site_written(runs[0].summary)
    assert site_written(runs[3].summary) > site_written(runs[2].summary)
    # The Hexo posts went to main, one per article.
    posts = git("-c", "core.quotePath=off", "--git-dir", str(remote), "ls-tree", "-r",
                "--name-only", "main", "--", "posts")
    assert len([p for p in posts.splitlines() if p.endswith(".md")]) == 7


def test_a_month_that_did_not_change_keeps_its_part(tmp_path: Path, remote: Path) -> None:
    """The January part is the same blob on the state branch after every run (its articles did
    not change), so the repository does not store it again."""
    with LocalServer() as server:
        server.route("/a", lambda ex: ex.respond(200, RUNS[0]["/a"] if github.runs < 2
                                                  else rss(JAN2, FEB1)))
        server.route("/b", lambda ex: ex.respond(200, rss(JAN3)))
        github = seed(tmp_path, remote, server, hexo=False)
        blobs = []
        for _ in range(3):
            assert github.run().failed is None
            blobs.append(git("--git-dir", str(remote), "rev-parse",
                             "rsspage-state:archive/articles-2025-01.jsonl.gz"))
        parts = git("--git-dir", str(remote), "ls-tree", "--name-only", "rsspage-state:archive")
    assert blobs[0] == blobs[1] == blobs[2]
    assert "articles-2025-02.jsonl.gz" in parts.splitlines()
    january = subprocess.run(["git", "--git-dir", str(remote), "cat-file", "blob", blobs[0]],
                             capture_output=True, check=True).stdout
    text = gzip.decompress(january).decode()
    assert all(f"https://example.com/{n}" in text for n in (1, 2, 101))


def test_a_failed_push_fails_the_run_and_the_archive_stays(tmp_path: Path, remote: Path) -> None:
    with LocalServer() as server:
        server.route("/a", lambda ex: ex.respond(200, rss(JAN1) if github.runs < 2
                                                  else rss(JAN1, FEB1)))
        server.route("/b", lambda ex: ex.respond(200, rss(JAN3)))
        github = seed(tmp_path, remote, server, hexo=False)
        assert github.run().failed is None
        before = git("--git-dir", str(remote), "rev-parse", "rsspage-state")
        hook = remote / "hooks" / "pre-receive"  # GitHub refusing the push (a file too large)
        hook.write_text("#!/bin/sh\necho 'refused by the test' >&2\nexit 1\n")
        hook.chmod(0o755)
        second = github.run()
    assert second.failed == "Save the archive to the state branch"
    assert "refused by the test" in second.logs[-1]
    assert git("--git-dir", str(remote), "rev-parse", "rsspage-state") == before


def test_an_unreachable_remote_is_never_taken_for_a_first_run(tmp_path: Path, remote: Path) -> None:
    """Taken for "no state branch yet", it would make the save step replace the archive with
    this run's articles alone."""
    with LocalServer() as server:
        server.route("/a", lambda ex: ex.respond(200, rss(JAN1)))
        server.route("/b", lambda ex: ex.respond(200, rss(JAN3)))
        github = seed(tmp_path, remote, server, hexo=False)
        assert github.run().failed is None
        before = git("--git-dir", str(remote), "rev-parse", "rsspage-state")
        github.after_checkout = lambda workspace: git(
            "remote", "set-url", "origin", (tmp_path / "gone.git").as_uri(), cwd=workspace)
        second = github.run()
    assert second.failed == "Restore the archive from the state branch"
    assert "starting a new archive" not in second.logs[-1]
    assert git("--git-dir", str(remote), "rev-parse", "rsspage-state") == before


def test_an_update_that_exits_2_fails_the_run_and_saves_nothing(tmp_path: Path, remote: Path) -> None:
    with LocalServer() as server:
        github = seed(tmp_path, remote, server, hexo=False)
        github.after_checkout = lambda workspace: (workspace / "rsspage.yml").write_text(
            "feeds: [not a url]\n")
        run = github.run()
    assert run.failed == "Update"
    assert "expected an http(s) URL" in run.logs[-1]
    assert "rsspage-state" not in git("--git-dir", str(remote), "branch", "--list")


def main_posts(remote: Path) -> set[str]:
    """The Hexo posts on the remote's main branch."""
    listed = git("-c", "core.quotePath=off", "--git-dir", str(remote), "ls-tree", "-r",
                 "--name-only", "main", "--", "posts")
    return {p for p in listed.splitlines() if p.endswith(".md")}


def test_a_lost_state_branch_loses_no_post_and_no_page(tmp_path: Path, remote: Path) -> None:
    """The state branch deleted while the cached site and the posts on main remain: the next
    run starts a new archive, and the outputs keep every article (their manifests say which
    files are rsspage's); an article arriving again keeps its post's name."""
    serving = {"run": 0}
    with LocalServer() as server:
        server.route("/a", lambda ex: ex.respond(200, RUNS[serving["run"]]["/a"]))
        server.route("/b", lambda ex: ex.respond(200, RUNS[serving["run"]]["/b"]))
        github = seed(tmp_path, remote, server)
        assert github.run().failed is None
        published = branch_archive(remote, tmp_path / "before")  # 1, 2 and 101
        posts = main_posts(remote)
        assert len(posts) == len(published) == 3
        git("--git-dir", str(remote), "branch", "-D", "rsspage-state")

        serving["run"] = 2  # 101 arrives again; 3, 4 and 102 are new; 1 and 2 have gone
        run = github.run()
    assert run.failed is None, "".join(run.logs)
    assert "no rsspage-state branch yet" in "".join(run.logs)
    after = main_posts(remote)
    assert posts <= after and len(after) == 6  # every name kept, no post twice
    archive = branch_archive(remote, tmp_path / "after")
    assert set(archive.values()) == links(101, 3, 4, 102)  # the new archive: this run's
    for article_id in {*published, *archive}:
        assert (run.artifact / article_path(article_id)).is_file(), article_id
    assert "the archive is younger than the output" in run.summary


def test_a_moved_branch_gets_the_posts_on_top_and_a_refused_push_holds_back_no_site(
        tmp_path: Path, remote: Path) -> None:
    with LocalServer() as server:
        server.route("/a", lambda ex: ex.respond(200, rss(JAN1) if github.runs < 2
                                                  else rss(JAN1, FEB1)))
        server.route("/b", lambda ex: ex.respond(200, rss(JAN3)))
        github = seed(tmp_path, remote, server)

        def someone_pushes(workspace: Path) -> None:  # while the run fetches the feeds
            other = tmp_path / "other"
            git("clone", "-q", remote.as_uri(), str(other))
            (other / "README.md").write_text("edited meanwhile\n")
            git("add", "README.md", cwd=other)
            git(*GIT_ID, "commit", "-q", "-m", "meanwhile", cwd=other)
            git("push", "-q", "origin", "main", cwd=other)

        github.after_checkout = someone_pushes
        first = github.run()
        assert first.failed is None, "".join(first.logs)
        assert "moved during the run" in first.logs[-1]
        assert git("--git-dir", str(remote), "show", "main:README.md") == "edited meanwhile"
        assert len(main_posts(remote)) == 2

        github.after_checkout = None
        hook = remote / "hooks" / "pre-receive"  # main refuses every push from now on
        hook.write_text("#!/bin/sh\nwhile read old new ref; do\n"
                        "  [ \"$ref\" = refs/heads/main ] && echo 'main is protected' >&2 "
                        "&& exit 1\ndone\nexit 0\n")
        hook.chmod(0o755)
        second = github.run()
    assert second.failed == "Commit the Hexo posts"
    assert "::error title=Hexo posts::" in second.logs[-1]
    # The archive was saved and the site deployed all the same.
    assert set(branch_archive(remote, tmp_path / "check").values()) == links(1, 101, 3)
    assert second.deployed
    assert all((second.artifact / article_path(i)).is_file()
               for i in branch_archive(remote, tmp_path / "check"))
    assert len(main_posts(remote)) == 2


def seed(tmp_path: Path, remote: Path, server: LocalServer, *, hexo: bool = True) -> GitHub:
    """The user's repository: `rsspage init --github`, a config for the local feeds, pushed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run = run_cli("init", "--github", str(repo))
    assert run.code == 0, run.err
    config = {
        "feeds": [{"url": server.url(p), "category": "测试", "source": p[1:], "channel": "全部"}
                  for p in ("/a", "/b")],
        "fetch": {"timeout": 5, "retries": 0},
        # Every feed is due at every run, a failed one too (no back-off beyond a second).
        "schedule": {"every": "1s", "min_interval": "0s", "max_backoff": "1s", "jitter": 0},
        "output": {"state": ".rsspage", "site": "public", "hexo": "posts" if hexo else None},
    }
    (repo / "rsspage.yml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                      encoding="utf-8")
    if hexo:  # the user turns the optional step on
        text = (repo / WORKFLOW).read_text(encoding="utf-8")
        assert 'HEXO_DIR: ""' in text
        (repo / WORKFLOW).write_text(text.replace('HEXO_DIR: ""', "HEXO_DIR: posts"),
                                     encoding="utf-8")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git(*GIT_ID, "commit", "-q", "-m", "rsspage init --github", cwd=repo)
    git("push", "-q", str(remote), "main", cwd=repo)
    workflow = yaml.safe_load((repo / WORKFLOW).read_text(encoding="utf-8"))
    return GitHub(tmp_path, remote, workflow, cache=tmp_path / "cache")
