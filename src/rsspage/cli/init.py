"""`rsspage init`: write a commented config (and a GitHub Actions workflow) to start from."""

from __future__ import annotations

import argparse
from pathlib import Path

import rsspage
from rsspage.cli.common import EXIT_OK, Commands, add_command
from rsspage.console import Console
from rsspage.scaffold import SPEC_PLACEHOLDER, WORKFLOW, pinnable, write_init


def register(sub: Commands) -> None:
    init = add_command(sub, "init", "write a commented rsspage.yml (and a GitHub workflow)",
                       cmd_init, config=False)
    init.add_argument("dir", nargs="?", type=Path, default=Path("."),
                      help="folder to write into (default: the current one)")
    init.add_argument("--github", action="store_true",
                      help=f"also write {WORKFLOW}: hourly update, archive on a branch, Pages")
    init.add_argument("--force", action="store_true", help="replace files that are already there")


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    version = rsspage.__version__  # the workflow pins it
    for path in write_init(args.dir, github=args.github, force=args.force, version=version):
        print(f"wrote {path}", file=console.out)
    print("\nnext: edit rsspage.yml, then run `rsspage update`", file=console.out)
    if args.github and not pinnable(version):
        console.error_line(
            "warning: this rsspage runs from a source tree and does not know its version: "
            f"{WORKFLOW} installs RSSPAGE_SPEC, which says \"{SPEC_PLACEHOLDER}\"; "
            "edit it (a released version, or the git address of your rsspage) before the "
            "first run")
    if args.github:
        print("on GitHub: Settings > Pages > Source: GitHub Actions; then commit and push both "
              "files (the README's \"Running on a schedule\" explains each step)",
              file=console.out)
    return EXIT_OK
