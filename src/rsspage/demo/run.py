"""`rsspage demo`: serve the bundled feeds on 127.0.0.1, write a config, run a full update."""

from __future__ import annotations

from pathlib import Path

from rsspage.config import Config, load_config
from rsspage.console import Console
from rsspage.demo.server import serve_demo, write_demo_config
from rsspage.pipeline import Hooks, update
from rsspage.types import RunReport


def run_demo(target: Path, console: Console) -> tuple[RunReport, Config]:
    with serve_demo() as base_url:
        config = load_config(write_demo_config(target.absolute(), base_url))
        console.start(f"demo feeds served at {base_url}; output in {target.absolute()}")
        total = len(config.routes) + len(config.feeds)
        hooks = Hooks(on_fetched=console.progress(total), on_outcome=console.outcome)
        report = update(config, hooks)
    return report, config
