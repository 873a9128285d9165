"""`rsspage init`: the config it writes loads and explains every key; the GitHub workflow it writes
is valid, uses only official actions pinned to a major version, and never hides a failure."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import rsspage
from conftest import run_cli
from rsspage import config as config_module
from rsspage.cli import main
from rsspage.config import load_config
from rsspage.console import PUBLISH_FAILED, markdown_publish_error, markdown_summary
from rsspage.scaffold import SPEC_PLACEHOLDER, WORKFLOW, init_files
from rsspage.types import FeedOutcome, FetchStatus, RunReport


def workflow_text(version: str = "1.2.3") -> str:
    return next(f.text for f in init_files(github=True, version=version) if f.path == WORKFLOW)


def workflow(version: str = "1.2.3") -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(workflow_text(version))
    return loaded


def step(name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in workflow()["jobs"]["update"]["steps"]
                                 if s.get("name") == name)
    return found


def test_init_writes_a_config_that_loads_and_explains_every_key(tmp_path: Path) -> None:
    run = run_cli("init", str(tmp_path / "news"))
    assert run.code == 0, run.err
    path = tmp_path / "news" / "rsspage.yml"
    assert f"wrote {path}" in run.out
    assert not (tmp_path / "news" / WORKFLOW).exists()  # only with --github
    config = load_config(path)
    text = path.read_text(encoding="utf-8")
    assert [r.path for r in config.routes] == ["/kkj/news", "/36kr/newsflashes"]
    assert config.feeds and config.output.site == path.parent / "public"
    assert config.feeds[0].every == timedelta(hours=6)
    # The defaults, shown, but for `every`: GitHub starts hourly runs late, so 45m lets every
    # run find the feeds due.
    assert config.schedule == dataclasses.replace(config_module.ScheduleConfig(),
                                                  every=timedelta(minutes=45))
    assert re.search(r"^  every: 45m .*\n.*GitHub starts the hourly workflow's runs late", text,
                     re.MULTILINE)
    assert config.output.hexo is None  # Hexo is there, commented out
    assert re.search(r"^\s*# hexo: ", text, re.MULTILINE)
    for section, cls in {"site": config_module.SiteConfig, "limits": config_module.LimitsConfig,
                         "fetch": config_module.FetchConfig,
                         "schedule": config_module.ScheduleConfig,
                         "output": config_module.OutputConfig}.items():
        block = re.split(rf"^{section}:.*$", text, flags=re.MULTILINE)[1].split("\n\n")[0]
        for field in dataclasses.fields(cls):
            line = re.search(rf"^ +(# )?{field.name}: .*#.*$", block, re.MULTILINE)
            assert line, f"rsspage init's config does not show and explain {section}.{field.name}"


def test_init_never_overwrites_unless_forced(tmp_path: Path) -> None:
    config = tmp_path / "rsspage.yml"
    config.write_text("mine\n", encoding="utf-8")
    run = run_cli("init", "--github", cwd=tmp_path)
    assert run.code == 2
    assert "rsspage.yml" in run.err and "--force" in run.err and "Traceback" not in run.err
    assert config.read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / WORKFLOW).exists()  # all or nothing: no half-initialised folder

    run = run_cli("init", "--github", "--force", cwd=tmp_path)
    assert run.code == 0, run.err
    assert load_config(config).routes
    assert (tmp_path / WORKFLOW).read_text(encoding="utf-8") == \
        next(f.text for f in init_files(github=True) if f.path == WORKFLOW)


def test_workflow_triggers_permissions_and_jobs() -> None:
    w = workflow()
    triggers = w[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "17 * * * *"}] and "workflow_dispatch" in triggers
    assert w["concurrency"]["cancel-in-progress"] is False
    assert w["env"]["RSSPAGE_SPEC"] == "rsspage==1.2.3"
    assert set(w["jobs"]) == {"update", "deploy"}
    assert w["jobs"]["deploy"]["needs"] == "update"
    assert w["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_each_job_has_only_the_permissions_it_needs() -> None:
    """Pushes need contents: write; configure-pages reads the Pages settings (enabling Pages
    would take a token other than GITHUB_TOKEN); only deploy-pages needs id-token and
    pages: write."""
    w = workflow()
    assert w["permissions"] == {}  # nothing granted workflow-wide
    assert w["jobs"]["update"]["permissions"] == {"contents": "write", "pages": "read"}
    assert w["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    with_id_token = [name for name, job in w["jobs"].items()
                     if "id-token" in job.get("permissions", {})]
    assert with_id_token == ["deploy"]


def test_the_site_is_uploaded_before_the_hexo_push_and_after_the_archive_is_saved() -> None:
    """A refused Hexo push (the branch moved during the run) must not hold back the site; the
    deploy runs whenever the site was uploaded."""
    steps = workflow()["jobs"]["update"]["steps"]
    names = [s.get("name") or s["uses"].split("@")[0] for s in steps]
    order = [names.index(n) for n in ("Save the archive to the state branch",
                                      "actions/configure-pages", "actions/upload-pages-artifact",
                                      "Commit the Hexo posts")]
    assert order == sorted(order) and names[-1] == "Commit the Hexo posts"
    upload = steps[names.index("actions/upload-pages-artifact")]
    w = workflow()
    assert w["jobs"]["update"]["outputs"]["site"] == \
        f"${{{{ steps.{upload['id']}.outputs.artifact_id }}}}"
    assert w["jobs"]["deploy"]["if"] == \
        "${{ !cancelled() && needs.update.outputs.site != '' }}"
    hexo = step("Commit the Hexo posts")["run"]
    assert "git rebase" in hexo and "::error" in hexo


def test_a_source_tree_version_is_never_pinned() -> None:
    """Run from a source tree, rsspage says 0.0.0: a pin of it would fail every run."""
    text = workflow_text("0.0.0")
    assert "0.0.0" not in text
    assert yaml.safe_load(text)["env"]["RSSPAGE_SPEC"] == SPEC_PLACEHOLDER
    assert "EDIT RSSPAGE_SPEC below before the first run" in text
    install = next(s for s in yaml.safe_load(text)["jobs"]["update"]["steps"]
                   if s.get("id") == "install")
    done = subprocess.run(["bash", "-c", install["run"]], capture_output=True, text=True,
                          env={**os.environ, "RSSPAGE_SPEC": SPEC_PLACEHOLDER}, check=False)
    assert done.returncode == 1 and "::error title=RSSPAGE_SPEC::edit RSSPAGE_SPEC" in done.stdout


def test_init_from_a_source_tree_says_to_edit_the_spec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(rsspage, "__version__", "0.0.0")  # what a source tree reports
    assert main(["init", "--github", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "does not know its version" in err and "RSSPAGE_SPEC" in err
    written = yaml.safe_load((tmp_path / WORKFLOW).read_text(encoding="utf-8"))
    assert written["env"]["RSSPAGE_SPEC"] == SPEC_PLACEHOLDER


@pytest.mark.parametrize(("summary", "annotation"), [
    (markdown_publish_error("update", "cannot write index.html: No space left on device"),
     "::error title=rsspage update::the output could not be written"),
    (markdown_summary(RunReport((FeedOutcome("/a", FetchStatus.FAILED, error="HTTP 500"),), 1.0)),
     "::warning title=rsspage update::some feeds failed"),
    ("", "::error title=rsspage update::exit 1 and no job summary"),
])
def test_the_update_step_tells_a_publish_failure_from_failed_feeds(
        tmp_path: Path, summary: str, annotation: str) -> None:
    """Both exit 1; the job summary rsspage wrote says which it was."""
    assert PUBLISH_FAILED in workflow_text()
    fake = tmp_path / "bin" / "rsspage"  # stands in for rsspage update: writes, exits 1
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat >> \"$GITHUB_STEP_SUMMARY\" <<'EOF'\n{summary}EOF\nexit 1\n")
    fake.chmod(0o755)
    (tmp_path / "summary.md").write_text("")
    done = subprocess.run(
        ["bash", "-e", "-c", step("Update")["run"]], capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
             "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "RSSPAGE_CONFIG": "x.yml"})
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("::")] == \
        [line for line in done.stdout.splitlines() if line.startswith(annotation)]
    assert annotation in done.stdout


def test_workflow_uses_only_official_actions_pinned_to_a_major_version() -> None:
    uses = [s["uses"] for job in workflow()["jobs"].values() for s in job["steps"] if "uses" in s]
    for action in uses:
        assert re.fullmatch(r"actions/[a-z-]+(/[a-z]+)?@v\d+", action), action
    names = {a.split("@")[0] for a in uses}
    assert {"actions/checkout", "actions/setup-python", "actions/cache/restore",
            "actions/cache/save", "actions/configure-pages", "actions/upload-pages-artifact",
            "actions/deploy-pages"} == names


def test_workflow_shell_steps_never_hide_a_failure() -> None:
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "")
            assert "|| true" not in script and "continue-on-error" not in step
            if "\n" in script.strip():
                assert script.startswith("set -euo pipefail\n"), step["name"]


def test_workflow_caches_only_the_site() -> None:
    steps = workflow()["jobs"]["update"]["steps"]
    cached = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/cache")]
    assert cached == ["${{ env.SITE_DIR }}"] * 2
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == "${{ env.SITE_DIR }}"
