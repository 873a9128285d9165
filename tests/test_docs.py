"""The README documents every CLI command and every config key."""

from __future__ import annotations

import argparse
import dataclasses

from conftest import REPO
from rsspage import config as config_module
from rsspage.cli import _parser


def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = readme()
    for name in sub.choices:
        assert f"`rsspage {name}" in text, f"README does not document `rsspage {name}`"


def test_every_config_key_is_in_the_readme() -> None:
    text = readme()
    sections = {
        "site": config_module.SiteConfig, "limits": config_module.LimitsConfig,
        "fetch": config_module.FetchConfig, "output": config_module.OutputConfig,
        "schedule": config_module.ScheduleConfig,
    }
    for section, cls in sections.items():
        for field in dataclasses.fields(cls):
            assert f"`{section}.{field.name}`" in text, f"README lacks {section}.{field.name}"
    for key in ("rsshub.instances", "rsshub.catalog", "routes", "feeds"):
        assert f"`{key}`" in text
