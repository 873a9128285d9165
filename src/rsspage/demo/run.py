"""`rsspage demo`: serve the bundled feeds on 127.0.0.1, write a config, run a full update.

The feed server prefers a fixed port, so the pictures of articles stored by earlier demo runs
(their URLs name the port) load again under ``rsspage demo --serve``.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Iterator
from pathlib import Path

from rsspage.config import Config, load_config
from rsspage.console import Console
from rsspage.demo.server import serve_demo, write_demo_config
from rsspage.errors import RsspageError
from rsspage.pipeline import Hooks, update
from rsspage.types import RunReport

#: Port the demo feed server asks for first; any free port when it is taken.
PREFERRED_PORT = 8765


@contextlib.contextmanager
def _demo_server() -> Iterator[str]:
    try:
        server = serve_demo(PREFERRED_PORT)
        base_url = server.__enter__()
    except RsspageError as e:  # make_server's, from the OSError of a port in use
        cause = e.__cause__
        if not (isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE):
            raise
        server = serve_demo(0)
        base_url = server.__enter__()
    try:
        yield base_url
    finally:
        server.__exit__(None, None, None)


def run_demo(
    target: Path, console: Console, serve_port: int | None = None
) -> tuple[RunReport, Config]:
    """Run the demo update; with ``serve_port``, keep serving feeds and site until Ctrl+C."""
    with _demo_server() as base_url:
        config = load_config(write_demo_config(target.absolute(), base_url))
        console.start(f"demo feeds served at {base_url}; output in {target.absolute()}")
        total = len(config.routes) + len(config.feeds)
        hooks = Hooks(on_fetched=console.progress(total), on_outcome=console.outcome)
        # Every feed, due or not: each demo run shows a whole update, whatever ran before.
        report = update(config, hooks, everything=True)
        if serve_port is not None and config.output.site is not None:
            console.summary(report)
            _serve_site(config.output.site, serve_port, console)
    return report, config


def _serve_site(site: Path, port: int, console: Console) -> None:
    from rsspage.serve import serving

    with serving(site, port, rebuild=None, watch=None) as url:
        console.start(f"demo site at {url}/  (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
