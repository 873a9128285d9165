"""What every command module of the CLI shares: exit codes, the command type, the -c option."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from rsspage.config import DEFAULT_NAME
from rsspage.console import Console
from rsspage.types import RunReport

#: 0 all feeds fine; 1 output written but some feeds failed; 2 usage, configuration or state
#: error; 3 internal error (a bug).
EXIT_OK, EXIT_FEEDS_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

#: One command: parsed arguments and the console in, exit code out.
Command = Callable[[argparse.Namespace, Console], int]
#: The ``add_subparsers()`` action each command module adds its commands to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_command(sub: Commands, name: str, help: str, run: Command,
                *, config: bool = True) -> argparse.ArgumentParser:
    """Add command ``name`` that calls ``run``; with ``config``, it takes ``-c FILE``."""
    cmd: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    if config:
        cmd.add_argument("-c", "--config", type=Path, default=Path(DEFAULT_NAME),
                         help=f"config file (default: ./{DEFAULT_NAME})")
    cmd.set_defaults(run=run)
    return cmd


def report_exit(report: RunReport, console: Console) -> int:
    """Print the run's summary; the exit code says whether some feed failed."""
    console.summary(report)
    return EXIT_FEEDS_FAILED if report.failed else EXIT_OK
