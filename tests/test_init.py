"""`rsspage init`: the config it writes loads and explains every key; the GitHub workflow it writes
is valid, uses only official actions pinned to a major version, and never hides a failure."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from conftest import run_cli
from rsspage import __version__
from rsspage import config as config_module
from rsspage.config import load_config
from rsspage.scaffold import WORKFLOW, init_files


def workflow() -> dict[Any, Any]:
    text = next(f.text for f in init_files(github=True) if f.path == WORKFLOW)
    loaded: dict[Any, Any] = yaml.safe_load(text)
    return loaded


def test_init_writes_a_config_that_loads_and_explains_every_key(tmp_path: Path) -> None:
    run = run_cli("init", str(tmp_path / "news"))
    assert run.code == 0, run.err
    path = tmp_path / "news" / "rsspage.yml"
    assert f"wrote {path}" in run.out
    assert not (tmp_path / "news" / WORKFLOW).exists()  # only with --github
    config = load_config(path)
    assert [r.path for r in config.routes] == ["/kkj/news", "/36kr/newsflashes"]
    assert config.feeds and config.output.site == path.parent / "public"
    assert config.feeds[0].every == timedelta(hours=6)
    assert config.schedule == config_module.ScheduleConfig()  # the defaults, shown
    assert config.output.hexo is None  # Hexo is there, commented out
    text = path.read_text(encoding="utf-8")
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
    assert w["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    assert w["concurrency"]["cancel-in-progress"] is False
    assert w["env"]["RSSPAGE_SPEC"] == f"rsspage=={__version__}"
    assert set(w["jobs"]) == {"update", "deploy"}
    assert w["jobs"]["deploy"]["needs"] == "update"
    assert w["jobs"]["deploy"]["environment"]["name"] == "github-pages"


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
