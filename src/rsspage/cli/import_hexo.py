"""`rsspage import-hexo PATH`: an existing tree of Hexo posts into the archive."""

from __future__ import annotations

import argparse
from pathlib import Path

from rsspage.cli.common import EXIT_OK, Commands, add_command
from rsspage.config import load_config
from rsspage.console import Console
from rsspage.errors import ConfigError


def register(sub: Commands) -> None:
    cmd = add_command(sub, "import-hexo", "read an existing tree of Hexo posts (the system "
                      "rsspage replaces) into the archive; importing again adds nothing",
                      cmd_import_hexo)
    cmd.add_argument("path", type=Path, help="the posts folder (e.g. blog/source/_posts)")


def cmd_import_hexo(args: argparse.Namespace, console: Console) -> int:
    from rsspage.pipeline import import_hexo  # the parsing stage: only for this command

    config = load_config(args.config)
    if not args.path.is_dir():
        raise ConfigError(str(args.path), None, "", "not a folder of Hexo posts")
    report = import_hexo(config, args.path)
    print(f"imported from {args.path}: {report.new} new articles, {report.already} already in "
          f"the archive, {report.own} posts rsspage wrote itself left as they are "
          f"({report.seconds:.1f} s)", file=console.out)
    if report.unmatched:
        print(f"{report.unmatched} posts match no followed feed: kept under feeds of their own "
              "(hexo-import:<category>/<source>/<channel>, listed as retired)", file=console.out)
    if report.broken:
        print(f"{len(report.broken)} files skipped:", file=console.out)
        for broken in report.broken:
            print(f"  {broken.relpath}: {broken.reason}", file=console.out)
    print(f"publish them with: rsspage build -c {config.path}", file=console.err)
    return EXIT_OK
