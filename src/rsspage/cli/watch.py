"""`rsspage watch`: update feeds as they fall due, rebuild, optionally serve; until stopped."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rsspage import __version__
from rsspage.cli.common import EXIT_OK, Commands, add_command
from rsspage.config import load_config
from rsspage.console import Console
from rsspage.types import RunReport

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: A second signal cut the pass short (128 + SIGINT, as a shell reports Ctrl+C).
EXIT_INTERRUPTED = 130


def register(sub: Commands) -> None:
    cmd = add_command(sub, "watch", "run until stopped: update feeds as they fall due, rebuild "
                      "the outputs, optionally serve the site", cmd_watch)
    cmd.add_argument("--serve", action="store_true", help="also serve the site on 127.0.0.1")
    cmd.add_argument("--port", type=int, default=8000,
                     help="port with --serve (default 8000; 0: any free)")


def cmd_watch(args: argparse.Namespace, console: Console) -> int:
    from rsspage.pipeline import Hooks  # every stage: only for this command
    from rsspage.watch import WatchHooks, watch

    config = load_config(args.config)
    stop = threading.Event()
    received: list[str] = []

    def on_report(report: RunReport) -> None:
        console.summary(report)
        console.out.flush()  # a pipe would hold it back until exit

    hooks = WatchHooks(log=console.start, on_report=on_report,
                       fetch=Hooks(progress=console.progress, on_outcome=console.outcome,
                                   on_note=console.error_line))
    try:
        with _stop_on_signals(stop, received):
            console.start(f"rsspage {__version__}: watching {config.path} "
                          "(Ctrl+C or SIGTERM to stop)")
            passes = watch(config, stop, hooks, args.port if args.serve else None)
    except KeyboardInterrupt:
        if len(received) < 2:  # not our second signal: main() says "interrupted"
            raise
        console.start(f"{' and '.join(received)} received: interrupted the pass in progress "
                      "(each write is atomic: what it had not stored is fetched again next "
                      "time); the state lock is released")
        return EXIT_INTERRUPTED
    console.start(f"{' and '.join(received) or 'stop'} received: stopped cleanly after "
                  f"{passes} update passes; the state lock is released")
    return EXIT_OK


@contextmanager
def _stop_on_signals(stop: threading.Event, received: list[str]) -> Iterator[None]:
    """SIGINT / SIGTERM set ``stop``: the pass in progress finishes, then the loop ends. A second
    signal interrupts at once (the writes are atomic, so even that leaves no half a build).

    The handler prints nothing: writing to a stream it may have interrupted mid-write fails.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handle) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
