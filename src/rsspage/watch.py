"""`rsspage watch`: update whenever a feed is due, until stopped; optionally serve the site.

One loop on the main thread, holding the state lock from start to finish (a second `watch` or
an `update` meanwhile is refused; readers such as `status` need no lock)::

    build the outputs (so there is a site to serve) ─► serve it (optional, in threads)
    └► loop: reload the config ─► feeds due? ─► update_locked (fetch, store, publish)
             └► sleep until the next feed is due (at most MAX_SLEEP, to notice config edits)

A pass that fails (a full disk, an unreadable catalog) leaves its feeds due, so the loop backs
off: FAILED_PAUSE after the first failed pass, doubled after each further one in a row, up to
MAX_SLEEP (the longest the loop sleeps anyway: a fixed disk or catalog is noticed within it); a
pass that succeeds ends the streak. Without this a broken state would refetch every due feed
every MIN_PAUSE.

Stopping is cooperative: ``stop`` (a threading.Event, set by the CLI's signal handlers) is only
looked at between passes, so a pass in progress always finishes its writes. Publishing is
all-or-nothing anyway; finishing keeps the fetched articles too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rsspage.build import build_locked
from rsspage.config import Config, load_config
from rsspage.errors import ConfigError, RsspageError
from rsspage.pipeline import Hooks, next_due, update_locked
from rsspage.serve import serving
from rsspage.store import Store
from rsspage.store.db import run_lock
from rsspage.types import RunReport

#: Longest sleep between two looks at the schedule and the config, in seconds.
MAX_SLEEP = 60.0
#: Shortest pause after a pass, so that a feed somehow still due cannot make the loop spin.
MIN_PAUSE = 1.0
#: Pause after a failed pass; doubled for each further failed pass in a row, up to max_sleep.
FAILED_PAUSE = 2.0


@dataclass(frozen=True, slots=True)
class WatchHooks:
    """Where the loop reports; the CLI turns these into console output."""

    log: Callable[[str], None]
    on_report: Callable[[RunReport], None]
    #: Progress of each pass's fetches.
    fetch: Hooks = field(default_factory=Hooks)


def watch(config: Config, stop: threading.Event, hooks: WatchHooks,
          serve_port: int | None = None, max_sleep: float = MAX_SLEEP) -> int:
    """Run until ``stop`` is set; returns how many update passes ran.

    With ``serve_port`` the site is served on 127.0.0.1 (0: any free port) while watching.
    """
    if serve_port is not None and config.output.site is None:
        raise ConfigError(str(config.path), None, "output.site", "no site to serve (it is null)")
    passes = failures = 0
    with run_lock(config.output.state, config.store_url), contextlib.ExitStack() as serving_stack:
        with Store.open(config.output.state, config.store_url) as store:
            build_locked(config, store)
        if serve_port is not None and config.output.site is not None:
            url = serving_stack.enter_context(serving(config.output.site, serve_port))
            hooks.log(f"serving {config.output.site} at {url}")
        while not stop.is_set():
            config = _reloaded(config, hooks)
            try:
                wait = _pass(config, hooks)
            except RsspageError as e:  # a full disk, say: report it, try again later and later
                passes += 1
                failures += 1
                wait = failed_pause(failures, max_sleep)
                hooks.log(f"this pass failed ({_ordinal(failures)} failed pass in a row): {e}; "
                          f"trying again in {wait:g} s")
            else:
                if wait is None:  # a pass ran: look again soon, unless told to stop
                    passes += 1
                    failures = 0
                    wait = MIN_PAUSE
            stop.wait(min(wait, max_sleep))
    return passes


def failed_pause(failures: int, ceiling: float = MAX_SLEEP) -> float:
    """Seconds to wait after ``failures`` failed passes in a row (1, 2, …)."""
    return float(min(FAILED_PAUSE * 2 ** min(failures - 1, 30), ceiling))


def _pass(config: Config, hooks: WatchHooks) -> float | None:
    """Update if a feed is due (then None); else the seconds until the next one is.
    RsspageError: the pass failed."""
    now = datetime.now(UTC)
    with Store.open(config.output.state, config.store_url) as store:
        due = next_due(config, store)
        if due is None or due > now:
            return (due - now).total_seconds() if due else MAX_SLEEP
        hooks.log(f"{_when(now)}: feeds due, updating")
        hooks.on_report(update_locked(config, store, hooks.fetch, now))
        upcoming = next_due(config, store)
        if upcoming is not None:
            hooks.log(f"next feed due at {_when(upcoming)}")
    return None


def _reloaded(config: Config, hooks: WatchHooks) -> Config:
    """The config file as it is now; the old config when the new one is invalid."""
    try:
        fresh = load_config(config.path)
    except ConfigError as e:
        hooks.log(f"config not reloaded: {e}")
        return config
    if fresh.output.state != config.output.state:
        hooks.log("config not reloaded: output.state changed (restart watch to switch state)")
        return config
    return fresh


def _when(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
