"""`rsspage schema` (issue 12): a valid JSON Schema that accepts the config `rsspage init`
writes and every config example of the README, and rejects what the loader rejects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import REPO, run_cli
from rsspage.config import parse_config
from rsspage.config_model import ConfigModel
from rsspage.errors import ConfigError


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    run = run_cli("schema")
    assert run.code == 0, run.err
    loaded: dict[str, Any] = json.loads(run.out)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def readme_configs() -> list[tuple[int, str]]:
    """(line, text) of each YAML block of the README that is (part of) an rsspage.yml."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    out = []
    for match in re.finditer(r"```yaml\n(.*?)```", text, re.DOTALL):
        data = yaml.safe_load(match.group(1))
        if isinstance(data, dict) and set(data) <= set(ConfigModel.model_fields):
            out.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return out


def test_the_config_init_writes_is_valid_and_names_the_schema(schema: dict[str, Any],
                                                               tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).code == 0
    text = (tmp_path / "rsspage.yml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=rsspage.schema.json\n")
    jsonschema.validate(yaml.safe_load(text), schema)
    written = json.loads((tmp_path / "rsspage.schema.json").read_text(encoding="utf-8"))
    assert written == schema


def test_every_readme_example_is_valid(schema: dict[str, Any]) -> None:
    examples = readme_configs()
    assert len(examples) >= 4  # the quick start, instances, per-feed settings, filters
    for line, text in examples:
        try:
            jsonschema.validate(yaml.safe_load(text), schema)
        except jsonschema.ValidationError as e:
            raise AssertionError(f"README.md:{line}: {e.message}") from e


def test_the_readme_examples_load(tmp_path: Path) -> None:
    env = {"RSSHUB_KEY": "k", "EXAMPLE_COOKIE": "c", "RSSPAGE_STORE": "postgresql://h/news"}
    for line, text in readme_configs():
        try:
            parse_config(text, tmp_path / "rsspage.yml", environ=env)
        except ConfigError as e:
            assert "nothing to follow" in str(e), f"README.md:{line}: {e}"


@pytest.mark.parametrize("config", [
    {"fetch": {"timeout": "soon"}},
    {"routes": [{"pth": "/a"}]},
    {"feeds": [{"url": "https://a.example/f", "enabled": "yes"}]},
    {"feeds": [{"url": "https://a.example/f", "headers": {"Cookie": {"env": 1}}}]},
    {"feeds": [{"url": "https://a.example/f", "keep_days": -1}]},
    {"colour": "red"},
])
def test_what_the_loader_rejects_the_schema_rejects(schema: dict[str, Any],
                                                    config: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)
