"""`rsspage schema`: the JSON Schema of rsspage.yml, for editors (completion and checking)."""

from __future__ import annotations

import argparse

from rsspage.cli.common import EXIT_OK, Commands, add_command
from rsspage.config_model import schema_text
from rsspage.console import Console


def register(sub: Commands) -> None:
    add_command(sub, "schema", "print the JSON Schema of rsspage.yml "
                "(rsspage schema > rsspage.schema.json)", cmd_schema, config=False)


def cmd_schema(args: argparse.Namespace, console: Console) -> int:
    print(schema_text(), end="", file=console.out)
    return EXIT_OK
